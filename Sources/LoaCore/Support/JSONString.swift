/// JSON string literals (RFC 8259): '"', '\' and control characters escaped, everything else as
/// UTF-8. The same text is a valid YAML double-quoted scalar.
public enum JSONString {
    /// Appends `s` as a quoted JSON string to a byte buffer.
    public static func append(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0..<0x20:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigit(b >> 4), hexDigit(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// `s` as a quoted JSON string.
    public static func quoted(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + s + "\"" }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 8)
        append(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x61 + v - 10 }
}
