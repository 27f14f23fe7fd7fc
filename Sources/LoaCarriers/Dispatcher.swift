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
public final class Dispatcher: Sendable {
    public struct Campaigns: Sendable {
        /// When each campaign may send (its windows, priority and dates).
        public var policies: [String: SendingPolicy]
        public var senders: [String: String]
        /// Each campaign's channel (SMS when absent) and, for voice, how the carrier calls.
        public var channels: [String: Campaign.Channel]
        public var calls: [String: CallPolicy]
        public init(policies: [String: SendingPolicy], senders: [String: String], channels: [String: Campaign.Channel] = [:], calls: [String: CallPolicy] = [:]) {
            self.policies = policies
            self.senders = senders
            self.channels = channels
            self.calls = calls
        }

        func channel(_ id: String) -> Campaign.Channel { channels[id] ?? .sms }
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
        /// The lane's channel: SMS, or voice calls (the counts are calls).
        public var channel: Campaign.Channel = .sms
        public var lane: LaneKey { LaneKey(carrier, channel) }

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
    public static let defaultUploadsPerCarrier = 16
    /// Store connections a dispatcher's storage should offer its upload workers: 2 per carrier and 2 more.
    public static func storeConnections(carriers: Int) -> Int { 2 * carriers + 2 }
    /// The store's identity, carried by message ids on the wire.
    var identity: StoreIdentity { storage.identity }

    /// How a dispatcher works, beyond the carriers' files.
    public struct Tuning: Sendable {
        /// Concurrent uploads per carrier at most (the carrier's TPS is shared by them): enough that
        /// uploads stalled until the timeout do not hold the lane back. nil: the carrier's
        /// `concurrent_uploads`, else `defaultUploadsPerCarrier`.
        public var uploadsPerCarrier: Int?
        /// Transient failures in a row that stop new work for a carrier until a probe gets through.
        public var circuitThreshold = 3
        /// Messages in the one batch that probes a failing carrier.
        public var probeSize = 10
        public init(uploadsPerCarrier: Int? = nil) { self.uploadsPerCarrier = uploadsPerCarrier }
    }
    let tuning: Tuning
    var probeSize: Int { tuning.probeSize }
    /// The one source of time: monotonic seconds for pacing, the wall clock for schedules.
    let time: any DispatchClock
    func clock() -> Double { time.monotonicSeconds() }
    func wallClock() -> Timestamp { time.now() }

    /// Sends from `storage` (its connections are shared by all upload workers: see `storeConnections`).
    public init(storage: any DispatchStorage, gateways: [CarrierGateway], campaigns: Campaigns, tuning: Tuning = Tuning(),
                time: any DispatchClock = SystemClock(), onProgress: @escaping @Sendable (Progress) -> Void) {
        self.storage = storage
        self.gateways = gateways
        self.campaigns = campaigns
        self.tuning = tuning
        self.time = time
        self.onProgress = onProgress
    }

    /// Finish the uploads in flight, then return from `run`.
    public func stop() { stopFlag.set() }
    public var stopping: Bool { stopFlag.isSet }

    /// Runs every lane until there is nothing left to send (`untilDrained`) or until `stop()`.
    /// Returns what each carrier's lane did; a lane that stopped on a fault says why (`fault`).
    @discardableResult
    public func run(untilDrained: Bool) throws -> [Progress] {
        /// What stopped the workers. A carrier's workers often stop for one cause (a full disk, a
        /// store gone): it is said once per carrier, not once per worker.
        final class Errors: Sendable {
            let list = Mutex<[String]>([])
            let causes = Mutex<Set<String>>([])
            func add(_ s: String, cause: String? = nil) {
                if let cause, !causes.withLock({ $0.insert(cause).inserted }) { return }
                list.withLock { $0.append(s) }
            }
        }
        let errors = Errors()
        let leases = try storage.carrierLeases()
        defer { leases.close() }
        // Each carrier gets its upload workers sharing one rate limiter, quota and circuit, so that
        // claiming and recording overlap with uploads and a stalled upload holds only itself.
        var threads: [Thread] = []
        var lanes: [(CarrierGateway, LaneShared)] = []
        // A carrier's SMS lane, and its voice lane when it takes calls and a voice campaign is sent.
        let voiceCampaigns = campaigns.policies.keys.contains { campaigns.channel($0) == .voice }
        let laneKeys = gateways.flatMap { g in [(g, Campaign.Channel.sms)] + (g.voice != nil && voiceCampaigns ? [(g, .voice)] : []) }
        for (gateway, channel) in laneKeys {
            let shared = LaneShared(gateway: gateway, channel: channel, circuitThreshold: tuning.circuitThreshold)
            lanes.append((gateway, shared))
            for _ in 0..<max(1, tuning.uploadsPerCarrier ?? gateway.concurrentUploads ?? Self.defaultUploadsPerCarrier) {
                threads.append(Thread { [self] in
                    do { try Lane(dispatcher: self, gateway: gateway, shared: shared).run(untilDrained: untilDrained) }
                    catch {
                        let cause = "\(gateway.carrier.rawValue) " + ((error as? any RetryableError)?.cause ?? "\(error)")
                        errors.add("\(gateway.carrier.rawValue): \(error)", cause: cause)
                    }
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
        return lanes.map { lane in lane.1.progress { $0 } }
    }

    /// What a carrier's workers share: the lane's decisions (`LaneState`, pure, in the core) and
    /// its progress, each under a lock of its own.
    final class LaneShared: Sendable {
        let gateway: CarrierGateway
        let key: LaneKey
        private let state: Mutex<LaneState>
        private let progressBox: Mutex<Progress>
        /// Contact numbers for Kannel, opened once per run (in memory only).
        let kannelNumbers = Mutex<[String: MSISDN]?>(nil)
        /// Voice: clips uploaded to the carrier in this run (loa's SHA-256 → the carrier's file's SHA-256 and length).
        let uploadedClips = Mutex<[String: (sha256: String, seconds: Double)]>([:])
        /// One worker uploads a clip at a time (the others wait for it rather than send it again).
        let clipUpload = NSLock()

        init(gateway: CarrierGateway, channel: Campaign.Channel = .sms, circuitThreshold: Int) {
            self.gateway = gateway
            key = LaneKey(gateway.carrier, channel)
            // A voice lane's rate is calls per second, its batches no bigger than its channels.
            let voice = channel == .voice ? gateway.voice : nil
            state = Mutex(LaneState(.init(tps: voice?.callsPerSecond ?? gateway.tps, maxBatch: min(gateway.maxBatch, voice?.channels ?? .max),
                                          dailyQuota: gateway.dailyQuota, retry: gateway.retry, circuitThreshold: circuitThreshold, channels: voice?.channels)))
            var progress = Progress(carrier: gateway.carrier)
            progress.channel = channel
            progressBox = Mutex(progress)
        }

        /// The lane's decisions, under the lock.
        func with<T: Sendable>(_ body: (inout LaneState) -> T) -> T { state.withLock { body(&$0) } }
        func progress<T: Sendable>(_ body: (inout Progress) -> T) -> T { progressBox.withLock { body(&$0) } }

        /// The lane stopped on a fault: no worker of this node sends to the carrier again.
        var faulted: Bool { with { $0.faulted } }
        var releasing: Bool { with { $0.lease == .releasing } }
    }

    /// One upload worker of a carrier's lane: a thread with its own curl handle. It asks the
    /// lane's state what to do and carries it out against the store and the carrier.
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

        /// A store connection from the pool for a few statements (never borrow one inside another).
        func db<T>(_ body: (any BatchQueue) throws -> T) throws -> T { try d.storage.withQueue(body) }

        var wallSeconds: Double { Double(d.wallClock().seconds) }

        /// The oldest batch due to go again that no other worker of this node is re-uploading,
        /// taken for its next attempt (it then waits for the rate); nil when there is none.
        func takeOpenBatch(dueAt due: Double, allowed: Set<String>) throws -> Batch? {
            for _ in 0..<3 {
                let busy = shared.with { $0.retrying }
                guard let batch = try db({ try $0.openBatches(carrier: gateway.carrier, dueAt: due, allowed: allowed, excluding: busy, limit: 1) }).first else { return nil }
                guard shared.with({ $0.beginRetry(batch.id) }) else { continue }
                let taken: Bool
                do { taken = try db { try $0.batchUploading(batch.id) } } catch { shared.with { $0.retryNotTaken(batch.id) }; throw error }
                if taken { return batch }
                shared.with { $0.retryNotTaken(batch.id) }
            }
            return nil
        }

        func progress(_ change: (inout Progress) -> Void) { shared.progress { change(&$0) } }

        func report(_ note: String? = nil, force: Bool = false) {
            // Counting what is left is a scan of the carrier's planned messages: at most every 2 s per carrier.
            let now = d.clock()
            let due = shared.with { $0.countPendingDue(at: now, force: force) }
            let pending = due ? (try? db { try $0.pendingCount(carrier: gateway.carrier, channel: shared.key.channel) }) : nil
            let p: Progress = shared.progress { p in
                if let pending {
                    p.pending = pending
                    p.total = p.sent + pending
                }
                p.note = note
                return p
            }
            d.onProgress(p)
        }

        /// Stops this node's lane for the carrier: every worker leaves, the lease is given back,
        /// nothing is made final. The operator is told why.
        func fault(_ reason: String) {
            shared.with { $0.stop(reason) }
            shared.progress { if $0.fault == nil { $0.fault = reason } }
            report("STOPPED: \(reason)", force: true)
        }

        /// Campaigns that may send to this carrier now.
        func allowedCampaigns(at t: Timestamp) -> Set<String> {
            Set(d.campaigns.policies.compactMap { id, policy in
                guard d.campaigns.channel(id) == shared.key.channel else { return nil }
                var p = policy
                p.carrierWindow = gateway.window
                return p.allows(t) ? id : nil
            })
        }

        /// Campaigns that have ended: what they still have for this carrier expires (once a second).
        func expireEndedCampaigns(at wall: Timestamp) throws {
            let now = d.clock()
            guard shared.with({ $0.sweepDue(at: now) }) else { return }
            for (id, policy) in d.campaigns.policies where policy.end <= wall && d.campaigns.channel(id) == shared.key.channel {
                let n = try db { try $0.expireUnsent(campaign: id, carrier: gateway.carrier, reason: "campaign ended at \(policy.end.iso8601()) before the carrier accepted it") }
                if n > 0 {
                    progress { $0.expired += n }
                    report("\(n) message(s) of \(id) expired: the campaign ended at \(policy.end.iso8601())", force: true)
                }
            }
        }

        /// Sleeps until `deadline` or a stop; long waits (`yieldingLease`) also end when the carrier is being handed over.
        func sleep(until deadline: Double, yieldingLease: Bool = false) {
            while !d.stopping && !shared.faulted && !(yieldingLease && shared.releasing) {
                let left = deadline - d.clock()
                if left <= 0 { return }
                usleep(useconds_t(min(left, 0.1) * 1_000_000))
            }
        }

        /// Claims up to `limit` planned messages (reserved from the quota by `LaneState.nextClaim`).
        func claimNew(limit: Int, allowed: Set<String>, wall: Timestamp, probe: Bool = false) throws -> Batch? {
            let claimed: Batch?
            do { claimed = try db { try $0.claimBatch(carrier: gateway.carrier, limit: limit, allowed: allowed) } } catch {
                shared.with { probe ? $0.probeClaimed(0, limit: limit, at: wall) : $0.claimed(0, limit: limit, at: wall) }
                throw error
            }
            let count = claimed?.messages.count ?? 0
            shared.with { probe ? $0.probeClaimed(count, limit: limit, at: wall) : $0.claimed(count, limit: limit, at: wall) }
            return claimed
        }

        /// Nothing new could be claimed: wait for a retry due soon, or end when nothing is left.
        /// Returns false when the worker is done.
        func waitForWork(now: Double, untilDrained: Bool) throws -> Bool {
            if let retry = try db({ try $0.nextRetryTime(carrier: gateway.carrier, channel: shared.key.channel) }) {
                sleep(until: now + max(0.05, retry - wallSeconds), yieldingLease: true)
                return true
            }
            // Whether anything is left is read from the messages themselves, never from a count.
            if untilDrained, try !db({ try $0.hasWork(carrier: gateway.carrier, channel: shared.key.channel) }) { report(force: true); return false }
            sleep(until: now + 0.2)
            return true
        }

        func run(untilDrained: Bool) throws {
            var lastReport = 0.0, lastWorkCheck = 0.0
            while !d.stopping && !shared.faulted {
                let now = d.clock()
                if case .wait(let until, let note) = shared.with({ $0.enter(at: now) }) {
                    // Not this node's carrier (now): done when the carrier has nothing left.
                    if untilDrained && now - lastWorkCheck >= 1 {
                        lastWorkCheck = now
                        if try !db({ try $0.hasWork(carrier: gateway.carrier, channel: shared.key.channel) }) { report(force: true); return }
                    }
                    if now - lastReport > 2 { report(note); lastReport = now }
                    sleep(until: until)
                    continue
                }
                defer { shared.with { $0.leave() } }
                if now - lastReport > 0.5 { report(); lastReport = now }
                let wall = d.wallClock()
                try expireEndedCampaigns(at: wall)
                let allowed = allowedCampaigns(at: wall)
                // 0. A failing carrier is offered nothing until the backoff has passed; then one small batch probes.
                switch shared.with({ $0.permission(at: now) }) {
                case .wait(let until):
                    if untilDrained, try !db({ try $0.hasWork(carrier: gateway.carrier, channel: shared.key.channel) }) { report(force: true); return }
                    if shared.with({ $0.circuitOpen }) { report("carrier failing: next probe in \(String(format: "%.0f", max(0, until - now))) s") }
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
                // 2. Quota, windows, the rate and the batches already waiting for it.
                switch shared.with({ $0.nextClaim(size: $0.pacedSize, campaignsOpen: !allowed.isEmpty, now: now, wall: wall) }) {
                case .quotaReached(let resetAt):
                    report("daily quota of \(gateway.dailyQuota) reached; waiting for midnight", force: true)
                    if untilDrained { return }
                    sleep(until: now + Double(resetAt.seconds - wall.seconds), yieldingLease: true)
                case .noCampaignOpen:
                    if untilDrained, try !db({ try $0.hasWork(carrier: gateway.carrier, channel: shared.key.channel) }) { report(force: true); return }
                    if let retry = try db({ try $0.nextRetryTime(carrier: gateway.carrier, channel: shared.key.channel) }), retry - wallSeconds < 5 {
                        sleep(until: now + max(0.05, retry - wallSeconds), yieldingLease: true)
                        continue
                    }
                    let opensSoon = d.campaigns.policies.values.contains { ($0.nextOpening(from: wall) ?? Timestamp(seconds: .max)) <= wall + 5 }
                    if untilDrained && !opensSoon { report("outside every campaign's sending window", force: true); return }
                    sleep(until: now + 1, yieldingLease: true)
                case .waitForRate(let until), .waitForSlot(let until):
                    sleep(until: until)
                case .claim(let limit):
                    if let batch = try claimNew(limit: limit, allowed: allowed, wall: wall) {
                        try send(batch, isRetry: false)
                    } else if try !waitForWork(now: now, untilDrained: untilDrained) {
                        return
                    }
                }
            }
            report(shared.faulted ? "STOPPED: \(shared.progress { $0.fault ?? "" })" : "stopped", force: true)
        }

        /// The carrier has been failing: one small batch finds out whether it is back. A new
        /// claim of `probeSize` messages when there are any, else the oldest batch waiting to go again.
        func probe(allowed: Set<String>, wall: Timestamp) throws {
            var probed = false
            defer { if !probed { shared.with { $0.probeAbandoned(at: d.clock()) } } }
            if !allowed.isEmpty {
                let limit = shared.with { $0.reserveProbe(min(d.probeSize, $0.lane.maxBatch), at: wall) }
                if limit > 0, let batch = try claimNew(limit: limit, allowed: allowed, wall: wall, probe: true) {
                    report("probing the carrier with \(batch.messages.count) message(s)", force: true)
                    probed = true
                    try send(batch, isRetry: false)
                    return
                }
            }
            if let batch = try takeOpenBatch(dueAt: .infinity, allowed: allowed) {
                report("probing the carrier with batch \(batch.id) (\(batch.messages.count) message(s))", force: true)
                probed = true
                try send(batch, isRetry: true)
                return
            }
            // Nothing to probe with: nothing is owed to the carrier either.
            probed = true
            shared.with { $0.nothingToProbe() }
            sleep(until: d.clock() + 0.2)
        }

        /// One upload attempt of a batch (counted as waiting for the rate since it was claimed or
        /// taken); its outcome is committed before returning. Everything is prepared and recorded
        /// first; the rate admits the batch immediately before the POST, so that what the carrier
        /// counts per second is what loa counted.
        func send(_ batch: Batch, isRetry: Bool) throws {
            var admittedAt: Double? = nil
            defer {
                if admittedAt == nil { shared.with { $0.abandonAdmission() } }
                if isRetry { shared.with { $0.endRetry(batch.id) } }
            }
            if gateway.protocolKind == .kannel { return try sendThroughKannel(batch, isRetry: isRetry) }
            if isRetry {
                progress { $0.retries += 1 }
            } else {
                try db { try $0.recordAttempt(batch: batch.id) }
            }
            let attempt = batch.attempts + 1
            let voice = shared.key.channel == .voice ? gateway.voice : nil
            var path = "/batches", body: [UInt8], hold: Double? = nil
            if let voice {
                // Each clip goes to the carrier once per run (idempotent by its hash) before the calls that play it.
                let clips: [String: (sha256: String, seconds: Double)]
                switch uploadClips(for: batch) {
                case .ready(let c): clips = c
                case .failed(let verdict): return try settleWithoutUpload(batch, verdict: verdict, isRetry: isRetry, attempt: attempt)
                case .refused(let reason):
                    // The calls never went: back to where they were, and the operator is told why.
                    if isRetry { try db { try $0.batchNotAttempted(batch.id) } } else { try db { try $0.releaseUnsent(batch: batch.id) } }
                    fault(reason)
                    return
                }
                path = "/calls"
                body = BatchHTTP.callsBody(batch.messages, identity: batch.wireIdentity, sender: { d.campaigns.senders[$0] ?? "LOA" },
                                           audio: { clips[$0] }, policy: { d.campaigns.calls[$0] })
                // A call holds its channel while the phone rings and the clip plays (the first attempt; the carrier places later ones).
                hold = voice.ringSeconds + (batch.messages.compactMap { $0.clip.flatMap { clips[$0]?.seconds } }.max() ?? 0)
            } else {
                body = BatchHTTP.body(batch.messages, identity: batch.wireIdentity) { d.campaigns.senders[$0] ?? "LOA" }
            }
            let headers = BatchHTTP.headers(idempotencyKey: batch.idempotencyKey, body: body, signer: signer, token: gateway.token,
                                            now: d.wallClock().seconds, signatureVersion: gateway.signatureVersion, path: path)
            while admittedAt == nil {
                if d.stopping || shared.faulted {
                    // Stopped before this upload went: undo the attempt, leave nothing half-done.
                    if isRetry { try db { try $0.batchNotAttempted(batch.id) } } else { try db { try $0.releaseUnsent(batch: batch.id) } }
                    return
                }
                let now = d.clock()
                switch shared.with({ $0.admit(batch.messages.count, at: now, hold: hold) }) {
                case .admitted(let at): admittedAt = at
                case .wait(let until): sleep(until: until)
                }
            }
            let response: CarrierResponse
            do {
                let answer = try client.post(gateway.endpoint + path, headers: headers, body: body)
                response = .answer(status: answer.status, headers: answer.headers, body: answer.body)
            } catch {
                response = .noAnswer(reason: error.description, mayHaveReachedCarrier: error.mayHaveReachedServer)
            }
            let verdict = CarrierAnswer.judge(response, key: batch.idempotencyKey, refs: batch.refs, now: d.wallClock())
            let status: Int? = if case .answer(let s, _, _) = response { s } else { nil }
            try settle(batch, verdict: verdict, status: status, isRetry: isRetry, attempt: attempt, admittedAt: admittedAt ?? 0)
        }

        /// A batch whose clip could not be uploaded: the calls were never offered (nothing was
        /// admitted, so no rate or channel is given back); what follows is the clip's answer's.
        func settleWithoutUpload(_ batch: Batch, verdict: UploadVerdict, isRetry: Bool, attempt: Int) throws {
            try settle(batch, verdict: verdict, status: nil, isRetry: isRetry, attempt: attempt, admittedAt: -.infinity)
        }

        enum ClipUpload {
            case ready([String: (sha256: String, seconds: Double)])
            /// The upload failed as a batch's upload fails (transient, credentials, not understood).
            case failed(UploadVerdict)
            /// The carrier refused the clip itself (its format): the voice lane stops.
            case refused(String)
        }

        /// Uploads the clips a voice batch plays that this run has not uploaded yet: `PUT
        /// {endpoint}/audio/{sha256}` in the carrier's format, signed like a batch (the hash is its
        /// key). 200, 201 and 204 mean the carrier has it.
        func uploadClips(for batch: Batch) -> ClipUpload {
            let format = gateway.voice?.audioFormat ?? .wav
            let needed = Set(batch.messages.compactMap(\.clip))
            var clips = shared.uploadedClips.withLock { $0 }
            if needed.allSatisfy({ clips[$0] != nil }) { return .ready(clips) }
            shared.clipUpload.lock()
            defer { shared.clipUpload.unlock() }
            clips = shared.uploadedClips.withLock { $0 }
            for clip in needed where clips[clip] == nil {
                let stored: (wav: [UInt8], durationMs: Int)?
                do { stored = try db { try $0.audioClip(sha256: clip) } } catch {
                    return .failed(.transient(reason: "reading clip \(clip) from the store: \(error)", retryAfter: nil, mayHaveReachedCarrier: false))
                }
                guard let stored, let pcm = try? WAVAudio.read(stored.wav), let audio = TelephoneAudio(pcm) else {
                    return .refused("clip \(clip) is missing from the store or unreadable")
                }
                let file = audio.wavFile(format)
                let sha = file.withUnsafeBytes { sha256Hex($0) }
                let path = "/audio/\(sha)"
                let headers = BatchHTTP.headers(idempotencyKey: sha, body: file, signer: signer, token: gateway.token, now: d.wallClock().seconds,
                                                signatureVersion: gateway.signatureVersion, method: "PUT", path: path, contentType: "audio/wav")
                do {
                    let answer = try client.post(gateway.endpoint + path, headers: headers, body: file, method: "PUT")
                    switch answer.status {
                    case 200, 201, 204: break
                    default:
                        let verdict = CarrierAnswer.judge(.answer(status: answer.status, headers: answer.headers, body: answer.body), key: sha, refs: [], now: d.wallClock())
                        if case .taken = verdict { return .failed(.notUnderstood(reason: "PUT \(path) answered \(answer.status) (expected 200, 201 or 204)")) }
                        // 415 or another refusal of the clip itself: the audio format, not the credentials.
                        let refusedClip: Bool = switch verdict {
                        case .refused: true
                        case .configurationFault: answer.status == 415
                        default: false
                        }
                        if refusedClip {
                            let said = String(decoding: answer.body.prefix(200), as: UTF8.self)
                            return .refused("the carrier refused the audio clip (PUT \(path)): HTTP \(answer.status) \(said); check voice.audio_format in the carrier file")
                        }
                        return .failed(verdict)
                    }
                } catch {
                    return .failed(.transient(reason: "PUT \(path): \(error.description)", retryAfter: nil, mayHaveReachedCarrier: error.mayHaveReachedServer))
                }
                clips[clip] = (sha, Double(stored.durationMs) / 1000)
                shared.uploadedClips.withLock { $0[clip] = (sha, Double(stored.durationMs) / 1000) }
                report("audio clip \(clip.prefix(12))… uploaded (\(format.rawValue), \(formatCount(file.count)) bytes)")
            }
            return .ready(clips)
        }

        /// Records what follows an upload's verdict.
        func settle(_ batch: Batch, verdict: UploadVerdict, status: Int?, isRetry: Bool, attempt: Int, admittedAt: Double) throws {
            let (wall, now, end, admitted) = (wallSeconds, d.clock(), d.campaigns.policies[batch.campaign]?.end, admittedAt)
            var rng = self.rng
            let decision = shared.with { s in
                s.settle(verdict, size: batch.messages.count, attempt: attempt, isRetry: isRetry, campaignEnd: end, admittedAt: admitted,
                         wall: wall, now: now, random: &rng)
            }
            self.rng = rng
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

        /// Kannel: one request per message, each admitted by the rate right before it goes.
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
                var admitted = false
                while !admitted && !d.stopping {
                    let now = d.clock()
                    switch shared.with({ $0.admitOne(at: now) }) {
                    case .admitted: admitted = true
                    case .wait(let until): sleep(until: until)
                    }
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
                let now = d.clock()
                var rng = self.rng
                let reopens = shared.with { $0.gatewayFailed(at: now, random: &rng) }
                self.rng = rng
                report("Kannel unavailable (\(failure)); " + (reopens > now ? "next probe in \(String(format: "%.1f", reopens - now)) s" : "trying again"))
            } else if !shared.faulted {
                shared.with { $0.gatewaySucceeded() }
            }
        }

        func kannelNumbers(_ key: KeyedPseudonymizer, _ vault: ContactVault) throws -> [String: MSISDN] {
            if let numbers = shared.kannelNumbers.withLock({ $0 }) { return numbers }
            let numbers = try db { try $0.contactNumbers(pseudonymizer: key, contacts: vault) }
            shared.kannelNumbers.withLock { $0 = numbers }
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
    var freeChecks: [LaneKey: Int] = [:]

    init(dispatcher: Dispatcher, leases: any CarrierLeases, lanes: [(CarrierGateway, Dispatcher.LaneShared)]) {
        d = dispatcher
        self.leases = leases
        self.lanes = lanes.map { (gateway: $0.0, shared: $0.1) }
    }

    func balance() throws {
        let checkedAt = d.clock()
        guard leases.stillValid() else { throw DispatchError.leasesLost }
        for lane in lanes { lane.shared.with { $0.leaseConfirmed(at: checkedAt) } }
        if d.stopping { return }
        // A lane stopped on a fault gives its carrier back (another node, perhaps better configured,
        // may take it); a carrier handed over goes between batches, once nothing is in flight.
        var held = lanes.filter { $0.shared.with { $0.lease } != .none }.count
        for lane in lanes where lane.shared.with({ $0.mayRelease }) {
            let handedOver = !lane.shared.faulted
            try leases.release(lane.shared.key)
            lane.shared.with { $0.released() }
            held -= 1
            if handedOver { report(lane.shared.key, "handed to another dispatcher") }
        }
        let live = try leases.liveNodes()
        let share = (lanes.count + live - 1) / max(1, live)
        // Hand one carrier over when above the share.
        let releasing = lanes.contains { $0.shared.releasing }
        if held > share && !releasing, let surplus = lanes.last(where: { $0.shared.with { $0.holdsLease } }) {
            surplus.shared.with { $0.startReleasing() }
        }
        for lane in lanes where lane.shared.with({ $0.lease }) == .none && !lane.shared.faulted {
            let carrier = lane.shared.key
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
        let carrier = lane.gateway.carrier, key = lane.shared.key
        let interrupted = try d.storage.withQueue { try $0.reopenInterruptedBatches(carrier: carrier, channel: key.channel) }
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
        lane.shared.with { $0.tookOver(notBefore: notBefore, quotaUsed: sent, at: wall) }
        if interrupted > 0 { report(key, "\(interrupted) interrupted batch(es) go again under their idempotency keys") }
    }

    /// Gives every lease back (stopping, or leases no longer trustworthy).
    func dropAll() {
        for lane in lanes {
            lane.shared.with { $0.released() }
            try? leases.release(lane.shared.key)
        }
    }

    func report(_ lane: LaneKey, _ note: String) {
        var p = Dispatcher.Progress(carrier: lane.carrier, note: note)
        p.channel = lane.channel
        d.onProgress(p)
    }
}

/// A flag set from a signal handler or another thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
