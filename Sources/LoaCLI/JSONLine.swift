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
        case notAString
        case invalid(String)
        var description: String {
            switch self {
            case .notAString: "expected a JSON string (the text in double quotes)"
            case .invalid(let why): why
            }
        }
    }

    /// Decodes a line holding exactly one JSON string (surrounding spaces allowed), with the core's
    /// strict JSON reader.
    static func decodeString(_ line: Substring) throws(DecodeError) -> String {
        let value: JSONValue
        do { value = try JSONValue.parse(Array(line.utf8)) } catch { throw .invalid(error.description) }
        guard let s = value.stringValue else { throw .notAString }
        return s
    }
}
