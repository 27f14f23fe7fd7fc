import COpenSSL
import LoaCore

/// What can go wrong with keys and sealed values. Descriptions never contain a key or a number.
public enum CryptoError: Error, Equatable, CustomStringConvertible {
    case keyTooShort(bytes: Int, needed: Int)
    case notHex
    /// A sealed value that does not open under this key: another key, or the data was changed.
    case cannotOpen
    case library(String)

    public var description: String {
        switch self {
        case .keyTooShort(let bytes, let needed): "a key needs at least \(needed) bytes (got \(bytes))"
        case .notHex: "a key is written as hexadecimal digits (0-9, a-f)"
        case .cannotOpen: "a stored number does not open under this contact key (another key, or the store was changed)"
        case .library(let what): "libcrypto: \(what) failed"
        }
    }
}

/// Clear phone numbers the store must keep (contact lists, the do-not-call list), sealed under the
/// operator's contact key: AES-256-GCM with a random 96-bit nonce, and beside it a keyed pseudonym
/// (HMAC-SHA256) to find, match and de-duplicate rows without opening them. The store never holds
/// a clear number; numbers are opened in memory only to send (Kannel needs them), to match them
/// with the carriers' pseudonyms (opt-outs, contact lists also reached through the area), or for
/// an audited export.
///
/// Both keys are derived from the operator's one key (at least 32 bytes), so a pseudonym reveals
/// nothing about the encryption key. A sealed value is `01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)`,
/// authenticated together with its row's pseudonym, so that a sealed number cannot be moved to
/// another row unnoticed.
public struct ContactVault: Sendable {
    private let encryptionKey: [UInt8]
    private let pseudonymizer: KeyedPseudonymizer
    /// A short fingerprint of the key (not secret), so that the store can tell which key sealed it.
    public let fingerprint: String

    public init(key: [UInt8]) throws(CryptoError) {
        guard key.count >= 32 else { throw .keyTooShort(bytes: key.count, needed: 32) }
        let master = try KeyedPseudonymizer(key: key)
        func derive(_ label: String) -> [UInt8] { Array(label.utf8).withUnsafeBytes { master.pseudonym(e164: $0) }.bytes }
        encryptionKey = derive("loa contact vault: AES-256-GCM key")
        pseudonymizer = try KeyedPseudonymizer(key: derive("loa contact vault: pseudonym key"))
        fingerprint = String(hexString(derive("loa contact vault: fingerprint")).prefix(16))
    }

    /// The key from its text form: hexadecimal, at least 64 digits (32 bytes), spaces and line ends ignored.
    public init(hex: String) throws(CryptoError) {
        let digits = hex.unicodeScalars.filter { !" \t\r\n".unicodeScalars.contains($0) }
        guard digits.count % 2 == 0, digits.allSatisfy({ $0.properties.isASCIIHexDigit }) else { throw .notHex }
        var bytes: [UInt8] = []
        var it = digits.makeIterator()
        while let hi = it.next(), let lo = it.next() { bytes.append(UInt8(String([Character(hi), Character(lo)]), radix: 16)!) }
        try self.init(key: bytes)
    }

    /// The number's pseudonym under the contact key (the row's key in the store).
    public func pseudonym(for msisdn: MSISDN) -> Pseudonym { pseudonymizer.pseudonym(for: msisdn) }

    /// Seals the number's E.164 text, bound to its pseudonym.
    public func seal(_ msisdn: MSISDN) throws(CryptoError) -> [UInt8] {
        try seal(Array(msisdn.e164.utf8), boundTo: pseudonym(for: msisdn).bytes)
    }

    /// Opens a sealed number stored under `pseudonym`; the number must match its pseudonym.
    public func open(_ sealed: [UInt8], pseudonym: Pseudonym) throws(CryptoError) -> MSISDN {
        let text = try open(sealed, boundTo: pseudonym.bytes)
        guard let s = String(validating: text, as: UTF8.self), case .success(let parsed) = VietnamNumberingPlan.parse(s),
              self.pseudonym(for: parsed.msisdn) == pseudonym else { throw .cannotOpen }
        return parsed.msisdn
    }

    func seal(_ plain: [UInt8], boundTo aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        guard RAND_bytes(&nonce, 12) == 1 else { throw .library("RAND_bytes") }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .library("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: plain.count + 16)
        var n: Int32 = 0, total = 0
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nil) == 1,
              EVP_EncryptInit_ex(ctx, nil, nil, encryptionKey, nonce) == 1,
              EVP_EncryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1,
              EVP_EncryptUpdate(ctx, &out, &n, plain, Int32(plain.count)) == 1 else { throw .library("AES-256-GCM encryption") }
        total = Int(n)
        let finished = out.withUnsafeMutableBufferPointer { EVP_EncryptFinal_ex(ctx, $0.baseAddress! + total, &n) }
        guard finished == 1 else { throw .library("AES-256-GCM encryption") }
        total += Int(n)
        var tag = [UInt8](repeating: 0, count: 16)
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1 else { throw .library("AES-256-GCM tag") }
        return [0x01] + nonce + out.prefix(total) + tag
    }

    func open(_ sealed: [UInt8], boundTo aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= 1 + 12 + 16, sealed[0] == 0x01 else { throw .cannotOpen }
        let nonce = Array(sealed[1..<13]), cipher = Array(sealed[13..<(sealed.count - 16)]), tag = Array(sealed.suffix(16))
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .library("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: cipher.count + 16)
        var n: Int32 = 0
        var tagCopy = tag
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nil) == 1,
              EVP_DecryptInit_ex(ctx, nil, nil, encryptionKey, nonce) == 1,
              EVP_DecryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1,
              EVP_DecryptUpdate(ctx, &out, &n, cipher, Int32(cipher.count)) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &tagCopy) == 1 else { throw .cannotOpen }
        let total = Int(n)
        let ok = out.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + total, &n) }
        guard ok == 1 else { throw .cannotOpen }
        return Array(out.prefix(total + Int(n)))
    }
}

extension ContactVault: SealedContactOpening {
    public func openSealed(_ sealed: [UInt8], pseudonym: Pseudonym) throws -> MSISDN { try open(sealed, pseudonym: pseudonym) }
}
