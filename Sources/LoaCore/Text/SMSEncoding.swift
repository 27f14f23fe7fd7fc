/// How a message travels: the GSM 7-bit default alphabet or UCS-2 (UTF-16 code units).
public enum SMSEncoding: String, Sendable, Codable, CaseIterable {
    case gsm7
    case ucs2

    /// Units in a single (unsegmented) message: 160 septets or 70 UTF-16 units.
    public var singleLimit: Int { self == .gsm7 ? 160 : 70 }
    /// Units per part of a concatenated message, after the 6-byte UDH: 153 septets or 67 units.
    public var partLimit: Int { self == .gsm7 ? 153 : 67 }
    /// The TP-DCS value a carrier puts on the wire (3GPP TS 23.038 §4).
}

/// The size of a text as the network sees it.
public struct TextMeasure: Equatable, Sendable {
    public var encoding: SMSEncoding
    /// Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2.
    public var units: Int
    /// Parts the network carries; 0 for empty text.
    public var segments: Int
    /// Unicode scalars after NFC.
    public var characters: Int

    public init(encoding: SMSEncoding, units: Int, segments: Int, characters: Int) {
        self.encoding = encoding
        self.units = units
        self.segments = segments
        self.characters = characters
    }
}

/// Single-pass counters over a text's UTF-8 bytes: both encodings, the greedy part split of
/// each, and the NFC quick check.
struct TextScan {
    var isGSM7 = true
    var septets = 0
    var utf16 = 0
    var scalars = 0
    var mayNeedNFC = false
    var gsmParts = 1
    var gsmFill = 0
    var ucsParts = 1
    var ucsFill = 0

    init(_ text: String) {
        var text = text
        text.withUTF8 { scan($0) }
    }

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>) {
        var quickCheck = NFC.QuickCheck()
        let ascii = GSM7Alphabet.asciiTable
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                // ASCII: one scalar, one UTF-16 unit, combining class 0.
                scalars += 1
                utf16 += 1
                if ucsFill == 67 { ucsParts += 1; ucsFill = 1 } else { ucsFill += 1 }
                if isGSM7 {
                    let code = ascii[Int(b)]
                    if code == 0xFFFF {
                        isGSM7 = false
                    } else {
                        let c = code & 0x100 != 0 ? 2 : 1
                        septets += c
                        if gsmFill + c > 153 { gsmParts += 1; gsmFill = c } else { gsmFill += c }
                    }
                }
                quickCheck.lastClass = 0
                i += 1
                continue
            }
            let (v, length) = UTF8Decoding.scalar(in: bytes, at: i)
            i += length
            scalars += 1
            let u = v > 0xFFFF ? 2 : 1
            utf16 += u
            if ucsFill + u > 67 { ucsParts += 1; ucsFill = u } else { ucsFill += u }
            if isGSM7 {
                if let code = GSM7Alphabet.nonASCIICode(v) {
                    let c = code.septets
                    septets += c
                    if gsmFill + c > 153 { gsmParts += 1; gsmFill = c } else { gsmFill += c }
                } else {
                    isGSM7 = false
                }
            }
            if !mayNeedNFC && !quickCheck.accept(v) { mayNeedNFC = true }
        }
    }

    var measure: TextMeasure {
        if scalars == 0 { return TextMeasure(encoding: .gsm7, units: 0, segments: 0, characters: 0) }
        if isGSM7 {
            return TextMeasure(encoding: .gsm7, units: septets,
                               segments: septets <= 160 ? 1 : gsmParts, characters: scalars)
        }
        return TextMeasure(encoding: .ucs2, units: utf16,
                           segments: utf16 <= 70 ? 1 : ucsParts, characters: scalars)
    }
}
