import ArgumentParser
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LoaCore

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

    func run() async throws {
        let cap = try CAPReader.read(alert)
        let id = "cap-" + String(cap.identifier.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }).prefix(56)
        let path = output ?? "campaigns/\(id).yaml"
        let geoName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension + "-area.geojson"
        let file: (yaml: String, geojson: String?)
        do { file = try cap.campaignFile(sender: sender, geojsonName: geoName) }
        catch { throw CLIError("\(alert): \(error.description)") }
        try Data(file.yaml.utf8).write(to: URL(fileURLWithPath: path))
        if let g = file.geojson {
            try Data(g.utf8).write(to: URL(fileURLWithPath: ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(geoName)))
        }
        print("wrote \(path)\(file.geojson != nil ? " and \(geoName)" : ""); review it, then: loa campaign check \(path)")
    }
}

/// Reads CAP 1.2 XML with Foundation's XMLParser.
final class CAPReader: NSObject, XMLParserDelegate {
    var alert = CAPAlert()
    private var info: CAPAlert.Info?
    private var area: CAPAlert.Area?
    private var geocodeName = ""
    private var text = ""
    private var problems: [String] = []
    private var parser: XMLParser?

    static func read(_ path: String) throws -> CAPAlert {
        let data = Data(try readFileBytes(path))
        let reader = CAPReader()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.delegate = reader
        reader.parser = parser
        guard parser.parse() else {
            throw CLIError("\(path):\(parser.lineNumber):\(parser.columnNumber): error: not well-formed XML: \(parser.parserError?.localizedDescription ?? "unknown")")
        }
        if !reader.problems.isEmpty { throw CLIError(reader.problems.map { "\(path):\($0)" }.joined(separator: "\n")) }
        if reader.alert.identifier.isEmpty { throw CLIError("\(path): error: not a CAP 1.2 alert (no <alert><identifier>)") }
        return reader.alert
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        text = ""
        switch name {
        case "info": info = CAPAlert.Info()
        case "area": area = CAPAlert.Area(description: "")
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let line = parser.lineNumber
        if var a = area {
            switch name {
            case "areaDesc": a.description = value
            case "polygon":
                if let p = CAPAlert.parsePolygon(value) { a.polygons.append(p) } else { problems.append("\(line): error: <polygon> must be at least 4 'lat,lon' pairs separated by spaces") }
            case "circle":
                if let c = CAPAlert.parseCircle(value) { a.circles.append((c.0, c.1)) } else { problems.append("\(line): error: <circle> must be 'lat,lon radius_km'") }
            case "valueName": geocodeName = value
            case "value": a.geocodes.append((geocodeName, value))
            case "area": info?.areas.append(a); area = nil; return
            default: break
            }
            area = a
            return
        }
        if var i = info {
            switch name {
            case "language": i.language = value
            case "event": i.event = value
            case "urgency": i.urgency = value
            case "severity": i.severity = value
            case "certainty": i.certainty = value
            case "senderName": i.senderName = value
            case "headline": i.headline = value
            case "description": i.description = value
            case "instruction": i.instruction = value
            case "effective": i.effective = value
            case "onset": i.onset = value
            case "expires": i.expires = value
            case "info": alert.infos.append(i); info = nil; return
            default: break
            }
            info = i
            return
        }
        switch name {
        case "identifier": alert.identifier = value
        case "sender": alert.sender = value
        case "sent": alert.sent = value
        case "status": alert.status = value
        case "msgType": alert.msgType = value
        case "references": alert.references = value
        default: break
        }
    }
}
