import Foundation
import LoaCore
import LoaStore

/// A carrier gateway file (carriers/*.yaml). This part reads what targeting needs: the carrier
/// and where its pseudonym key comes from. Secrets are never inline: `env:` or `file:` only.
struct CarrierConfig {
    var carrier: Carrier
    var displayName: String
    var mccMnc: String
    var keySource: KeySource?
    var path: String

    enum KeySource {
        case environment(String)
        case file(String)
    }

    static func load(_ path: String) throws -> CarrierConfig {
        let root = try YAMLSource.load(path: path)
        func scalar(_ node: SourceNode?) -> String? { if case .scalar(let s, _)? = node { return s }; return nil }
        func fail(_ node: SourceNode?, _ field: String, _ message: String) -> CLIError {
            CLIError("\(path):\(node?.position ?? root.position): error: \(field): \(message)")
        }
        guard let name = scalar(root["name"]) else { throw fail(root, "name", "missing (required): the carrier id, e.g. viettel") }
        guard let carrier = Carrier(name: name) else {
            throw fail(root["name"], "name", "unknown carrier '\(name)' (expected one of \(Carrier.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var source: KeySource? = nil
        if let key = root["pseudonym_key"] {
            if let env = scalar(key["env"]) { source = .environment(env) }
            else if let file = scalar(key["file"]) { source = .file(file) }
            else if case .scalar = key { throw fail(key, "pseudonym_key", "never write a key inline: use env: VARIABLE or file: /path/outside/the/repo") }
            else { throw fail(key, "pseudonym_key", "expected env: VARIABLE or file: PATH") }
        }
        return CarrierConfig(carrier: carrier, displayName: scalar(root["display_name"]) ?? name,
                             mccMnc: scalar(root["mcc_mnc"]) ?? "", keySource: source, path: path)
    }

    /// The carrier's pseudonym key: hex (at least 32 digits) from the environment or a file.
    func pseudonymizer() throws -> KeyedPseudonymizer? {
        guard let keySource else { return nil }
        let raw: String
        switch keySource {
        case .environment(let name):
            guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
            raw = v
        case .file(let file):
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("\(path): pseudonym key file \(file) cannot be read") }
            raw = String(decoding: data, as: UTF8.self)
        }
        let hex = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard hex.count >= 32, hex.count % 2 == 0, let bytes = Self.hexBytes(hex) else {
            throw CLIError("\(path): the pseudonym key for \(carrier.rawValue) must be hex, at least 32 digits (16 bytes)")
        }
        return try KeyedPseudonymizer(key: bytes)
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        var chars = Array(s.utf8)[...]
        while chars.count >= 2 {
            guard let b = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
            chars = chars.dropFirst(2)
        }
        return out
    }

    /// Every carrier file in a directory, keyed by carrier.
    static func loadAll(directory: String) throws -> [Carrier: CarrierConfig] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        var out: [Carrier: CarrierConfig] = [:]
        for f in files {
            let c = try load((directory as NSString).appendingPathComponent(f))
            out[c.carrier] = c
        }
        return out
    }

    static func keys(_ configs: [Carrier: CarrierConfig]) throws -> [Carrier: KeyedPseudonymizer] {
        var out: [Carrier: KeyedPseudonymizer] = [:]
        for (carrier, config) in configs { if let k = try config.pseudonymizer() { out[carrier] = k } }
        return out
    }
}
