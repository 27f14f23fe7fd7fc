import Foundation
import LoaCore
import LoaOperations

/// The province's policy file (`--policy FILE`, `$LOA_POLICY`, or `./policy.yaml` when present;
/// ops/policy.example.yaml shows it). Today it holds the emergency approval rule:
///
///     emergency:
///       single_approval: true          # one approver sends an emergency at once, even their own
///       second_approval_within: 30m    # a second approver confirms within this, or sending stops
struct PolicyFile {
    var emergency: EmergencyApproval?
    var path: String?

    static func load(_ explicit: String?) throws -> PolicyFile {
        let env = ProcessInfo.processInfo.environment["LOA_POLICY"].flatMap { $0.isEmpty ? nil : $0 }
        guard let path = explicit ?? env ?? (FileManager.default.fileExists(atPath: "policy.yaml") ? "policy.yaml" : nil) else { return PolicyFile() }
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(path): no policy file here (--policy or LOA_POLICY)") }
        let root = try YAMLSource.load(path: path)
        func fail(_ node: SourceNode?, _ field: String, _ message: String) -> CLIError {
            CLIError("\(path):\(node?.position ?? root.position): error: \(field): \(message)")
        }
        guard case .mapping(let entries, _) = root else { throw fail(root, "(document)", "expected a mapping with emergency:") }
        for e in entries where e.key != "emergency" { throw CLIError("\(path):\(e.keyPosition): error: \(e.key): unknown field (expected emergency)") }
        var policy = PolicyFile(path: path)
        guard let em = root["emergency"] else { return policy }
        guard case .mapping(let inner, _) = em else { throw fail(em, "emergency", "expected single_approval: and second_approval_within:") }
        for e in inner where !["single_approval", "second_approval_within"].contains(e.key) {
            throw CLIError("\(path):\(e.keyPosition): error: emergency.\(e.key): unknown field (expected single_approval, second_approval_within)")
        }
        guard case .scalar(let single, _)? = em["single_approval"] else { return policy }
        switch single.lowercased() {
        case "false": return policy
        case "true": break
        default: throw fail(em["single_approval"], "emergency.single_approval", "expected true or false, found '\(Escaped(single))'")
        }
        guard case .scalar(let within, _)? = em["second_approval_within"], let seconds = Duration8601.parseSeconds(within),
              (60...86_400).contains(seconds) else {
            throw fail(em["second_approval_within"] ?? em, "emergency.second_approval_within",
                       "a single approval needs a deadline for the second one, from 1m to 24h (e.g. 30m)")
        }
        policy.emergency = EmergencyApproval(window: seconds)
        return policy
    }
}
