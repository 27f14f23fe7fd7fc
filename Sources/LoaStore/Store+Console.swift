import LoaCore

/// What the operator console and `/metrics` read: counts only, never a number or a pseudonym.
extension Store {
    /// The path of the file a campaign was submitted from (as the submitter gave it).
    public func campaignFile(_ id: String) throws -> String? {
        try db.query("SELECT file FROM campaigns WHERE id = ?", [.text(id)]) { $0.text(0) }.first
    }

    /// Every campaign's messages by state, in one scan (the console's campaign list).
    public func messageCountsByCampaign() throws -> [String: [MessageState: Int]] {
        var out: [String: [MessageState: Int]] = [:]
        for (campaign, state, n) in try db.query("SELECT campaign, state, count(*) FROM messages GROUP BY campaign, state", row: { ($0.text(0), $0.text(1), $0.int(2)) }) {
            if let s = MessageState(rawValue: state) { out[campaign, default: [:]][s, default: 0] += n }
        }
        return out
    }

    /// A carrier's batches: how many wait to go again, and how many uploads were repeats.
    public struct BatchActivity: Sendable, Equatable {
        public var waitingToRetry = 0
        public var retries = 0
        public init() {}
    }

    /// Batch activity per carrier, for one campaign or all.
    public func batchActivity(campaign: String?) throws -> [String: BatchActivity] {
        var out: [String: BatchActivity] = [:]
        let sql = "SELECT carrier, state, count(*), sum(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) FROM batches"
            + (campaign == nil ? "" : " WHERE campaign = ?") + " GROUP BY carrier, state"
        for (carrier, state, n, retries) in try db.query(sql, campaign.map { [.text($0)] } ?? [], row: { ($0.text(0), $0.text(1), $0.int(2), $0.int(3)) }) {
            var a = out[carrier] ?? BatchActivity()
            a.retries += retries
            if state == BatchState.retryAt.rawValue { a.waitingToRetry += n }
            out[carrier] = a
        }
        return out
    }

    /// Totals for `GET /metrics`.
    public struct MetricsSnapshot: Sendable {
        /// carrier → state → messages.
        public var messages: [String: [MessageState: Int]] = [:]
        public var receipts: [String: Int] = [:]
        public var quarantinedOpen = 0
        public var batches: [String: BatchActivity] = [:]
        public var campaigns: [CampaignState: Int] = [:]
        public var auditEntries = 0
        public init() {}
    }

    public func metricsSnapshot() throws -> MetricsSnapshot {
        var m = MetricsSnapshot()
        m.messages = try messageCounts(campaign: nil)
        for (carrier, n) in try db.query("SELECT carrier, count(*) FROM receipts GROUP BY carrier", row: { ($0.text(0), $0.int(1)) }) { m.receipts[carrier] = n }
        m.quarantinedOpen = Int(try db.scalarInt("SELECT count(*) FROM receipt_quarantine WHERE replayed_at IS NULL") ?? 0)
        m.batches = try batchActivity(campaign: nil)
        for (state, n) in try db.query("SELECT state, count(*) FROM campaigns GROUP BY state", row: { ($0.text(0), $0.int(1)) }) {
            if let s = CampaignState(rawValue: state) { m.campaigns[s] = n }
        }
        m.auditEntries = Int(try db.scalarInt("SELECT count(*) FROM audit") ?? 0)
        return m
    }
}
