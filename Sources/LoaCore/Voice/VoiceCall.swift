/// One call attempt as a voice receipt reports it.
public struct CallAttempt: Sendable, Equatable {
    /// 1-based.
    public var attempt: Int
    /// Seconds the person listened (answered, completed).
    public var listened: Int?
    /// The carrier makes no more calls to this person (after the last attempt that was not answered).
    public var final: Bool
    public init(attempt: Int, listened: Int?, final: Bool) {
        self.attempt = attempt
        self.listened = listened
        self.final = final
    }
}

/// A voice message follows its best attempt: completed before answered (the longer listen
/// first), answered before any unanswered attempt, and an unanswered attempt makes the message
/// `failed` only when the carrier says it was the last (`final`). Receipts may come in any order:
/// a late "no-answer" for attempt 1 never undoes an answered attempt 2, and an answered attempt
/// reported after a final "no-answer" still counts (the carrier did reach the person). Billed
/// minutes (the message's `segments` for a voice message) are the started minutes listened.
public enum VoiceCall {
    /// A voice message as the store holds it.
    public struct Standing: Sendable, Equatable {
        public var state: MessageState
        /// completed, answered, or the last unanswered outcome (`no-answer after 3 attempts`).
        public var reason: String?
        public var attempts: Int
        public var listened: Int
        public init(state: MessageState, reason: String?, attempts: Int, listened: Int) {
            self.state = state
            self.reason = reason
            self.attempts = attempts
            self.listened = listened
        }

        /// Started minutes listened (what a carrier bills a call by); 0 for a call never answered.
        public var billedMinutes: Int { state == .delivered ? max(1, (listened + 59) / 60) : 0 }
        var reached: Bool { state == .delivered }
    }

    /// The message after a receipt, or nil when nothing changes.
    public static func apply(_ current: Standing, status: ReceiptStatus, call: CallAttempt?, reason: String?) -> Standing? {
        var next = current
        next.attempts = max(current.attempts, call?.attempt ?? 1)
        switch status {
        case .completed, .answered:
            next.listened = max(current.listened, call?.listened ?? 0)
            if current.reached {
                if status == .completed { next.reason = "completed" }
            } else {
                next.state = .delivered
                next.reason = status.rawValue
            }
        case .noAnswer, .busy, .failed:
            if !current.reached && !current.state.isFinal && call?.final ?? (status == .failed) {
                next.state = .failed
                let attempts = next.attempts
                next.reason = "\(status.rawValue) after \(attempts) attempt\(attempts == 1 ? "" : "s")" + (reason.map { ": \($0)" } ?? "")
            }
        case .rejected:
            if !current.reached && !current.state.isFinal {
                next.state = .rejected
                next.reason = reason ?? "rejected by the carrier"
            }
        case .delivered, .expired, .unknown, .enroute, .accepted:
            return nil   // not a call's status: the receipt is kept, the message does not move
        }
        return next == current ? nil : next
    }
}

/// How a carrier calls for a campaign (sent with each voice batch): how many times, how far
/// apart, only inside the campaign's windows and outside its quiet hours, never after its end.
public struct CallPolicy: Sendable, Equatable {
    public var attempts: Int
    public var spacing: Int64
    public var callingHours: [DailyWindow]
    public var quietHours: DailyWindow?
    public var notAfter: Timestamp

    public init(attempts: Int, spacing: Int64, callingHours: [DailyWindow], quietHours: DailyWindow?, notAfter: Timestamp) {
        self.attempts = attempts
        self.spacing = spacing
        self.callingHours = callingHours
        self.quietHours = quietHours
        self.notAfter = notAfter
    }

    /// A campaign's policy: emergencies may call in quiet hours, nothing else does.
    public init(_ c: Campaign) {
        self.init(attempts: c.voice.attempts, spacing: c.voice.spacing, callingHours: c.schedule.windows,
                  quietHours: c.priority == .emergency ? nil : c.schedule.quietHours, notAfter: c.schedule.end)
    }

    /// Whether a call may be placed at `t` (Vietnam's time).
    public func allows(_ t: Timestamp) -> Bool {
        guard t < notAfter else { return false }
        let minute = Int(((t.seconds + Timestamp.vietnamOffset) % 86400 + 86400) % 86400 / 60)
        if let quietHours, quietHours.contains(minute: minute) { return false }
        return callingHours.contains { $0.contains(minute: minute) }
    }
}
