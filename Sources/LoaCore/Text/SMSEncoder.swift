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

    public var segments: Int { parts.count }
    public var measure: TextMeasure {
        TextMeasure(encoding: encoding, units: units, segments: parts.count, characters: text.unicodeScalars.count)
    }
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
            let normalized = NFC.normalize(text)
            if !normalized.utf8.elementsEqual(text.utf8) { scan = TextScan(normalized) }
        }
        return scan.measure
    }

    /// Encodes `text` into network parts.
    /// - Parameter reference: the 8-bit concatenation reference shared by the parts.
    ///   The caller owns the counter, so that parts of different messages to one phone differ.
    public static func encode(_ text: String, reference: UInt8 = 0) -> EncodedSMS {
        var scan = TextScan(text)
        var normalized = text
        var changed = false
        if scan.mayNeedNFC {
            normalized = NFC.normalize(text)
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
                          parts: parts, normalizationChanged: changed)
    }

    /// The concatenation header for part `number` of `total`.
    public static func concatenationHeader(reference: UInt8, total: Int, number: Int) -> [UInt8] {
        [0x05, 0x00, 0x03, reference, UInt8(truncatingIfNeeded: total), UInt8(truncatingIfNeeded: number)]
    }

    private static func gsm7Parts(_ text: String, segments: Int, reference: UInt8) -> [SMSPart] {
        let capacity = segments == 1 ? 160 : 153
        var parts: [SMSPart] = []
        parts.reserveCapacity(segments)
        var septets: [UInt8] = []
        septets.reserveCapacity(capacity)
        var partText = String.UnicodeScalarView()
        func flush() {
            let number = parts.count + 1
            let udh = segments == 1 ? [] : concatenationHeader(reference: reference, total: segments, number: number)
            let payload = GSM7Packing.pack(septets, fillBits: segments == 1 ? 0 : 1)
            parts.append(SMSPart(number: number, text: String(partText), units: septets.count, udh: udh, payload: payload))
            septets.removeAll(keepingCapacity: true)
            partText = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            // Every scalar is in the alphabet: the scan said GSM-7.
            let code = GSM7Alphabet.code(for: scalar)!
            if septets.count + code.septets > capacity { flush() }
            switch code {
            case .basic(let s): septets.append(s)
            case .extended(let s): septets.append(GSM7Alphabet.escape); septets.append(s)
            }
            partText.append(scalar)
        }
        flush()
        return parts
    }

    private static func ucs2Parts(_ text: String, segments: Int, reference: UInt8) -> [SMSPart] {
        let capacity = segments == 1 ? 70 : 67
        var parts: [SMSPart] = []
        parts.reserveCapacity(segments)
        var payload: [UInt8] = []
        payload.reserveCapacity(capacity * 2)
        var partText = String.UnicodeScalarView()
        func flush() {
            let number = parts.count + 1
            let udh = segments == 1 ? [] : concatenationHeader(reference: reference, total: segments, number: number)
            parts.append(SMSPart(number: number, text: String(partText), units: payload.count / 2, udh: udh, payload: payload))
            payload.removeAll(keepingCapacity: true)
            partText = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            let units = UTF16.encode(scalar)!
            if payload.count / 2 + units.count > capacity { flush() }
            for unit in units {
                payload.append(UInt8(unit >> 8))
                payload.append(UInt8(unit & 0xFF))
            }
            partText.append(scalar)
        }
        flush()
        return parts
    }
}

/// Septet packing (3GPP TS 23.038 §6.1.2.1.1): septets are packed least significant bit first;
/// after a UDH, fill bits align the first septet to a septet boundary.
public enum GSM7Packing {
    public static func pack(_ septets: [UInt8], fillBits: Int = 0) -> [UInt8] {
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
