import ArgumentParser
import Foundation
import Synchronization
import LoaCore
import LoaCrypto
import LoaOperations
import LoaStore

struct Audience: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count (and export) a campaign's recipients at a given time.",
        discussion: """
            Audience cells: cells of the listed communes, listed cells, cells within within_km of \
            the border lines or inside the polygons, minus cells of excluded communes. A subscriber \
            is targeted when their most recent presence in [TIME − seen_within, TIME] is in an \
            audience cell. Opt-outs are excluded; each person once; language by stated preference, \
            then the commune's default, then the campaign's.

            --out writes subscriber,carrier,language,commune_code,cgi (UTF-8 with BOM). Subscribers \
            are pseudonyms (h:…): the store holds no clear numbers next to locations.
            """
    )

    @Argument(help: "The campaign file.")
    var campaign: String

    @Option(name: .long, help: "Run time: ISO 8601 with offset, or now.")
    var at: TimeArgument

    @Flag(name: .long, help: "Print the counts as one JSON object.")
    var json = false

    @Option(name: .long, help: "Write the recipients to this CSV file.")
    var out: String?

    @Flag(name: .long, help: "Replace the --out file if it exists.")
    var force = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let units = try loadUnits()
        let loaded = try LoadedCampaign.load(campaign, units: units)
        for d in loaded.errors { printError(d.formatted(file: campaign)) }
        guard let c = loaded.campaign, loaded.errors.isEmpty else { throw CLIError("\(campaign): fix the errors above first (loa campaign check)") }
        let t0 = Date()
        var writer: CSVWriter? = nil
        if let out {
            writer = try CSVWriter(path: out, force: force, inputs: [campaign])
            writer!.row(["subscriber", "carrier", "language", "commune_code", "cgi"])
        }
        var audience = AudienceRun(campaign: c, area: loaded.area!, units: units, store: try store.open(), keys: try store.operatorKeys(), at: at.timestamp)
        // The steps of a long selection (national scale takes seconds), on a terminal only.
        if isatty(2) == 1 {
            audience.progress = { step in printError("  \(String(format: "%5.1f", Date().timeIntervalSince(t0))) s  \(step)") }
        }
        let without = try audience.carriersWithoutPresence()
        if !without.isEmpty { printError("\(c.id): warning: \(audience.noPresenceMessage(without))") }
        let summary = try audience.run { r in
            writer?.recipient(r)
        }
        try writer?.close()
        let seconds = Date().timeIntervalSince(t0)
        if json {
            var o = JSONObject()
            o.add("campaign", c.id)
            o.add("at", at.timestamp.iso8601())
            o.add("recipients", summary.recipients)
            o.add("segments", summary.segments)
            o.add("by_carrier", object: counts(summary.byCarrier.map { ($0.key.rawValue, $0.value) }))
            o.add("by_commune", object: counts(summary.byCommune.map { (Commune.codeText($0.key), $0.value) }))
            o.add("by_language", object: counts(summary.byLanguage.map { ($0.key, $0.value) }))
            o.add("segments_by_language", object: counts(summary.segmentsByLanguage.map { ($0.key, $0.value) }))
            o.add("seen_elsewhere", summary.seenElsewhere)
            o.add("opted_out", summary.optedOut)
            o.add("from_contact_lists", summary.fromContactLists)
            o.add("contacts_also_in_area", summary.contactsAlsoInArea)
            let cells = summary.audienceCells
            o.add("audience_cells", object: counts([("communes", cells.byCommunes), ("cells", cells.byCells), ("border_belt", cells.byBorderBelt),
                                                    ("polygons", cells.byPolygons), ("excluded", cells.excluded), ("total", cells.total)]))
            print(o.finished)
            return
        }
        print("\(c.id) at \(at.timestamp.iso8601()): \(formatCount(summary.recipients)) recipients, \(formatCount(summary.segments)) segments (selected in \(String(format: "%.2f", seconds)) s)")
        let cells = summary.audienceCells
        print("  audience cells: \(formatCount(cells.total)) (communes \(formatCount(cells.byCommunes)) · cells \(formatCount(cells.byCells)) · "
              + "border belt \(formatCount(cells.byBorderBelt)) · polygons \(formatCount(cells.byPolygons)); \(formatCount(cells.excluded)) removed by excluded communes)")
        print("  by carrier:  " + summary.byCarrier.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \(formatCount($0.value))" }.joined(separator: " · "))
        print("  by language: " + summary.byLanguage.sorted { $0.value > $1.value }.map { "\($0.key) \(formatCount($0.value)) (\(formatCount(summary.segmentsByLanguage[$0.key] ?? 0)) segments)" }.joined(separator: " · "))
        print("  by commune:")
        for (code, n) in summary.byCommune.sorted(by: { $0.value > $1.value }).prefix(30) {
            print("    \(Commune.codeText(code)) \(units.communes[code]?.name ?? "?"): \(formatCount(n))")
        }
        if summary.byCommune.count > 30 { print("    … \(summary.byCommune.count - 30) more communes (--json lists all)") }
        print("  excluded: \(formatCount(summary.optedOut)) on the do-not-call list, \(formatCount(summary.seenElsewhere)) last seen outside the area")
        if !c.audience.contactLists.isEmpty {
            print("  contact lists: \(formatCount(summary.fromContactLists)) reached through the lists, \(formatCount(summary.contactsAlsoInArea)) already reached through the area (one message each)")
        }
        if let out { print("  recipients written to \(out)") }
    }

    func counts(_ pairs: [(String, Int)]) -> JSONObject {
        var o = JSONObject()
        for (k, v) in pairs.sorted(by: { $0.0 < $1.0 }) { o.add(k, v) }
        return o
    }
}

/// Buffered CSV output with a UTF-8 BOM, so that Excel shows Vietnamese correctly.
final class CSVWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = [0xEF, 0xBB, 0xBF]
    let path: String
    /// Recipients come cell after cell: the last commune code's text is kept.
    private var lastCommune = -1, lastCommuneText: [UInt8] = []

    init(path: String, force: Bool, inputs: [String]) throws {
        handle = try OutputFile.open(path, force: force, inputs: inputs)
        self.path = path
    }

    func row(_ fields: [String]) {
        buffer.append(contentsOf: fields.map(CSVLine.field).joined(separator: ",").utf8)
        buffer.append(0x0A)
        if buffer.count > 1 << 20 { handle.write(Data(buffer)); buffer.removeAll(keepingCapacity: true) }
    }

    /// One recipient row, written straight into the buffer: none of its fields needs quoting
    /// (pseudonym, carrier id, language tag, commune code, cell id).
    func recipient(_ r: Recipient) {
        r.subscriber.appendText(to: &buffer)
        buffer.append(0x2C)
        buffer.append(contentsOf: r.carrier.rawValue.utf8)
        buffer.append(0x2C)
        buffer.append(contentsOf: r.language.utf8)
        buffer.append(0x2C)
        if let c = r.commune {
            if c != lastCommune { lastCommune = c; lastCommuneText = Array(Commune.codeText(c).utf8) }
            buffer.append(contentsOf: lastCommuneText)
        }
        buffer.append(0x2C)
        if let cgi = r.cgi { buffer.append(contentsOf: cgi.utf8) }
        buffer.append(0x0A)
        if buffer.count > 1 << 20 { handle.write(Data(buffer)); buffer.removeAll(keepingCapacity: true) }
    }

    func close() throws {
        handle.write(Data(buffer))
        buffer.removeAll()
        try handle.close()
    }
}
