/// Decoding bytes that are not UTF-8: legacy documents saved as Windows-1252 (what a TCVN3 or
/// VNI file is, byte for byte).
public enum Windows1252 {
    static let high: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    public static func decode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for b in bytes {
            if b >= 0x80 && b < 0xA0 { out.append(Unicode.Scalar(high[Int(b - 0x80)])!) } else { out.append(Unicode.Scalar(b)) }
        }
        return String(out)
    }

    /// UTF-8 when the bytes are valid UTF-8 (a BOM is dropped), else Windows-1252.
    public static func decodeText(_ bytes: [UInt8]) -> (text: String, wasUTF8: Bool) {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        if let s = String(validating: body, as: UTF8.self) { return (s, true) }
        return (decode(body), false)
    }
}
