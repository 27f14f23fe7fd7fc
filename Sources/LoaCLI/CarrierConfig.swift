import Foundation
import LoaCore
import LoaCrypto
import LoaCarriers
import LoaStore

/// A carrier gateway file (carriers/*.yaml). This part reads what targeting needs: the carrier
/// and where its pseudonym key comes from. Secrets are never inline: `env:` or `file:` only.
struct CarrierConfig {
    var carrier: Carrier
    var displayName: String
    var mccMnc: String
    var keySource: KeySource?
    var path: String
    var root: SourceNode

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
                             mccMnc: scalar(root["mcc_mnc"]) ?? "", keySource: source, path: path, root: root)
    }

    /// Where the pseudonym key should come from, for messages ("the environment variable LOA_KEY_VIETTEL").
    var keyDescription: String {
        switch keySource {
        case .environment(let name)?: "the environment variable \(name) (named in \(path)), which is not set"
        case .file(let file)?: "the key file \(file) (named in \(path))"
        case nil: "\(path) names no pseudonym_key"
        }
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

    /// The gateway part (protocol, endpoint, rates, retries, secrets from the environment).
    /// - Parameter requireSecrets: sending needs them; the simulator and checks may go without.
    func gateway(requireSecrets: Bool = true) throws -> CarrierGateway {
        func scalar(_ node: SourceNode?) -> String? { if case .scalar(let s, _)? = node { return s }; return nil }
        func fail(_ node: SourceNode?, _ field: String, _ message: String) -> CLIError {
            CLIError("\(path):\(node?.position ?? root.position): error: \(field): \(message)")
        }
        func int(_ field: String, _ range: ClosedRange<Int>, default value: Int? = nil) throws -> Int {
            guard let s = scalar(root[field]) else {
                if let value { return value }
                throw fail(root, field, "missing (required)")
            }
            guard let v = Int(s), range.contains(v) else {
                throw fail(root[field], field, "expected a whole number from \(formatCount(range.lowerBound)) to \(formatCount(range.upperBound)), found '\(Escaped(s))'")
            }
            return v
        }
        func seconds(_ node: SourceNode?, _ field: String, default value: Double, _ range: ClosedRange<Int64> = 1...3600) throws -> Double {
            guard let s = scalar(node) else { return value }
            guard let v = Duration8601.parseSeconds(s), range.contains(v) else {
                throw fail(node, field, "expected a duration from \(Duration8601.format(range.lowerBound)) to \(Duration8601.format(range.upperBound)) such as 10s or 5m, found '\(Escaped(s))'")
            }
            return Double(v)
        }
        func secret(_ field: String) throws -> [UInt8]? {
            guard let env = scalar(root[field]) else { return nil }
            guard let value = ProcessInfo.processInfo.environment[env], !value.isEmpty else {
                if requireSecrets { throw fail(root[field], field, "the environment variable \(env) is not set") }
                return nil
            }
            return Array(value.utf8)
        }
        guard let proto = scalar(root["protocol"]) else { throw fail(root, "protocol", "missing (required): batch-http or kannel") }
        guard let wire = CarrierGateway.WireProtocol(rawValue: proto) else { throw fail(root["protocol"], "protocol", "expected batch-http or kannel, found '\(proto)'") }
        guard let endpoint = scalar(root["endpoint"]), endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw fail(root["endpoint"] ?? root, "endpoint", "expected the gateway's base URL (http:// or https://)")
        }
        var window: DailyWindow? = nil
        if let w = scalar(root["window"]) {
            guard let parsed = DailyWindow(w) else { throw fail(root["window"], "window", "expected HH:MM-HH:MM, found '\(w)'") }
            window = parsed
        }
        let retryNode = root["retry"]
        var retry = RetryPolicy()
        if let retryNode {
            retry.initialDelay = try seconds(retryNode["initial"], "retry.initial", default: 1, 1...600)
            retry.maxDelay = try seconds(retryNode["max"], "retry.max", default: 60, 1...3600)
            if let m = scalar(retryNode["multiplier"]) {
                guard let v = Double(m), (1...10).contains(v) else { throw fail(retryNode["multiplier"], "retry.multiplier", "expected a number from 1 to 10, found '\(Escaped(m))'") }
                retry.multiplier = v
            }
            if retryNode["attempts"] != nil {
                throw fail(retryNode["attempts"], "retry.attempts", "no longer used: loa never gives up on a transient failure; it retries until the campaign ends (remove this field)")
            }
        }
        let timeout = try seconds(root["timeout"], "timeout", default: 10, 1...300)
        var token: String? = nil
        if let env = scalar(root["credentials"]?["token_env"]), let v = ProcessInfo.processInfo.environment[env], !v.isEmpty { token = v }
        let tls = root["tls"]
        var kannel: KannelProtocol.Settings? = nil
        if wire == .kannel {
            func env(_ field: String) throws -> String {
                guard let name = scalar(root["credentials"]?[field]) else { throw fail(root["credentials"] ?? root, "credentials.\(field)", "missing: Kannel's sendsms user needs it") }
                guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
                    if requireSecrets { throw fail(root["credentials"]?[field], "credentials.\(field)", "the environment variable \(name) is not set") }
                    return ""
                }
                return v
            }
            kannel = KannelProtocol.Settings(sendsmsURL: endpoint, username: try env("username_env"), password: try env("password_env"), dlrBase: scalar(root["dlr_base"]))
        }
        var gateway = CarrierGateway(carrier: carrier, displayName: displayName, protocolKind: wire, endpoint: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint,
                              tps: try int("tps", 1...100_000), maxBatch: try int("max_batch", 1...100_000),
                              dailyQuota: try int("daily_quota", 1...1_000_000_000, default: 10_000_000),
                              window: window, retry: retry, timeout: timeout, token: token,
                              signingSecret: try secret("signing_secret_env"), receiptSecret: try secret("receipt_secret_env"),
                              client: .init(timeout: timeout, connectTimeout: min(timeout, 5), caFile: scalar(tls?["ca_file"]),
                                            clientCertificate: scalar(tls?["client_cert"]), clientKey: scalar(tls?["client_key"])))
        gateway.kannel = kannel
        gateway.pseudonymKey = try pseudonymizer()
        if root["concurrent_uploads"] != nil { gateway.concurrentUploads = try int("concurrent_uploads", 1...64) }
        if let v = scalar(root["signature_version"]) {
            switch v {
            case "2": gateway.signatureVersion = 2
            case "1":
                gateway.signatureVersion = 1
                printError("\(path): warning: signature_version 1 signs only the timestamp and the body: a captured upload's signature can be replayed under another key; ask the carrier for version 2")
            default: throw fail(root["signature_version"], "signature_version", "expected 1 or 2, found '\(Escaped(v))'")
            }
        }
        return gateway
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
