import LoaCore
import LoaCrypto

/// A carrier's gateway as configured in carriers/*.yaml.
public struct CarrierGateway: Sendable {
    public enum WireProtocol: String, Sendable { case batchHTTP = "batch-http", kannel }

    public var carrier: Carrier
    public var displayName: String
    public var protocolKind: WireProtocol
    /// Base URL; batch-http posts to {endpoint}/batches.
    public var endpoint: String
    public var tps: Int
    public var maxBatch: Int
    public var dailyQuota: Int
    public var window: DailyWindow?
    public var retry: RetryPolicy
    public var timeout: Double
    /// Secrets, already read from the environment or files (never from the repository).
    public var token: String?
    public var signingSecret: [UInt8]?
    public var receiptSecret: [UInt8]?
    public var client: CurlClient.Configuration
    /// For protocol kannel.
    public var kannel: KannelProtocol.Settings?
    /// For protocol kannel: the key that turns contact numbers into this carrier's pseudonyms.
    public var pseudonymKey: KeyedPseudonymizer?
    /// For protocol kannel: the operator's contact key, which opens the sealed contact numbers.
    public var contactVault: ContactVault?
    /// What upload signatures cover (carriers/README.md): 2, or 1 for a carrier not yet on version 2.
    public var signatureVersion = 2
    /// How the carrier signs receipts: 2, or 1 (the body only, no replay protection) for a carrier not yet on version 2.
    public var receiptSignatureVersion = 2
    /// Seconds after acceptance without a final receipt before a message is recorded `no-receipt` (default 48 h).
    public var receiptValidity: Double = 48 * 3600
    /// Which parts of a long message the carrier reports receipts for.
    public var receiptParts: ReceiptParts = .all
    /// Uploads in flight to this carrier at most (nil: the dispatcher's default, 16). The rate
    /// is shared by them; more of them only keep stalled uploads from holding the lane back.
    public var concurrentUploads: Int?
    /// Voice calls (`voice:` in the carrier file); nil: the carrier takes no voice campaigns.
    public var voice: Voice?

    /// A carrier's voice gateway: concurrent calls and calls per second (not SMS TPS), how long a
    /// phone rings before an attempt counts as unanswered, the audio format it takes.
    public struct Voice: Sendable, Equatable {
        public var channels: Int
        public var callsPerSecond: Int
        public var ringSeconds: Double
        public var audioFormat: TelephoneAudio.Format
        public init(channels: Int, callsPerSecond: Int, ringSeconds: Double = 30, audioFormat: TelephoneAudio.Format = .wav) {
            self.channels = channels
            self.callsPerSecond = callsPerSecond
            self.ringSeconds = ringSeconds
            self.audioFormat = audioFormat
        }
    }

    public init(carrier: Carrier, displayName: String, protocolKind: WireProtocol, endpoint: String, tps: Int, maxBatch: Int, dailyQuota: Int,
                window: DailyWindow?, retry: RetryPolicy, timeout: Double, token: String?, signingSecret: [UInt8]?, receiptSecret: [UInt8]?,
                client: CurlClient.Configuration = .init()) {
        self.carrier = carrier
        self.displayName = displayName
        self.protocolKind = protocolKind
        self.endpoint = endpoint
        self.tps = tps
        self.maxBatch = maxBatch
        self.dailyQuota = dailyQuota
        self.window = window
        self.retry = retry
        self.timeout = timeout
        self.token = token
        self.signingSecret = signingSecret
        self.receiptSecret = receiptSecret
        self.client = client
    }
}
