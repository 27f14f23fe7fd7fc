import CSQLite3
import Foundation
import LoaCore

/// What reports read: a campaign's messages counted in the store, in one pass.
extension Store {
    /// A campaign's messages grouped by carrier, commune, language, state, reason, encoding, the
    /// hour the carrier accepted them and their latency to a final status.
    public func deliveryFacts(campaign: String) throws -> [DeliveryFact] {
        switch engine {
        case .sqlite(let file): return try sqliteDeliveryFacts(file, campaign: campaign)
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

    /// SQLite groups badly (a sort of every row): one scan in storage order instead, the few
    /// distinct texts compared as bytes, the campaign's accepted batches looked up in memory.
    func sqliteDeliveryFacts(_ file: SQLiteDatabase, campaign: String) throws -> [DeliveryFact] {
        var sentAt: [Int64: Int64] = [:]
        for (id, at) in try db.query("SELECT id, updated_at FROM batches WHERE campaign = ? AND state = ?",
                                     [.text(campaign), .text(BatchState.accepted.rawValue)], row: { ($0.int64(0), $0.int64(1)) }) {
            sentAt[id] = at
        }
        // A campaign that is most of the table is read in table order (no index lookups per row).
        let mine = try db.scalarInt("SELECT count(*) FROM messages WHERE campaign = ?", [.text(campaign)]) ?? 0
        let all = try db.scalarInt("SELECT max(id) FROM messages") ?? 0
        let stmt = try file.cached("SELECT carrier, commune, language, state, reason, encoding, segments, batch, updated_at FROM messages"
                                   + (mine * 3 > all ? " NOT INDEXED" : "") + " WHERE campaign = ?")
        defer { stmt.reset() }
        try stmt.bind([.text(campaign)])
        // Texts' numbers and the commune in one word, the hour and the latency in another.
        struct Key: Hashable {
            var a: UInt64, b: UInt64
            func hash(into h: inout Hasher) { h.combine(a &* 0x9E37_79B9_7F4A_7C15 ^ b) }
        }
        var carriers = TextInterner(), languages = TextInterner(), states = TextInterner(), reasons = TextInterner(), encodings = TextInterner()
        var groups: [Key: (count: Int, segments: Int)] = [:]
        let s = stmt.stmt
        let final: Set<String> = [MessageState.delivered.rawValue, MessageState.failed.rawValue, MessageState.noReceipt.rawValue]
        var finalState: [Int32: Bool] = [:]
        while try stmt.step() {
            let state = states.index(s, 3)
            let batch = sqlite3_column_type(s, 7) == SQLITE_NULL ? nil : sentAt[sqlite3_column_int64(s, 7)]
            var latency = Int64.min
            if let batch {
                let isFinal = finalState[state] ?? { let f = final.contains(states.values[Int(state)] ?? ""); finalState[state] = f; return f }()
                if isFinal { latency = sqlite3_column_int64(s, 8) - batch }
            }
            let commune = sqlite3_column_type(s, 1) == SQLITE_NULL ? UInt64(0x1FFFFF) : UInt64(UInt32(bitPattern: sqlite3_column_int(s, 1)) & 0x1FFFFF)
            let texts = UInt64(carriers.index(s, 0)) | UInt64(languages.index(s, 2)) << 8 | UInt64(state) << 20
                | UInt64(reasons.index(s, 4)) << 26 | UInt64(encodings.index(s, 5)) << 40
            let key = Key(a: texts << 21 | commune,
                          b: UInt64(batch.map { $0 / 3600 + 1 } ?? 0) << 40 | (latency == Int64.min ? 0 : UInt64(min(max(latency, 0), (1 << 40) - 2)) + 1))
            let segments = Int(sqlite3_column_int(s, 6))
            if let g = groups[key] { groups[key] = (g.count + 1, g.segments + segments) } else { groups[key] = (1, segments) }
        }
        return groups.map { key, g in
            let texts = key.a >> 21, commune = key.a & 0x1FFFFF
            let hour = Int64(key.b >> 40) - 1
            let latency = Int64(key.b & ((1 << 40) - 1)) - 1
            return DeliveryFact(carrier: carriers.values[Int(texts & 0xFF)] ?? "", commune: commune == 0x1FFFFF ? nil : Int(commune),
                                language: languages.values[Int(texts >> 8 & 0xFFF)] ?? "",
                                state: MessageState(rawValue: states.values[Int(texts >> 20 & 0x3F)] ?? "") ?? .unknown,
                                reason: reasons.values[Int(texts >> 26 & 0x3FFF)], encoding: encodings.values[Int(texts >> 40 & 0xFF)] ?? "",
                                sentAt: hour < 0 ? nil : hour * 3600, latency: latency < 0 ? nil : latency,
                                count: g.count, segments: g.segments)
        }
    }
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
        let raw = UnsafeBufferPointer(start: p, count: n)
        if last > 0 && bytes[Int(last)].count == n && bytes[Int(last)].withUnsafeBufferPointer({ $0.baseAddress.map { memcmp($0, p, n) == 0 } ?? (n == 0) }) { return last }
        for i in 1..<bytes.count where bytes[i].count == n && bytes[i].withUnsafeBufferPointer({ $0.baseAddress.map { memcmp($0, p, n) == 0 } ?? (n == 0) }) {
            last = Int32(i)
            return last
        }
        bytes.append(Array(raw))
        values.append(String(decoding: raw, as: UTF8.self))
        last = Int32(bytes.count - 1)
        return last
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
