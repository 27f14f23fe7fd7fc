import Foundation
import LoaCore
import LoaCrypto

// MARK: Preferences: subscriber,language[,carrier]

extension Store {
    public func importPreferences(path: String, carrier: Carrier, key: KeyedPseudonymizer?,
                                  force: Bool = false, progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        try importPreferences(path: path, carrier: carrier, keys: key.map { [carrier: $0] } ?? [:], force: force, progress: progress)
    }

    /// Stated languages: `subscriber,language` from one carrier (`carrier`), or, with `carrier`
    /// nil, one file for all of them: `subscriber,language,carrier`, where a line without its
    /// carrier (two fields, or an empty third) takes the carrier serving the number by `routing`
    /// (the porting list, else the prefix: the carrier of origin). A clear number is pseudonymized
    /// with its carrier's key from `keys`; a later statement for a subscriber replaces an earlier one.
    ///
    /// Streams like the presence import: lines are parsed on their own thread (ASCII lines byte
    /// by byte, any other line through the full CSV rules), and rows are written in chunks sorted
    /// by key, each chunk appended as blocks of statements (`PreferenceBlocks`).
    public func importPreferences(path: String, carrier: Carrier?, keys: [Carrier: KeyedPseudonymizer], routing: CarrierRouting = CarrierRouting(),
                                  force: Bool = false, progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        try importPreferences(path: path, carrier: carrier, keys: keys, routing: routing, force: force, progress: progress, chunkRows: PreferenceChunk.rows)
    }

    /// `chunkRows`: rows sorted and written at a time (tests make it small to cross chunks).
    func importPreferences(path: String, carrier: Carrier?, keys: [Carrier: KeyedPseudonymizer], routing: CarrierRouting,
                           force: Bool, progress: ((ImportProgress) -> Void)?, chunkRows: Int) throws -> ImportReport {
        let t0 = monotonicSeconds()
        let totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        // The parser sorts each chunk too: the writer only copies it into blocks.
        let pipeline = ImportPipeline<PreferenceChunk>(ImportReport(kind: "preferences", file: path), capacity: 1)
        pipeline.start { pipeline in
            var reader = PreferenceLines(path: path, carrier: carrier, keys: keys, routing: routing)
            var rows: [PreferenceRow] = []
            rows.reserveCapacity(min(chunkRows, 1 << 16))
            _ = try LineReader(path: path).forEachLine(progress: { pipeline.bytesRead = $0 }, chunk: { pipeline.fileHash.update($0) },
                                                       overlong: { pipeline.report.bad($0, Self.overlongLine) }) { n, line in
                guard let row = try reader.row(n, line, &pipeline.report, store: self) else { return }
                rows.append(row)
                if rows.count == chunkRows {
                    pipeline.queue.put(PreferenceChunk(sorting: rows, languages: reader.languages.names))
                    rows.removeAll(keepingCapacity: true)
                }
            }
            if !rows.isEmpty { pipeline.queue.put(PreferenceChunk(sorting: rows, languages: reader.languages.names)) }
            if reader.withdrawals > 0 {
                pipeline.notes.append("\(formatCount(reader.withdrawals)) lines withdrew a statement ('\(PreferenceBlocks.withdrawal)'): those subscribers have no stated language now, "
                                      + "and their earlier statements are removed from the store")
            }
            if reader.routedByPrefix > 0 {
                pipeline.notes.append("\(formatCount(reader.routedByPrefix)) lines named no carrier and took the one the number's prefix was allocated to "
                                      + "(a ported number's preference needs its carrier on the line, or the porting list with --routing)")
            }
        }
        var report = try pipelinedImport(kind: "preferences", carrier: carrier, path: path, force: force, pipeline: pipeline) { _ in
            var rows = 0, withdrawals = false
            while let chunk = pipeline.queue.take() {
                withdrawals = withdrawals || chunk.languages.contains(PreferenceBlocks.withdrawal)
                try PreferenceBlocks.append(chunk.rows[...], languages: chunk.languages, compacted: false, to: db)
                rows += chunk.lines
                progress?(ImportProgress(rows: rows, bytesRead: pipeline.bytesRead, totalBytes: totalBytes, seconds: monotonicSeconds() - t0))
            }
            try PreferenceBlocks.compactIfDue(db, withdrawals: withdrawals)
            return (rows, "", [])
        }
        report.seconds = monotonicSeconds() - t0
        progress?(ImportProgress(rows: report.rowsOK, bytesRead: totalBytes, totalBytes: totalBytes, seconds: report.seconds))
        return report
    }
}

/// One stated language on its way to the store: the key, the line's order in the file (the
/// last statement wins), the carrier's index and the language's index in `PreferenceChunk.languages`.
struct PreferenceRow {
    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64
    var order: UInt32
    var carrier: UInt8
    var language: UInt32

    static func < (a: PreferenceRow, b: PreferenceRow) -> Bool {
        (a.carrier, a.w0, a.w1, a.w2, a.w3, a.order) < (b.carrier, b.w0, b.w1, b.w2, b.w3, b.order)
    }
    func sameKey(_ b: PreferenceRow) -> Bool { carrier == b.carrier && w0 == b.w0 && w1 == b.w1 && w2 == b.w2 && w3 == b.w3 }
}

extension PreferenceRow {
    init(_ subscriber: Pseudonym, order: UInt32, carrier: UInt8, language: UInt32) {
        self.init(w0: subscriber.w0, w1: subscriber.w1, w2: subscriber.w2, w3: subscriber.w3, order: order, carrier: carrier, language: language)
    }
}

/// Rows of a file sorted by key, each key once (its last statement in the file): a block's order
/// (`PreferenceBlocks`), so that loading fills `LanguagePreferences` from one end to the other.
/// Chunks are written in the file's order, so a later line always wins.
struct PreferenceChunk {
    /// Rows sorted at a time (24 MiB): the writer copies one into blocks while the next is parsed
    /// (on 2.5M lines, 512k: 1.80–1.93 s and 190 MiB; 2M: 1.93–2.09 s and 340 MiB).
    static let rows = 1 << 19
    var rows: [PreferenceRow]
    /// Every language seen so far, by index (the list only grows).
    var languages: [String]
    /// Lines the chunk was made of (repeated keys included).
    var lines: Int

    init(sorting input: [PreferenceRow], languages: [String]) {
        self.languages = languages
        lines = input.count
        rows = Self.sortedLastOfEachKey(input)
    }

    /// A counting sort on the key's first 16 bits (carrier and HMAC bits: evenly spread), then each
    /// small bucket sorted in full; runs of one key keep their last row.
    static func sortedLastOfEachKey(_ input: [PreferenceRow]) -> [PreferenceRow] {
        func bucket(_ r: PreferenceRow) -> Int { Int(r.carrier & 7) << 13 | Int(r.w0 >> 51) }
        var starts = [Int](repeating: 0, count: 1 << 16 + 1)
        for r in input { starts[bucket(r) + 1] += 1 }
        for i in 1..<starts.count { starts[i] += starts[i - 1] }
        var next = starts
        var sorted = [PreferenceRow](unsafeUninitializedCapacity: input.count) { buffer, count in
            for r in input {
                let b = bucket(r)
                (buffer.baseAddress! + next[b]).initialize(to: r)
                next[b] += 1
            }
            count = input.count
        }
        sorted.withUnsafeMutableBufferPointer { all in
            for b in 0..<(starts.count - 1) where starts[b + 1] - starts[b] > 1 {
                var slice = UnsafeMutableBufferPointer(rebasing: all[starts[b]..<starts[b + 1]])
                if slice.count > 32 { slice.sort(by: <); continue }
                for i in 1..<slice.count {   // insertion sort: buckets hold a few rows
                    let r = slice[i]
                    var j = i
                    while j > 0 && r < slice[j - 1] { slice[j] = slice[j - 1]; j -= 1 }
                    slice[j] = r
                }
            }
        }
        var kept = 0
        for i in sorted.indices where i + 1 == sorted.count || !sorted[i].sameKey(sorted[i + 1]) {
            sorted[kept] = sorted[i]
            kept += 1
        }
        sorted.removeLast(sorted.count - kept)
        return sorted
    }
}

/// The language tags of one file, each checked once: a file holds a handful of distinct tags.
struct LanguageTagCache {
    private(set) var names: [String] = []
    /// The index of `-` (a withdrawn statement) once a line held it.
    private(set) var withdrawal: UInt32?
    private var first: [[UInt8]] = []
    private var known: [[UInt8]: Result<UInt32, LanguageTagError>] = [:]

    mutating func index(_ tag: UnsafeBufferPointer<UInt8>) -> Result<UInt32, LanguageTagError> {
        // Nearly every line repeats one of the first few tags: compare bytes before hashing.
        for (i, bytes) in first.enumerated() where bytes.count == tag.count && memcmp(bytes, tag.baseAddress!, tag.count) == 0 { return .success(UInt32(i)) }
        let bytes = Array(tag)
        if let found = known[bytes] { return found }
        let result: Result<UInt32, LanguageTagError>
        let name = String(decoding: tag, as: UTF8.self)
        // `-` withdraws a statement: kept like a language, never checked as one.
        if name != PreferenceBlocks.withdrawal, case .failure(let problem) = Languages.check(name) {
            result = .failure(problem)
        } else {
            names.append(name)
            if name == PreferenceBlocks.withdrawal { withdrawal = UInt32(names.count - 1) }
            if first.count < 8 { first.append(bytes) }
            result = .success(UInt32(names.count - 1))
        }
        if known.count < 100_000 { known[bytes] = result }
        return result
    }
}

/// The rules for one line of a preferences file, shared by the byte-level path (plain ASCII
/// lines: nearly all) and the full one (quotes, other scripts, control characters: NFC and
/// every CSV rule, as every import applies them).
struct PreferenceLines {
    let path: String
    let carrier: Carrier?
    let routing: CarrierRouting
    var languages = LanguageTagCache()
    var routedByPrefix = 0
    /// Lines whose language was `-`: the statement withdrawn.
    var withdrawals = 0
    private var order: UInt32 = 0
    private var fields: [CSVLine.Field] = []
    private var carrierNames: [([UInt8], Carrier?)] = []
    private let keysByOrdinal: [KeyedPseudonymizer?]

    init(path: String, carrier: Carrier?, keys: [Carrier: KeyedPseudonymizer], routing: CarrierRouting) {
        self.path = path; self.carrier = carrier; self.routing = routing
        keysByOrdinal = Carrier.allCases.map { keys[$0] }
        fields.reserveCapacity(4)
    }

    var expected: String { carrier == nil ? "subscriber,language,carrier" : "subscriber,language" }

    mutating func row(_ n: Int, _ line: UnsafeBufferPointer<UInt8>, _ report: inout ImportReport, store: Store) throws -> PreferenceRow? {
        var plain = true
        for b in line where b < 0x20 || b > 0x7E || b == 0x22 { plain = false; break }
        if plain {
            if line.allSatisfy({ $0 == 0x20 }) { return nil }
            try? CSVLine.split(line, into: &fields)   // no quotes: cannot fail
            if n == 1, Self.isHeader(UnsafeBufferPointer(rebasing: line[fields[0].range])) { return nil }
            func field(_ i: Int) -> UnsafeBufferPointer<UInt8> { i < fields.count ? UnsafeBufferPointer(rebasing: line[fields[i].range]) : UnsafeBufferPointer(start: nil, count: 0) }
            return try resolve(n, fields.count, field(0), field(1), field(2), &report)
        }
        guard let f = try store.csvFields(n, line, &report, header: "subscriber") else { return nil }
        let bytes = f.map { Array($0.utf8) } + [[], [], []]
        return try bytes[0].withUnsafeBufferPointer { f0 in
            try bytes[1].withUnsafeBufferPointer { f1 in
                try bytes[2].withUnsafeBufferPointer { f2 in try resolve(n, f.count, f0, f1, f2, &report) }
            }
        }
    }

    static func isHeader(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        field.count == 10 && zip(field, "subscriber".utf8).allSatisfy { $0 | 0x20 == $1 }
    }

    /// One line's fields: `count` of them; `subscriber`, `language`, `carrierField` (empty when absent).
    private mutating func resolve(_ n: Int, _ count: Int, _ subscriber: UnsafeBufferPointer<UInt8>, _ language: UnsafeBufferPointer<UInt8>,
                                  _ carrierField: UnsafeBufferPointer<UInt8>, _ report: inout ImportReport) throws -> PreferenceRow? {
        let counts = carrier == nil ? 2...3 : 2...2
        guard counts.contains(count) else {
            let hint = carrier != nil && count == 3 ? " (a file with the carrier on every line is imported without --carrier)" : ""
            report.bad(n, "expected \(carrier == nil ? 3 : 2) fields \(expected), found \(count)\(hint)")
            return nil
        }
        var lineCarrier = carrier
        if lineCarrier == nil, !carrierField.isEmpty {
            guard let c = carrierNamed(carrierField) else {
                report.bad(n, "carrier: unknown '\(Escaped(String(decoding: carrierField, as: UTF8.self)))' (expected one of \(Carrier.allCases.map(\.rawValue).joined(separator: ", ")))")
                return nil
            }
            lineCarrier = c
        }
        let pseudonym: Pseudonym
        if let p = Pseudonym(hexBytes: subscriber) {
            guard lineCarrier != nil else {
                report.bad(n, "carrier: a pseudonym cannot be routed by its number: name its carrier in the third field")
                return nil
            }
            pseudonym = p
        } else if routing.ported.isEmpty || lineCarrier != nil, let (nsn, origin) = VietnamNumberingPlan.canonical(utf8: subscriber) {
            // The usual form: hashed straight from the line's bytes.
            if lineCarrier == nil { lineCarrier = origin; routedByPrefix += 1 }
            pseudonym = try pseudonymize(UnsafeBufferPointer(rebasing: subscriber[nsn]), lineCarrier!, n)
        } else {
            switch VietnamNumberingPlan.parse(utf8: subscriber) {
            case .failure(let r): report.bad(n, "subscriber: \(r.description)"); return nil
            case .success(let parsed):
                if lineCarrier == nil {
                    if !routing.ported.isEmpty, let ported = routing.ported[parsed.msisdn] { lineCarrier = ported } else {
                        lineCarrier = parsed.carrierOfOrigin
                        routedByPrefix += 1
                    }
                }
                pseudonym = try pseudonymize(parsed.msisdn.nationalSignificantNumber.utf8, lineCarrier!, n)
            }
        }
        let languageIndex: UInt32
        switch languages.index(language) {
        case .failure(let problem): report.bad(n, "language: \(problem)"); return nil
        case .success(let i): languageIndex = i
        }
        if languageIndex == languages.withdrawal { withdrawals += 1 }
        order &+= 1
        return PreferenceRow(pseudonym, order: order, carrier: Store.ordinal(lineCarrier!), language: languageIndex)
    }

    /// HMAC-SHA256 of "+84" and the national significant number, under the carrier's key.
    private func pseudonymize(_ nsn: some Collection<UInt8>, _ carrier: Carrier, _ n: Int) throws -> Pseudonym {
        guard let key = keysByOrdinal[Int(Store.ordinal(carrier))] else { throw Store.clearNumbersWithoutKey(path, line: n, carrier) }
        return key.pseudonym(nationalSignificantNumber: nsn)
    }

    private mutating func carrierNamed(_ field: UnsafeBufferPointer<UInt8>) -> Carrier? {
        for (bytes, c) in carrierNames where bytes.elementsEqual(field) { return c }
        let c = Carrier(name: String(decoding: field, as: UTF8.self))
        if carrierNames.count < 64 { carrierNames.append((Array(field), c)) }
        return c
    }
}
