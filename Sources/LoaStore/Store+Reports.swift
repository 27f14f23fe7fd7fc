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
    /// on two connections at once, the few distinct texts compared as bytes, the campaign's
    /// accepted batches in an array.
    func sqliteDeliveryFacts(_ file: SQLiteDatabase, campaign: String, splitAbove: Int) throws -> [DeliveryFact] {
        let batches = try db.query("SELECT id, updated_at FROM batches WHERE campaign = ? AND state = ?",
                                   [.text(campaign), .text(BatchState.accepted.rawValue)], row: { ($0.int64(0), $0.int64(1)) })
        let firstBatch = batches.map(\.0).min() ?? 0
        var sentAt = [Int64](repeating: -1, count: batches.isEmpty ? 0 : Int((batches.map(\.0).max() ?? 0) - firstBatch + 1))
        for (id, at) in batches { sentAt[Int(id - firstBatch)] = at }
        let found: [(Int64, Int64, Int64)] = try db.query("SELECT min(id), max(id), count(*) FROM messages WHERE campaign = ?", [.text(campaign)]) {
            ($0.isNull(0) ? 0 : $0.int64(0), $0.isNull(1) ? -1 : $0.int64(1), $0.int64(2))
        }
        let bounds = found.first ?? (0, -1, 0)
        guard bounds.2 > 0 else { return [] }
        // A campaign that is most of its id range is read in table order (no index lookups per row).
        let dense = bounds.2 * 3 > (bounds.1 - bounds.0 + 1)
        let sql = "SELECT carrier, commune, language, state, reason, encoding, segments, batch, updated_at FROM messages"
            + (dense ? " WHERE id BETWEEN ? AND ? AND campaign = ?" : " WHERE campaign = ? AND id BETWEEN ? AND ?")
        func half(_ connection: SQLiteDatabase, from: Int64, to: Int64) -> HalfScan {
            HalfScan(connection: connection, sql: sql, bindings: dense ? [.int(from), .int(to), .text(campaign)] : [.text(campaign), .int(from), .int(to)],
                     sentAt: sentAt, firstBatch: firstBatch)
        }
        // Large campaigns: the upper half on a second connection of its own, at the same time.
        guard bounds.2 > splitAbove, let other = try? SQLiteDatabase(path: file.path, create: false) else {
            let all = half(file, from: bounds.0, to: bounds.1)
            all.run()
            return try all.result!.get().facts()
        }
        let middle = bounds.0 + (bounds.1 - bounds.0) / 2
        let upper = half(other, from: middle + 1, to: bounds.1), lower = half(file, from: bounds.0, to: middle)
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
/// serves one thread at a time: each half has its own).
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

    func run() {
        result = Result {
            var scan = FactScan(sentAt: sentAt, firstBatch: firstBatch)
            let stmt = try connection.cached(sql)
            defer { stmt.reset() }
            try stmt.bind(bindings)
            while try stmt.step() { scan.add(stmt.stmt) }
            return scan
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
    var groups: [Key: Group] = [:]

    // Texts' numbers and the commune in one word, the hour and the latency in another.
    struct Key: Hashable {
        var a: UInt64, b: UInt64
        func hash(into h: inout Hasher) { h.combine(a &* 0x9E37_79B9_7F4A_7C15 ^ b) }
    }
    struct Group { var count = 0, segments = 0 }

    static let finals: Set<String> = [MessageState.delivered.rawValue, MessageState.failed.rawValue, MessageState.noReceipt.rawValue]

    init(sentAt: [Int64], firstBatch: Int64) {
        self.sentAt = sentAt
        self.firstBatch = firstBatch
    }

    mutating func add(_ s: OpaquePointer) {
        let state = states.index(s, 3)
        while finalState.count < states.values.count { finalState.append(Self.finals.contains(states.values[finalState.count] ?? "")) }
        var sent: Int64 = -1
        if sqlite3_column_type(s, 7) != SQLITE_NULL {
            let i = Int(sqlite3_column_int64(s, 7) - firstBatch)
            if i >= 0 && i < sentAt.count { sent = sentAt[i] }
        }
        var latency: UInt64 = 0
        if sent >= 0 && finalState[Int(state)] { latency = UInt64(min(max(sqlite3_column_int64(s, 8) - sent, 0), (1 << 40) - 2)) + 1 }
        let commune = sqlite3_column_type(s, 1) == SQLITE_NULL ? UInt64(0x1FFFFF) : UInt64(UInt32(bitPattern: sqlite3_column_int(s, 1)) & 0x1FFFFF)
        let texts = UInt64(carriers.index(s, 0)) | UInt64(languages.index(s, 2)) << 8 | UInt64(state) << 20
            | UInt64(reasons.index(s, 4)) << 26 | UInt64(encodings.index(s, 5)) << 40
        let key = Key(a: texts << 21 | commune, b: UInt64(sent >= 0 ? sent / 3600 + 1 : 0) << 40 | latency)
        let segments = Int(sqlite3_column_int(s, 6))
        groups[key, default: Group()].count += 1
        groups[key]!.segments += segments
    }

    /// Adds another scan's groups (its texts renumbered into this one's).
    mutating func merge(_ other: FactScan) throws {
        for (key, g) in other.groups {
            let f = other.fact(key, g)
            let texts = UInt64(carriers.number(f.carrier)) | UInt64(languages.number(f.language)) << 8 | UInt64(states.number(f.state.rawValue)) << 20
                | UInt64(reasons.number(f.reason)) << 26 | UInt64(encodings.number(f.encoding)) << 40
            let k = Key(a: texts << 21 | key.a & 0x1FFFFF, b: key.b)
            groups[k, default: Group()].count += g.count
            groups[k]!.segments += g.segments
        }
    }

    func fact(_ key: Key, _ g: Group) -> DeliveryFact {
        let texts = key.a >> 21, commune = key.a & 0x1FFFFF
        let hour = Int64(key.b >> 40) - 1
        let latency = Int64(key.b & ((1 << 40) - 1)) - 1
        return DeliveryFact(carrier: carriers.values[Int(texts & 0xFF)] ?? "", commune: commune == 0x1FFFFF ? nil : Int(commune),
                            language: languages.values[Int(texts >> 8 & 0xFFF)] ?? "",
                            state: MessageState(rawValue: states.values[Int(texts >> 20 & 0x3F)] ?? "") ?? .unknown,
                            reason: reasons.values[Int(texts >> 26 & 0x3FFF)], encoding: encodings.values[Int(texts >> 40 & 0xFF)] ?? "",
                            sentAt: hour < 0 ? nil : hour * 3600, latency: latency < 0 ? nil : latency, count: g.count, segments: g.segments)
    }

    func facts() -> [DeliveryFact] { groups.map { fact($0.key, $0.value) } }
}

/// The distinct texts of a column, numbered, compared as bytes without making a String per row.
/// Index 0 is NULL.
struct TextInterner {
    var values: [String?] = [nil]
    var bytes: [[UInt8]] = [[]]
    var last: Int32 = 0

    mutating func index(_ stmt: OpaquePointer, _ column: Int32) -> Int32 {
        guard let p = sqlite3_column_text(stmt, column) else { return 0 }
        let n = Int(sqlite3_column_bytes(stmt, column))
        if last > 0 && bytes[Int(last)].count == n && bytes[Int(last)].withUnsafeBufferPointer({ $0.baseAddress.map { memcmp($0, p, n) == 0 } ?? (n == 0) }) { return last }
        for i in 1..<bytes.count where bytes[i].count == n && bytes[i].withUnsafeBufferPointer({ $0.baseAddress.map { memcmp($0, p, n) == 0 } ?? (n == 0) }) {
            last = Int32(i)
            return last
        }
        let raw = UnsafeBufferPointer(start: p, count: n)
        bytes.append(Array(raw))
        values.append(String(decoding: raw, as: UTF8.self))
        last = Int32(bytes.count - 1)
        return last
    }

    /// The number of a text (nil: NULL), added when new.
    mutating func number(_ text: String?) -> Int32 {
        guard let text else { return 0 }
        if let i = values.firstIndex(where: { $0 == text }) { return Int32(i) }
        bytes.append(Array(text.utf8))
        values.append(text)
        return Int32(values.count - 1)
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

    /// When loa learned of the `rank`-th delivery of a campaign (1-based), in time order; nil when
    /// fewer were delivered.
    public func deliveryTime(campaign: String, rank: Int) throws -> Int64? {
        guard rank >= 1 else { return nil }
        return try db.scalarInt("SELECT updated_at FROM messages WHERE campaign = ? AND state = 'delivered' ORDER BY updated_at LIMIT 1 OFFSET ?",
                                [.text(campaign), .int(Int64(rank - 1))])
    }
}
