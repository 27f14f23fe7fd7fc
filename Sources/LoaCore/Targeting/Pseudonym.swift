/// A subscriber's keyed pseudonym: HMAC-SHA256 of the E.164 number under the key shared with
/// the subscriber's carrier. Written `h:<64 hex digits>`. The store keeps only pseudonyms next
/// to locations, never clear numbers.
public struct Pseudonym: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// From 32 bytes, big-endian words.
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32)
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v = v << 8 | UInt64(bytes[i * 8 + k]) }
            return v
        }
        self.init(w0: word(0), w1: word(1), w2: word(2), w3: word(3))
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self = bytes.withUnsafeBytes { Pseudonym(bytes: $0) }
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: w >> (UInt64(k) * 8))) } }
        return out
    }

    /// Appends `h:` and 64 lowercase hex digits to a byte buffer (bulk exports: millions of rows,
    /// so the 66 bytes are made on the stack and appended at once).
    public func appendText(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 66) { text in
            text[0] = 0x68; text[1] = 0x3A
            @inline(__always) func word(_ w: UInt64, at start: Int) {
                for i in 0..<16 {
                    let n = UInt8(truncatingIfNeeded: (w >> UInt64(60 - 4 * i)) & 0xF)
                    text[start + i] = n < 10 ? 0x30 + n : 0x57 + n
                }
            }
            word(w0, at: 2); word(w1, at: 18); word(w2, at: 34); word(w3, at: 50)
            out.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    /// `h:` followed by 64 lowercase hex digits.
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(66)
        appendText(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `h:<64 hex>` (either case).
    public init?(_ text: Substring) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 66, utf8[0] == 0x68 || utf8[0] == 0x48, utf8[1] == 0x3A else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            guard let hi = Self.hexValue(utf8[2 + 2 * i]), let lo = Self.hexValue(utf8[3 + 2 * i]) else { return nil }
            bytes[i] = hi << 4 | lo
        }
        self.init(bytes: bytes)
    }

    public init?(_ text: String) { self.init(Substring(text)) }

    /// Parses `h:<64 hex>` from raw bytes without allocating (bulk imports).
    public init?(hexBytes b: UnsafeBufferPointer<UInt8>) {
        guard b.count == 66, b[0] == 0x68 || b[0] == 0x48, b[1] == 0x3A else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for w in 0..<4 {
            var v: UInt64 = 0
            for k in 0..<16 {
                guard let d = Self.hexValue(b[2 + w * 16 + k]) else { return nil }
                v = v << 4 | UInt64(d)
            }
            switch w { case 0: words.0 = v; case 1: words.1 = v; case 2: words.2 = v; default: words.3 = v }
        }
        self.init(w0: words.0, w1: words.1, w2: words.2, w3: words.3)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    public static func < (a: Pseudonym, b: Pseudonym) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}

/// Computes pseudonyms for one carrier's key. Implemented outside the core (HMAC needs a crypto
/// library); the core only asks for it.
public protocol Pseudonymizer: Sendable {
    func pseudonym(for msisdn: MSISDN) -> Pseudonym
}
