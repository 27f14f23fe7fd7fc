/// A carrier lane's decisions about one upload's outcome, pure: what to record in the store, whether
/// the rate admitted for it is given back, how the circuit and the batch size change, and whether
/// the lane must stop for an operator. The dispatcher carries the decision out; time and
/// randomness come in as values, so every rule here is tested with simulated time.
///
/// The rules (carriers/README.md, "Answers"):
/// - an answer understood completely settles its messages (accepted, or rejected with the reason);
/// - 413 splits: the batch size drops (to the carrier's `X-Max-Batch` when it says) and the
///   messages are planned again for smaller batches;
/// - 429 holds the lane until `Retry-After`; the batch goes again under its key then;
/// - a transient failure retries under the key after a capped backoff, never after the campaign's
///   end: what cannot go before the end expires, with the last answer as the reason; three in a
///   row open the circuit;
/// - a configuration fault (401/403/404…) stops the lane with the messages planned (a batch the
///   carrier may have seen keeps its key);
/// - an answer not understood keeps the batch open under its key and stops the lane.
public struct CarrierLane: Sendable {
    public var circuit: CarrierCircuit
    /// Messages per upload at most (halved, or set by the carrier, on 413).
    public var maxBatch: Int
    public let retry: RetryPolicy

    public init(maxBatch: Int, retry: RetryPolicy, circuitThreshold: Int = 3) {
        self.maxBatch = max(1, maxBatch)
        self.retry = retry
        circuit = CarrierCircuit(threshold: circuitThreshold, backoff: retry)
    }

    /// What to write about the batch.
    public enum Record: Sendable, Equatable {
        /// Every message accepted but these (id → the carrier's reason).
        case accepted(rejected: [Int64: String])
        /// The whole batch refused for good.
        case refused(status: Int, reason: String)
        /// Too large: its messages go back to planned for smaller batches under new keys.
        case replanSmaller
        /// Again under the same key at this wall-clock time (seconds).
        case retry(at: Double, reason: String)
        /// The campaign ends before another attempt could go: its messages expire.
        case expired(reason: String)
        /// Never taken by the carrier on its first attempt: messages back to planned, key dropped.
        case release
        /// Seen by the carrier before: stays open under its key, due at once on the next run.
        case keepForNextRun
        /// Not understood: stays open under its key (the carrier may have it).
        case keepOpen(reason: String)
    }

    public struct Decision: Sendable, Equatable {
        public var record: Record
        /// The rate admitted for the upload is given back (the carrier did not count it).
        public var giveBackRate: Bool
        /// The lane stops: the reason for the operator.
        public var fault: String?
        /// A line for the progress display.
        public var note: String?

        public init(record: Record, giveBackRate: Bool, fault: String? = nil, note: String? = nil) {
            self.record = record
            self.giveBackRate = giveBackRate
            self.fault = fault
            self.note = note
        }
    }

    /// Decides what follows `verdict` for a batch of `size` messages on its `attempt` (1 for the
    /// first). `campaignEnd` is its campaign's end; `wall` the wall clock and `clock` the
    /// monotonic clock, in seconds.
    public mutating func settle(_ verdict: UploadVerdict, size: Int, attempt: Int, isRetry: Bool, campaignEnd: Timestamp?,
                                wall: Double, clock: Double, random: inout some RandomNumberGenerator) -> Decision {
        switch verdict {
        case .taken(let rejected):
            circuit.succeeded()
            return Decision(record: .accepted(rejected: rejected), giveBackRate: false)
        case .refused(let status, let reason):
            circuit.succeeded()
            return Decision(record: .refused(status: status, reason: reason), giveBackRate: false, note: "carrier refused a batch for good: \(reason)")
        case .tooLarge(let carrierMaximum):
            circuit.succeeded()
            maxBatch = max(1, min(carrierMaximum ?? size / 2, max(1, size - 1)))
            return Decision(record: .replanSmaller, giveBackRate: true, note: "carrier said 413: batches are now at most \(maxBatch)")
        case .throttled(let retryAfter):
            circuit.throttled(at: clock, retryAfter: retryAfter)
            return Decision(record: later(attempt: attempt, retryAfter: retryAfter ?? 1, reason: "HTTP 429 (over the carrier's rate)",
                                          campaignEnd: campaignEnd, wall: wall, random: &random), giveBackRate: true)
        case .transient(let reason, let retryAfter, let reached):
            let reopens = circuit.failed(at: clock, retryAfter: retryAfter, random: &random)
            let note = reopens > clock ? "carrier failing (\(reason)): no new work until a probe gets through in \(Int((reopens - clock).rounded(.up))) s" : nil
            return Decision(record: later(attempt: attempt, retryAfter: retryAfter, reason: reason, campaignEnd: campaignEnd, wall: wall, random: &random),
                            giveBackRate: !reached, note: note)
        case .configurationFault(let reason):
            return Decision(record: isRetry ? .keepForNextRun : .release, giveBackRate: true,
                            fault: "the carrier answered \(reason): check the credentials (signing secret, token) and the endpoint in its carrier file")
        case .notUnderstood(let reason):
            return Decision(record: .keepOpen(reason: reason), giveBackRate: false,
                            fault: "\(reason). Its messages stay open and go again under the same key on the next run; ask the carrier to answer as carriers/README.md says")
        }
    }

    /// Retry under the key after the backoff, at the latest one second before the campaign ends;
    /// expired when even that has passed.
    func later(attempt: Int, retryAfter: Double?, reason: String, campaignEnd: Timestamp?, wall: Double,
               random: inout some RandomNumberGenerator) -> Record {
        let at = wall + retry.delay(afterAttempt: attempt, retryAfter: retryAfter, random: &random)
        guard let campaignEnd else { return .retry(at: at, reason: reason) }
        let lastChance = Double(campaignEnd.seconds) - 1
        if wall >= lastChance {
            return .expired(reason: "campaign ended at \(campaignEnd.iso8601()) before the carrier accepted it (last answer: \(reason))")
        }
        return .retry(at: min(at, lastChance), reason: reason)
    }
}
