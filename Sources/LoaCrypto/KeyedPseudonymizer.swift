import COpenSSL
import LoaCore

/// HMAC-SHA256 (RFC 2104) of the E.164 number under a carrier's key, with the inner and outer
/// padded-key states computed once: each pseudonym then costs two short SHA-256 runs.
public struct KeyedPseudonymizer: Pseudonymizer, @unchecked Sendable {
    private var inner = SHA256_CTX()
    private var outer = SHA256_CTX()

    /// - Parameter key: the secret shared with the carrier (at least 16 bytes).
    public init(key: [UInt8]) throws(CryptoError) {
        guard key.count >= 16 else { throw .keyTooShort(bytes: key.count, needed: 16) }
        var block = [UInt8](repeating: 0, count: 64)
        if key.count > 64 {
            var ctx = SHA256_CTX()
            SHA256_Init(&ctx)
            SHA256_Update(&ctx, key, key.count)
            SHA256_Final(&block, &ctx)
        } else {
            block.replaceSubrange(0..<key.count, with: key)
        }
        let ipad = block.map { $0 ^ 0x36 }, opad = block.map { $0 ^ 0x5C }
        SHA256_Init(&inner)
        SHA256_Update(&inner, ipad, 64)
        SHA256_Init(&outer)
        SHA256_Update(&outer, opad, 64)
    }

    /// Pseudonym of UTF-8 bytes (the E.164 text, "+84912345678").
    public func pseudonym(e164 bytes: UnsafeRawBufferPointer) -> Pseudonym {
        var ctx = inner
        var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &digest) { out -> Pseudonym in
            let p = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            SHA256_Update(&ctx, bytes.baseAddress, bytes.count)
            SHA256_Final(p, &ctx)
            var o = outer
            SHA256_Update(&o, p, 32)
            SHA256_Final(p, &o)
            return Pseudonym(bytes: UnsafeRawBufferPointer(out))
        }
    }

    /// Pseudonym of a national significant number given as ASCII digits (its E.164 text "+84…"
    /// made on the stack: bulk imports hash straight from a line's bytes).
    public func pseudonym(nationalSignificantNumber nsn: some Collection<UInt8>) -> Pseudonym {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 3 + nsn.count) { e164 in
            e164[0] = 0x2B; e164[1] = 0x38; e164[2] = 0x34
            _ = UnsafeMutableBufferPointer(rebasing: e164[3...]).initialize(from: nsn)
            return pseudonym(e164: UnsafeRawBufferPointer(e164))
        }
    }

    public func pseudonym(for msisdn: MSISDN) -> Pseudonym {
        pseudonym(nationalSignificantNumber: msisdn.nationalSignificantNumber.utf8)
    }
}

/// Incremental SHA-256, to recognise a file imported twice while it streams past.
public final class SHA256Stream: @unchecked Sendable {
    private var ctx = SHA256_CTX()
    public init() { SHA256_Init(&ctx) }
    public func update(_ bytes: UnsafeRawBufferPointer) { SHA256_Update(&ctx, bytes.baseAddress, bytes.count) }
    public func hex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        SHA256_Final(&out, &ctx)
        return hexString(out)
    }
}

/// Lowercase hex of bytes.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
    return String(decoding: out, as: UTF8.self)
}

/// `count` random bytes from the system's generator, as lowercase hex (tokens, session ids).
public func randomHex(bytes count: Int) -> String {
    var rng = SystemRandomNumberGenerator()
    return hexString((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
}

/// Equal byte strings, in a time that does not depend on where they differ (secrets, signatures).
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in a.indices { diff |= a[i] ^ b[i] }
    return diff == 0
}

/// SHA-256 of bytes, as lowercase hex.
public func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
    let hash = SHA256Stream()
    hash.update(bytes)
    return hash.hex()
}

/// HMAC-SHA256 signatures for uploads and receipts (hex).
public struct HMACSigner: Sendable {
    private let mac: KeyedPseudonymizer

    public init(secret: [UInt8]) throws(CryptoError) { mac = try KeyedPseudonymizer(key: secret) }

    public func sign(_ bytes: [UInt8]) -> String {
        let p = bytes.withUnsafeBytes { mac.pseudonym(e164: $0) }
        return String(p.description.dropFirst(2))
    }

    /// Constant-time comparison of a presented signature with the expected one.
    public func verify(_ bytes: [UInt8], signature: String) -> Bool {
        constantTimeEqual(Array(sign(bytes).utf8), Array(signature.lowercased().utf8))
    }
}
