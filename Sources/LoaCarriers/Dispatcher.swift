import Foundation
import LoaCore
import LoaStore

/// Sends approved campaigns' messages to the carriers. Each carrier gets `workersPerCarrier`
/// workers (a thread, a store connection and a curl handle each) that share one rate limiter and
/// quota. State is committed before every upload; an interrupted batch is uploaded again with the
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

    /// What a lane reports as it goes.
    public struct Progress: Sendable {
        public var carrier: Carrier
        public var sent: Int
        public var accepted: Int
        public var rejected: Int
        public var retries: Int
        public var pending: Int
        public var note: String?
    }

    let storeLocation: String
    let gateways: [CarrierGateway]
    let campaigns: Campaigns
    let onProgress: @Sendable (Progress) -> Void
    private let stopFlag = StopFlag()
    /// Concurrent uploads per carrier (the carrier's TPS is shared by them).
    public var workersPerCarrier = 2
    public var clock: @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    public var wallClock: @Sendable () -> Timestamp = { Timestamp(seconds: Int64(Date().timeIntervalSince1970)) }

    public init(storeLocation: String, gateways: [CarrierGateway], campaigns: Campaigns, onProgress: @escaping @Sendable (Progress) -> Void) {
        self.storeLocation = storeLocation
        self.gateways = gateways
        self.campaigns = campaigns
        self.onProgress = onProgress
    }

    /// Finish the uploads in flight, then return from `run`.
    public func stop() { stopFlag.set() }
    public var stopping: Bool { stopFlag.isSet }

    /// Runs every lane until there is nothing left to send (`untilDrained`) or until `stop()`.
    public func run(untilDrained: Bool) throws {
        final class Errors: @unchecked Sendable {
            let lock = NSLock()
            var list: [String] = []
            func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
        }
        let errors = Errors()
        let store = try Store(location: storeLocation)
        let leases = try Store.carrierLeases(location: storeLocation)
        defer { leases.close() }
        // Each carrier gets `workersPerCarrier` upload workers sharing one rate limiter and quota, so
        // that claiming and recording overlap with uploads.
        var threads: [Thread] = []
        var lanes: [(CarrierGateway, LaneShared)] = []
        for gateway in gateways {
            let shared = LaneShared(gateway: gateway)
            lanes.append((gateway, shared))
            for _ in 0..<max(1, workersPerCarrier) {
                threads.append(Thread { [self] in
                    do { try Lane(dispatcher: self, gateway: gateway, shared: shared).run(untilDrained: untilDrained) }
                    catch { errors.add("\(gateway.carrier.rawValue): \(error)") }
                })
            }
        }
        let balancer = LeaseBalancer(dispatcher: self, leases: leases, store: store, lanes: lanes)
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
        try store.completeFinishedCampaigns()
        if !errors.list.isEmpty { throw StoreError.input(errors.list.joined(separator: "\n")) }
    }

    /// What a carrier's workers share: the lease state, the rate limiter, the quota, the batch
    /// size and progress.
    final class LaneShared: @unchecked Sendable {
        let lock = NSLock()
        var limiter: SlidingWindowLimiter
        var quota: DailyQuota
        var maxBatch: Int
        var progress: Progress
        /// Serializes re-uploads of open batches, so that two workers never upload the same one.
        let retryLock = NSLock()
        var lease = LeaseState.none
        /// Workers between deciding to send and having recorded the outcome.
        var inFlight = 0
        /// When the lease was last confirmed with the database. A lease not confirmed for
        /// `leaseValidity` seconds is treated as lost: the server ends an unreachable node's session
        /// (and its leases) only later, so another node cannot have taken over yet.
        var confirmedAt = -Double.infinity
        static let leaseValidity = 5.0
        var pendingCountedAt = -Double.infinity

        enum LeaseState: Equatable {
            /// Another node sends to this carrier (or nobody yet).
            case none
            /// This node sends, from `notBefore` on (monotonic clock).
            case held(notBefore: Double)
            /// Handing the carrier to another node: no new work; released once nothing is in flight.
            case releasing
        }

        init(gateway: CarrierGateway) {
            limiter = SlidingWindowLimiter(perSecond: gateway.tps)
            quota = DailyQuota(limit: gateway.dailyQuota)
            maxBatch = gateway.maxBatch
            progress = Progress(carrier: gateway.carrier, sent: 0, accepted: 0, rejected: 0, retries: 0, pending: 0, note: nil)
        }

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
        let store: Store
        let client: CurlClient
        let signer: HMACSigner?
        let shared: LaneShared
        var rng = SplitMix64(seed: UInt64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds))

        init(dispatcher: Dispatcher, gateway: CarrierGateway, shared: LaneShared) throws {
            d = dispatcher
            self.gateway = gateway
            self.shared = shared
            store = try Store(location: dispatcher.storeLocation)
            client = CurlClient(gateway.client)
            signer = try gateway.signingSecret.map { try HMACSigner(secret: $0) }
        }

        var maxBatch: Int {
            get { shared.with { $0.maxBatch } }
            set { shared.with { $0.maxBatch = newValue } }
        }

        func admitAll(_ n: Int, at now: Double) -> Bool { shared.with { $0.limiter.admitAll(n, at: now) } }
        func giveBack(_ n: Int, at t: Double) { shared.with { $0.limiter.giveBack(n, admittedAt: t) } }
        func nextAvailable(at now: Double) -> Double { shared.with { $0.limiter.nextAvailable(at: now) } }
        func progress(_ change: (inout Progress) -> Void) { shared.with { change(&$0.progress) } }

        func report(_ note: String? = nil, force: Bool = false) {
            // Counting what is left is a scan of the carrier's planned messages: at most every 2 s per carrier.
            let now = d.clock()
            let due = shared.with { s in
                if !force && now - s.pendingCountedAt < 2 { return false }
                s.pendingCountedAt = now
                return true
            }
            let pending = due ? (try? store.pendingCount(carrier: gateway.carrier)) : nil
            let p: Progress = shared.with { s in
                if let pending { s.progress.pending = pending }
                s.progress.note = note
                return s.progress
            }
            d.onProgress(p)
        }

        /// Campaigns that may send to this carrier now.
        func allowedCampaigns(at t: Timestamp) -> Set<String> {
            Set(d.campaigns.policies.compactMap { id, policy in
                var p = policy
                p.carrierWindow = gateway.window
                return p.allows(t) ? id : nil
            })
        }

        /// Sleeps until `deadline` or a stop; long waits (`yieldingLease`) also end when the carrier is being handed over.
        func sleep(until deadline: Double, yieldingLease: Bool = false) {
            while !d.stopping && !(yieldingLease && shared.with({ $0.lease == .releasing })) {
                let left = deadline - d.clock()
                if left <= 0 { return }
                usleep(useconds_t(min(left, 0.2) * 1_000_000))
            }
        }

        func run(untilDrained: Bool) throws {
            var lastReport = 0.0, lastWorkCheck = 0.0
            while !d.stopping {
                let now = d.clock()
                if case .wait(let until, let note) = shared.enter(at: now) {
                    // Not this node's carrier (now): done when the carrier has nothing left.
                    if untilDrained && now - lastWorkCheck >= 1 {
                        lastWorkCheck = now
                        if try !store.hasWork(carrier: gateway.carrier) { report(force: true); return }
                    }
                    if now - lastReport > 2 { report(note); lastReport = now }
                    sleep(until: until)
                    continue
                }
                defer { shared.with { $0.inFlight -= 1 } }
                if now - lastReport > 0.5 { report(); lastReport = now }
                let wall = d.wallClock()
                // 1. Batches interrupted or waiting to retry go first, with their original keys
                //    (one worker at a time takes them, so a batch is never uploaded twice at once).
                if shared.retryLock.try() {
                    // (a batch that waits for the rate inside send() keeps the lock: one re-upload at a time)
                    let open = try store.openBatches(carrier: gateway.carrier, dueAt: Date().timeIntervalSince1970).first
                    if let batch = open {
                        defer { shared.retryLock.unlock() }
                        try send(batch, isRetry: true)
                        continue
                    }
                    shared.retryLock.unlock()
                }
                // 2. Quota, windows, then the rate.
                let remaining = shared.with { $0.quota.remaining(at: wall) }
                if remaining == 0 {
                    report("daily quota of \(gateway.dailyQuota) reached; waiting for midnight", force: true)
                    if untilDrained { return }
                    sleep(until: now + Double(DailyQuota.nextReset(after: wall).seconds - wall.seconds), yieldingLease: true)
                    continue
                }
                let allowed = allowedCampaigns(at: wall)
                let paced = pacedChunk(tps: gateway.tps, maxBatch: maxBatch)
                // Claim only when the rate has room; admission itself happens right before the POST.
                let readyAt = nextAvailable(at: now)
                if allowed.isEmpty || readyAt > now {
                    if allowed.isEmpty {
                        if try store.pendingCount(carrier: gateway.carrier) == 0 && untilDrained { report(force: true); return }
                        if let retry = try store.nextRetryTime(carrier: gateway.carrier) { sleep(until: now + max(0.05, retry - Date().timeIntervalSince1970), yieldingLease: true); continue }
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
                // Reserve the quota before claiming, so that workers cannot both spend the same remainder.
                let chunk = shared.with { $0.quota.reserve(paced, at: wall) }
                if chunk == 0 { continue }
                let claimed = try store.claimBatch(carrier: gateway.carrier, limit: chunk, allowed: allowed)
                shared.with { $0.quota.release(chunk - (claimed?.messages.count ?? 0), at: wall) }
                guard let batch = claimed else {
                    if let retry = try store.nextRetryTime(carrier: gateway.carrier) {
                        sleep(until: now + max(0.05, retry - Date().timeIntervalSince1970), yieldingLease: true)
                        continue
                    }
                    let pending = try store.pendingCount(carrier: gateway.carrier)
                    if untilDrained && pending == 0 { report(force: true); return }
                    sleep(until: now + 0.2)
                    continue
                }
                try send(batch, isRetry: false)
            }
            report("stopped", force: true)
        }

        /// One upload attempt of a batch; its outcome is committed before returning. Everything is
        /// prepared and recorded first; the rate limiter admits the batch immediately before the
        /// POST, so that what the carrier counts per second is what loa counted.
        func send(_ batch: Store.Batch, isRetry: Bool) throws {
            if gateway.protocolKind == .kannel { return try sendThroughKannel(batch, isRetry: isRetry) }
            if isRetry {
                try store.batchUploading(batch.id)
                progress { $0.retries += 1 }
            }
            try store.recordAttempt(batch: batch.id)
            let attempt = batch.attempts + 1
            let body = BatchHTTP.body(batch.messages) { d.campaigns.senders[$0] ?? "LOA" }
            let headers = BatchHTTP.headers(idempotencyKey: batch.idempotencyKey, body: body, signer: signer, token: gateway.token,
                                            now: Int64(Date().timeIntervalSince1970))
            // Admission last, immediately before the POST, so that the carrier counts what loa counted.
            var admittedTime: Double? = nil
            while admittedTime == nil {
                if d.stopping {
                    // Stopped before this upload went: undo the attempt, leave nothing half-done.
                    if isRetry { try store.batchNotAttempted(batch.id) } else { try store.releaseUnsent(batch: batch.id) }
                    return
                }
                let now = d.clock()
                if admitAll(min(batch.messages.count, gateway.tps), at: now) { admittedTime = now; break }
                sleep(until: max(now + 0.002, nextAvailable(at: now)))
            }
            try store.batchAdmitted(batch.id)
            let answer: HTTPAnswer
            do {
                answer = try client.post(gateway.endpoint + "/batches", headers: headers, body: body)
            } catch {
                // Unknown whether the carrier got it: retry with the same key.
                try retry(batch, attempt: attempt, status: nil, retryAfter: nil, reason: error.description, admittedAt: admittedTime, carrierSawIt: error.mayHaveReachedServer)
                return
            }
            switch answer.status {
            case 200, 201, 202:
                let results = (try? BatchHTTP.results(answer.body)) ?? [:]
                try store.batchAccepted(batch.id, status: answer.status, results: results)
                let rejected = results.values.filter { !$0.accepted }.count
                progress { p in
                    p.sent += batch.messages.count
                    p.accepted += batch.messages.count - rejected
                    p.rejected += rejected
                }
            case 413:
                maxBatch = max(1, batch.messages.count / 2)
                try store.batchTooLarge(batch.id)
                if let t = admittedTime { giveBack(batch.messages.count, at: t) }
                report("carrier said 413: batches are now at most \(maxBatch)")
            case 429, 503:
                try retry(batch, attempt: attempt, status: answer.status, retryAfter: answer.retryAfter, reason: "HTTP \(answer.status)", admittedAt: admittedTime, carrierSawIt: false)
            case 500...599, 408:
                try retry(batch, attempt: attempt, status: answer.status, retryAfter: answer.retryAfter, reason: "HTTP \(answer.status)", admittedAt: admittedTime, carrierSawIt: true)
            default:
                let reason = "HTTP \(answer.status): " + String(decoding: answer.body.prefix(200), as: UTF8.self)
                try store.batchRejected(batch.id, status: answer.status, reason: reason)
                progress { $0.rejected += batch.messages.count }
                report("carrier rejected batch \(batch.id): \(reason)")
            }
        }

        /// Kannel: one request per message, each admitted by the rate limiter right before it goes.
        func sendThroughKannel(_ batch: Store.Batch, isRetry: Bool) throws {
            if isRetry {
                // An open Kannel batch was interrupted mid-way: at most once, never again.
                try store.markInterruptedUnknown(batch: batch.id)
                report("batch \(batch.id) was interrupted: its unsent messages are recorded as unknown (Kannel cannot dedupe)")
                return
            }
            guard let settings = gateway.kannel, let key = gateway.pseudonymKey else {
                try store.batchRejected(batch.id, status: nil, reason: "Kannel settings or pseudonym key missing for \(gateway.carrier.rawValue)")
                return
            }
            let numbers = try kannelNumbers(key)
            let dlrSigner = try gateway.receiptSecret.map { try HMACSigner(secret: $0) }
            var failures = 0
            for m in batch.messages {
                if d.stopping { break }
                guard let msisdn = numbers[m.subscriber] else {
                    try store.messageSubmitted(m.id, accepted: false, reason: "Kannel needs a clear number: only contact-list recipients can go through Kannel")
                    progress { $0.rejected += 1 }
                    continue
                }
                while true {
                    let now = d.clock()
                    if admitAll(1, at: now) { break }
                    if d.stopping { break }
                    sleep(until: max(now + 0.001, nextAvailable(at: now)))
                }
                if d.stopping { break }
                let url = KannelProtocol.url(settings, carrier: gateway.carrier, messageID: m.id, to: msisdn.e164,
                                             from: d.campaigns.senders[m.campaign] ?? "LOA", text: m.text, encoding: m.encoding, dlrSigner: dlrSigner)
                let answer: HTTPAnswer
                do {
                    answer = try client.get(url)
                } catch {
                    if error.mayHaveReachedServer {
                        try store.messageSubmitted(m.id, accepted: false, reason: "unknown: \(error.description)")
                    }
                    failures += 1
                    break
                }
                do {
                    let body = String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    if (200...299).contains(answer.status) {
                        try store.messageSubmitted(m.id, accepted: true, reason: nil)
                        progress { $0.sent += 1; $0.accepted += 1 }
                    } else if answer.status == 503 || answer.status >= 500 {
                        failures += 1
                        break   // Kannel is struggling: the rest go back to planned
                    } else {
                        try store.messageSubmitted(m.id, accepted: false, reason: "Kannel: HTTP \(answer.status) \(body)")
                        progress { $0.rejected += 1 }
                    }
                }
            }
            try store.returnToPlanned(batch: batch.id)
            try store.finishBatch(batch.id)
            if failures > 0 {
                let delay = gateway.retry.delay(afterAttempt: 1, retryAfter: nil, random: &rng)
                report("Kannel unavailable; retrying in \(String(format: "%.1f", delay)) s")
                sleep(until: d.clock() + delay)
            }
        }

        private var kannelNumberCache: [String: MSISDN]?
        func kannelNumbers(_ key: KeyedPseudonymizer) throws -> [String: MSISDN] {
            if let c = kannelNumberCache { return c }
            let n = try store.contactNumbers(key: key)
            kannelNumberCache = n
            return n
        }

        func retry(_ batch: Store.Batch, attempt: Int, status: Int?, retryAfter: Double?, reason: String, admittedAt: Double?, carrierSawIt: Bool) throws {
            // A refusal (429/503) or a failed connection did not reach the carrier's count.
            if !carrierSawIt, let t = admittedAt { giveBack(batch.messages.count, at: t) }
            if !gateway.retry.shouldRetry(afterAttempt: attempt) {
                try store.batchRejected(batch.id, status: status, reason: "gave up after \(attempt) attempts; last: \(reason)")
                progress { $0.rejected += batch.messages.count }
                report("batch \(batch.id) failed \(attempt) times: \(reason)")
                return
            }
            let delay = gateway.retry.delay(afterAttempt: attempt, retryAfter: retryAfter, random: &rng)
            try store.batchRetry(batch.id, at: Date().timeIntervalSince1970 + delay, status: status, reason: reason)
            progress { $0.retries += 1 }
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
    let store: Store
    let lanes: [(gateway: CarrierGateway, shared: Dispatcher.LaneShared)]
    /// Consecutive checks that found a carrier free while this node had its share.
    var freeChecks: [Carrier: Int] = [:]

    init(dispatcher: Dispatcher, leases: any CarrierLeases, store: Store, lanes: [(CarrierGateway, Dispatcher.LaneShared)]) {
        d = dispatcher
        self.leases = leases
        self.store = store
        self.lanes = lanes.map { (gateway: $0.0, shared: $0.1) }
    }

    func balance() throws {
        let checkedAt = d.clock()
        guard leases.stillValid() else { throw StoreError.database("the connection holding this node's carrier leases is gone") }
        for lane in lanes { lane.shared.with { $0.confirmedAt = checkedAt } }
        if d.stopping { return }
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
        for lane in lanes where lane.shared.with({ $0.lease }) == .none {
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

    func takeOver(_ lane: (gateway: CarrierGateway, shared: Dispatcher.LaneShared)) throws {
        let carrier = lane.gateway.carrier
        let interrupted = try store.reopenInterruptedBatches(carrier: carrier)
        let wall = d.wallClock()
        let sent = try store.sentToday(carrier: carrier, day: Int((wall.seconds + Timestamp.vietnamOffset) / 86400))
        // The previous holder's last uploads must leave the 1-second window first (batch times are whole seconds).
        let lastActivity = try store.lastBatchActivity(carrier: carrier) ?? 0
        let wait = max(0, Double(lastActivity + 2) - Date().timeIntervalSince1970)
        let notBefore = d.clock() + min(wait, 2)
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
        d.onProgress(Dispatcher.Progress(carrier: carrier, sent: 0, accepted: 0, rejected: 0, retries: 0, pending: 0, note: note))
    }
}

/// A flag set from a signal handler or another thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
