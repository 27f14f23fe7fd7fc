import LoaCore

/// Minimal JSON for the CLI's line protocols: writing objects, and reading one JSON string per line.
/// Hand-written because `--batch` must stream millions of lines quickly.
struct JSONObject {
    private(set) var text = "{"
    private var first = true

    private mutating func key(_ k: String) {
        if !first { text += "," }
        first = false
        text += "\""
        text += k
        text += "\":"
    }

    mutating func add(_ k: String, _ v: String) { key(k); JSONText.appendString(v, to: &text) }
    mutating func add(_ k: String, _ v: String?) { if let v { add(k, v) } else { key(k); text += "null" } }
    mutating func add(_ k: String, _ v: Int) { key(k); text += String(v) }
    mutating func add(_ k: String, _ v: Bool) { key(k); text += v ? "true" : "false" }
    mutating func add(_ k: String, object: JSONObject) { key(k); text += object.finished }
    mutating func add(_ k: String, strings: [String]) {
        key(k)
        text += "["
        for (i, s) in strings.enumerated() { if i > 0 { text += "," }; JSONText.appendString(s, to: &text) }
        text += "]"
    }
    mutating func add(_ k: String, objects: [JSONObject]) {
        key(k)
        text += "[" + objects.map(\.finished).joined(separator: ",") + "]"
    }

    var finished: String { text + "}" }
}

enum JSONText {
    static func appendString(_ s: String, to out: inout String) { out += JSONString.quoted(s) }

    enum DecodeError: Error, CustomStringConvertible {
        case notAString, badEscape, trailingCharacters, unterminated, controlCharacter
        var description: String {
            switch self {
            case .notAString: "expected a JSON string (the text in double quotes)"
            case .badEscape: "invalid escape sequence in JSON string"
            case .trailingCharacters: "characters after the JSON string"
            case .unterminated: "JSON string is not terminated"
            case .controlCharacter: "raw control character in JSON string (escape it, e.g. \\n)"
            }
        }
    }

    /// Decodes a line holding exactly one JSON string (surrounding spaces allowed).
    static func decodeString(_ line: Substring) throws(DecodeError) -> String {
        let bytes = Array(line.utf8)
        var i = 0
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
        guard i < bytes.count, bytes[i] == 0x22 else { throw .notAString }
        i += 1
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var closed = false
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x22 { closed = true; i += 1; break }
            if b < 0x20 { throw .controlCharacter }
            if b != 0x5C { out.append(b); i += 1; continue }
            guard i + 1 < bytes.count else { throw .unterminated }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var unit = try hex4(bytes, &i)
                var scalarValue = UInt32(unit)
                if (0xD800...0xDBFF).contains(unit) {
                    guard i + 1 < bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75 else { throw .badEscape }
                    i += 2
                    let low = try hex4(bytes, &i)
                    guard (0xDC00...0xDFFF).contains(low) else { throw .badEscape }
                    scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    unit = 0
                } else if (0xDC00...0xDFFF).contains(unit) {
                    throw .badEscape
                }
                guard let scalar = Unicode.Scalar(scalarValue) else { throw .badEscape }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw .badEscape
            }
        }
        guard closed else { throw .unterminated }
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
        guard i == bytes.count else { throw .trailingCharacters }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex4(_ bytes: [UInt8], _ i: inout Int) throws(DecodeError) -> UInt16 {
        guard i + 4 <= bytes.count else { throw .badEscape }
        var v: UInt16 = 0
        for k in 0..<4 {
            let c = bytes[i + k]
            let d: UInt16
            switch c {
            case 0x30...0x39: d = UInt16(c - 0x30)
            case 0x41...0x46: d = UInt16(c - 0x41 + 10)
            case 0x61...0x66: d = UInt16(c - 0x61 + 10)
            default: throw .badEscape
            }
            v = v << 4 | d
        }
        i += 4
        return v
    }
}
