import ArgumentParser
import Foundation
import LoaCore
import LoaCrypto
import LoaStore

/// `loa demo-data`: a realistic synthetic province for demos and benchmarks.
struct DemoData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-data",
        abstract: "Generate a synthetic province: cells, presence per carrier, preferences, do-not-call, contact lists.",
        discussion: """
            Real 2025 commune codes; cells placed around each commune (positions are synthetic, with \
            the example campaigns' border communes placed along the border); subscribers on several \
            carriers in market shares, with moves between cells, stale and duplicate rows, ported \
            numbers, a few bad lines, stated languages and do-not-call entries. Nothing here is real \
            personal data. Writes CSV files to --out; import them with `loa import`.
            """
    )

    @Option(name: .long, help: "Number of subscribers (10k to 10M).") var subscribers = 20_000
    @Option(name: .long, help: "Province codes (2025) to cover, comma-separated.") var provinces = "51,38,20"
    @Option(name: .long, help: "Output directory.") var out = "demo-data"
    @Option(name: .long, help: "Presence is generated up to this time (ISO 8601 or now).") var now: TimeArgument = TimeArgument(argument: "now")!
    @Option(name: .long, help: "Random seed (same seed, same files).") var seed: UInt64 = 2025
    @Flag(name: .long, help: "Write h:<hex> pseudonyms (with the carriers' keys) instead of clear numbers.") var pseudonyms = false
    @Flag(name: .long, help: "Replace the files of an earlier run in --out.") var force = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (1_000...20_000_000).contains(subscribers) else { throw ValidationError("--subscribers: between 1,000 and 20,000,000") }
        let codes = provinces.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !codes.isEmpty, codes.allSatisfy({ !$0.isEmpty && Int($0) != nil }) else {
            throw ValidationError("--provinces: expected 2025 province codes separated by commas, e.g. 51,38,20; found '\(Escaped(provinces))'")
        }
    }

    /// Market shares of mobile subscriptions, roughly.
    static let shares: [(Carrier, Double)] = [(.viettel, 0.54), (.vinaphone, 0.21), (.mobifone, 0.18), (.vietnamobile, 0.05), (.gmobile, 0.02)]

    /// Approximate positions of the example campaigns' border communes (synthetic data only).
    static let anchors: [Int: (Double, Double)] = [
        23377: (14.72, 107.56), 23392: (14.62, 107.60), 23383: (14.80, 107.64), 23344: (15.05, 107.62),
        23365: (15.10, 107.78), 23530: (14.47, 107.68), 23535: (14.38, 107.58), 23536: (14.12, 107.62),
        14845: (20.53, 104.62), 14848: (20.47, 104.70), 14854: (20.40, 104.80), 14857: (20.33, 104.86), 14860: (20.58, 104.75),
        14863: (20.43, 104.62), 14864: (20.36, 104.72), 14866: (20.30, 104.95), 15013: (20.18, 104.90), 15010: (20.15, 104.98),
        6184: (21.97, 106.70), 6214: (22.05, 106.60), 6541: (21.85, 107.00), 6193: (21.90, 106.80), 6016: (22.20, 106.45),
        6046: (22.30, 106.45), 6148: (22.12, 106.55), 6154: (22.02, 106.55), 6172: (21.98, 106.90),
    ]
    /// Rough bounding boxes (lat, lon) of the covered provinces; the western/northern edge is the border.
    static let boxes: [Int: (lat: ClosedRange<Double>, lon: ClosedRange<Double>)] = [
        51: (13.9...15.45, 107.7...109.0), 38: (19.3...20.7, 104.9...106.1), 20: (21.3...22.4, 106.1...107.3),
    ]

    func run() async throws {
        let units = try loadUnits()
        let provinceCodes = provinces.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        for p in provinceCodes { if case .failure(let e) = units.province(p) { throw ValidationError("--provinces: \(e.description)") } }
        // The files this writes: never replaced unless told (--out may be a directory of real data).
        let files = ["cells.csv", "do-not-call.csv", "contacts-nguoi-co-uy-tin.csv"]
            + Self.shares.flatMap { ["presence-\($0.0.rawValue).csv", "preferences-\($0.0.rawValue).csv"] }
        let existing = files.filter { FileManager.default.fileExists(atPath: "\(out)/\($0)") || (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(out)/\($0)")) != nil }
        if !existing.isEmpty && !force {
            throw CLIError("\(out) already holds \(existing.joined(separator: ", ")): use --force to replace them, or another --out")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        let t0 = Date()

        // Cells around every commune of the provinces.
        var cells: [(cgi: String, commune: Int, province: Int, carrier: Carrier)] = []
        var cellLines = "cgi,lat,lon,commune_code\n"
        var lac = 10000
        for p in provinceCodes {
            let box = Self.boxes[p] ?? (lat: 10.0...22.0, lon: 103.0...109.0)
            for commune in units.communes(inProvince: p) {
                lac += 1
                let (clat, clon) = Self.anchors[commune.code] ?? (box.lat.lowerBound + rng.unit() * (box.lat.upperBound - box.lat.lowerBound),
                                                                  box.lon.lowerBound + rng.unit() * (box.lon.upperBound - box.lon.lowerBound))
                for ci in 0..<(3 + rng.below(5)) {
                    for (carrier, mnc) in [(Carrier.viettel, "04"), (.vinaphone, "02"), (.mobifone, "01"), (.vietnamobile, "05"), (.gmobile, "07")]
                    where carrier == .viettel || ci < 2 {
                        let cgi = "452-\(mnc)-\(lac)-\(100 + ci)"
                        let lat = clat + (rng.unit() - 0.5) * 0.03, lon = clon + (rng.unit() - 0.5) * 0.03
                        cellLines += "\(cgi),\(String(format: "%.5f", lat)),\(String(format: "%.5f", lon)),\(commune.codeText)\n"
                        cells.append((cgi, commune.code, p, carrier))
                    }
                }
            }
        }
        try cellLines.write(toFile: "\(out)/cells.csv", atomically: true, encoding: .utf8)
        // A subscriber is seen in their own carrier's cells.
        struct Key: Hashable { var commune: Int; var carrier: Carrier }
        let cellsByCommune = Dictionary(grouping: cells.indices, by: { Key(commune: cells[$0].commune, carrier: cells[$0].carrier) })
        let communeCodes = Array(Set(cells.map(\.commune))).sorted()

        // Presence, preferences, do-not-call, contacts.
        let keys = pseudonyms ? try CarrierConfig.keys(try store.carrierConfigs()) : [:]
        var writers: [Carrier: BufferedFile] = [:]
        var prefWriters: [Carrier: BufferedFile] = [:]
        for (c, _) in Self.shares {
            writers[c] = try BufferedFile("\(out)/presence-\(c.rawValue).csv", header: "subscriber,cgi,seen_at")
            prefWriters[c] = try BufferedFile("\(out)/preferences-\(c.rawValue).csv", header: "subscriber,language")
        }
        let dnc = try BufferedFile("\(out)/do-not-call.csv", header: "msisdn")
        let contactsFile = try BufferedFile("\(out)/contacts-nguoi-co-uy-tin.csv", header: "msisdn,name,language,commune_code")
        let prefixes: [Carrier: [String]] = Dictionary(grouping: VietnamNumberingPlan.mobilePrefixes, by: { $0.value }).mapValues { $0.map(\.key).sorted() }
        let languagesByProvince: [Int: [String]] = [51: ["sed", "bdq", "jra", "vi", "en", "lo"], 38: ["blt", "vi", "lo", "en"], 20: ["tyz", "nut", "zh", "vi", "en"]]
        let names = ["A Thút", "Y Blương", "Rơ Châm Ly", "A Ngơl", "Hà Văn Thắng", "Lò Thị Mai", "Vi Văn Lâm", "Nông Thị Hoa", "Lương Văn Pỏ", "Y Hiền"]
        var rows = 0, bad = 0, contacts = 0
        let nowSeconds = now.timestamp.seconds
        var lastReport = Date()
        for s in 0..<subscribers {
            // Carrier by share; ported numbers keep another carrier's prefix.
            var x = rng.unit(), carrier = Carrier.viettel
            for (c, share) in Self.shares { if x < share { carrier = c; break }; x -= share }
            let prefixCarrier = rng.unit() < 0.03 ? Self.shares[rng.below(Self.shares.count)].0 : carrier
            let prefixList = prefixes[prefixCarrier]!
            let number = "0" + prefixList[rng.below(prefixList.count)] + pad7(rng.below(10_000_000))
            let subscriberField: String
            if let key = keys[carrier], case .success(let parsed) = VietnamNumberingPlan.parse(number) {
                subscriberField = key.pseudonym(for: parsed.msisdn).description
            } else {
                subscriberField = number
            }
            let home = communeCodes[rng.below(communeCodes.count)]
            let homeCells = cellsByCommune[Key(commune: home, carrier: carrier)]!
            let w = writers[carrier]!
            // 1–3 sightings over the last 4 days; the last one decides.
            let sightings = 1 + rng.below(3)
            let stale = rng.unit() < 0.05
            let moved = rng.unit() < 0.10
            var t = nowSeconds - Int64(stale ? 80 * 3600 + rng.below(40 * 3600) : rng.below(70 * 3600))
            for k in 0..<sightings {
                let isLast = k == sightings - 1
                let cellIndex: Int
                if isLast && moved { let other = communeCodes[rng.below(communeCodes.count)]; cellIndex = cellsByCommune[Key(commune: other, carrier: carrier)]![0] }
                else { cellIndex = homeCells[rng.below(homeCells.count)] }
                if isLast { t = min(nowSeconds, t) }
                w.line("\(subscriberField),\(cells[cellIndex].cgi),\(iso(t))")
                rows += 1
                if rng.unit() < 0.005 { w.line("\(subscriberField),\(cells[cellIndex].cgi),\(iso(t))"); rows += 1 }   // duplicate row
                t -= Int64(1800 + rng.below(20 * 3600))
            }
            if rng.unit() < 0.0005 {
                bad += 1
                switch rng.below(3) {
                case 0: w.line("024382\(pad7(rng.below(10_000_000)).prefix(5)),\(cells[homeCells[0]].cgi),\(iso(nowSeconds))")
                case 1: w.line("\(number),452-04-65000-1,\(iso(nowSeconds))")
                default: w.line("\(number),\(cells[homeCells[0]].cgi),24/11/2026 08:00")
                }
            }
            let province = cells[homeCells[0]].province
            if rng.unit() < 0.05, let langs = languagesByProvince[province] {
                prefWriters[carrier]!.line("\(subscriberField),\(langs[rng.below(langs.count)])")
            }
            if rng.unit() < 0.01 { dnc.line(number) }
            if contacts < 40 * provinceCodes.count && rng.unit() < 0.002 {
                contacts += 1
                let langs = languagesByProvince[province] ?? ["vi"]
                contactsFile.line("\(number),\(names[rng.below(names.count)]) \(contacts),\(langs[rng.below(langs.count)]),\(Commune.codeText(home))")
            }
            if s % 100_000 == 0 && Date().timeIntervalSince(lastReport) > 1 {
                lastReport = Date()
                printError("  \(formatCount(s)) of \(formatCount(subscribers)) subscribers")
            }
        }
        for w in writers.values { try w.close() }
        for w in prefWriters.values { try w.close() }
        try dnc.close()
        try contactsFile.close()
        print("wrote \(out)/: \(formatCount(cells.count)) cells in \(communeCodes.count) communes, \(formatCount(rows + bad)) presence rows (\(bad) deliberately bad) for \(formatCount(subscribers)) subscribers on \(Self.shares.count) carriers, \(contacts) contacts, in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        print("next: loa import cells \(out)/cells.csv; loa import presence \(out)/presence-viettel.csv --carrier viettel; …")
    }

    func pad7(_ v: Int) -> String { let s = String(v); return String(repeating: "0", count: 7 - s.count) + s }

    /// ISO 8601 in +07:00.
    func iso(_ t: Int64) -> String { Timestamp(seconds: t).iso8601() }
}

/// A file written through a 1 MiB buffer.
final class BufferedFile {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(_ path: String, header: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw CLIError("\(path): cannot create the file")
        }
        handle = h
        buffer.reserveCapacity(1 << 20)
        line(header)
    }

    func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { handle.write(Data(buffer)); buffer.removeAll(keepingCapacity: true) }
    }

    func close() throws {
        handle.write(Data(buffer))
        buffer.removeAll()
        try handle.close()
    }
}
