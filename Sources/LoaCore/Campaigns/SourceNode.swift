/// A parsed configuration document with source positions, independent of the YAML library:
/// the CLI converts YAML into this so that the core can report file:line:column.
public struct SourcePosition: Equatable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public static func < (a: SourcePosition, b: SourcePosition) -> Bool { (a.line, a.column) < (b.line, b.column) }
    public var description: String { "\(line):\(column)" }
}

public indirect enum SourceNode: Sendable {
    case scalar(String, SourcePosition)
    case sequence([SourceNode], SourcePosition)
    case mapping([(key: String, keyPosition: SourcePosition, value: SourceNode)], SourcePosition)
    case null(SourcePosition)

    public var position: SourcePosition {
        switch self {
        case .scalar(_, let p), .sequence(_, let p), .mapping(_, let p), .null(let p): p
        }
    }

    public var kindName: String {
        switch self {
        case .scalar: "a single value"
        case .sequence: "a list"
        case .mapping: "a mapping (key: value lines)"
        case .null: "nothing"
        }
    }

    public subscript(key: String) -> SourceNode? {
        if case .mapping(let entries, _) = self { return entries.first(where: { $0.key == key })?.value }
        return nil
    }
}

/// One problem found in a file.
public struct Diagnostic: Equatable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    public var position: SourcePosition
    /// Dotted path of the field, e.g. `variants.sed.text`.
    public var field: String
    public var message: String

    public init(_ severity: Severity, at position: SourcePosition, field: String, _ message: String) {
        self.severity = severity
        self.position = position
        self.field = field
        self.message = message
    }

    public var description: String { "\(position): \(severity.rawValue): \(field): \(message)" }

    public func formatted(file: String) -> String { "\(file):\(description)" }
}
