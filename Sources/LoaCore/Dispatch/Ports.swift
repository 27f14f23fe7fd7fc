/// The ports of dispatch and receipts: what the engine needs from the outside, as protocols in the
/// core. `LoaStore` implements them over SQLite or PostgreSQL; `LoaCarriers` (the dispatcher) and
/// `LoaServer` (receipts) use only these, never a store type.

/// The batch queue of one store connection, for a carrier lane: planned messages are claimed into
/// batches, each batch's upload and outcome recorded, and batches that must go again found. A
/// connection serves one thread at a time (borrow it from `DispatchStorage.withQueue`).
///
/// Every method commits before it returns, so that what the carrier may have seen is recorded
/// before an upload and the outcome after it.
public protocol BatchQueue: AnyObject {
    /// The store's identity, carried by every idempotency key and message id on the wire.
    var identity: StoreIdentity { get }

    /// Takes up to `limit` planned messages of one of the `allowed` campaigns (all when nil) into a
    /// new batch under a new idempotency key, in state `submitted`: highest priority first, equal
    /// priorities in turn. nil when there is nothing to claim.
    func claimBatch(carrier: Carrier, limit: Int, allowed: Set<String>?) throws -> Batch?
    /// Batches waiting to go again under their keys, due at `now` (wall-clock seconds), oldest first.
    func openBatches(carrier: Carrier, dueAt now: Double, allowed: Set<String>?, excluding: Set<Int64>, limit: Int) throws -> [Batch]
    /// Takes an open batch for its next attempt (retry-at → uploading, attempts + 1); false when
    /// another worker took it first.
    func batchUploading(_ batch: Int64) throws -> Bool
    /// The first attempt of a claimed batch is about to go.
    func recordAttempt(batch: Int64) throws
    /// The carrier took the batch: every message accepted but `rejected` (id → the carrier's reason).
    func batchAccepted(_ batch: Int64, status: Int, rejected: [Int64: String]) throws
    /// The carrier refused the whole batch for good.
    func batchRejected(_ batch: Int64, status: Int?, reason: String) throws
    /// Too large (413): its messages go back to planned for smaller batches under new keys.
    func batchTooLarge(_ batch: Int64) throws
    /// Again under the same key at `time` (wall-clock seconds; 0 = at once).
    func batchRetry(_ batch: Int64, at time: Double, status: Int?, reason: String) throws
    /// The campaign ended before the carrier accepted the batch: its messages expire.
    func batchExpired(_ batch: Int64, reason: String) throws
    /// A claimed batch whose key the carrier never saw: its messages back to planned, the batch removed.
    func releaseUnsent(batch: Int64) throws
    /// A re-upload that did not go after all: due again, its attempt undone.
    func batchNotAttempted(_ batch: Int64) throws
    /// What `campaign` still has unsent for `carrier` expires with `reason`; returns how many.
    func expireUnsent(campaign: String, carrier: Carrier, reason: String) throws -> Int
    /// Planned messages and messages in open batches for the carrier (of campaigns on `channel`; all when nil).
    func pendingCount(carrier: Carrier, channel: Campaign.Channel?) throws -> Int
    /// Whether anything is left to send to the carrier on `channel` (cheaper than counting).
    func hasWork(carrier: Carrier, channel: Campaign.Channel?) throws -> Bool
    /// When the carrier's next open batch on `channel` is due (wall-clock seconds), nil when none waits.
    func nextRetryTime(carrier: Carrier, channel: Campaign.Channel?) throws -> Double?
    /// Voice: a clip's WAV (8 kHz, 16-bit) and its length, by SHA-256.
    func audioClip(sha256: String) throws -> (wav: [UInt8], durationMs: Int)?
    /// Batches left uploading by a stopped node are due again at once under their keys; returns how many.
    func reopenInterruptedBatches(carrier: Carrier?, channel: Campaign.Channel?) throws -> Int
    /// Messages sent to the carrier on `day` (days since 1970 in Vietnam's time): the quota used.
    func sentToday(carrier: Carrier, day: Int) throws -> Int
    /// When the carrier's batches last changed (wall-clock seconds).
    func lastBatchActivity(carrier: Carrier) throws -> Int64?
    /// Campaigns with nothing left to send become `completed`.
    func completeFinishedCampaigns() throws

    // Gateways without idempotency (Kannel): one message at a time, at most once.

    /// Clear numbers of the contact-list members by their pseudonym under `pseudonymizer`, opened
    /// in memory with `contacts` (never stored beside a message).
    func contactNumbers(pseudonymizer: any Pseudonymizer, contacts: any SealedContactOpening) throws -> [String: MSISDN]
    /// One message's outcome.
    func messageSubmitted(_ id: Int64, state: MessageState, reason: String?) throws
    /// An interrupted batch's unsent messages become `unknown` (they may have gone; never resent).
    func markInterruptedUnknown(batch: Int64) throws
    /// What a batch did not send goes back to planned.
    func returnToPlanned(batch: Int64) throws
    /// The batch is done (its messages each carry their own outcome).
    func finishBatch(_ batch: Int64) throws
}

extension BatchQueue {
    public func pendingCount(carrier: Carrier) throws -> Int { try pendingCount(carrier: carrier, channel: nil) }
    public func hasWork(carrier: Carrier) throws -> Bool { try hasWork(carrier: carrier, channel: nil) }
    public func nextRetryTime(carrier: Carrier) throws -> Double? { try nextRetryTime(carrier: carrier, channel: nil) }
    public func reopenInterruptedBatches(carrier: Carrier?) throws -> Int { try reopenInterruptedBatches(carrier: carrier, channel: nil) }

    public func messageSubmitted(_ id: Int64, accepted: Bool, reason: String?) throws {
        try messageSubmitted(id, state: accepted ? .accepted : .rejected, reason: reason)
    }
}

/// Opens numbers sealed in the store's contact lists (the contact vault, AES-256-GCM in LoaCrypto).
public protocol SealedContactOpening: Sendable {
    /// Identifies the key: a store refuses a key other than the one its numbers are sealed with.
    var fingerprint: String { get }
    func openSealed(_ sealed: [UInt8], pseudonym: Pseudonym) throws -> MSISDN
}

/// Which dispatcher node sends to which carrier: only the holder of a carrier's lease uploads to it,
/// so the carrier's rate and daily quota hold in total however many nodes share the store. A lease
/// lives as long as its holder (a PostgreSQL session advisory lock, an flock).
public protocol CarrierLeases: AnyObject {
    /// Takes the lane's lease if no live node holds it; true when this node holds it.
    func tryAcquire(_ lane: LaneKey) throws -> Bool
    func release(_ lane: LaneKey) throws
    /// Dispatcher nodes alive on this store, this one included.
    func liveNodes() throws -> Int
    /// False once the leases can no longer be trusted (the server connection is gone).
    func stillValid() -> Bool
    /// Releases everything (also done when the object goes away).
    func close()
}

extension CarrierLeases {
    public func tryAcquire(_ carrier: Carrier) throws -> Bool { try tryAcquire(LaneKey(carrier)) }
    public func release(_ carrier: Carrier) throws { try release(LaneKey(carrier)) }
}

/// A carrier's lane: its SMS, or its voice calls (other limits, a lease of its own).
public struct LaneKey: Hashable, Sendable, CustomStringConvertible {
    public var carrier: Carrier
    public var channel: Campaign.Channel
    public init(_ carrier: Carrier, _ channel: Campaign.Channel = .sms) {
        self.carrier = carrier
        self.channel = channel
    }
    public var description: String { channel == .sms ? carrier.rawValue : "\(carrier.rawValue) voice" }
}

/// What a dispatcher needs of its store: batch-queue connections shared by its upload workers (a
/// worker borrows one for a few statements and never two at once), and this node's leases.
public protocol DispatchStorage: Sendable {
    var identity: StoreIdentity { get }
    /// Connections open at most: each worker waits for one while all are in use.
    var capacity: Int { get }
    /// Runs `body` with a connection of its own.
    func withQueue<T>(_ body: (any BatchQueue) throws -> T) throws -> T
    /// Registers this process as a dispatcher node and returns its leases.
    func carrierLeases() throws -> any CarrierLeases
}

/// Where delivery receipts go: each is matched to its message by its `MessageRef` and kept with
/// it; one that matches nothing goes to the quarantine with its line and the reason.
public protocol ReceiptSink: AnyObject {
    /// One outcome per receipt, in order; receipts for parts of long messages decide the message as
    /// `parts` says.
    func recordReceipts(carrier: Carrier, parts: ReceiptParts, _ receipts: [ReceiptRecord]) throws -> [ReceiptOutcome]
    /// Keeps lines that could not be read, with the reason.
    func quarantine(carrier: Carrier, _ lines: [(line: String, reason: String)]) throws
    /// Remembers a request's signature for every process sharing the sink: false when it was
    /// already there (a replay, possibly to another process). Signatures older than `forgetBefore`
    /// may be forgotten.
    func admitSignature(_ signature: String, at: Int64, forgetBefore: Int64) throws -> Bool
    /// How many calls may run at once (each on a connection of its own); 1 for a single connection.
    var concurrentCalls: Int { get }
}

extension ReceiptSink {
    public var concurrentCalls: Int { 1 }

    /// Receipts of a carrier that reports every part.
    public func recordReceipts(carrier: Carrier, _ receipts: [ReceiptRecord]) throws -> [ReceiptOutcome] {
        try recordReceipts(carrier: carrier, parts: .all, receipts)
    }
}

/// The dispatcher's one source of time: a monotonic reading for pacing (rate windows, backoff,
/// leases) and the wall clock for schedules (campaign windows, quotas, retry times). Tests pass a
/// simulated one.
public protocol DispatchClock: Sendable {
    /// Seconds on a clock that never goes back.
    func monotonicSeconds() -> Double
    /// The wall clock.
    func now() -> Timestamp
}

/// An error from behind a port that says whether trying again shortly may succeed (a store busy
/// with another process's write): the adapter in front waits and tries again instead of failing.
public protocol RetryableError: Error {
    var isRetryable: Bool { get }
    /// A stable name of the cause (`store.disk-full`): many workers stopped by one cause say it once.
    var cause: String { get }
}
