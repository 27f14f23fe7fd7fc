/// A carrier's rate limit, exact over any window: at most `limit` messages in any interval of
/// `window` seconds (half-open). A batch bigger than what the window allows is paced: the
/// limiter admits what fits now and says when the next message may go.
///
/// Time is a plain number of seconds from a monotonic clock, passed in by the caller.
public struct SlidingWindowLimiter: Sendable {
    public let limit: Int
    public let window: Double
    /// A request larger than `limit` goes when the window is empty (a re-upload must go whole).
    public let oversizeWhenEmpty: Bool
    /// Sends still inside the window: (time, count), oldest first.
    private var sends: [(time: Double, count: Int)] = []
    private var head = 0
    private var inWindow = 0

    /// - Parameters:
    ///   - perSecond: the carrier's TPS.
    ///   - margin: extra seconds on the window, so that jitter between admitting an upload and
    ///     its arrival at the carrier (thread scheduling on a busy machine, the network) cannot push
    ///     the carrier's own 1-second count over the limit. Default 50 ms: 5 ms, then 25 ms, were
    ///     too little on two busy cores with PostgreSQL beside (a carrier counting at arrival refused
    ///     an upload with 429 now and then); the cost is 4.8% of the TPS.
    public init(perSecond: Int, margin: Double = 0.05) {
        precondition(perSecond > 0)
        limit = perSecond
        window = 1.0 + margin
        oversizeWhenEmpty = false
    }

    /// At most `limit` in any `window` seconds; with `oversizeWhenEmpty`, a larger request goes
    /// alone into an empty window (pacing: TPS/10 per 100 ms, and a bigger re-upload on its own).
    public init(limit: Int, window: Double, oversizeWhenEmpty: Bool) {
        precondition(limit > 0 && window > 0)
        self.limit = limit
        self.window = window
        self.oversizeWhenEmpty = oversizeWhenEmpty
    }

    /// Whether `n` would be admitted at `now` (nothing is recorded).
    public mutating func fits(_ n: Int, at now: Double) -> Bool {
        expire(now)
        return inWindow + n <= limit || (oversizeWhenEmpty && inWindow == 0)
    }

    private mutating func expire(_ now: Double) {
        // 1 ns of tolerance: "exactly one window ago" must expire despite binary rounding (4.1 − 1.0 < 3.1).
        while head < sends.count && sends[head].time <= now - window + 1e-9 {
            inWindow -= sends[head].count
            head += 1
        }
        if head > 1024 && head * 2 > sends.count { sends.removeFirst(head); head = 0 }
    }

    /// How many of `wanted` messages may go at `now` (0…wanted), recorded as sent.
    public mutating func admit(_ wanted: Int, at now: Double) -> Int {
        expire(now)
        let n = min(wanted, limit - inWindow)
        if n > 0 {
            sends.append((now, n))
            inWindow += n
        }
        return max(n, 0)
    }

    /// Admits all `n` messages at `now`, or none (a re-upload must go whole, under its old key).
    public mutating func admitAll(_ n: Int, at now: Double) -> Bool {
        guard fits(n, at: now) else { return false }
        sends.append((now, n))
        inWindow += n
        return true
    }

    /// Returns `n` admitted messages that were not sent after all (the upload failed before the
    /// carrier saw it), so they do not count against the window.
    public mutating func giveBack(_ n: Int, admittedAt time: Double) {
        for i in stride(from: sends.count - 1, through: head, by: -1) where sends[i].time == time {
            let r = min(n, sends[i].count)
            sends[i].count -= r
            inWindow -= r
            return
        }
    }

    /// The earliest time at which at least one more message may go.
    public mutating func nextAvailable(at now: Double) -> Double { nextAvailable(for: 1, at: now) }

    /// The earliest time at which `n` messages may go together.
    public mutating func nextAvailable(for n: Int, at now: Double) -> Double {
        if fits(n, at: now) { return now }
        var freed = 0
        for i in head..<sends.count {
            freed += sends[i].count
            let left = inWindow - freed
            if left + n <= limit || (oversizeWhenEmpty && left == 0) { return sends[i].time + window }
        }
        return now + window
    }

    /// Messages sent within the window ending at `now`.
    public mutating func used(at now: Double) -> Int {
        expire(now)
        return inWindow
    }
}

/// Pacing a big backlog: how many messages to put in one upload so that sends are spread over
/// the second instead of bursting at its start (a batch of 1,000 at 200 TPS goes as 20 per 100 ms).
public func pacedChunk(tps: Int, maxBatch: Int, ticksPerSecond: Int = 10) -> Int {
    max(1, min(maxBatch, (tps + ticksPerSecond - 1) / ticksPerSecond))
}

/// A daily message quota, counted per local (UTC+7) calendar day.
public struct DailyQuota: Sendable, Equatable {
    public let limit: Int
    public private(set) var day: Int = -1
    public private(set) var used: Int = 0

    public init(limit: Int) { self.limit = limit }

    static func dayNumber(_ t: Timestamp) -> Int { Int((t.seconds + Timestamp.vietnamOffset) / 86400) }

    public mutating func remaining(at t: Timestamp) -> Int {
        let d = Self.dayNumber(t)
        if d != day { day = d; used = 0 }
        return max(0, limit - used)
    }

    public mutating func consume(_ n: Int, at t: Timestamp) {
        _ = remaining(at: t)
        used += n
    }

    /// Takes back `n` reserved messages that were not sent.
    public mutating func release(_ n: Int, at t: Timestamp) {
        _ = remaining(at: t)
        used = max(0, used - n)
    }

    /// Reserves up to `n` messages of today's quota at once; returns how many were reserved.
    public mutating func reserve(_ n: Int, at t: Timestamp) -> Int {
        let r = min(n, remaining(at: t))
        used += r
        return r
    }

    /// Restores the count from the store after a restart.
    public mutating func restore(used n: Int, at t: Timestamp) {
        day = Self.dayNumber(t)
        used = n
    }

    /// Midnight (UTC+7) after `t`, when the quota resets.
    public static func nextReset(after t: Timestamp) -> Timestamp {
        Timestamp(seconds: Int64(dayNumber(t) + 1) * 86400 - Timestamp.vietnamOffset)
    }
}
