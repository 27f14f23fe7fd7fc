/// A store's identity: 16 lowercase hex digits (64 random bits) chosen when the store is created.
/// Every id loa puts on the wire carries it, so that two stores (two provinces, or a store
/// re-created from scratch) sending to one carrier can never present the same idempotency key or
/// message id: a carrier that stores answers by key would otherwise answer one store's new batch
/// with another store's old answer, and loa would record messages accepted that were never sent.
public struct StoreIdentity: Hashable, Sendable, CustomStringConvertible {
    public let hex: String

    public init?(_ text: String) {
        guard text.utf8.count == 16, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        hex = text
    }

    /// A new random identity.
    public static func random(using rng: inout some RandomNumberGenerator) -> StoreIdentity {
        let v = rng.next()
        var digits = ""
        for shift in stride(from: 60, through: 0, by: -4) { digits.append(Character(Unicode.Scalar(UInt8(JSONString.hexDigit(UInt8((v >> UInt64(shift)) & 0xF)))))) }
        return StoreIdentity(digits)!
    }

    public var description: String { hex }

    /// The idempotency key of a batch: `loa-<store>-<carrier>-<batch>`, unique across stores and time.
    public func idempotencyKey(carrier: Carrier, batch: Int64) -> String { "loa-\(hex)-\(carrier.rawValue)-\(batch)" }
}

/// A message's id on the wire (uploads, Kannel delivery-report URLs, receipts):
/// `m<message id>-<store identity>`. Messages sent before store identities existed went out as
/// `m<message id>`; a receipt that names one is still matched, but only to a message whose batch
/// carried a key of that time.
public struct MessageRef: Hashable, Sendable, CustomStringConvertible {
    public var id: Int64
    /// nil for the old form `m<id>`.
    public var store: StoreIdentity?

    public init(id: Int64, store: StoreIdentity?) {
        self.id = id
        self.store = store
    }

    public var description: String {
        guard let store else { return "m\(id)" }
        return "m\(id)-\(store.hex)"
    }

    /// Appends the wire form to a byte buffer (batch bodies).
    public func append(to out: inout [UInt8]) {
        out.append(0x6D)
        out.append(contentsOf: String(id).utf8)
        if let store {
            out.append(0x2D)
            out.append(contentsOf: store.hex.utf8)
        }
    }

    /// Parses `m<id>-<store>` or `m<id>`; nil for anything else.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == 0x6D else { return nil }
        var i = 1
        var value: Int64 = 0
        while i < utf8.count, (0x30...0x39).contains(utf8[i]) {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(utf8[i] - 0x30))
            guard !o1, !o2 else { return nil }
            value = s
            i += 1
        }
        guard i > 1, value > 0 else { return nil }
        if i == utf8.count {
            self.init(id: value, store: nil)
            return
        }
        guard utf8[i] == 0x2D, let store = StoreIdentity(String(decoding: utf8[(i + 1)...], as: UTF8.self)) else { return nil }
        self.init(id: value, store: store)
    }
}
