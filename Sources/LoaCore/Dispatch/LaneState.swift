/// Everything a carrier's upload workers decide together, as one value with no I/O: whether this
/// node may send to the carrier (its lease), the rate over any second and its pacing inside the
/// second, the daily quota, how many batches are claimed ahead of the rate, which open batches a
/// worker is re-uploading, the circuit and batch size (`CarrierLane`), and whether the lane
/// stopped on a fault. Workers hold it under one lock, ask it what to do at a time they pass in,
/// and tell it what happened; the dispatcher only carries the answers out (store, HTTP, sleep).
/// So every rule here is tested with simulated time (`LaneStateTests`).
public struct LaneState: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The carrier's messages per second over any second.
        public var tps: Int
        public var maxBatch: Int
        public var dailyQuota: Int
        public var retry: RetryPolicy
        /// Transient failures in a row that open the circuit.
        public var circuitThreshold: Int
        /// Batches claimed ahead of the rate at most: a new emergency waits behind no more than these.
        public var claimAhead: Int
        /// Seconds added to the 1-second window (`SlidingWindowLimiter.init(perSecond:margin:)`).
        public var rateMargin: Double
        /// Voice lanes: concurrent calls at most (`voice.channels`); `tps` is then calls per second.
        public var channels: Int?

        public init(tps: Int, maxBatch: Int, dailyQuota: Int, retry: RetryPolicy, circuitThreshold: Int = 3, claimAhead: Int = 2, rateMargin: Double = 0.05,
                    channels: Int? = nil) {
            self.channels = channels.map { max(1, $0) }
            self.tps = max(1, tps)
            self.maxBatch = max(1, maxBatch)
            self.dailyQuota = dailyQuota
            self.retry = retry
            self.circuitThreshold = circuitThreshold
            self.claimAhead = max(1, claimAhead)
            self.rateMargin = rateMargin
        }
    }

    /// Who sends to the carrier.
    public enum Lease: Sendable, Equatable {
        /// Another node (or nobody yet).
        case none
        /// This node, from `notBefore` on (monotonic seconds).
        case held(notBefore: Double)
        /// Handing the carrier to another node: no new work; released once nothing is in flight.
        case releasing
    }

    /// Whether a worker may start a turn.
    public enum Entry: Sendable, Equatable {
        case go
        case wait(until: Double, note: String?)
    }

    /// What a worker does about new work.
    public enum ClaimDecision: Sendable, Equatable {
        /// Claim up to `limit` messages (reserved from the quota): report with `claimed`.
        case claim(limit: Int)
        /// Today's quota is spent; it resets at `resetAt` (midnight in Vietnam).
        case quotaReached(resetAt: Timestamp)
        /// No campaign may send to the carrier now (windows, quiet hours).
        case noCampaignOpen
        /// The rate has no room before `until`.
        case waitForRate(until: Double)
        /// Enough batches already wait for the rate: look again at `until`.
        case waitForSlot(until: Double)
    }

    public enum Admission: Sendable, Equatable {
        /// Upload now; the messages were counted at this time.
        case admitted(at: Double)
        case wait(until: Double)
    }

    public let settings: Settings
    /// Circuit, batch size and what follows each upload.
    public private(set) var lane: CarrierLane
    var limiter: SlidingWindowLimiter
    /// At most TPS/10 per 95 ms (a bigger re-upload goes alone), so that a carrier with a smooth
    /// token bucket never sees a second's worth at once. 95 ms, not 100: the sleep overshoot of each
    /// step would otherwise cost several % of the rate; the 1-second window still holds the rate.
    var burst: SlidingWindowLimiter
    public private(set) var quota: DailyQuota
    public private(set) var lease: Lease = .none
    /// Workers between entering a turn and leaving it.
    public private(set) var inFlight = 0
    /// When the lease was last confirmed with the database. Not confirmed for `leaseValidity`
    /// seconds, it is treated as lost: the server ends an unreachable node's session (and its
    /// leases) only later, so another node cannot have taken over yet.
    public private(set) var confirmedAt = -Double.infinity
    public static let leaseValidity = 5.0
    /// Workers claiming a new batch, and workers holding a batch while they wait for the rate.
    public private(set) var claiming = 0
    public private(set) var waitingForRate = 0
    /// Open batches a worker of this node is re-uploading (the store's conditional update is the
    /// guarantee that no two upload one at once; this keeps workers from trying).
    public private(set) var retrying: Set<Int64> = []
    var pendingCountedAt = -Double.infinity
    var sweptAt = -Double.infinity
    /// Why the lane stopped (a configuration fault, an answer not understood); nil while it sends.
    public private(set) var fault: String?
    /// Voice: calls admitted and the channels they hold until `until` (monotonic seconds).
    public private(set) var calls: [(admittedAt: Double, until: Double, count: Int)] = []

    public init(_ settings: Settings) {
        self.settings = settings
        limiter = SlidingWindowLimiter(perSecond: settings.tps, margin: settings.rateMargin)
        burst = SlidingWindowLimiter(limit: pacedChunk(tps: settings.tps, maxBatch: settings.tps), window: 0.095, oversizeWhenEmpty: true)
        quota = DailyQuota(limit: settings.dailyQuota)
        lane = CarrierLane(maxBatch: settings.maxBatch, retry: settings.retry, circuitThreshold: settings.circuitThreshold)
    }

    // MARK: The lease

    /// A worker may start a turn only while this node holds the lease, confirmed recently, and
    /// after a takeover's wait. `.go` counts the worker in flight until `leave()`.
    public mutating func enter(at now: Double) -> Entry {
        switch lease {
        case .held where now - confirmedAt >= Self.leaseValidity:
            return .wait(until: now + 0.25, note: "lease not confirmed for \(Int(Self.leaseValidity)) s (database unreachable?): not sending")
        case .held(let notBefore) where now >= notBefore:
            inFlight += 1
            return .go
        case .held(let notBefore):
            return .wait(until: notBefore, note: "taking over from another dispatcher: waiting for its last second of sends")
        case .none, .releasing:
            return .wait(until: now + 0.25, note: "another dispatcher sends to this carrier")
        }
    }

    public mutating func leave() { inFlight -= 1 }

    /// The leases were checked with the database at `now`.
    public mutating func leaseConfirmed(at now: Double) { confirmedAt = now }

    /// This node took the carrier's lease: it sends from `notBefore`, with today's quota as the
    /// store counts it (`used` at `wall`).
    public mutating func tookOver(notBefore: Double, quotaUsed used: Int, at wall: Timestamp) {
        quota = DailyQuota(limit: settings.dailyQuota)
        quota.restore(used: used, at: wall)
        lease = .held(notBefore: notBefore)
    }

    /// Start handing the carrier over (no new turns); `mayRelease` says when nothing is in flight.
    public mutating func startReleasing() { if case .held = lease { lease = .releasing } }
    public var holdsLease: Bool { if case .held = lease { true } else { false } }
    public var mayRelease: Bool { lease != .none && inFlight == 0 && (lease == .releasing || fault != nil) }
    public mutating func released() { lease = .none }

    // MARK: New work

    /// What to do about new work at `now` (monotonic) and `wall`, for a batch of up to `size`
    /// messages. `campaignsOpen`: whether any campaign may send to the carrier now.
    public mutating func nextClaim(size: Int, campaignsOpen: Bool, now: Double, wall: Timestamp) -> ClaimDecision {
        if quota.remaining(at: wall) == 0 { return .quotaReached(resetAt: DailyQuota.nextReset(after: wall)) }
        guard campaignsOpen else { return .noCampaignOpen }
        // Claim only when the rate has room; admission itself happens right before the upload.
        let readyAt = nextAvailable(for: 1, at: now)
        if readyAt > now { return .waitForRate(until: readyAt) }
        guard waitingForRate + claiming < settings.claimAhead else { return .waitForSlot(until: now + 0.005) }
        let limit = quota.reserve(size, at: wall)
        if limit == 0 { return .quotaReached(resetAt: DailyQuota.nextReset(after: wall)) }
        claiming += 1
        return .claim(limit: limit)
    }

    /// The claim for `limit` (from `.claim(limit:)`) found `count` messages: the rest of the quota
    /// reserved for it is given back. A batch that was claimed next waits for the rate.
    public mutating func claimed(_ count: Int, limit: Int, at wall: Timestamp) {
        claiming -= 1
        quota.release(limit - count, at: wall)
        if count > 0 { waitingForRate += 1 }
    }

    /// Reserves the quota for a probe's claim outside the claim-ahead count; returns the limit.
    public mutating func reserveProbe(_ size: Int, at wall: Timestamp) -> Int { quota.reserve(size, at: wall) }
    /// A probe's claim found `count` of its `limit`.
    public mutating func probeClaimed(_ count: Int, limit: Int, at wall: Timestamp) {
        quota.release(limit - count, at: wall)
        if count > 0 { waitingForRate += 1 }
    }

    /// Messages per upload: paced to a tenth of the TPS, at most the batch size (and the channels).
    public var pacedSize: Int { min(pacedChunk(tps: settings.tps, maxBatch: lane.maxBatch), settings.channels ?? .max) }

    // MARK: Channels (voice)

    /// Channels held by calls at `now`.
    public mutating func channelsInUse(at now: Double) -> Int {
        calls.removeAll { $0.until <= now }
        return calls.reduce(0) { $0 + $1.count }
    }

    /// When `n` channels are free (now, when they are).
    mutating func channelsFree(for n: Int, at now: Double) -> Double {
        guard let channels = settings.channels else { return now }
        var used = channelsInUse(at: now)
        if used + min(n, channels) <= channels { return now }
        for hold in calls.sorted(by: { $0.until < $1.until }) {
            used -= hold.count
            if used + min(n, channels) <= channels { return hold.until }
        }
        return now
    }

    // MARK: Re-uploads

    /// A worker takes open batch `id` for a re-upload; false when another worker of this node has it.
    public mutating func beginRetry(_ id: Int64) -> Bool {
        guard retrying.insert(id).inserted else { return false }
        waitingForRate += 1
        return true
    }

    /// The re-upload of `id` did not happen after all (another node took it first).
    public mutating func retryNotTaken(_ id: Int64) {
        retrying.remove(id)
        waitingForRate -= 1
    }

    /// The re-upload of `id` is over (whatever its outcome).
    public mutating func endRetry(_ id: Int64) { retrying.remove(id) }

    // MARK: The rate

    /// Admits a batch of `size` at `now` into the 1-second window and the pacing, or says when it
    /// may go. A batch bigger than the TPS counts as the TPS (it goes alone into an empty second).
    /// Voice: `hold` is how long each call may hold its channel (ring time and the audio's length);
    /// the batch waits until that many channels are free.
    public mutating func admit(_ size: Int, at now: Double, hold: Double? = nil) -> Admission {
        let n = min(size, settings.tps)
        let freeAt = hold == nil ? now : channelsFree(for: size, at: now)
        if freeAt <= now, burst.fits(n, at: now), limiter.admitAll(n, at: now) {
            _ = burst.admitAll(n, at: now)
            waitingForRate -= 1
            if let hold { calls.append((now, now + hold, size)) }
            return .admitted(at: now)
        }
        return .wait(until: max(now + 0.001, freeAt, nextAvailable(for: n, at: now)))
    }

    /// A batch waiting for the rate will not go (the lane stops).
    public mutating func abandonAdmission() { waitingForRate -= 1 }

    /// Kannel: one message at a time, admitted or not (nothing waits for the rate in the count).
    public mutating func admitOne(at now: Double) -> Admission {
        if burst.fits(1, at: now), limiter.admitAll(1, at: now) {
            _ = burst.admitAll(1, at: now)
            return .admitted(at: now)
        }
        return .wait(until: max(now + 0.001, nextAvailable(for: 1, at: now)))
    }

    public mutating func nextAvailable(for n: Int, at now: Double) -> Double {
        max(limiter.nextAvailable(for: n, at: now), burst.nextAvailable(for: n, at: now), channelsFree(for: 1, at: now))
    }

    /// Messages counted in the 1-second window ending at `now`.
    public mutating func rateUsed(at now: Double) -> Int { limiter.used(at: now) }

    // MARK: Outcomes

    /// What follows an upload's verdict (`CarrierLane.settle`); the rate counted for it at
    /// `admittedAt` is given back when the carrier did not count it.
    public mutating func settle(_ verdict: UploadVerdict, size: Int, attempt: Int, isRetry: Bool, campaignEnd: Timestamp?, admittedAt: Double,
                                wall: Double, now: Double, random: inout some RandomNumberGenerator) -> CarrierLane.Decision {
        let decision = lane.settle(verdict, size: size, attempt: attempt, isRetry: isRetry, campaignEnd: campaignEnd, wall: wall, clock: now, random: &random)
        if decision.giveBackRate {
            let n = min(size, settings.tps)
            limiter.giveBack(n, admittedAt: admittedAt)
            burst.giveBack(n, admittedAt: admittedAt)
            // No call was placed: its channels are free again.
            if let i = calls.firstIndex(where: { $0.admittedAt == admittedAt && $0.count == size }) { calls.remove(at: i) }
        }
        if let reason = decision.fault { stop(reason) }
        return decision
    }

    /// Whether new work may go, or the carrier is failing (wait) or must be probed.
    public mutating func permission(at now: Double) -> CarrierCircuit.Permission { lane.circuit.permission(at: now) }
    public var circuitOpen: Bool { lane.circuit.isOpen }
    /// The probe was not sent (nothing to probe with is handled by `nothingToProbe`).
    public mutating func probeAbandoned(at now: Double) { lane.circuit.probeAbandoned(at: now) }
    /// Nothing is owed to the carrier: the circuit closes.
    public mutating func nothingToProbe() { lane.circuit.succeeded() }
    /// Kannel: a request failed transiently; returns when the circuit lets new work go.
    public mutating func gatewayFailed(at now: Double, random: inout some RandomNumberGenerator) -> Double {
        lane.circuit.failed(at: now, retryAfter: nil, random: &random)
    }
    public mutating func gatewaySucceeded() { lane.circuit.succeeded() }

    /// The lane stops for an operator (the first reason is kept).
    public mutating func stop(_ reason: String) { if fault == nil { fault = reason } }
    public var faulted: Bool { fault != nil }

    // MARK: Housekeeping

    /// Whether the carrier's pending messages should be counted again (every 2 s, or when forced).
    public mutating func countPendingDue(at now: Double, force: Bool) -> Bool {
        if !force && now - pendingCountedAt < 2 { return false }
        pendingCountedAt = now
        return true
    }

    /// Whether ended campaigns should be swept for this carrier (once a second).
    public mutating func sweepDue(at now: Double) -> Bool {
        if now - sweptAt < 1 { return false }
        sweptAt = now
        return true
    }
}
