import Foundation
import Synchronization
import LoaCore
import LoaCrypto

/// Sends approved campaigns' messages to the carriers. Each carrier gets `uploadsPerCarrier`
/// upload workers (a thread and a curl handle each, so that a stalled or slow upload holds only
/// itself) that share one rate limiter, quota and circuit, and borrow store connections from a
/// small pool for the few statements around each upload. State is committed before every upload; an interrupted batch is uploaded again with the
/// same idempotency key, so each message reaches the carrier once (batch-http), or is recorded
/// as unknown and never resent (Kannel, which has no key).
///
/// Several dispatchers may share one store (scale-out on PostgreSQL): each sends only to the
/// carriers whose lease it holds (`CarrierLeases`), taking a fair share of them, so that every
/// carrier's rate and quota hold in total; batches are claimed with `FOR UPDATE SKIP LOCKED`.
/// A node that stops or dies frees its carriers for the others, which resume its batches.
public final class Dispatcher: @unchecked Sendable {
    public struct Campaigns: Sendable {
        /// When each campaign may send (its windows, priority and dates).
        public var policies: [String: SendingPolicy]
        public var senders: [String: String]
        public init(policies: [String: SendingPolicy], senders: [String: String]) {
            self.policies = policies
            self.senders = senders
        }
    }

    /// What a lane reports as it goes (cumulative), and what `run` returns per carrier.
    public struct Progress: Sendable {
        public var carrier: Carrier
        public var sent: Int
        public var accepted: Int
        public var rejected: Int
        public var retries: Int
        public var pending: Int
        public var note: String?
        /// Messages whose campaign ended before the carrier accepted them.
        public var expired = 0
        /// `sent` plus what was left, counted at the same moment: a progress bar's 100%.
        public var total: Int?
        /// Batches the carrier refused for good with a 4xx.
        public var refusedBatches = 0
        /// Why this node stopped sending to the carrier (a configuration fault, an answer not
        /// understood); nil while it sends. The messages stay open for the next run.
        public var fault: String?

        public init(carrier: Carrier, sent: Int = 0, accepted: Int = 0, rejected: Int = 0, retries: Int = 0, pending: Int = 0, note: String? = nil) {
            self.carrier = carrier
            self.sent = sent
            self.accepted = accepted
            self.rejected = rejected
            self.retries = retries
            self.pending = pending
            self.note = note
        }

        /// What an operator must look at: a stopped lane, batches refused for good, or every
        /// message the carrier answered for rejected (a wrong pseudonym key looks like that).
        public var problem: String? {
            if let fault { return "stopped: \(fault)" }
            if refusedBatches > 0 { return "\(refusedBatches) batch(es) refused by the carrier for good" }
            if sent > 0 && accepted == 0 && rejected == sent { return "the carrier rejected every message it was sent: check the pseudonym key and sender name agreed with it" }
            return nil
        }
    }

    let storage: any DispatchStorage
    let gateways: [CarrierGateway]
    let campaigns: Campaigns
    let onProgress: @Sendable (Progress) -> Void
    private let stopFlag = StopFlag()
    /// Concurrent uploads per carrier at most (the carrier's TPS is shared by them): enough that
    /// uploads stalled until the timeout do not hold the lane back (a carrier's `concurrent_uploads`).
    public var uploadsPerCarrier: Int?
    public static let defaultUploadsPerCarrier = 16
    /// Store connections a dispatcher's storage should offer its upload workers: 2 per carrier and 2 more.
    public static func storeConnections(carriers: Int) -> Int { 2 * carriers + 2 }
    /// The store's identity, carried by message ids on the wire.
    var identity: StoreIdentity { storage.identity }
    /// Transient failures in a row that stop new work for a carrier until a probe gets through.
    public var circuitThreshold = 3
    /// Messages in the one batch that probes a failing carrier.
    public var probeSize = 10
    /// The one source of time: monotonic seconds for pacing, the wall clock for schedules.
    public var time: any DispatchClock = SystemClock()
    func clock() -> Double { time.monotonicSeconds() }
    func wallClock() -> Timestamp { time.now() }

    /// Sends from `storage` (its connections are shared by all upload workers: see `storeConnections`).
    public init(storage: any DispatchStorage, gateways: [CarrierGateway], campaigns: Campaigns, onProgress: @escaping @Sendable (Progress) -> Void) {
        self.storage = storage
        self.gateways = gateways
        self.campaigns = campaigns
        self.onProgress = onProgress
    }

    /// Finish the uploads in flight, then return from `run`.
    public func stop() { stopFlag.set() }
    public var stopping: Bool { stopFlag.isSet }

    /// Runs every lane until there is nothing left to send (`untilDrained`) or until `stop()`.
    /// Returns what each carrier's lane did; a lane that stopped on a fault says why (`fault`).
    @discardableResult
    public func run(untilDrained: Bool) throws -> [Progress] {
        final class Errors: Sendable {
            let list = Mutex<[String]>([])
            func add(_ s: String) { list.withLock { $0.append(s) } }
        }
        let errors = Errors()
        let leases = try storage.carrierLeases()
        defer { leases.close() }
        // Each carrier gets its upload workers sharing one rate limiter, quota and circuit, so that
        // claiming and recording overlap with uploads and a stalled upload holds only itself.
        var threads: [Thread] = []
        var lanes: [(CarrierGateway, LaneShared)] = []
        for gateway in gateways {
            let shared = LaneShared(gateway: gateway, circuitThreshold: circuitThreshold)
            lanes.append((gateway, shared))
            for _ in 0..<max(1, uploadsPerCarrier ?? gateway.concurrentUploads ?? Self.defaultUploadsPerCarrier) {
                threads.append(Thread { [self] in
                    do { try Lane(dispatcher: self, gateway: gateway, shared: shared).run(untilDrained: untilDrained) }
                    catch { errors.add("\(gateway.carrier.rawValue): \(error)") }
                })
            }
        }
        let balancer = LeaseBalancer(dispatcher: self, leases: leases, lanes: lanes)
        try balancer.balance()
        for t in threads { t.stackSize = 1 << 21; t.start() }
        var lastBalance = clock()
        while threads.contains(where: { !$0.isFinished }) {
            usleep(20_000)
            if clock() - lastBalance >= 0.25 {
                lastBalance = clock()
                do { try balancer.balance() } catch {
                    // Without trustworthy leases this node must not send: its lanes stop claiming.
                    errors.add("carrier leases: \(error)")
                    balancer.dropAll()
                    stop()
                }
            }
        }
        balancer.dropAll()
        try storage.withQueue { try $0.completeFinishedCampaigns() }
        let failures = errors.list.withLock { $0 }
        if !failures.isEmpty { throw DispatchError.lanesFailed(failures) }
        return lanes.map { lane in lane.1.with { $0.progress } }
    }

    /// What a carrier's workers share: the lease state, the rate limiter, the quota, the circuit,
    /// the batch size and progress.
    final class LaneShared: @unchecked Sendable {
        let lock = NSLock()
        var limiter: SlidingWindowLimiter
        /// Pacing inside the second: at most TPS/10 per 100 ms (a bigger re-upload goes alone), so
        /// that a carrier with a smooth token bucket never sees a second's worth at once.
        var burst: SlidingWindowLimiter
        var quota: DailyQuota
        /// The lane's decisions: circuit, batch size, what follows each upload (pure, in the core).
        var lane: CarrierLane
        var progress: Progress
        /// Open batches a worker of this node is re-uploading (the store's conditional update is
        /// the guarantee that no two upload one at once; this set keeps workers from trying).
        var retrying: Set<Int64> = []
        /// Workers holding a claimed batch while they wait for the rate: new claims wait while two
        /// do, so that few messages are claimed ahead of the rate (a new emergency goes next).
        var waitingForRate = 0
        /// Workers claiming a new batch (they will wait for the rate next).
        var claiming = 0
        /// Contact numbers for Kannel, opened once per run (in memory only).
        var kannelNumbers: [String: MSISDN]?
        var lease = LeaseState.none
        /// Workers between deciding to send and having recorded the outcome.
        var inFlight = 0
        /// When the lease was last confirmed with the database. A lease not confirmed for
        /// `leaseValidity` seconds is treated as lost: the server ends an unreachable node's session
        /// (and its leases) only later, so another node cannot have taken over yet.
        var confirmedAt = -Double.infinity
        static let leaseValidity = 5.0
        var pendingCountedAt = -Double.infinity
        var sweptAt = -Double.infinity

        enum LeaseState: Equatable {
            /// Another node sends to this carrier (or nobody yet).
            case none
            /// This node sends, from `notBefore` on (monotonic clock).
            case held(notBefore: Double)
            /// Handing the carrier to another node: no new work; released once nothing is in flight.
            case releasing
        }

        init(gateway: CarrierGateway, circuitThreshold: Int) {
            limiter = SlidingWindowLimiter(perSecond: gateway.tps)
            // 95 ms, not 100: the sleep overshoot of each step would otherwise cost several % of the rate;
            // the 1-second window still holds the rate, and no 100 ms holds more than two steps.
            burst = SlidingWindowLimiter(limit: pacedChunk(tps: gateway.tps, maxBatch: gateway.tps), window: 0.095, oversizeWhenEmpty: true)
            quota = DailyQuota(limit: gateway.dailyQuota)
            lane = CarrierLane(maxBatch: gateway.maxBatch, retry: gateway.retry, circuitThreshold: circuitThreshold)
            progress = Progress(carrier: gateway.carrier)
        }

        /// The lane stopped on a fault: no worker of this node sends to the carrier again.
        var faulted: Bool { progress.fault != nil }

        enum Entry { case go, wait(until: Double, note: String?) }

        /// A worker may start on the carrier only while this node holds its lease.
        func enter(at now: Double) -> Entry {
            with { s in
                switch s.lease {
                case .held where now - s.confirmedAt >= Self.leaseValidity:
                    return .wait(until: now + 0.25, note: "lease not confirmed for \(Int(Self.leaseValidity)) s (database unreachable?): not sending")
                case .held(let notBefore) where now >= notBefore:
                    s.inFlight += 1
                    return .go
                case .held(let notBefore):
                    return .wait(until: notBefore, note: "taking over from another dispatcher: waiting for its last second of sends")
                case .none, .releasing:
                    return .wait(until: now + 0.25, note: "another dispatcher sends to this carrier")
                }
            }
        }

        func with<T>(_ body: (LaneShared) throws -> T) rethrows -> T {
            lock.lock()
            defer { lock.unlock() }
            return try body(self)
        }
    }

    final class Lane {
        let d: Dispatcher
        let gateway: CarrierGateway
        let client: CurlClient
        let signer: HMACSigner?
        let shared: LaneShared
        var rng = SplitMix64(seed: UInt64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds))

        init(dispatcher: Dispatcher, gateway: CarrierGateway, shared: LaneShared) throws {
            d = dispatcher
            self.gateway = gateway
            self.shared = shared
            client = CurlClient(gateway.client)
            signer = try gateway.signingSecret.map { try HMACSigner(secret: $0) }
        }

        var maxBatch: Int { shared.with { $0.lane.maxBatch } }

        /// A store connection from the pool for a few statements (never borrow one inside another).
        func db<T>(_ body: (any BatchQueue) throws -> T) throws -> T { try d.storage.withQueue(body) }

        /// The oldest batch due to go again that no other worker of this node is re-uploading,
        /// taken for its next attempt; nil when there is none.
        func takeOpenBatch(dueAt due: Double, allowed: Set<String>) throws -> Batch? {
            for _ in 0..<3 {
                let busy = shared.with { $0.retrying }
                guard let batch = try db({ try $0.openBatches(carrier: gateway.carrier, dueAt: due, allowed: allowed, excluding: busy, limit: 1) }).first else { return nil }
                guard shared.with({ $0.retrying.insert(batch.id).inserted }) else { continue }
                if try db({ try $0.batchUploading(batch.id) }) { return batch }
                _ = shared.with { $0.retrying.remove(batch.id) }
            }
            return nil
        }

        /// Admits `n` messages at `now` into both the 1-second window and the 100-ms pacing, or none.
        func admitAll(_ n: Int, at now: Double) -> Bool {
            shared.with { s in
                guard s.burst.fits(n, at: now), s.limiter.admitAll(n, at: now) else { return false }
                _ = s.burst.admitAll(n, at: now)
                return true
            }
        }
        func giveBack(_ n: Int, at t: Double) { shared.with { $0.limiter.giveBack(n, admittedAt: t); $0.burst.giveBack(n, admittedAt: t) } }
        func nextAvailable(at now: Double, for n: Int = 1) -> Double {
            shared.with { max($0.limiter.nextAvailable(for: n, at: now), $0.burst.nextAvailable(for: n, at: now)) }
        }
        func progress(_ change: (inout Progress) -> Void) { shared.with { change(&$0.progress) } }
        var wallSeconds: Double { Double(d.wallClock().seconds) }

        func report(_ note: String? = nil, force: Bool = false) {
            // Counting what is left is a scan of the carrier's planned messages: at most every 2 s per carrier.
            let now = d.clock()
            let due = shared.with { s in
                if !force && now - s.pendingCountedAt < 2 { return false }
                s.pendingCountedAt = now
                return true
            }
            let pending = due ? (try? db { try $0.pendingCount(carrier: gateway.carrier) }) : nil
            let p: Progress = shared.with { s in
                if let pending {
                    s.progress.pending = pending
                    s.progress.total = s.progress.sent + pending
                }
                s.progress.note = note
                return s.progress
            }
            d.onProgress(p)
        }

        /// Stops this node's lane for the carrier: every worker leaves, the lease is given back,
        /// nothing is made final. The operator is told why.
        func fault(_ reason: String) {
            shared.with { if $0.progress.fault == nil { $0.progress.fault = reason } }
            report("STOPPED: \(reason)", force: true)
        }

        /// Campaigns that may send to this carrier now.
        func allowedCampaigns(at t: Timestamp) -> Set<String> {
            Set(d.campaigns.policies.compactMap { id, policy in
                var p = policy
                p.carrierWindow = gateway.window
                return p.allows(t) ? id : nil
            })
        }

        /// Campaigns that have ended: what they still have for this carrier expires (once a second).
        func expireEndedCampaigns(at wall: Timestamp) throws {
            let now = d.clock()
            let due = shared.with { s in
                if now - s.sweptAt < 1 { return false }
                s.sweptAt = now
                return true
            }
            guard due else { return }
            for (id, policy) in d.campaigns.policies where policy.end <= wall {
                let n = try db { try $0.expireUnsent(campaign: id, carrier: gateway.carrier, reason: "campaign ended at \(policy.end.iso8601()) before the carrier accepted it") }
                if n > 0 {
                    progress { $0.expired += n }
                    report("\(n) message(s) of \(id) expired: the campaign ended at \(policy.end.iso8601())", force: true)
                }
            }
        }

        /// Sleeps until `deadline` or a stop; long waits (`yieldingLease`) also end when the carrier is being handed over.
        func sleep(until deadline: Double, yieldingLease: Bool = false) {
            while !d.stopping && !shared.faulted && !(yieldingLease && shared.with({ $0.lease == .releasing })) {
                let left = deadline - d.clock()
                if left <= 0 { return }
                usleep(useconds_t(min(left, 0.1) * 1_000_000))
            }
        }

        /// Reserves the quota, then claims up to `limit` planned messages of the allowed campaigns.
        func claimNew(limit: Int, allowed: Set<String>, wall: Timestamp) throws -> Batch? {
            // Reserve the quota before claiming, so that workers cannot both spend the same remainder.
            let chunk = shared.with { $0.quota.reserve(limit, at: wall) }
            if chunk == 0 { return nil }
            let claimed = try db { try $0.claimBatch(carrier: gateway.carrier, limit: chunk, allowed: allowed) }
            shared.with { $0.quota.release(chunk - (claimed?.messages.count ?? 0), at: wall) }
            return claimed
        }

        func run(untilDrained: Bool) throws {
            var lastReport = 0.0, lastWorkCheck = 0.0
            while !d.stopping && !shared.faulted {
                let now = d.clock()
                if case .wait(let until, let note) = shared.enter(at: now) {
                    // Not this node's carrier (now): done when the carrier has nothing left.
                    if untilDrained && now - lastWorkCheck >= 1 {
                        lastWorkCheck = now
                        if try !db { try $0.hasWork(carrier: gateway.carrier) } { report(force: true); return }
                    }
                    if now - lastReport > 2 { report(note); lastReport = now }
                    sleep(until: until)
                    continue
                }
                defer { shared.with { $0.inFlight -= 1 } }
                if now - lastReport > 0.5 { report(); lastReport = now }
                let wall = d.wallClock()
                try expireEndedCampaigns(at: wall)
                let allowed = allowedCampaigns(at: wall)
                // 0. A failing carrier is offered nothing until the backoff has passed; then one small batch probes.
                switch shared.with({ $0.lane.circuit.permission(at: now) }) {
                case .wait(let until):
                    if untilDrained, try !db { try $0.hasWork(carrier: gateway.carrier) } { report(force: true); return }
                    if shared.with({ $0.lane.circuit.isOpen }) { report("carrier failing: next probe in \(String(format: "%.0f", max(0, until - now))) s") }
                    sleep(until: until, yieldingLease: true)
                    continue
                case .probe:
                    try probe(allowed: allowed, wall: wall)
                    continue
                case .send:
                    break
                }
                // 1. Batches interrupted or waiting to retry go first, with their original keys
                //    (taken by one worker each, so a batch is never uploaded twice at once).
                if let batch = try takeOpenBatch(dueAt: wallSeconds, allowed: allowed) {
                    try send(batch, isRetry: true)
                    continue
                }
                // 2. Quota, windows, then the rate.
                let remaining = shared.with { $0.quota.remaining(at: wall) }
                if remaining == 0 {
                    report("daily quota of \(gateway.dailyQuota) reached; waiting for midnight", force: true)
                    if untilDrained { return }
                    sleep(until: now + Double(DailyQuota.nextReset(after: wall).seconds - wall.seconds), yieldingLease: true)
                    continue
                }
                let paced = pacedChunk(tps: gateway.tps, maxBatch: maxBatch)
                // Claim only when the rate has room; admission itself happens right before the POST.
                let readyAt = nextAvailable(at: now)
                if allowed.isEmpty || readyAt > now {
                    if allowed.isEmpty {
                        if try db { try $0.pendingCount(carrier: gateway.carrier) } == 0 && untilDrained { report(force: true); return }
                        if let retry = try db { try $0.nextRetryTime(carrier: gateway.carrier) }, retry - wallSeconds < 5 { sleep(until: now + max(0.05, retry - wallSeconds), yieldingLease: true); continue }
                        let opensSoon = d.campaigns.policies.values.contains { ($0.nextOpening(from: wall) ?? Timestamp(seconds: .max)) <= wall + 5 }
                        if untilDrained && !opensSoon {
                            report("outside every campaign's sending window", force: true); return
                        }
                        sleep(until: now + 1, yieldingLease: true)
                    } else {
                        sleep(until: readyAt)
                    }
                    continue
                }
                // Few claimed ahead of the rate: at most two workers hold a new batch waiting for it.
                let mayClaim = shared.with { s -> Bool in
                    guard s.waitingForRate + s.claiming < 2 else { return false }
                    s.claiming += 1
                    return true
                }
                guard mayClaim else { sleep(until: now + 0.005); continue }
                let claimed: Batch?
                do { claimed = try claimNew(limit: paced, allowed: allowed, wall: wall) } catch { shared.with { $0.claiming -= 1 }; throw error }
                guard let batch = claimed else {
                    shared.with { $0.claiming -= 1 }
                    if let retry = try db { try $0.nextRetryTime(carrier: gateway.carrier) } {
                        sleep(until: now + max(0.05, retry - wallSeconds), yieldingLease: true)
                        continue
                    }
                    let pending = try db { try $0.pendingCount(carrier: gateway.carrier) }
                    if untilDrained && pending == 0 { report(force: true); return }
                    sleep(until: now + 0.2)
                    continue
                }
                try send(batch, isRetry: false, claimSlot: true)
            }
            report(shared.faulted ? "STOPPED: \(shared.with { $0.progress.fault ?? "" })" : "stopped", force: true)
        }

        /// The carrier has been failing: one small batch finds out whether it is back. A new
        /// claim of `probeSize` messages when there are any, else the oldest batch waiting to go again.
        func probe(allowed: Set<String>, wall: Timestamp) throws {
            var probed = false
            defer { if !probed { shared.with { $0.lane.circuit.probeAbandoned(at: d.clock()) } } }
            if !allowed.isEmpty, let batch = try claimNew(limit: min(d.probeSize, maxBatch), allowed: allowed, wall: wall) {
                report("probing the carrier with \(batch.messages.count) message(s)", force: true)
                probed = true
                try send(batch, isRetry: false)
                return
            }
            if let batch = try takeOpenBatch(dueAt: .infinity, allowed: allowed) {
                report("probing the carrier with batch \(batch.id) (\(batch.messages.count) message(s))", force: true)
                probed = true
                try send(batch, isRetry: true)
                return
            }
            // Nothing to probe with: nothing is owed to the carrier either.
            probed = true
            shared.with { $0.lane.circuit.succeeded() }
            sleep(until: d.clock() + 0.2)
        }

        /// One upload attempt of a batch; its outcome is committed before returning. Everything is
        /// prepared and recorded first; the rate limiter admits the batch immediately before the
        /// POST, so that what the carrier counts per second is what loa counted.
        func send(_ batch: Batch, isRetry: Bool, claimSlot: Bool = false) throws {
            defer { if isRetry { _ = shared.with { $0.retrying.remove(batch.id) } } }
            if gateway.protocolKind == .kannel {
                if claimSlot { shared.with { $0.claiming -= 1 } }
                return try sendThroughKannel(batch, isRetry: isRetry)
            }
            if isRetry {
                progress { $0.retries += 1 }
            } else {
                try db { try $0.recordAttempt(batch: batch.id) }
            }
            let attempt = batch.attempts + 1
            let body = BatchHTTP.body(batch.messages, identity: batch.wireIdentity) { d.campaigns.senders[$0] ?? "LOA" }
            let headers = BatchHTTP.headers(idempotencyKey: batch.idempotencyKey, body: body, signer: signer, token: gateway.token,
                                            now: d.wallClock().seconds, signatureVersion: gateway.signatureVersion)
            // Admission last, immediately before the POST, so that the carrier counts what loa counted.
            var admittedTime: Double? = nil
            shared.with { s in
                if claimSlot { s.claiming -= 1 }
                s.waitingForRate += 1
            }
            defer { if admittedTime == nil { shared.with { $0.waitingForRate -= 1 } } }
            while admittedTime == nil {
                if d.stopping || shared.faulted {
                    // Stopped before this upload went: undo the attempt, leave nothing half-done.
                    if isRetry { try db { try $0.batchNotAttempted(batch.id) } } else { try db { try $0.releaseUnsent(batch: batch.id) } }
                    return
                }
                let now = d.clock()
                let n = min(batch.messages.count, gateway.tps)
                if admitAll(n, at: now) {
                    admittedTime = now
                    shared.with { $0.waitingForRate -= 1 }
                    break
                }
                sleep(until: max(now + 0.001, nextAvailable(at: now, for: n)))
            }
            let response: CarrierResponse
            do {
                let answer = try client.post(gateway.endpoint + "/batches", headers: headers, body: body)
                response = .answer(status: answer.status, headers: answer.headers, body: answer.body)
            } catch {
                response = .noAnswer(reason: error.description, mayHaveReachedCarrier: error.mayHaveReachedServer)
            }
            let verdict = CarrierAnswer.judge(response, key: batch.idempotencyKey, refs: batch.refs, now: d.wallClock())
            let status: Int? = if case .answer(let s, _, _) = response { s } else { nil }
            let decision = shared.with { s in
                s.lane.settle(verdict, size: batch.messages.count, attempt: attempt, isRetry: isRetry, campaignEnd: d.campaigns.policies[batch.campaign]?.end,
                              wall: wallSeconds, clock: d.clock(), random: &rng)
            }
            // Nothing reached the carrier's count: give the rate back.
            if decision.giveBackRate, let t = admittedTime { giveBack(batch.messages.count, at: t) }
            switch decision.record {
            case .accepted(let rejected):
                try db { try $0.batchAccepted(batch.id, status: status ?? 202, rejected: rejected) }
                progress { p in
                    p.sent += batch.messages.count
                    p.accepted += batch.messages.count - rejected.count
                    p.rejected += rejected.count
                }
            case .refused(let status, let reason):
                try db { try $0.batchRejected(batch.id, status: status, reason: reason) }
                progress { $0.rejected += batch.messages.count; $0.sent += batch.messages.count; $0.refusedBatches += 1 }
            case .replanSmaller:
                try db { try $0.batchTooLarge(batch.id) }
            case .retry(let at, let reason):
                try db { try $0.batchRetry(batch.id, at: at, status: status, reason: reason) }
            case .expired(let reason):
                try db { try $0.batchExpired(batch.id, reason: reason) }
                progress { $0.expired += batch.messages.count }
                report("batch \(batch.id) expired: \(reason)", force: true)
            case .release:
                try db { try $0.releaseUnsent(batch: batch.id) }
            case .keepForNextRun:
                try db { try $0.batchNotAttempted(batch.id) }
            case .keepOpen(let reason):
                try db { try $0.batchRetry(batch.id, at: 0, status: status, reason: "answer not understood: \(reason)") }
            }
            if let note = decision.note { report(note, force: true) }
            if let reason = decision.fault {
                if case .keepOpen = decision.record { fault("batch \(batch.id) (key \(batch.idempotencyKey)): \(reason)") } else { fault(reason) }
            }
        }

        /// Kannel: one request per message, each admitted by the rate limiter right before it goes.
        func sendThroughKannel(_ batch: Batch, isRetry: Bool) throws {
            if isRetry {
                // An open Kannel batch was interrupted mid-way: at most once, never again.
                try db { try $0.markInterruptedUnknown(batch: batch.id) }
                report("batch \(batch.id) was interrupted: its unsent messages are recorded as unknown (Kannel cannot dedupe)")
                return
            }
            guard let settings = gateway.kannel, let key = gateway.pseudonymKey, let vault = gateway.contactVault else {
                try db { try $0.returnToPlanned(batch: batch.id) }
                try db { try $0.finishBatch(batch.id) }
                fault("Kannel needs its settings, the carrier's pseudonym key and the contact key (LOA_CONTACT_KEY) for \(gateway.carrier.rawValue)")
                return
            }
            let numbers = try kannelNumbers(key, vault)
            let dlrSigner = try gateway.receiptSecret.map { try HMACSigner(secret: $0) }
            var failure: String? = nil
            for m in batch.messages {
                if d.stopping || shared.faulted { break }
                guard let msisdn = numbers[m.subscriber] else {
                    try db { try $0.messageSubmitted(m.id, accepted: false, reason: "Kannel needs a clear number: only contact-list recipients can go through Kannel") }
                    progress { $0.rejected += 1; $0.sent += 1 }
                    continue
                }
                while true {
                    let now = d.clock()
                    if admitAll(1, at: now) { break }
                    if d.stopping { break }
                    sleep(until: max(now + 0.001, nextAvailable(at: now)))
                }
                if d.stopping { break }
                let url = KannelProtocol.url(settings, carrier: gateway.carrier, ref: MessageRef(id: m.id, store: d.identity), to: msisdn.e164,
                                             from: d.campaigns.senders[m.campaign] ?? "LOA", text: m.text, encoding: m.encoding, dlrSigner: dlrSigner)
                let answer: HTTPAnswer
                do {
                    answer = try client.get(url)
                } catch {
                    // At most once: a request that may have reached Kannel is never sent again.
                    if error.mayHaveReachedServer {
                        try db { try $0.messageSubmitted(m.id, state: .unknown, reason: "Kannel's answer was lost (\(error.description)); not sent again to avoid a duplicate") }
                    }
                    failure = error.description
                    break
                }
                let body = String(decoding: answer.body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                switch answer.status {
                case 200...299:
                    try db { try $0.messageSubmitted(m.id, accepted: true, reason: nil) }
                    progress { $0.sent += 1; $0.accepted += 1 }
                case 401, 403, 404, 405:
                    fault("Kannel answered HTTP \(answer.status) \(body): check the sendsms user, password and URL in the carrier file")
                case 408, 429, 500...599:
                    failure = "HTTP \(answer.status) \(body)"
                default:
                    try db { try $0.messageSubmitted(m.id, accepted: false, reason: "Kannel: HTTP \(answer.status) \(body)") }
                    progress { $0.rejected += 1; $0.sent += 1 }
                }
                if failure != nil || shared.faulted { break }
            }
            // What did not go goes back to planned (Kannel refused or could not be reached before it went).
            try db { try $0.returnToPlanned(batch: batch.id) }
            try db { try $0.finishBatch(batch.id) }
            if let failure {
                let reopens = shared.with { $0.lane.circuit.failed(at: d.clock(), retryAfter: nil, random: &rng) }
                report("Kannel unavailable (\(failure)); " + (reopens > d.clock() ? "next probe in \(String(format: "%.1f", reopens - d.clock())) s" : "trying again"))
            } else if !shared.faulted {
                shared.with { $0.lane.circuit.succeeded() }
            }
        }

        func kannelNumbers(_ key: KeyedPseudonymizer, _ vault: ContactVault) throws -> [String: MSISDN] {
            if let numbers = shared.with({ $0.kannelNumbers }) { return numbers }
            let numbers = try db { try $0.contactNumbers(pseudonymizer: key, contacts: vault) }
            shared.with { $0.kannelNumbers = numbers }
            return numbers
        }
    }
}

/// Keeps this node's fair share of carrier leases: ⌈carriers ÷ live nodes⌉, more when a carrier
/// has been free for a while (nobody else wants it), fewer when a node joins (a carrier is
/// handed over between batches). Taking a carrier over resumes its interrupted batches and
/// restores its daily quota from the store before sending.
final class LeaseBalancer {
    let d: Dispatcher
    let leases: any CarrierLeases
    let lanes: [(gateway: CarrierGateway, shared: Dispatcher.LaneShared)]
    /// Consecutive checks that found a carrier free while this node had its share.
    var freeChecks: [Carrier: Int] = [:]

    init(dispatcher: Dispatcher, leases: any CarrierLeases, lanes: [(CarrierGateway, Dispatcher.LaneShared)]) {
        d = dispatcher
        self.leases = leases
        self.lanes = lanes.map { (gateway: $0.0, shared: $0.1) }
    }

    func balance() throws {
        let checkedAt = d.clock()
        guard leases.stillValid() else { throw DispatchError.leasesLost }
        for lane in lanes { lane.shared.with { $0.confirmedAt = checkedAt } }
        if d.stopping { return }
        // A lane stopped on a fault gives its carrier back (another node, perhaps better configured, may take it).
        for lane in lanes where lane.shared.faulted && lane.shared.with({ $0.lease != .none && $0.inFlight == 0 }) {
            try leases.release(lane.gateway.carrier)
            lane.shared.with { $0.lease = .none }
        }
        let live = try leases.liveNodes()
        let share = (lanes.count + live - 1) / max(1, live)
        var held = lanes.filter { $0.shared.with { $0.lease } != .none }.count
        // Hand one carrier over when above the share (between batches).
        for lane in lanes where lane.shared.with({ $0.lease == .releasing && $0.inFlight == 0 }) {
            try leases.release(lane.gateway.carrier)
            lane.shared.with { $0.lease = .none }
            held -= 1
            report(lane.gateway.carrier, "handed to another dispatcher")
        }
        let releasing = lanes.contains { $0.shared.with { $0.lease } == .releasing }
        if held > share && !releasing, let surplus = lanes.last(where: { lane in lane.shared.with { if case .held = $0.lease { true } else { false } } }) {
            surplus.shared.with { $0.lease = .releasing }
        }
        for lane in lanes where lane.shared.with({ $0.lease }) == .none && !lane.shared.faulted {
            let carrier = lane.gateway.carrier
            if held >= share {
                // Above the share only for a carrier nobody took for a second.
                freeChecks[carrier, default: 0] += 1
                if freeChecks[carrier]! < 4 { continue }
            }
            guard try leases.tryAcquire(carrier) else { freeChecks[carrier] = 0; continue }
            freeChecks[carrier] = 0
            try takeOver(lane)
            held += 1
        }
    }

    static let takeoverWait = 1.5

    func takeOver(_ lane: (gateway: CarrierGateway, shared: Dispatcher.LaneShared)) throws {
        let carrier = lane.gateway.carrier
        let interrupted = try d.storage.withQueue { try $0.reopenInterruptedBatches(carrier: carrier) }
        let wall = d.wallClock()
        let sent = try d.storage.withQueue { try $0.sentToday(carrier: carrier, day: Int((wall.seconds + Timestamp.vietnamOffset) / 86400)) }
        // The previous holder's last uploads must leave the carrier's 1-second window first. Whatever
        // it sent, it admitted before this lease was free: it handed the carrier over with nothing in
        // flight, or it died (its session ended with it), or it lost touch and stopped itself 5 s
        // after its last confirmation, well before the server freed its session. So one window
        // (with room for a lease loss noticed up to 0.25 s late and for jitter) after taking the
        // lease is enough, and nothing needs to be written between admitting a batch and posting
        // it. A batch is admitted at most about a second after its attempt is recorded: when no
        // batch of the carrier changed in the last 3 s, nothing can still be in the window.
        let recent = try d.storage.withQueue { try $0.lastBatchActivity(carrier: carrier) }.map { $0 >= wall.seconds - 3 } ?? false
        let notBefore = d.clock() + (recent ? Self.takeoverWait : 0)
        lane.shared.with { s in
            s.quota = DailyQuota(limit: lane.gateway.dailyQuota)
            s.quota.restore(used: sent, at: wall)
            s.lease = .held(notBefore: notBefore)
        }
        if interrupted > 0 { report(carrier, "\(interrupted) interrupted batch(es) go again under their idempotency keys") }
    }

    /// Gives every lease back (stopping, or leases no longer trustworthy).
    func dropAll() {
        for lane in lanes {
            lane.shared.with { $0.lease = .none }
            try? leases.release(lane.gateway.carrier)
        }
    }

    func report(_ carrier: Carrier, _ note: String) {
        d.onProgress(Dispatcher.Progress(carrier: carrier, note: note))
    }
}

/// A flag set from a signal handler or another thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
