/// What happened to a group of a campaign's messages. The columns add up, row by row and in total:
///
///     recipients = planned + sent + rejected + expired
///     sent       = delivered + failed + noReceipt + pending + unknown
///
/// `planned`: not yet accepted by a carrier (waiting, or in an upload); `sent`: accepted by the
/// carrier; `pending`: accepted, no final receipt yet; `unknown`: the submission's outcome is
/// unknown (never sent twice); `rejected`: refused by the carrier or by a rule (the daily cap, a
/// cancellation), with the reason; `expired`: the campaign ended before a carrier accepted it.
public struct DeliveryCounts: Sendable, Equatable {
    public var recipients = 0
    public var planned = 0
    public var delivered = 0
    public var failed = 0
    public var noReceipt = 0
    public var pending = 0
    public var unknown = 0
    public var rejected = 0
    public var expired = 0
    public var rejectedBy: [String: Int] = [:]
    public var failedBy: [String: Int] = [:]
    /// Segments of the messages carriers accepted (what is billed).
    public var segmentsSent = 0
    /// Their cost at the carriers' prices; nil when a sent message's carrier has no price.
    public var cost: Double? = 0
    /// Seconds from the carrier accepting the upload to loa learning of the delivery → messages.
    public var latencies: [Int64: Int] = [:]

    public init() {}

    public var sent: Int { delivered + failed + noReceipt + pending + unknown }

    /// The states of messages a carrier accepted (what `sent` counts, and what is billed).
    public static let sentStates: Set<MessageState> = [.accepted, .delivered, .failed, .noReceipt, .unknown]

    /// Delivered of those sent, nil before anything was sent.
    public var deliveryRate: Double? { sent > 0 ? Double(delivered) / Double(sent) : nil }

    /// `count` messages of one kind. `price`: per segment for this carrier and encoding (nil: no price).
    public mutating func add(state: MessageState, reason: String?, count: Int, segments: Int, price: Double?, latency: Int64?) {
        recipients += count
        switch state {
        case .planned, .submitted: planned += count
        case .accepted: pending += count
        case .delivered: delivered += count
        case .failed: failed += count; failedBy[Self.reasonText(reason), default: 0] += count
        case .noReceipt: noReceipt += count
        case .unknown: unknown += count
        case .rejected: rejected += count; rejectedBy[Self.reasonText(reason), default: 0] += count
        case .expired: expired += count
        }
        if Self.sentStates.contains(state) {
            segmentsSent += segments
            if let c = cost, let price { cost = c + price * Double(segments) } else { cost = nil }
        }
        if state == .delivered, let latency { latencies[max(0, latency), default: 0] += count }
    }

    static func reasonText(_ reason: String?) -> String {
        guard let r = reason, !r.isEmpty else { return "(no reason given)" }
        return r
    }

    public static func + (a: DeliveryCounts, b: DeliveryCounts) -> DeliveryCounts {
        var s = a
        s.recipients += b.recipients; s.planned += b.planned; s.delivered += b.delivered; s.failed += b.failed
        s.noReceipt += b.noReceipt; s.pending += b.pending; s.unknown += b.unknown; s.rejected += b.rejected; s.expired += b.expired
        s.rejectedBy.merge(b.rejectedBy, uniquingKeysWith: +)
        s.failedBy.merge(b.failedBy, uniquingKeysWith: +)
        s.segmentsSent += b.segmentsSent
        s.cost = a.cost.flatMap { x in b.cost.map { x + $0 } }
        s.latencies.merge(b.latencies, uniquingKeysWith: +)
        return s
    }

    /// The latency below which `share` (0…1) of the delivered messages fall (nearest rank).
    public func latency(percentile share: Double) -> Int64? {
        let total = latencies.values.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((share * Double(total)).rounded(.up)))
        var seen = 0
        for (seconds, n) in latencies.sorted(by: { $0.key < $1.key }) {
            seen += n
            if seen >= rank { return seconds }
        }
        return latencies.keys.max()
    }

    /// Whether the identities above hold (a report that does not add up is a bug).
    public var addsUp: Bool {
        recipients == planned + sent + rejected + expired
            && rejectedBy.values.reduce(0, +) == rejected && failedBy.values.reduce(0, +) == failed
    }
}

/// The groups a campaign report is broken down by.
public enum ReportDimension: String, Sendable, CaseIterable {
    case carrier, commune, language, day, hour
}

/// One group of messages as the store holds them, already counted.
public struct DeliveryFact: Sendable {
    public var carrier: String
    public var commune: Int?
    public var language: String
    public var state: MessageState
    public var reason: String?
    public var encoding: String
    /// When the carrier accepted the upload (seconds; the store gives the start of the hour), nil when never accepted.
    public var sentAt: Int64?
    /// Seconds from the carrier accepting the upload to loa learning of the final status.
    public var latency: Int64?
    public var count: Int
    public var segments: Int

    public init(carrier: String, commune: Int?, language: String, state: MessageState, reason: String?, encoding: String,
                sentAt: Int64?, latency: Int64?, count: Int, segments: Int) {
        self.carrier = carrier; self.commune = commune; self.language = language; self.state = state; self.reason = reason
        self.encoding = encoding; self.sentAt = sentAt; self.latency = latency; self.count = count; self.segments = segments
    }
}

/// A campaign's messages counted by one dimension, with the total.
public struct DeliveryReport: Sendable {
    public struct Row: Sendable {
        /// The group's key as written in CSV/JSON (`viettel`, `06073`, `vi`, `2026-12-01`, `2026-12-01T09`).
        public var key: String
        public var counts: DeliveryCounts
    }

    public var dimension: ReportDimension
    public var rows: [Row]
    public var total: DeliveryCounts
    /// Carriers with sent messages and no price for their encoding.
    public var unpriced: Set<String>

    /// Groups facts by `dimension`; `price(carrier, encoding)` per segment; days and hours are
    /// Vietnam's (UTC+7); messages never accepted by a carrier have no day or hour (key "not sent").
    public init(dimension: ReportDimension, facts: some Sequence<DeliveryFact>, price: (String, String) -> Double?) {
        self.dimension = dimension
        var groups: [String: DeliveryCounts] = [:]
        var total = DeliveryCounts()
        var unpriced: Set<String> = []
        for f in facts {
            let key: String
            switch dimension {
            case .carrier: key = f.carrier
            case .commune: key = f.commune.map(Self.communeCode) ?? "none"
            case .language: key = f.language
            case .day: key = f.sentAt.map { Self.localTime($0, hour: false) } ?? Self.notSent
            case .hour: key = f.sentAt.map { Self.localTime($0, hour: true) } ?? Self.notSent
            }
            let p = price(f.carrier, f.encoding)
            if p == nil && DeliveryCounts.sentStates.contains(f.state) { unpriced.insert(f.carrier) }
            groups[key, default: DeliveryCounts()].add(state: f.state, reason: f.reason, count: f.count, segments: f.segments, price: p, latency: f.latency)
            total.add(state: f.state, reason: f.reason, count: f.count, segments: f.segments, price: p, latency: f.latency)
        }
        rows = groups.map { Row(key: $0.key, counts: $0.value) }.sorted { a, b in
            // "not sent" last; otherwise by key (dates and codes sort as text).
            (a.key == Self.notSent ? 1 : 0, a.key) < (b.key == Self.notSent ? 1 : 0, b.key)
        }
        self.total = total
        self.unpriced = unpriced
    }

    public static let notSent = "not sent"

    public static func communeCode(_ code: Int) -> String {
        let s = String(code)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }

    /// `2026-12-01` or `2026-12-01T09` in Vietnam's time.
    public static func localTime(_ seconds: Int64, hour: Bool) -> String {
        String(Timestamp(seconds: seconds).iso8601().prefix(hour ? 13 : 10))
    }
}

/// What a voice campaign's report adds, per group: people the carrier called, those reached
/// (answered, for any time), those who listened to the end, calls made, seconds listened.
public struct CallCounts: Sendable, Equatable {
    public var called = 0
    public var reached = 0
    public var completed = 0
    public var attempts = 0
    public var listened = 0
    public init() {}

    public init(called: Int, reached: Int, completed: Int, attempts: Int, listened: Int) {
        self.called = called; self.reached = reached; self.completed = completed; self.attempts = attempts; self.listened = listened
    }

    public static func + (a: CallCounts, b: CallCounts) -> CallCounts {
        CallCounts(called: a.called + b.called, reached: a.reached + b.reached, completed: a.completed + b.completed,
                   attempts: a.attempts + b.attempts, listened: a.listened + b.listened)
    }

    /// Reached of those called.
    public var reachRate: Double? { called > 0 ? Double(reached) / Double(called) : nil }
    /// Listened to the end, of those reached.
    public var completionRate: Double? { reached > 0 ? Double(completed) / Double(reached) : nil }
    /// Calls per person called.
    public var attemptsPerPerson: Double? { called > 0 ? Double(attempts) / Double(called) : nil }
}
