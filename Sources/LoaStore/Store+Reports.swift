import CSQLite3
import Foundation
import LoaCore

/// What reports read: a campaign's messages counted in the store, in one pass.
extension Store {
    /// A campaign's messages grouped by carrier, commune, language, state, reason, encoding, the
    /// hour the carrier accepted them and their latency to a final status.
    /// `splitAbove`: on SQLite, campaigns with more messages are read in two halves at once.
    public func deliveryFacts(campaign: String, splitAbove: Int = 200_000) throws -> [DeliveryFact] {
        switch engine {
        case .sqlite(let file): return try sqliteDeliveryFacts(file, campaign: campaign, splitAbove: splitAbove)
        case .postgres: return try groupedDeliveryFacts(campaign: campaign)
        }
    }

    /// PostgreSQL groups in the server (a hash aggregate, in parallel).
    func groupedDeliveryFacts(campaign: String) throws -> [DeliveryFact] {
        try db.query("""
            SELECT m.carrier, m.commune, m.language, m.state, m.reason, m.encoding,
                   (b.updated_at / 3600) * 3600,
                   CASE WHEN m.state IN ('delivered', 'failed', 'no-receipt') THEN m.updated_at - b.updated_at END,
                   count(*), sum(m.segments)
            FROM messages m LEFT JOIN batches b ON b.id = m.batch AND b.state = '\(BatchState.accepted.rawValue)'
            WHERE m.campaign = ?
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
            """, [.text(campaign)]) {
            DeliveryFact(carrier: $0.text(0), commune: $0.isNull(1) ? nil : $0.int(1), language: $0.text(2),
                         state: MessageState(rawValue: $0.text(3)) ?? .unknown, reason: $0.isNull(4) ? nil : $0.text(4),
                         encoding: $0.text(5), sentAt: $0.isNull(6) ? nil : $0.int64(6), latency: $0.isNull(7) ? nil : $0.int64(7),
                         count: $0.int(8), segments: $0.int(9))
        }
    }

    /// SQLite groups badly (a sort of every row): a scan in storage order instead, in two halves
    /// on two connections at once, each row counted by an aggregate of ours inside the scan, the
    /// few distinct texts compared as words, the campaign's accepted batches in an array.
    func sqliteDeliveryFacts(_ file: SQLiteDatabase, campaign: String, splitAbove: Int) throws -> [DeliveryFact] {
        let batches = try db.query("SELECT id, updated_at FROM batches WHERE campaign = ? AND state = ?",
                                   [.text(campaign), .text(BatchState.accepted.rawValue)], row: { ($0.int64(0), $0.int64(1)) })
        let firstBatch = batches.map(\.0).min() ?? 0
        var sentAt = [Int64](repeating: -1, count: batches.isEmpty ? 0 : Int((batches.map(\.0).max() ?? 0) - firstBatch + 1))
        for (id, at) in batches { sentAt[Int(id - firstBatch)] = at }
        // Where the campaign's messages lie, as planning recorded it (counting them would read the
        // whole campaign once more before the scan).
        guard let bounds = try messageRange(campaign: campaign) else { return [] }
        // A campaign that is most of its id range is read in table order (no index lookups per row);
        // one that is all of it (planned alone, as most are) needs no test of its name per row.
        let span = bounds.last - bounds.first + 1
        let filter = bounds.count == span ? "id BETWEEN ?1 AND ?2" : bounds.count * 3 > span ? "id BETWEEN ?1 AND ?2 AND campaign = ?3" : "campaign = ?3 AND id BETWEEN ?1 AND ?2"
        let sql = "SELECT \(HalfScan.function)(carrier, commune, language, state, reason, encoding, segments, batch, updated_at) FROM messages WHERE \(filter)"
        func half(_ connection: SQLiteDatabase, from: Int64, to: Int64) -> HalfScan {
            HalfScan(connection: connection, sql: sql, bindings: [.int(from), .int(to)] + (filter.contains("?3") ? [.text(campaign)] : []),
                     sentAt: sentAt, firstBatch: firstBatch)
        }
        // Large campaigns: the upper half on a second connection of its own, at the same time.
        guard bounds.count > splitAbove, let other = try? SQLiteDatabase(path: file.path, create: false) else {
            let all = half(file, from: bounds.first, to: bounds.last)
            all.run()
            return try all.result!.get().facts()
        }
        let middle = bounds.first + (bounds.last - bounds.first) / 2
        let upper = half(other, from: middle + 1, to: bounds.last), lower = half(file, from: bounds.first, to: middle)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            upper.run()
            done.signal()
        }
        thread.stackSize = 1 << 21
        thread.start()
        lower.run()
        done.wait()
        var merged = try lower.result!.get()
        try merged.merge(upper.result!.get())
        return merged.facts()
    }
}

/// One scan of a range of a campaign's messages, run on the thread that calls `run` (a connection
/// serves one thread at a time: each half has its own). The rows never leave SQLite one by one:
/// an aggregate function of ours receives each row's values inside the scan (no step, no column
/// call and no lock per row), and counts it into its group.
final class HalfScan: @unchecked Sendable {
    let connection: SQLiteDatabase
    let sql: String
    let bindings: [SQLValue]
    let sentAt: [Int64]
    let firstBatch: Int64
    var result: Result<FactScan, any Error>?

    init(connection: SQLiteDatabase, sql: String, bindings: [SQLValue], sentAt: [Int64], firstBatch: Int64) {
        self.connection = connection; self.sql = sql; self.bindings = bindings; self.sentAt = sentAt; self.firstBatch = firstBatch
    }

    /// The aggregate's name, known to the scanning connection only while it scans.
    static let function = "loa_delivery_facts"

    func run() {
        result = Result {
            // The groups live at a fixed address for the scan: the aggregate reaches them without
            // a reference count or an exclusivity check per row.
            let scan = UnsafeMutablePointer<FactScan>.allocate(capacity: 1)
            scan.initialize(to: FactScan(sentAt: sentAt, firstBatch: firstBatch))
            defer { scan.deinitialize(count: 1); scan.deallocate() }
            try connection.aggregate(Self.function, arguments: 9, context: scan, step: { context, _, values in
                guard let context, let values, let data = sqlite3_user_data(context) else { return }
                data.assumingMemoryBound(to: FactScan.self).pointee.add(values)
            }, sql: sql, bindings)
            if let overflow = scan.pointee.overflow { throw StoreError.database("report: \(overflow)") }
            return scan.pointee
        }
    }
}

/// The groups of one scan: texts numbered per column, a group per distinct combination.
struct FactScan {
    let sentAt: [Int64]
    let firstBatch: Int64
    var carriers = TextInterner(), languages = TextInterner(), states = TextInterner(), reasons = TextInterner(), encodings = TextInterner()
    /// Per state number: does it end with a final status (latency counted)?
    var finalState: [Bool] = [false]
    var groups = GroupTable()
    /// Set when a column holds more distinct texts than a group key has room for.
    var overflow: String?

    static let finals: Set<String> = [MessageState.delivered.rawValue, MessageState.failed.rawValue, MessageState.noReceipt.rawValue]
    static let noCommune: UInt64 = 0xFF_FFFF

    init(sentAt: [Int64], firstBatch: Int64) {
        self.sentAt = sentAt
        self.firstBatch = firstBatch
    }

    /// One message: carrier, commune, language, state, reason, encoding, segments, batch, updated_at.
    mutating func add(_ v: UnsafeMutablePointer<OpaquePointer?>) {
        let state = states.index(v[3])
        if state >= finalState.count {
            while finalState.count < states.values.count { finalState.append(Self.finals.contains(states.values[finalState.count] ?? "")) }
        }
        var sent: Int64 = -1
        if sqlite3_value_type(v[7]) != SQLITE_NULL {
            let i = Int(sqlite3_value_int64(v[7]) - firstBatch)
            if i >= 0 && i < sentAt.count { sent = sentAt[i] }
        }
        var latency: UInt64 = 0
        if sent >= 0 && finalState[Int(state)] { latency = UInt64(max(sqlite3_value_int64(v[8]) - sent, 0)) + 1 }
        let commune = sqlite3_value_type(v[1]) == SQLITE_NULL ? Self.noCommune : UInt64(UInt32(bitPattern: sqlite3_value_int(v[1]))) & Self.noCommune
        let carrier = carriers.index(v[0]), language = languages.index(v[2]), reason = reasons.index(v[4], nullable: true), encoding = encodings.index(v[5])
        if carrier | state | encoding > 0xFF || language > 0xFFFF || reason > 0xFFFF_FFFF { noteOverflow() }
        let key = GroupKey(a: UInt64(carrier) << 56 | UInt64(language) << 40 | UInt64(state) << 32 | UInt64(encoding) << 24 | commune,
                           b: UInt64(reason) << 32 | UInt64(sent >= 0 ? min(sent / 3600 + 1, 0xFFFF_FFFF) : 0), c: latency)
        groups.add(key, count: 1, segments: Int(sqlite3_value_int(v[6])))
    }

    mutating func noteOverflow() {
        if overflow == nil {
            overflow = "more distinct carriers, states or encodings (255), languages (65,535) or reasons than a report can group"
        }
    }

    /// Adds another scan's groups (its texts renumbered into this one's).
    mutating func merge(_ other: FactScan) throws {
        if let overflow = other.overflow ?? overflow { throw StoreError.database("report: \(overflow)") }
        for g in 0..<other.groups.count {
            let key = other.groups.keys[g]
            let f = other.fact(key, count: 0, segments: 0)
            let a = UInt64(carriers.number(f.carrier)) << 56 | UInt64(languages.number(f.language)) << 40 | UInt64(states.number(f.state.rawValue)) << 32
                | UInt64(encodings.number(f.encoding)) << 24 | key.a & Self.noCommune
            let b = UInt64(reasons.number(f.reason)) << 32 | key.b & 0xFFFF_FFFF
            groups.add(GroupKey(a: a, b: b, c: key.c), count: other.groups.counts[g], segments: other.groups.segments[g])
        }
    }

    func fact(_ key: GroupKey, count: Int, segments: Int) -> DeliveryFact {
        let commune = key.a & Self.noCommune
        let hour = Int64(key.b & 0xFFFF_FFFF) - 1
        let latency = Int64(key.c) - 1
        return DeliveryFact(carrier: carriers.values[Int(key.a >> 56)] ?? "", commune: commune == Self.noCommune ? nil : Int(commune),
                            language: languages.values[Int(key.a >> 40 & 0xFFFF)] ?? "",
                            state: MessageState(rawValue: states.values[Int(key.a >> 32 & 0xFF)] ?? "") ?? .unknown,
                            reason: reasons.values[Int(key.b >> 32)], encoding: encodings.values[Int(key.a >> 24 & 0xFF)] ?? "",
                            sentAt: hour < 0 ? nil : hour * 3600, latency: latency < 0 ? nil : latency, count: count, segments: segments)
    }

    func facts() -> [DeliveryFact] { (0..<groups.count).map { fact(groups.keys[$0], count: groups.counts[$0], segments: groups.segments[$0]) } }
}

/// A group's key: carrier, language, state, encoding and commune in one word, the reason and the
/// hour sent in another, the latency in the third.
struct GroupKey: Equatable {
    var a: UInt64, b: UInt64, c: UInt64
}

/// Groups by key with a count and segments each: open addressing over a power-of-two table, keys
/// in the order first seen (a few thousand groups for millions of rows: the table stays in cache).
struct GroupTable {
    private(set) var keys: [GroupKey] = []
    private(set) var counts: [Int] = []
    private(set) var segments: [Int] = []
    private var slots = [Int32](repeating: -1, count: 1 << 10)
    private var shift = 64 - 10

    var count: Int { keys.count }

    mutating func add(_ key: GroupKey, count: Int, segments more: Int) {
        var h = slot(key)
        while true {
            let s = slots[h]
            if s < 0 { break }
            if keys[Int(s)] == key {
                counts[Int(s)] += count
                segments[Int(s)] += more
                return
            }
            h = (h + 1) & (slots.count - 1)
        }
        slots[h] = Int32(keys.count)
        keys.append(key)
        counts.append(count)
        segments.append(more)
        if keys.count * 2 > slots.count { grow() }
    }

    private func slot(_ key: GroupKey) -> Int {
        let mixed = (key.a ^ (key.b &* 0xC2B2_AE3D_27D4_EB4F) ^ (key.c &* 0x1656_67B1_9E37_79F9)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> UInt64(shift))
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        shift -= 1
        for (i, key) in keys.enumerated() {
            var h = slot(key)
            while slots[h] >= 0 { h = (h + 1) & (slots.count - 1) }
            slots[h] = Int32(i)
        }
    }
}

/// The distinct texts of a column, numbered, compared without making a String per row. A text is
/// known by a fingerprint of three words (its length, its first and its last 8 bytes: the whole
/// text up to 16 bytes, so carriers, states, languages and encodings compare in two word loads);
/// a longer text whose fingerprint matches is compared byte for byte. The last match is tried
/// first, then the first few texts in turn, then a hash of fingerprints (carriers' reasons may be
/// many). Index 0 is NULL.
struct TextInterner {
    var values: [String?] = [nil]
    /// Per number (from 1): its fingerprint and its bytes.
    var fingerprints: [Fingerprint] = []
    var bytes: [[UInt8]] = []
    var byFingerprint: [Fingerprint: [Int]] = [:]
    var last = 0, lastFingerprint = Fingerprint(w0: 0, w1: 0, count: -1)
    static let compared = 16
    /// Where an empty text points (its length is 0: never read).
    static var empty: UnsafePointer<UInt8> { UnsafePointer(bitPattern: 1)! }

    struct Fingerprint: Hashable {
        var w0: UInt64, w1: UInt64, count: Int

        init(w0: UInt64, w1: UInt64, count: Int) { self.w0 = w0; self.w1 = w1; self.count = count }

        init(_ p: UnsafePointer<UInt8>, _ n: Int) {
            let raw = UnsafeRawPointer(p)
            if n >= 8 {
                self.init(w0: raw.loadUnaligned(as: UInt64.self), w1: raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), count: n)
            } else if n >= 4 {
                self.init(w0: UInt64(raw.loadUnaligned(as: UInt32.self)), w1: UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)), count: n)
            } else {
                var w: UInt64 = 0
                for i in 0..<n { w |= UInt64(p[i]) << UInt64(8 * i) }
                self.init(w0: w, w1: 0, count: n)
            }
        }

        /// Texts of up to 16 bytes are their fingerprint.
        var isWhole: Bool { count <= 16 }
    }

    func same(_ number: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        bytes[number - 1].withUnsafeBufferPointer { $0.baseAddress.map { memcmp($0, p, n) == 0 } ?? true }
    }

    mutating func index(_ value: OpaquePointer?, nullable: Bool = false) -> Int {
        // The bytes as stored (a text read for its pointer would first be copied to be terminated).
        if nullable && sqlite3_value_type(value) == SQLITE_NULL { return 0 }
        let blob = sqlite3_value_blob(value)
        let n = Int(sqlite3_value_bytes(value))
        let p = blob.map { $0.assumingMemoryBound(to: UInt8.self) } ?? TextInterner.empty
        let f = Fingerprint(p, n)
        if f == lastFingerprint && (f.isWhole || same(last, p, n)) { return last }
        lastFingerprint = f
        for i in 0..<min(fingerprints.count, Self.compared) where fingerprints[i] == f && (f.isWhole || same(i + 1, p, n)) {
            last = i + 1
            return last
        }
        if fingerprints.count > Self.compared, let candidates = byFingerprint[f] {
            for k in candidates where f.isWhole || same(k, p, n) {
                last = k
                return last
            }
        }
        let raw = Array(UnsafeBufferPointer(start: p, count: n))
        last = append(raw, String(decoding: raw, as: UTF8.self))
        return last
    }

    /// The number of a text (nil: NULL), added when new.
    mutating func number(_ text: String?) -> Int {
        guard let text else { return 0 }
        let raw = Array(text.utf8)
        let f = raw.withUnsafeBufferPointer { Fingerprint($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, raw.count) }
        return byFingerprint[f]?.first { bytes[$0 - 1] == raw } ?? append(raw, text)
    }

    private mutating func append(_ raw: [UInt8], _ text: String) -> Int {
        values.append(text)
        bytes.append(raw)
        let f = raw.withUnsafeBufferPointer { Fingerprint($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, raw.count) }
        fingerprints.append(f)
        byFingerprint[f, default: []].append(values.count - 1)
        return values.count - 1
    }
}

extension Store {
    /// A campaign as the annual report lists it.
    public struct CampaignSummary: Sendable {
        public var id: String
        public var title: String
        public var priority: Campaign.Priority
        public var state: CampaignState
        public var office: String?
        public var purpose: Campaign.Purpose?
        public var channel: String?
        public var submittedAt: Int64
        /// The approval's time (from the audit trail).
        public var approvedAt: Int64?
    }

    /// Campaigns submitted in [from, to) (seconds), in the order submitted.
    public func campaigns(submittedFrom from: Int64, to: Int64) throws -> [CampaignSummary] {
        try db.query("""
            SELECT c.id, c.title, c.priority, c.state, c.office, c.purpose, c.channel, c.created_at,
                   (SELECT min(a.at) FROM audit a WHERE a.campaign = c.id AND a.action = 'approve')
            FROM campaigns c WHERE c.created_at >= ? AND c.created_at < ? ORDER BY c.created_at, c.id
            """, [.int(from), .int(to)]) {
            CampaignSummary(id: $0.text(0), title: $0.text(1), priority: Campaign.Priority(rawValue: $0.text(2)) ?? .routine,
                            state: CampaignState(rawValue: $0.text(3)) ?? .draft, office: $0.isNull(4) ? nil : $0.text(4),
                            purpose: $0.isNull(5) ? nil : Campaign.Purpose(rawValue: $0.text(5)), channel: $0.isNull(6) ? nil : $0.text(6),
                            submittedAt: $0.int64(7), approvedAt: $0.isNull(8) ? nil : $0.int64(8))
        }
    }

    /// When loa learned of the campaign's deliveries of the given ranks (1-based, in time order):
    /// nil for a rank beyond the deliveries. SQLite: the delivery times read in one pass over the
    /// campaign's id range and sorted here (an ORDER BY … OFFSET kept millions of rows in its sorter);
    /// PostgreSQL: one query per rank.
    public func deliveryTimes(campaign: String, ranks: [Int]) throws -> [Int64?] {
        guard case .sqlite = engine else {
            return try ranks.map { rank in
                guard rank >= 1 else { return nil }
                return try db.scalarInt("SELECT updated_at FROM messages WHERE campaign = ? AND state = 'delivered' ORDER BY updated_at LIMIT 1 OFFSET ?",
                                        [.text(campaign), .int(Int64(rank - 1))])
            }
        }
        guard let range = try messageRange(campaign: campaign) else { return ranks.map { _ in nil } }
        var times = try db.query("SELECT updated_at FROM messages WHERE id BETWEEN ? AND ? AND campaign = ? AND state = 'delivered'",
                                 [.int(range.first), .int(range.last), .text(campaign)]) { $0.int64(0) }
        times.sort()
        return ranks.map { $0 >= 1 && $0 <= times.count ? times[$0 - 1] : nil }
    }

    /// The lowest and highest id of a campaign's messages and how many it has, as planning recorded
    /// them (migration 16); nil when it has none.
    func messageRange(campaign: String) throws -> (first: Int64, last: Int64, count: Int64)? {
        try db.query("SELECT first_message, last_message, messages FROM campaigns WHERE id = ? AND messages > 0", [.text(campaign)]) {
            ($0.int64(0), $0.int64(1), $0.int64(2))
        }.first
    }
}
