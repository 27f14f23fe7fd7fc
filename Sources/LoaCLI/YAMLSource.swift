import Foundation
import LoaCore
import Yams

/// Reads a YAML file into the core's positioned `SourceNode`, with YAML syntax errors reported as
/// file:line:column.
enum YAMLSource {
    static func load(path: String) throws -> SourceNode {
        let bytes = try readFileBytes(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CLIError("\(path): not UTF-8 text (save it as UTF-8; `loa text convert` converts TCVN3/VNI text)")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws -> SourceNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: NFC.normalize(text))
        } catch let error as YamlError {
            throw CLIError(describe(error, file: file))
        }
        guard let node else { throw CLIError("\(file): the file is empty") }
        return convert(node)
    }

    static func describe(_ error: YamlError, file: String) -> String {
        switch error {
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

    static func convert(_ node: Node) -> SourceNode {
        switch node {
        case .scalar(let s):
            if s.style == .plain && (s.string == "~" || s.string == "null" || s.string.isEmpty) { return .null(position(s.mark)) }
            return .scalar(s.string, position(s.mark))
        case .sequence(let seq):
            return .sequence(seq.map(convert), position(seq.mark))
        case .mapping(let map):
            return .mapping(map.map { (key: $0.key.string ?? "\($0.key)", keyPosition: position($0.key.mark), value: convert($0.value)) }, position(map.mark))
        case .alias(let alias):
            return .null(position(alias.mark))
        }
    }
}
