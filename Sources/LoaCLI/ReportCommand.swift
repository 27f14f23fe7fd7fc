import ArgumentParser
import Foundation
import LoaCore
import LoaOperations
import LoaReference
import LoaStore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A campaign's delivery report by carrier, commune, language, day or hour; or the year's (--year).",
        discussion: """
            Columns add up: recipients = planned + sent + rejected + expired, and sent = delivered + \
            failed + no receipt + pending + unknown (README, "Reports"). Latency runs from the carrier \
            accepting the upload to loa learning of the delivery (p50, p95 of delivered messages). \
            Cost is segments sent × the carrier's price per segment (prices: in carriers/*.yaml). \
            CSV is UTF-8 with a byte-order mark and CRLF (Excel shows the diacritics); HTML is a \
            printable A4 page with a signature block. Reports hold counts only: no number or pseudonym.

            --year 2026 [--office NAME]: the annual summary a provincial plan asks for (campaigns             submitted that year by purpose and priority, languages, communes and carriers reached,             messages, delivery, cost, and for emergencies approval → first delivery and → 90% delivered).
            """
    )
    @Argument(help: "The campaign id (or --year).") var campaign: String?
    @Option(name: .long, help: "The annual report of this year instead of one campaign's.") var year: Int?
    @Option(name: .long, help: "carrier, commune, language, day or hour (default carrier).") var by: String = "carrier"
    @Option(name: .long, help: "table, csv, json or html (default table).") var format: String = "table"
    @Option(name: .long, help: "Write to this file instead of standard output.") var out: String?
    @Flag(name: .long, help: "Replace --out if it exists.") var force = false
    @Option(name: .long, help: "The office: named at the top of HTML reports; with --year, only its campaigns.") var office: String?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (campaign == nil) != (year == nil) else { throw ValidationError("give a campaign id, or --year YEAR for the annual report (not both)") }
        guard ReportDimension(rawValue: by) != nil else { throw ValidationError("--by: carrier, commune, language, day or hour (found '\(Escaped(by))')") }
        guard ["table", "csv", "json", "html"].contains(format) else { throw ValidationError("--format: table, csv, json or html (found '\(Escaped(format))')") }
    }

    func run() async throws {
        let db = try store.open()
        let prices = try reportPrices((try? store.carrierConfigs()) ?? [:])
        let bytes: [UInt8]
        let what: String
        do {
            if let year {
                let report = try AnnualReport(store: db, year: year, office: office.map { NFC.normalize($0) }, prices: prices)
                bytes = switch format {
                case "csv": report.csv()
                case "json": Array(report.json().utf8)
                case "html": Array(report.html().utf8)
                default: Array(report.table().utf8)
                }
                what = "the year \(year), \(report.entries.count) campaigns"
            } else {
                let report = try CampaignReport(store: db, campaign: campaign!, by: ReportDimension(rawValue: by)!, units: try loadUnits(), prices: prices)
                bytes = switch format {
                case "csv": report.csv()
                case "json": Array(report.json().utf8)
                case "html": Array(report.html(office: office.map { NFC.normalize($0) }).utf8)
                default: Array(report.table().utf8)
                }
                what = "\(campaign!) by \(by), \(report.report.rows.count) rows"
            }
        } catch let e as OperationError { throw CLIError(e.message) }
        if let out {
            try OutputFile.write(bytes, to: out, force: force)
            printError("\(out): \(what) (\(format))")
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}

/// Each carrier's price per segment and name, from its carrier file, in the one currency they
/// must share (a report adds the costs up).
func reportPrices(_ configs: [Carrier: CarrierConfig]) throws -> CampaignReport.Prices {
    var perSegment: [String: [String: Double]] = [:], names: [String: String] = [:]
    var currencies: Set<String> = []
    for (carrier, config) in configs {
        perSegment[carrier.rawValue] = config.prices
        names[carrier.rawValue] = config.displayName
        if !config.prices.isEmpty { currencies.insert(config.currency) }
    }
    guard currencies.count <= 1 else { throw CLIError("carrier files price in different currencies (\(currencies.sorted().joined(separator: ", "))): one report adds them up, so use one") }
    return CampaignReport.Prices(perSegment: perSegment, currency: currencies.first ?? "VND", carrierNames: names)
}
