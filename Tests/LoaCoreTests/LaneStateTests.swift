import Testing
import LoaCore

/// A carrier lane's shared decisions, driven with simulated time: what the dispatcher's workers
/// would do, without threads, HTTP or a store.
@Suite("Lane state: lease, claims ahead of the rate, pacing, quota, circuit, faults (simulated time)")
struct LaneStateTests {
    static let noon = Timestamp(seconds: 1_780_000_000)   // a wall-clock instant
    var rng = SplitMix64(seed: 7)

    func lane(tps: Int = 200, maxBatch: Int = 1000, quota: Int = 1_000_000) -> LaneState {
        var s = LaneState(.init(tps: tps, maxBatch: maxBatch, dailyQuota: quota, retry: RetryPolicy(initialDelay: 1, maxDelay: 60)))
        s.leaseConfirmed(at: 0)
        s.tookOver(notBefore: 0, quotaUsed: 0, at: Self.noon)
        return s
    }

    @Test("no turn without the lease, before a takeover's wait, or when the lease was not confirmed for 5 s")
    func lease() {
        var s = LaneState(.init(tps: 100, maxBatch: 100, dailyQuota: 1000, retry: RetryPolicy()))
        #expect(s.enter(at: 1) == .wait(until: 1.25, note: "another dispatcher sends to this carrier"))
        s.leaseConfirmed(at: 1)
        s.tookOver(notBefore: 2.5, quotaUsed: 0, at: Self.noon)
        #expect(s.enter(at: 2) == .wait(until: 2.5, note: "taking over from another dispatcher: waiting for its last second of sends"))
        #expect(s.enter(at: 2.5) == .go)
        #expect(s.inFlight == 1)
        // Confirmed at 1; at 6 the lease may have been lost without this node knowing.
        if case .wait(_, let note) = s.enter(at: 6) { #expect(note?.hasPrefix("lease not confirmed for 5 s") == true) } else { Issue.record("entered") }
        s.leaseConfirmed(at: 6)
        #expect(s.enter(at: 6) == .go)
        // Handing over: no new turns; released once both turns have left.
        s.startReleasing()
        #expect(s.enter(at: 6.1) == .wait(until: 6.35, note: "another dispatcher sends to this carrier"))
        #expect(!s.mayRelease)
        s.leave()
        s.leave()
        #expect(s.mayRelease)
        s.released()
        #expect(s.lease == .none)
    }

    @Test("at most two batches wait for the rate: a third worker waits for a slot, one freed by an admission")
    func claimsAhead() {
        var s = lane(tps: 100, maxBatch: 100)
        #expect(s.pacedSize == 10)
        #expect(s.nextClaim(size: 10, campaignsOpen: true, now: 0, wall: Self.noon) == .claim(limit: 10))
        s.claimed(10, limit: 10, at: Self.noon)
        #expect(s.nextClaim(size: 10, campaignsOpen: true, now: 0, wall: Self.noon) == .claim(limit: 10))
        // A claim in progress counts too: a third worker may not claim yet.
        #expect(s.nextClaim(size: 10, campaignsOpen: true, now: 0, wall: Self.noon) == .waitForSlot(until: 0.005))
        s.claimed(10, limit: 10, at: Self.noon)
        #expect(s.waitingForRate == 2)
        #expect(s.admit(10, at: 0) == .admitted(at: 0))
        #expect(s.waitingForRate == 1)
        // The second must wait for the 100-ms pacing (10 per 95 ms at 100 TPS).
        #expect(s.admit(10, at: 0.01) == .wait(until: 0.095))
        // The rate has no room now: nobody claims (a new emergency is not stuck behind claims).
        #expect(s.nextClaim(size: 10, campaignsOpen: true, now: 0.01, wall: Self.noon) == .waitForRate(until: 0.095))
        #expect(s.admit(10, at: 0.095) == .admitted(at: 0.095))
        #expect(s.nextClaim(size: 10, campaignsOpen: true, now: 0.2, wall: Self.noon) == .claim(limit: 10))
        // Nothing to claim: nothing waits for the rate, and the reserved quota comes back.
        s.claimed(0, limit: 10, at: Self.noon)
        #expect(s.waitingForRate == 0)
        #expect(s.quota.used == 20)
    }

    @Test("1,000 messages at 200 TPS through 16 workers: 5 s, never over 200 in any second or 20 in any 95 ms")
    func pacedRun() {
        var s = lane(tps: 200, maxBatch: 1000)
        var planned = 1000
        var sends: [(at: Double, n: Int)] = []
        // Each worker: claim, wait for admission, "upload" (takes 30 ms), settle; time jumps to the next event.
        struct Worker { var readyAt = 0.0; var holding: Int? = nil }
        var workers = Array(repeating: Worker(), count: 16)
        var now = 0.0
        var rng = self.rng
        while planned > 0 || workers.contains(where: { $0.holding != nil }) {
            let i = workers.indices.min { workers[$0].readyAt < workers[$1].readyAt }!
            now = max(now, workers[i].readyAt)
            if let n = workers[i].holding {
                switch s.admit(n, at: now) {
                case .admitted(let at):
                    sends.append((at, n))
                    _ = s.settle(.taken(rejected: [:]), size: n, attempt: 1, isRetry: false, campaignEnd: nil, admittedAt: at,
                                 wall: 0, now: now + 0.03, random: &rng)
                    workers[i] = Worker(readyAt: now + 0.03)
                case .wait(let until):
                    workers[i].readyAt = until
                }
                continue
            }
            switch s.nextClaim(size: s.pacedSize, campaignsOpen: true, now: now, wall: Self.noon) {
            case .claim(let limit):
                let n = min(limit, planned)
                planned -= n
                s.claimed(n, limit: limit, at: Self.noon)
                workers[i] = Worker(readyAt: now + 0.002, holding: n > 0 ? n : nil)
                if n == 0 { workers[i].readyAt = .infinity }
            case .waitForRate(let until), .waitForSlot(let until):
                workers[i].readyAt = until
            case .quotaReached, .noCampaignOpen:
                Issue.record("unexpected")
                return
            }
        }
        #expect(sends.reduce(0) { $0 + $1.n } == 1000)
        for (start, _) in sends {
            #expect(sends.filter { $0.at >= start && $0.at < start + 1 }.reduce(0) { $0 + $1.n } <= 200)
            // The pacing step is 95 ms (sleep overshoot would otherwise cost rate): 20 in any 95 ms.
            #expect(sends.filter { $0.at >= start && $0.at < start + 0.095 }.reduce(0) { $0 + $1.n } <= 20)
        }
        // 50 uploads of 20, one every 95 ms once the second's first 200 went (the 1.05 s window holds them back).
        #expect(sends.count == 50)
        #expect(sends.last!.at > 4.9 && sends.last!.at < 5.6, "\(sends.last!.at)")
    }

    @Test("the quota: a spent day waits for midnight in Vietnam; a takeover restores what the store counted")
    func quota() {
        var s = lane(quota: 25)
        #expect(s.nextClaim(size: 20, campaignsOpen: true, now: 0, wall: Self.noon) == .claim(limit: 20))
        s.claimed(20, limit: 20, at: Self.noon)
        #expect(s.admit(20, at: 0) == .admitted(at: 0))
        #expect(s.nextClaim(size: 20, campaignsOpen: true, now: 0.1, wall: Self.noon) == .claim(limit: 5))
        s.claimed(5, limit: 5, at: Self.noon)
        #expect(s.admit(5, at: 0.1) == .admitted(at: 0.1))
        let midnight = DailyQuota.nextReset(after: Self.noon)
        #expect(s.nextClaim(size: 20, campaignsOpen: true, now: 0.2, wall: Self.noon) == .quotaReached(resetAt: midnight))
        #expect((midnight.seconds + Timestamp.vietnamOffset) % 86400 == 0)
        #expect(s.nextClaim(size: 20, campaignsOpen: true, now: 0.2, wall: midnight) == .claim(limit: 20))
        s.claimed(0, limit: 20, at: midnight)
        // Another node sent 24 today: 1 is left.
        s.tookOver(notBefore: 0, quotaUsed: 24, at: Self.noon)
        #expect(s.nextClaim(size: 20, campaignsOpen: true, now: 0.3, wall: Self.noon) == .claim(limit: 1))
        // Outside every campaign's window the quota is not touched.
        var closed = lane(quota: 25)
        #expect(closed.nextClaim(size: 20, campaignsOpen: false, now: 0, wall: Self.noon) == .noCampaignOpen)
        #expect(closed.quota.used == 0)
    }

    @Test("429: the rate counted for the upload comes back and the lane holds until Retry-After")
    mutating func throttled() {
        var s = lane(tps: 100, maxBatch: 100)
        #expect(s.nextClaim(size: 10, campaignsOpen: true, now: 0, wall: Self.noon) == .claim(limit: 10))
        s.claimed(10, limit: 10, at: Self.noon)
        #expect(s.admit(10, at: 0) == .admitted(at: 0))
        #expect(s.rateUsed(at: 0.01) == 10)
        let d = s.settle(.throttled(retryAfter: 2), size: 10, attempt: 1, isRetry: false, campaignEnd: nil, admittedAt: 0, wall: 1000, now: 0.2, random: &rng)
        #expect(d.giveBackRate)
        if case .retry(let at, _) = d.record { #expect(at >= 1002) } else { Issue.record("\(d.record)") }
        #expect(s.rateUsed(at: 0.2) == 0)
        #expect(s.permission(at: 0.3) == .wait(until: 2.2))
        #expect(s.permission(at: 2.2) == .send)
    }

    @Test("three transient failures open the circuit: nothing new goes until one probe, which alone goes")
    mutating func circuit() {
        var s = lane()
        for i in 0..<3 {
            _ = s.settle(.transient(reason: "HTTP 503", retryAfter: 1, mayHaveReachedCarrier: false), size: 20, attempt: 1, isRetry: false,
                         campaignEnd: nil, admittedAt: 0, wall: 1000, now: Double(i) * 0.1, random: &rng)
        }
        #expect(s.circuitOpen)
        guard case .wait(let until) = s.permission(at: 0.3) else { Issue.record("not waiting"); return }
        #expect(until >= 1.2)
        #expect(s.permission(at: until) == .probe)
        #expect(s.permission(at: until + 0.01) == .wait(until: until + 0.06))   // the others wait for the probe
        _ = s.settle(.taken(rejected: [:]), size: 10, attempt: 1, isRetry: false, campaignEnd: nil, admittedAt: until, wall: 1001, now: until + 0.1, random: &rng)
        #expect(!s.circuitOpen)
        #expect(s.permission(at: until + 0.2) == .send)
    }

    @Test("a configuration fault stops the lane with its first reason; the carrier is given back once nothing is in flight")
    mutating func fault() {
        var s = lane()
        #expect(s.enter(at: 0) == .go)
        let d = s.settle(.configurationFault(reason: "HTTP 401"), size: 20, attempt: 1, isRetry: false, campaignEnd: nil, admittedAt: 0,
                         wall: 1000, now: 0.1, random: &rng)
        #expect(d.record == .release)
        #expect(s.faulted)
        s.stop("a later reason")
        #expect(s.fault?.hasPrefix("the carrier answered HTTP 401") == true)
        #expect(!s.mayRelease)
        s.leave()
        #expect(s.mayRelease)
    }

    @Test("an open batch is re-uploaded by one worker of the node at a time")
    func retries() {
        var s = lane()
        let (first, second) = (s.beginRetry(42), s.beginRetry(42))
        #expect(first && !second)
        #expect(s.retrying == [42])
        #expect(s.waitingForRate == 1)
        s.retryNotTaken(42)   // another node took it first
        #expect(s.retrying.isEmpty && s.waitingForRate == 0)
        let again = s.beginRetry(42)
        #expect(again)
        #expect(s.admit(20, at: 0) == .admitted(at: 0))
        s.endRetry(42)
        #expect(s.retrying.isEmpty && s.waitingForRate == 0)
    }

    @Test("housekeeping: pending counted at most every 2 s unless forced; ended campaigns swept once a second")
    func housekeeping() {
        var s = lane()
        let counts = [s.countPendingDue(at: 10, force: false), s.countPendingDue(at: 11, force: false),
                      s.countPendingDue(at: 11, force: true), s.countPendingDue(at: 13, force: false)]
        #expect(counts == [true, false, true, true])
        let sweeps = [s.sweepDue(at: 10), s.sweepDue(at: 10.5), s.sweepDue(at: 11)]
        #expect(sweeps == [true, false, true])
    }
}
