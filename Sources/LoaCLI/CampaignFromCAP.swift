import ArgumentParser
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LoaCore
import LoaOperations
import Yams

struct CampaignFromCAP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "from-cap",
        abstract: "Turn a CAP 1.2 alert into a campaign file to review.",
        discussion: """
            One variant per <info> language; <area> polygons and circles go to a GeoJSON file next \
            to the campaign, geocodes named commune or ma_xa become audience.communes. Priority \
            follows CAP severity and urgency. Ethnic-language texts are marked needs-native-review.
            """
    )

    @Argument(help: "The CAP XML file.") var alert: String
    @Option(name: [.short, .long], help: "Write the campaign here (default: campaigns/<id>.yaml).") var output: String?
    @Option(name: .long, help: "The registered brandname to send from (≤ 11 characters).") var sender = "CANHBAO"
    @Flag(name: .long, help: "Turn an Exercise or Test alert into a campaign whose every text says it is one.") var allowExercise = false
    @Flag(name: .long, help: "Replace the output files if they exist.") var force = false

    func run() async throws {
        let cap = try CAPReader.read(alert)
        let id = "cap-" + String(cap.identifier.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }).prefix(56)
        let path = output ?? "campaigns/\(id).yaml"
        let geoName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension + "-area.geojson"
        let file: (document: DocumentNode, notes: [String], geojson: String?)
        do { file = try cap.campaignDocument(sender: sender, geojsonName: geoName, allowExercise: allowExercise) }
        catch { throw CLIError("\(alert): \(error.description)") }
        // The YAML library writes every value quoted: nothing from the alert can become syntax.
        let yaml = file.notes.map { "# \($0)\n" }.joined() + (try Yams.serialize(node: Self.yamlNode(file.document), width: -1, allowUnicode: true))
        try OutputFile.write(Array(yaml.utf8), to: path, force: force, inputs: [alert])
        if let g = file.geojson {
            try OutputFile.write(Array(g.utf8), to: ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(geoName), force: force, inputs: [alert])
        }
        print("wrote \(path)\(file.geojson != nil ? " and \(geoName)" : ""); review it, then: loa campaign check \(path)")
    }

    static func yamlNode(_ d: DocumentNode) -> Node {
        switch d {
        case .text(let s): .scalar(.init(s, .implicit, .doubleQuoted))
        case .number(let n): .scalar(.init(String(n), .implicit, .plain))
        case .list(let items):
            .sequence(.init(items.map(yamlNode), .implicit, items.allSatisfy({ if case .number = $0 { true } else { false } }) ? .flow : .block))
        case .map(let pairs): .mapping(.init(pairs.map { (.scalar(.init($0.0, .implicit, .plain)), yamlNode($0.1)) }, .implicit, .block))
        }
    }
}

