/// Splitting one CSV line (RFC 4180 quoting; a quoted field may hold commas and doubled quotes).
public enum CSVLine {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unterminatedQuote
        case textAfterClosingQuote
        public var description: String {
            switch self {
            case .unterminatedQuote: "a quoted field is not closed"
            case .textAfterClosingQuote: "text after a closing quote (write \"\" for a quote inside a quoted field)"
            }
        }
    }

    public static func split(_ line: Substring) throws(Problem) -> [String] {
        var fields: [String] = []
        var current = ""
        var inQuotes = false
        var afterQuote = false
        var iterator = line.makeIterator()
        while let ch = iterator.next() {
            if inQuotes {
                if ch == "\"" { inQuotes = false; afterQuote = true } else { current.append(ch) }
            } else if ch == "," {
                fields.append(current)
                current = ""
                afterQuote = false
            } else if ch == "\"" {
                if afterQuote { current.append("\""); inQuotes = true; afterQuote = false }
                else if current.isEmpty { inQuotes = true }
                else { throw .textAfterClosingQuote }
            } else if ch == "\r" {
                continue
            } else {
                if afterQuote { throw .textAfterClosingQuote }
                current.append(ch)
            }
        }
        if inQuotes { throw .unterminatedQuote }
        fields.append(current)
        return fields
    }

    /// Quotes a field when it needs it.
    public static func field(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
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
