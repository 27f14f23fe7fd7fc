/// Whether a carrier may be offered work now: a circuit breaker. While a carrier is failing (an
/// outage answering 503, a gateway that does not answer), re-sending the whole backlog on every
/// `Retry-After` would offer it several times its rate. After `threshold` transient failures in a
/// row the circuit opens: no uploads until the backoff has passed; then one small batch probes.
/// A probe that gets through closes the circuit; one that fails opens it again for longer.
/// A 429 is not a failure (the carrier is there, only busy): it holds the lane until its
/// `Retry-After`.
///
/// Time is seconds from a monotonic clock, passed in.
public struct CarrierCircuit: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed
        /// No uploads before `until`.
        case open(until: Double)
        /// One probe upload is out; the others wait for its outcome.
        case probing
    }

    public enum Permission: Sendable, Equatable {
        /// Upload as usual.
        case send
        /// Upload one small batch (this caller is the probe).
        case probe
        /// Wait until then (or until another worker's probe settles it).
        case wait(until: Double)
    }

    public private(set) var state: State = .closed
    public private(set) var failuresInARow = 0
    /// No uploads before this time, whatever the state (a 429's Retry-After).
    public private(set) var heldUntil = -Double.infinity
    public var threshold: Int
    public var backoff: RetryPolicy

    public init(threshold: Int = 3, backoff: RetryPolicy = RetryPolicy()) {
        self.threshold = max(1, threshold)
        self.backoff = backoff
    }

    public mutating func permission(at now: Double) -> Permission {
        if now < heldUntil { return .wait(until: heldUntil) }
        switch state {
        case .closed: return .send
        case .open(let until):
            guard now >= until else { return .wait(until: until) }
            state = .probing
            return .probe
        case .probing:
            return .wait(until: now + 0.05)
        }
    }

    /// An upload got an answer loa understood (taken, refused, too large).
    public mutating func succeeded() {
        state = .closed
        failuresInARow = 0
    }

    /// 429: the carrier is there but busy. Holds every upload until `retryAfter` (1 s if none).
    public mutating func throttled(at now: Double, retryAfter: Double?) {
        heldUntil = max(heldUntil, now + max(retryAfter ?? 1, 0.001))
        if state == .probing { state = .closed }
    }

    /// A transient failure. Returns when the circuit lets uploads through again (`now` while it stays closed).
    @discardableResult
    public mutating func failed(at now: Double, retryAfter: Double?, random: inout some RandomNumberGenerator) -> Double {
        failuresInARow += 1
        guard state == .probing || failuresInARow >= threshold else { return now }
        let until = now + backoff.delay(afterAttempt: failuresInARow - threshold + 1, retryAfter: retryAfter, random: &random)
        state = .open(until: until)
        return until
    }

    /// The probe never went (the worker stopped before it could upload): another may probe.
    public mutating func probeAbandoned(at now: Double) {
        if state == .probing { state = .open(until: now) }
    }

    public var isOpen: Bool { state != .closed }
}
