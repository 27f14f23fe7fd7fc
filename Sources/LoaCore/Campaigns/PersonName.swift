/// A person named in the audit trail (`--as NAME`), until real users and roles replace free text.
/// NFC, without surrounding spaces, at most 64 characters, no control or invisible characters (a
/// zero-width space must not make the drafter look like someone else); two names are the same
/// person when they match ignoring case.
public struct PersonName: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong(Int)
        case hidden(Unicode.Scalar)
        public var description: String {
            switch self {
            case .empty: "a name must not be empty"
            case .tooLong(let n): "a name has at most 64 characters (this one has \(n))"
            case .hidden(let s): "a name must not hold control or invisible characters (found U+\(String(s.value, radix: 16, uppercase: true)))"
            }
        }
    }

    public init(_ raw: String) throws(Problem) {
        let s = NFC.normalize(raw).trimmingCharacters()
        if s.isEmpty { throw .empty }
        if let bad = s.unicodeScalars.first(where: { Escaped.isHidden($0) || $0.properties.generalCategory == .format }) { throw .hidden(bad) }
        if s.count > 64 { throw .tooLong(s.count) }
        text = s
    }

    /// The form compared to tell people apart: case-folded.
    public var folded: String { text.lowercased() }

    public static func == (a: PersonName, b: PersonName) -> Bool { a.folded == b.folded }
    public func hash(into hasher: inout Hasher) { hasher.combine(folded) }
    public var description: String { text }
}
