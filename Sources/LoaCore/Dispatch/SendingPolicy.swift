/// When a campaign may send to a carrier: the campaign's daily windows, the carrier's allowed
/// window, and the global quiet hours (default 21:00–07:00 Asia/Ho_Chi_Minh) for every campaign
/// that is not an emergency. Emergency campaigns may send at night, never above the carrier's TPS.
public struct SendingPolicy: Sendable {
    public var campaignWindows: [DailyWindow]
    public var carrierWindow: DailyWindow?
    public var quietHours: DailyWindow
    public var priority: Campaign.Priority
    public var start: Timestamp
    public var end: Timestamp

    public init(campaignWindows: [DailyWindow], carrierWindow: DailyWindow?, quietHours: DailyWindow = .defaultQuietHours,
                priority: Campaign.Priority, start: Timestamp, end: Timestamp) {
        self.campaignWindows = campaignWindows
        self.carrierWindow = carrierWindow
        self.quietHours = quietHours
        self.priority = priority
        self.start = start
        self.end = end
    }

    public func allows(_ t: Timestamp) -> Bool {
        guard t >= start, t < end else { return false }
        let minute = t.local().minuteOfDay
        if priority != .emergency {
            if quietHours.contains(minute: minute) { return false }
            if let w = carrierWindow, !w.contains(minute: minute) { return false }
        }
        return campaignWindows.contains { $0.contains(minute: minute) }
    }

    /// The next instant at or after `t` when sending is allowed, or nil when the campaign has ended.
    public func nextOpening(from t: Timestamp) -> Timestamp? {
        var probe = max(t, start)
        // Windows are whole minutes: step to the next minute boundary until allowed (≤ 2 days).
        for _ in 0..<(2 * 1440 + 2) {
            if probe >= end { return nil }
            if allows(probe) { return probe }
            probe = Timestamp(seconds: (probe.seconds / 60 + 1) * 60)
        }
        return nil
    }
}

/// Backoff for transient failures: exponential with jitter, capped, `Retry-After` honoured.
/// There is no limit on attempts: a transient answer never makes a message final. A message is
/// retried until its campaign ends, and what is still unsent then becomes `expired`.
public struct RetryPolicy: Sendable, Equatable {
    public var initialDelay: Double = 1
    public var multiplier: Double = 2
    public var maxDelay: Double = 60

    public init(initialDelay: Double = 1, multiplier: Double = 2, maxDelay: Double = 60) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
    }

    /// Delay before attempt `attempt + 1` (attempt counts from 1): half fixed, half random ("equal
    /// jitter"), and never less than the carrier's Retry-After.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?, random: inout some RandomNumberGenerator) -> Double {
        var d = initialDelay
        for _ in 1..<max(attempt, 1) { d *= multiplier; if d >= maxDelay { d = maxDelay; break } }
        d = min(d, maxDelay)
        let jittered = d / 2 + Double.random(in: 0...(d / 2), using: &random)
        return max(jittered, retryAfter ?? 0)
    }
}
