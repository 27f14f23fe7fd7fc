import ArgumentParser
import Foundation
import LoaCore
import LoaOperations
import LoaReference
import LoaStore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A campaign's delivery report by carrier, commune, language, day or hour.",
        discussion: """
            Columns add up: recipients = planned + sent + rejected + expired, and sent = delivered + \
            failed + no receipt + pending + unknown (README, "Reports"). Latency runs from the carrier \
            accepting the upload to loa learning of the delivery (p50, p95 of delivered messages). \
            Cost is segments sent × the carrier's price per segment (prices: in carriers/*.yaml). \
            CSV is UTF-8 with a byte-order mark and CRLF (Excel shows the diacritics); HTML is a \
            printable A4 page with a signature block. Reports hold counts only: no number or pseudonym.
            """
    )
    @Argument(help: "The campaign id.") var campaign: String
    @Option(name: .long, help: "carrier, commune, language, day or hour (default carrier).") var by: String = "carrier"
    @Option(name: .long, help: "table, csv, json or html (default table).") var format: String = "table"
    @Option(name: .long, help: "Write to this file instead of standard output.") var out: String?
    @Flag(name: .long, help: "Replace --out if it exists.") var force = false
    @Option(name: .long, help: "The office named at the top of an HTML report.") var office: String?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard ReportDimension(rawValue: by) != nil else { throw ValidationError("--by: carrier, commune, language, day or hour (found '\(Escaped(by))')") }
        guard ["table", "csv", "json", "html"].contains(format) else { throw ValidationError("--format: table, csv, json or html (found '\(Escaped(format))')") }
    }

    func run() async throws {
        let db = try store.open()
        let configs = (try? store.carrierConfigs()) ?? [:]
        var perSegment: [String: [String: Double]] = [:], names: [String: String] = [:]
        var currencies: Set<String> = []
        for (carrier, config) in configs {
            perSegment[carrier.rawValue] = config.prices
            names[carrier.rawValue] = config.displayName
            if !config.prices.isEmpty { currencies.insert(config.currency) }
        }
        guard currencies.count <= 1 else { throw CLIError("carrier files price in different currencies (\(currencies.sorted().joined(separator: ", "))): one report adds them up, so use one") }
        let report: CampaignReport
        do {
            report = try CampaignReport(store: db, campaign: campaign, by: ReportDimension(rawValue: by)!, units: try loadUnits(),
                                        prices: .init(perSegment: perSegment, currency: currencies.first ?? "VND", carrierNames: names))
        } catch let e as OperationError { throw CLIError(e.message) }
        let bytes: [UInt8] = switch format {
        case "csv": report.csv()
        case "json": Array(report.json().utf8)
        case "html": Array(report.html(office: office.map { NFC.normalize($0) }).utf8)
        default: Array(report.table().utf8)
        }
        if let out {
            try OutputFile.write(bytes, to: out, force: force)
            printError("\(out): \(campaign) by \(by) (\(format)), \(report.report.rows.count) rows")
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}
