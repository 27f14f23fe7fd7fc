/// A JSON value (RFC 8259), read strictly: what loa takes from a carrier must mean exactly one
/// thing, so anything the grammar does not allow (trailing commas, comments, single quotes, bare
/// words, invalid UTF-8, lone surrogates, nesting deeper than `maxDepth`) is an error, not a guess.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number as written (kept as text: ids must not lose digits through a Double).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order; a repeated key is an error when parsing.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var isNull: Bool { self == .null }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// Byte offset of the problem.
        public var offset: Int
        public var message: String
        public var description: String { "invalid JSON at byte \(offset + 1): \(message)" }
    }

    public static let maxDepth = 64

    /// Parses one JSON text (surrounding whitespace allowed, nothing else).
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> JSONValue {
        let array = Array(bytes)
        var reader = Reader(b: array)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.i == array.count else { throw ParseError(offset: reader.i, message: "unexpected text after the value") }
        return value
    }

    public static func parse(_ text: String) throws(ParseError) -> JSONValue { try parse(Array(text.utf8)) }

    struct Reader {
        let b: [UInt8]
        var i = 0

        func fail(_ message: String) -> ParseError { ParseError(offset: i, message: message) }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard depth < JSONValue.maxDepth else { throw fail("nested deeper than \(JSONValue.maxDepth) levels") }
            guard i < b.count else { throw fail("expected a value, found the end") }
            switch b[i] {
            case 0x7B: return try object(depth: depth)
            case 0x5B: return try array(depth: depth)
            case 0x22: return .string(try string())
            case 0x74: try literal("true"); return .bool(true)
            case 0x66: try literal("false"); return .bool(false)
            case 0x6E: try literal("null"); return .null
            case 0x2D, 0x30...0x39: return .number(try number())
            default: throw fail("expected a value")
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let n = word.utf8CodeUnitCount
            guard i + n <= b.count else { throw fail("expected \(word)") }
            let matches = word.withUTF8Buffer { w in (0..<n).allSatisfy { b[i + $0] == w[$0] } }
            guard matches else { throw fail("expected \(word)") }
            i += n
        }

        mutating func object(depth: Int) throws(ParseError) -> JSONValue {
            i += 1
            var members: [(String, JSONValue)] = []
            var keys = Set<String>()
            skipSpace()
            if i < b.count && b[i] == 0x7D { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == 0x22 else { throw fail("expected a member name in double quotes") }
                let keyAt = i
                let key = try string()
                guard keys.insert(key).inserted else { throw ParseError(offset: keyAt, message: "member \"\(key)\" appears twice") }
                skipSpace()
                guard i < b.count, b[i] == 0x3A else { throw fail("expected ':' after a member name") }
                i += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < b.count else { throw fail("unterminated object") }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x7D { i += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(ParseError) -> JSONValue {
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < b.count && b[i] == 0x5D { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw fail("unterminated array") }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x5D { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func number() throws(ParseError) -> String {
            let start = i
            if b[i] == 0x2D { i += 1 }
            func digits(_ r: inout Reader) -> Int {
                let s = r.i
                while r.i < r.b.count, (0x30...0x39).contains(r.b[r.i]) { r.i += 1 }
                return r.i - s
            }
            guard i < b.count, (0x30...0x39).contains(b[i]) else { throw fail("expected a digit") }
            if b[i] == 0x30 { i += 1 } else { _ = digits(&self) }
            if i < b.count, b[i] == 0x2E {
                i += 1
                guard digits(&self) > 0 else { throw fail("expected a digit after '.'") }
            }
            if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
                i += 1
                if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
                guard digits(&self) > 0 else { throw fail("expected a digit in the exponent") }
            }
            return String(decoding: b[start..<i], as: UTF8.self)
        }

        mutating func string() throws(ParseError) -> String {
            i += 1
            var out: [UInt8] = []
            var plainStart = i
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                if c == 0x22 {
                    out.append(contentsOf: b[plainStart..<i])
                    i += 1
                    break
                }
                if c < 0x20 { throw fail("control character in a string (escape it)") }
                if c == 0x5C {
                    out.append(contentsOf: b[plainStart..<i])
                    switch JSONString.decodeEscape(b, at: &i, into: &out) {
                    case nil: break
                    case .unterminated: throw fail("unterminated escape")
                    case .notHex: throw fail("expected 4 hex digits after \\u")
                    case .highSurrogateAlone: throw fail("a high surrogate without its low half")
                    case .lowSurrogateAlone: throw fail("a lone low surrogate")
                    case .unknown(let e): throw fail("unknown escape \\\(Character(Unicode.Scalar(e)))")
                    }
                    plainStart = i
                    continue
                }
                i += 1
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
            return s
        }
    }
}
