import Foundation
import LoaCore
import Yams

/// Reads a YAML file into the core's positioned `SourceNode`, with YAML syntax errors reported as
/// file:line:column.
public enum YAMLSource {
    /// Campaign and carrier files are small: anything larger is not one.
    static let maxFileSize = 1 << 20
    /// Nodes after aliases are followed: a few aliases nested in each other ("billion laughs")
    /// would otherwise expand to billions of nodes from a few hundred bytes.
    static let maxNodes = 100_000

    public static func load(path: String) throws -> SourceNode { try loadWithBytes(path: path).root }

    /// The document and the bytes it was read from (whoever pins a file's SHA-256 hashes exactly
    /// what was checked, not the file read again).
    public static func loadWithBytes(path: String) throws -> (root: SourceNode, bytes: [UInt8]) {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size > maxFileSize { throw OperationError(.notReadable, "\(path): error: \(size / 1024) KiB is too large for a campaign or carrier file (at most \(maxFileSize / 1024) KiB)") }
        let bytes = try readFileBytes(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw OperationError(.notReadable, "\(path): not UTF-8 text (save it as UTF-8; `loa text convert` converts TCVN3/VNI text)")
        }
        return (try parse(text, file: path), bytes)
    }

    public static func parse(_ text: String, file: String) throws -> SourceNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: NFC.normalize(text))
        } catch let error as YamlError {
            throw OperationError(.notReadable, describe(error, file: file))
        }
        guard let node else { throw OperationError(.notReadable, "\(file): the file is empty") }
        var budget = maxNodes
        guard let converted = convert(node, budget: &budget) else {
            throw OperationError(.notReadable, "\(file): error: YAML: more than \(formatCount(maxNodes)) values once its aliases (*name) are followed; a campaign file has far fewer (an alias bomb?)")
        }
        return converted
    }

    static func describe(_ error: YamlError, file: String) -> String {
        switch error {
        case .duplicatedKeysInMapping(let keys, let context):
            // Point at the repeat: the same key again at the first one's column, further down.
            let first = context.mark
            let key = keys.sorted().first ?? ""
            let lines = context.text.split(separator: "\n", omittingEmptySubsequences: false)
            var at = "\(first.line):\(first.column)"
            for (i, line) in lines.enumerated() where i + 1 > first.line {
                let indent = line.prefix { $0 == " " }.count
                if indent + 1 == first.column, line.dropFirst(indent).hasPrefix(key + ":") || line.dropFirst(indent).hasPrefix("\"\(key)\":") {
                    at = "\(i + 1):\(indent + 1)"
                    break
                }
            }
            return "\(file):\(at): error: \(Escaped(key)): this key appears twice in the same mapping (first at \(first.line):\(first.column))"
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(file):\(mark.line):\(mark.column): error: YAML: \(problem)"
        case .reader(let problem, _, _, _):
            return "\(file): error: YAML: \(problem)"
        default:
            return "\(file): error: YAML: \(error)"
        }
    }

    static func position(_ mark: Mark?) -> SourcePosition {
        SourcePosition(line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// nil when the document has more than `budget` nodes.
    static func convert(_ node: Node, budget: inout Int) -> SourceNode? {
        budget -= 1
        if budget < 0 { return nil }
        switch node {
        case .scalar(let s):
            if s.style == .plain && (s.string == "~" || s.string == "null" || s.string.isEmpty) { return .null(position(s.mark)) }
            return .scalar(s.string, position(s.mark))
        case .sequence(let seq):
            var items: [SourceNode] = []
            for item in seq { guard let c = convert(item, budget: &budget) else { return nil }; items.append(c) }
            return .sequence(items, position(seq.mark))
        case .mapping(let map):
            var entries: [(key: String, keyPosition: SourcePosition, value: SourceNode)] = []
            for pair in map {
                guard let value = convert(pair.value, budget: &budget) else { return nil }
                entries.append((key: pair.key.string ?? "\(pair.key)", keyPosition: position(pair.key.mark), value: value))
            }
            return .mapping(entries, position(map.mark))
        case .alias(let alias):
            return .null(position(alias.mark))
        }
    }
}

/// A file's bytes, or an error that says why they cannot be read.
public func readFileBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            throw OperationError(.notReadable, isDir.boolValue ? "\(path): is a directory, expected a file" : "\(path): cannot read (permission denied?)")
        }
        throw OperationError(.notReadable, "\(path): no such file")
    }
    return [UInt8](data)
}
