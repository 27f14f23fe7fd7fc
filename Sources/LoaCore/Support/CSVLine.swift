/// Splitting one CSV line: one set of rules for every file loa reads (RFC 4180 quoting). A
/// quoted field may hold commas and doubled quotes (`""`); spaces and tabs around a field are
/// not part of it; a quote inside an unquoted field, or text after a closing quote, is an error.
public enum CSVLine {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unterminatedQuote
        case textAfterClosingQuote
        case quoteInsideField
        public var description: String {
            switch self {
            case .unterminatedQuote: "a quoted field is not closed"
            case .textAfterClosingQuote: "text after a closing quote (write \"\" for a quote inside a quoted field)"
            case .quoteInsideField: "a quote inside a field that does not start with one (quote the whole field, and write \"\" for the quote)"
            }
        }
    }

    /// One field of a line: its bytes' range, and whether it holds doubled quotes to undo.
    public struct Field: Sendable, Equatable {
        public var range: Range<Int>
        public var hasEscapedQuotes: Bool
    }

    /// Splits a line's bytes into fields without copying them (bulk imports).
    public static func split(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [Field]) throws(Problem) {
        fields.removeAll(keepingCapacity: true)
        let n = line.count
        var i = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }
        while true {
            while i < n && isSpace(line[i]) { i += 1 }
            if i < n && line[i] == 0x22 {
                let start = i + 1
                var j = start, escaped = false
                while true {
                    guard j < n else { throw .unterminatedQuote }
                    if line[j] == 0x22 {
                        if j + 1 < n && line[j + 1] == 0x22 { escaped = true; j += 2; continue }
                        break
                    }
                    j += 1
                }
                fields.append(Field(range: start..<j, hasEscapedQuotes: escaped))
                i = j + 1
                while i < n && isSpace(line[i]) { i += 1 }
                if i == n { return }
                guard line[i] == 0x2C else { throw .textAfterClosingQuote }
                i += 1
            } else {
                let start = i
                while i < n && line[i] != 0x2C {
                    if line[i] == 0x22 { throw .quoteInsideField }
                    i += 1
                }
                var end = i
                while end > start && isSpace(line[end - 1]) { end -= 1 }
                fields.append(Field(range: start..<end, hasEscapedQuotes: false))
                if i == n { return }
                i += 1
            }
        }
    }

    /// A field's text (doubled quotes undone). Bytes that are not UTF-8 are replaced; importers
    /// reject such lines before they get here.
    public static func text(_ field: Field, in line: UnsafeBufferPointer<UInt8>) -> String {
        let raw = String(decoding: UnsafeBufferPointer(rebasing: line[field.range]), as: UTF8.self)
        return field.hasEscapedQuotes ? undoubled(raw) : raw
    }

    static func undoubled(_ s: String) -> String {
        var out = ""
        var previousQuote = false
        for ch in s {
            if ch == "\"" && previousQuote { previousQuote = false; continue }
            previousQuote = ch == "\""
            out.append(ch)
        }
        return out
    }

    /// Splits a line of text (fields trimmed of surrounding spaces, quotes undone).
    public static func split(_ line: Substring) throws(Problem) -> [String] {
        let bytes = Array(line.utf8)
        var fields: [Field] = []
        return try bytes.withUnsafeBufferPointer { (b) throws(Problem) -> [String] in
            try split(b, into: &fields)
            return fields.map { text($0, in: b) }
        }
    }

    /// A CSV file for Excel: UTF-8 with a byte-order mark (so that it shows diacritics) and CRLF
    /// line ends; `field` writes each cell.
    public static func document(_ rows: [[String]], field: (String) -> String = CSVLine.field) -> [UInt8] {
        [0xEF, 0xBB, 0xBF] + Array((rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// A field of text that people typed (names): one that Excel would run as a formula
    /// (`=`, `+`, `-`, `@` first) is written as text, with an apostrophe; then quoted when needed.
    public static func textField(_ s: String) -> String {
        field(s.first.map { "=+-@".contains($0) } == true ? "'" + s : s)
    }

    /// Quotes a field when it needs it: a comma, quote or line end inside, or a space or tab at
    /// either end (which a reader trims from an unquoted field; found by fuzzing).
    public static func field(_ s: String) -> String {
        let padded = s.unicodeScalars.first.map { $0 == " " || $0 == "\t" } == true || s.unicodeScalars.last.map { $0 == " " || $0 == "\t" } == true
        if padded || s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
        }
        return s
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}
