/// JSON string literals (RFC 8259): '"', '\' and control characters escaped, everything else as
/// UTF-8. The same text is a valid YAML double-quoted scalar.
public enum JSONString {
    /// Appends `s` as a quoted JSON string to a byte buffer.
    public static func append(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { append(utf8: $0, to: &out) }
    }

    /// `s` as a quoted JSON string.
    public static func quoted(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + s + "\"" }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 8)
        append(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// What is wrong with a backslash escape in a JSON string.
    public enum EscapeProblem: Error, Equatable {
        case unterminated, unknown(UInt8), notHex, highSurrogateAlone, lowSurrogateAlone
    }

    /// Decodes the escape whose backslash is at `i` in `b`, appending its UTF-8 to `out`: `\"
    /// \\ \/ \b \f \n \r \t` and `\uXXXX` (a surrogate pair joined). `i` moves past it.
    @inline(__always)
    public static func decodeEscape<C: RandomAccessCollection<UInt8>>(_ b: C, at i: inout Int, into out: inout [UInt8]) -> EscapeProblem? where C.Index == Int {
        let n = b.endIndex
        @inline(__always) func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= n else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                let c = b[k]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: return nil
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        guard i + 1 < n else { return .unterminated }
        let e = b[i + 1]
        i += 2
        switch e {
        case 0x22, 0x5C, 0x2F: out.append(e)
        case 0x62: out.append(0x08)
        case 0x66: out.append(0x0C)
        case 0x6E: out.append(0x0A)
        case 0x72: out.append(0x0D)
        case 0x74: out.append(0x09)
        case 0x75:
            guard var v = hex4(i) else { return .notHex }
            i += 4
            if (0xD800...0xDBFF).contains(v) {
                guard i + 1 < n, b[i] == 0x5C, b[i + 1] == 0x75 else { return .highSurrogateAlone }
                guard let low = hex4(i + 2) else { return .notHex }
                guard (0xDC00...0xDFFF).contains(low) else { return .highSurrogateAlone }
                v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                i += 6
            } else if (0xDC00...0xDFFF).contains(v) {
                return .lowSurrogateAlone
            }
            appendUTF8(v, to: &out)
        default:
            return .unknown(e)
        }
        return nil
    }

    /// Decodes the inside of a JSON string (the bytes between its quotes) into `out`. False, with
    /// `out` in any state, for anything a strict reader would refuse (a raw quote or control
    /// byte, a bad escape): the caller then asks the full reader for the reason.
    public static func unescape(_ body: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        var i = 0
        while i < body.count {
            let b = body[i]
            if b == 0x22 || b < 0x20 { return false }
            if b != 0x5C { out.append(b); i += 1; continue }
            if decodeEscape(body, at: &i, into: &out) != nil { return false }
        }
        return true
    }

    @inline(__always)
    static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800: out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | (v >> 6) & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | (v >> 12) & 0x3F))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// Appends bytes that are already UTF-8 as a quoted JSON string (the same escapes as `append`).
    public static func append(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        if !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append(contentsOf: bytes)
            out.append(0x22)
            return
        }
        for b in bytes {
            if b >= 0x20 && b != 0x22 && b != 0x5C { out.append(b); continue }
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            default: out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigit(b >> 4), hexDigit(b & 0xF)])
            }
        }
        out.append(0x22)
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x61 + v - 10 }
}
