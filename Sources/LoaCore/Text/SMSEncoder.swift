/// One part of a message as carried by the network.
public struct SMSPart: Equatable, Sendable {
    /// 1-based position in the message.
    public var number: Int
    /// The characters this part carries.
    public var text: String
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) in this part.
    public var units: Int
    /// User data header: empty for a single message, else the 6-byte concatenation header
    /// `05 00 03 ref total number` (IEI 0x00, 8-bit reference).
    public var udh: [UInt8]
    /// TP-UD after the UDH: packed septets (with fill bits after a UDH) or UTF-16BE bytes.
    public var payload: [UInt8]

    public init(number: Int, text: String, units: Int, udh: [UInt8], payload: [UInt8]) {
        self.number = number
        self.text = text
        self.units = units
        self.udh = udh
        self.payload = payload
    }

    /// UDH + payload: the full TP-UD, at most 140 bytes.
    public var userData: [UInt8] { udh + payload }
}

/// A message ready for the network: NFC text, its encoding and its parts.
public struct EncodedSMS: Equatable, Sendable {
    public var text: String
    public var encoding: SMSEncoding
    public var units: Int
    public var parts: [SMSPart]
    /// Whether NFC normalization changed the input.
    public var normalizationChanged: Bool
    /// The size as measured while encoding.
    public var measure: TextMeasure

    public var segments: Int { parts.count }
}

/// Encodes and segments SMS text (3GPP TS 23.038 / 23.040).
///
/// Rules: text is NFC-normalized first; GSM-7 when every character is in the default alphabet
/// or its extension table (extension characters cost 2 septets), else UCS-2 for the whole
/// message. One message holds 160 septets / 70 units; a concatenated message 153 / 67 per part.
/// An escape pair or a surrogate pair is never split across parts.
public enum SMSEncoder {
    /// Measures `text` without building parts. This is the fast path for large lists.
    public static func measure(_ text: String) -> TextMeasure {
        var scan = TextScan(text)
        if scan.mayNeedNFC {
            let normalized = NFC.normalizeWithoutQuickCheck(text)
            if !normalized.utf8.elementsEqual(text.utf8) { scan = TextScan(normalized) }
        }
        return scan.measure
    }

    /// Measures `text` and says whether NFC normalization changed it (the text measured is
    /// `normalized`): what `encode` reports, without building parts.
    public static func measureNormalizing(_ text: String) -> (measure: TextMeasure, normalized: String, changed: Bool) {
        var scan = TextScan(text)
        if scan.mayNeedNFC {
            let normalized = NFC.normalizeWithoutQuickCheck(text)
            if !normalized.utf8.elementsEqual(text.utf8) {
                scan = TextScan(normalized)
                return (scan.measure, normalized, true)
            }
        }
        return (scan.measure, text, false)
    }

    /// Encodes `text` into network parts.
    /// - Parameter reference: the 8-bit concatenation reference shared by the parts.
    ///   The caller owns the counter, so that parts of different messages to one phone differ.
    public static func encode(_ text: String, reference: UInt8 = 0) -> EncodedSMS {
        var scan = TextScan(text)
        var normalized = text
        var changed = false
        if scan.mayNeedNFC {
            normalized = NFC.normalizeWithoutQuickCheck(text)
            if !normalized.utf8.elementsEqual(text.utf8) {
                changed = true
                scan = TextScan(normalized)
            }
        }
        let measure = scan.measure
        let parts: [SMSPart]
        if measure.segments == 0 {
            parts = []
        } else if measure.encoding == .gsm7 {
            parts = gsm7Parts(normalized, segments: measure.segments, reference: reference)
        } else {
            parts = ucs2Parts(normalized, segments: measure.segments, reference: reference)
        }
        return EncodedSMS(text: normalized, encoding: measure.encoding, units: measure.units,
                          parts: parts, normalizationChanged: changed, measure: measure)
    }

    /// The concatenation header for part `number` of `total`.
    public static func concatenationHeader(reference: UInt8, total: Int, number: Int) -> [UInt8] {
        [0x05, 0x00, 0x03, reference, UInt8(truncatingIfNeeded: total), UInt8(truncatingIfNeeded: number)]
    }

    private static func gsm7Parts(_ text: String, segments: Int, reference: UInt8) -> [SMSPart] {
        var text = text
        return text.withUTF8 { bytes in
            var builder = PartBuilder(bytes: bytes, segments: segments, reference: reference, capacity: segments == 1 ? 160 : 153)
            builder.buildGSM7()
            return builder.parts
        }
    }

    private static func ucs2Parts(_ text: String, segments: Int, reference: UInt8) -> [SMSPart] {
        var text = text
        return text.withUTF8 { bytes in
            var builder = PartBuilder(bytes: bytes, segments: segments, reference: reference, capacity: segments == 1 ? 70 : 67)
            builder.buildUCS2()
            return builder.parts
        }
    }
}

/// Cuts a text's UTF-8 bytes into parts: one pass, one text slice per part.
private struct PartBuilder {
    let bytes: UnsafeBufferPointer<UInt8>
    let segments: Int
    let reference: UInt8
    /// Units per part: septets (GSM-7) or UTF-16 units (UCS-2).
    let capacity: Int
    var parts: [SMSPart] = []
    var partStart = 0

    init(bytes: UnsafeBufferPointer<UInt8>, segments: Int, reference: UInt8, capacity: Int) {
        self.bytes = bytes
        self.segments = segments
        self.reference = reference
        self.capacity = capacity
        parts.reserveCapacity(segments)
    }

    private mutating func append(end: Int, units: Int, payload: [UInt8]) {
        let number = parts.count + 1
        let udh = segments == 1 ? [] : SMSEncoder.concatenationHeader(reference: reference, total: segments, number: number)
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[partStart..<end]), as: UTF8.self)
        parts.append(SMSPart(number: number, text: text, units: units, udh: udh, payload: payload))
        partStart = end
    }

    mutating func buildGSM7() {
        let ascii = GSM7Alphabet.asciiTable
        // Septets of the current part; at most `capacity`.
        var septets = [UInt8](repeating: 0, count: capacity)
        var count = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let code: UInt16
            let length: Int
            if b < 0x80 {
                code = ascii[Int(b)]
                length = 1
            } else {
                let (scalar, n) = UTF8Decoding.scalar(in: bytes, at: i)
                length = n
                switch GSM7Alphabet.nonASCIICode(scalar)! {   // the scan said GSM-7
                case .basic(let s): code = UInt16(s)
                case .extended(let s): code = 0x100 | UInt16(s)
                }
            }
            let extended = code & 0x100 != 0
            if count + (extended ? 2 : 1) > capacity {
                append(end: i, units: count, payload: GSM7Packing.pack(septets[0..<count], fillBits: segments == 1 ? 0 : 1))
                count = 0
            }
            if extended { septets[count] = GSM7Alphabet.escape; count += 1 }
            septets[count] = UInt8(code & 0x7F)
            count += 1
            i += length
        }
        append(end: bytes.count, units: count, payload: GSM7Packing.pack(septets[0..<count], fillBits: segments == 1 ? 0 : 1))
    }

    mutating func buildUCS2() {
        var payload = [UInt8](repeating: 0, count: capacity * 2)
        let limit = capacity * 2
        var count = 0
        var i = 0
        while i < bytes.count {
            // Fill one part's payload through a raw pointer: no per-unit bounds or uniqueness checks.
            let start = i
            let (end, written) = payload.withUnsafeMutableBufferPointer { out -> (Int, Int) in
                var i = start
                var count = 0
                while i < bytes.count {
                    let (scalar, length) = UTF8Decoding.scalar(in: bytes, at: i)
                    if scalar > 0xFFFF {
                        if count + 4 > limit { break }
                        let v = scalar - 0x10000
                        let high = 0xD800 + (v >> 10), low = 0xDC00 + (v & 0x3FF)
                        out[count] = UInt8(high >> 8); out[count + 1] = UInt8(high & 0xFF)
                        out[count + 2] = UInt8(low >> 8); out[count + 3] = UInt8(low & 0xFF)
                        count += 4
                    } else {
                        if count + 2 > limit { break }
                        out[count] = UInt8(scalar >> 8); out[count + 1] = UInt8(truncatingIfNeeded: scalar)
                        count += 2
                    }
                    i += length
                }
                return (i, count)
            }
            count = written
            i = end
            append(end: i, units: count / 2, payload: Array(payload[0..<count]))
        }
    }
}

/// Decoding scalars from valid UTF-8 (a Swift String's bytes are always valid).
enum UTF8Decoding {
    @inline(__always)
    static func scalar(in bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 { return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3) }
        return ((b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F), 4)
    }
}

/// Septet packing (3GPP TS 23.038 §6.1.2.1.1): septets are packed least significant bit first;
/// after a UDH, fill bits align the first septet to a septet boundary.
public enum GSM7Packing {
    public static func pack(_ septets: [UInt8], fillBits: Int = 0) -> [UInt8] {
        pack(septets[...], fillBits: fillBits)
    }

    public static func pack(_ septets: ArraySlice<UInt8>, fillBits: Int = 0) -> [UInt8] {
        let totalBits = fillBits + septets.count * 7
        var out = [UInt8](repeating: 0, count: (totalBits + 7) / 8)
        var bit = fillBits
        for septet in septets {
            let index = bit >> 3
            let shift = bit & 7
            out[index] |= UInt8(truncatingIfNeeded: UInt16(septet & 0x7F) << shift)
            if shift > 1 { out[index + 1] |= (septet & 0x7F) >> (8 - shift) }
            bit += 7
        }
        return out
    }

    public static func unpack(_ bytes: [UInt8], count: Int, fillBits: Int = 0) -> [UInt8] {
        var septets: [UInt8] = []
        septets.reserveCapacity(count)
        var bit = fillBits
        for _ in 0..<count {
            let index = bit >> 3
            let shift = bit & 7
            var value = UInt16(bytes[index]) >> shift
            if shift > 1, index + 1 < bytes.count { value |= UInt16(bytes[index + 1]) << (8 - shift) }
            septets.append(UInt8(value & 0x7F))
            bit += 7
        }
        return septets
    }

    /// Decodes septets back to text (default alphabet and extension table).
    public static func decode(_ septets: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        var escaped = false
        for septet in septets {
            if escaped {
                escaped = false
                if let entry = GSM7Alphabet.extensionTable.first(where: { $0.septet == septet }) {
                    scalars.append(entry.scalar)
                } else {
                    scalars.append(GSM7Alphabet.basic[Int(septet)])  // 23.038: unknown extension → basic char
                }
            } else if septet == GSM7Alphabet.escape {
                escaped = true
            } else {
                scalars.append(GSM7Alphabet.basic[Int(septet)])
            }
        }
        return String(scalars)
    }
}
