/// The values that cross modules on a message's way out: what planning writes, what a batch
/// holds, what a carrier's receipt says. Adapters (the store, carrier transports) read and write
/// them; none of them knows a storage or wire format.

/// A message to be planned: one recipient's rendered text.
public struct PlannedMessage: Sendable {
    public var carrier: Carrier
    public var subscriber: String
    public var language: String
    public var commune: Int?
    public var text: String
    public var encoding: SMSEncoding
    public var segments: Int
    /// A call (voice campaign): `text` is `audio:<sha256>` of the language's clip, billed minutes
    /// (`segments`) are known from its receipt.
    public var isCall = false

    /// A voice message: a call that plays the clip `sha256`.
    public static func call(carrier: Carrier, subscriber: String, language: String, commune: Int?, clip sha256: String) -> PlannedMessage {
        var m = PlannedMessage(carrier: carrier, subscriber: subscriber, language: language, commune: commune, text: OutboundMessage.audioPrefix + sha256,
                               encoding: .gsm7, segments: 0)
        m.isCall = true
        return m
    }

    public init(carrier: Carrier, subscriber: String, language: String, commune: Int?, text: String, encoding: SMSEncoding, segments: Int) {
        self.carrier = carrier
        self.subscriber = subscriber
        self.language = language
        self.commune = commune
        self.text = text
        self.encoding = encoding
        self.segments = segments
    }
}

/// One upload: its messages and its idempotency key, fixed before the network call.
/// Where a batch stands in the store.
public enum BatchState: String, Sendable, CaseIterable {
    /// Claimed or being uploaded (its attempt recorded before the upload).
    case uploading
    /// Waiting to go again under its key (after a transient failure, an interruption, an answer not understood).
    case retryAt = "retry-at"
    /// The carrier answered for it (each message carries its own outcome).
    case accepted
    /// Refused for good, or too large (its messages planned again).
    case rejected
    /// Its campaign ended before the carrier accepted it.
    case expired
}

public struct Batch: Sendable, Equatable {
    public init(id: Int64, carrier: Carrier, campaign: String, idempotencyKey: String, attempts: Int, messages: [OutboundMessage], wireIdentity: StoreIdentity?) {
        self.id = id
        self.carrier = carrier
        self.campaign = campaign
        self.idempotencyKey = idempotencyKey
        self.attempts = attempts
        self.messages = messages
        self.wireIdentity = wireIdentity
    }

    public var id: Int64
    public var carrier: Carrier
    public var campaign: String
    public var idempotencyKey: String
    public var attempts: Int
    public var messages: [OutboundMessage]
    /// The identity its message ids carry on the wire; nil for a batch keyed before stores had
    /// one (it goes again exactly as it went first, ids `m<id>`).
    public var wireIdentity: StoreIdentity?

    /// The messages' ids as the carrier sees them.
    public var refs: [MessageRef] { messages.map { MessageRef(id: $0.id, store: wireIdentity) } }
}

public struct OutboundMessage: Sendable, Equatable {
    public init(id: Int64, campaign: String, subscriber: String, text: String, encoding: String, segments: Int) {
        self.id = id
        self.campaign = campaign
        self.subscriber = subscriber
        self.text = text
        self.encoding = encoding
        self.segments = segments
    }
    public var id: Int64
    public var campaign: String
    public var subscriber: String
    public var text: String
    public var encoding: String
    public var segments: Int

    /// A voice message's `encoding`; its text is `audio:` and the clip's SHA-256.
    public static let voiceEncoding = "voice"
    public static let audioPrefix = "audio:"
    /// The clip a call plays (nil for an SMS).
    public var clip: String? { encoding == Self.voiceEncoding && text.hasPrefix(Self.audioPrefix) ? String(text.dropFirst(Self.audioPrefix.count)) : nil }
}

/// A delivery receipt as a carrier sent it.
public struct ReceiptRecord: Sendable, Equatable {
    public var messageRef: String
    public var status: ReceiptStatus
    public var at: Timestamp?
    public var reason: String?
    /// The line as the carrier sent it (kept in the quarantine when nothing matches it).
    public var line: String?
    /// The part of a long message it reports (1-based); nil for the whole message.
    public var part: Int?
    /// Voice: which call attempt it reports, how long the person listened, whether it was the last.
    public var call: CallAttempt?
    public init(messageRef: String, status: ReceiptStatus, at: Timestamp?, reason: String?, line: String? = nil, part: Int? = nil, call: CallAttempt? = nil) {
        self.call = call
        self.messageRef = messageRef
        self.status = status
        self.at = at
        self.reason = reason
        self.line = line
        self.part = part
    }
}

/// Which parts of a long message a carrier reports receipts for (`receipts.parts` in its file).
public enum ReceiptParts: String, Sendable, CaseIterable {
    /// Every part: the message is delivered when all its parts are, failed when any part failed.
    case all
    /// Only the first part: its receipt stands for the message.
    case first
    /// Only the last part: its receipt stands for the message.
    case last

    /// The whole message's status after a receipt for `part` of a message of `segments` parts, given
    /// the latest status of each part so far (this one included); nil while it is not decided yet.
    public func messageStatus(segments: Int, part: Int, parts: [Int: ReceiptStatus]) -> ReceiptStatus? {
        let status = parts[part]
        switch self {
        case .first: return part == 1 ? status : nil
        case .last: return part == segments ? status : nil
        case .all:
            let finals = parts.values.filter { $0.messageState?.isFinal == true }
            if let bad = finals.first(where: { $0 != .delivered }) { return bad }
            if (1...max(1, segments)).allSatisfy({ parts[$0] == .delivered }) { return .delivered }
            return nil
        }
    }
}

/// What became of one receipt.
public enum ReceiptOutcome: Sendable, Equatable {
    /// Its message moved to the receipt's state.
    case applied
    /// Kept with its message, which did not move: a duplicate, an intermediate status, or a state
    /// the message cannot move to (a final one already).
    case kept
    /// Matched nothing (or could not be read): kept in the quarantine with the reason.
    case quarantined(reason: String)
}

/// Receipt requests (protocol version 2) cannot be replayed: a request is refused when its
/// timestamp is more than `window` seconds from loa's clock, or when its exact signature was
/// already accepted (the `ReceiptSink` remembers signatures for every process on the store, for
/// longer than a timestamp stays acceptable).
public enum ReplayWindow {
    public static let window: Int64 = 300

    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        case stale(skew: Int64)
        case replayed
        public var description: String {
            switch self {
            case .stale(let skew): "timestamp \(skew > 0 ? "\(skew) s ahead of" : "\(-skew) s behind") loa's clock (at most 300 s either way)"
            case .replayed: "this exact signature was already accepted (a replayed request)"
            }
        }
    }

    /// A request signed at `timestamp` (seconds), at `now`: refused when too far from the clock.
    public static func staleness(timestamp: Int64, now: Int64) -> Refusal? {
        let skew = timestamp - now
        return abs(skew) > window ? .stale(skew: skew) : nil
    }

    /// Signatures older than this may be forgotten at `now`: their timestamps are refused anyway.
    public static func forgetBefore(now: Int64) -> Int64 { now - 2 * window }
}

