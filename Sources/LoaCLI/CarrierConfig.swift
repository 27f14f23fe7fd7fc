import Foundation
import LoaCore
import LoaOperations
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
    /// Price per segment by encoding (`gsm7`, `ucs2`), in `currency` (reports' cost).
    var prices: [String: Double] = [:]
    var currency = "VND"

    enum KeySource {
        case environment(String)
        case file(String)
    }

    static let fields: [String: [String]] = [
        "": ["serialization_version", "name", "display_name", "mcc_mnc", "protocol", "endpoint", "tps", "max_batch", "daily_quota",
             "window", "timeout", "retry", "credentials", "signing_secret_env", "receipt_secret_env", "pseudonym_key", "tls",
             "dlr_base", "signature_version", "concurrent_uploads", "receipts", "prices", "voice"],
        "voice": ["channels", "calls_per_second", "ring_seconds", "audio_format"],
        "receipts": ["signature_version", "validity", "parts"],
        "prices": ["currency", "gsm7", "ucs2", "voice_per_minute"],
        "retry": ["initial", "multiplier", "max", "attempts"],
        "credentials": ["token_env", "username_env", "password_env"],
        "pseudonym_key": ["env", "file"],
        "tls": ["ca_file", "client_cert", "client_key"],
    ]

    /// Reads and checks a carrier file, reporting every problem in it at once as
    /// `file:line:column: error: field: …` (secrets are checked when sending: `gateway()`).
    static func load(_ path: String) throws -> CarrierConfig {
        let root = try YAMLSource.load(path: path)
        var problems = Problems(path: path, root: root)
        guard case .mapping(let entries, _) = root else {
            problems.add(root, "(document)", "expected a carrier mapping (name:, protocol:, endpoint:, …), found \(root.kindName)")
            throw problems.error!
        }
        for entry in entries where !fields[""]!.contains(entry.key) {
            problems.add(at: entry.keyPosition, entry.key, "unknown field (expected one of: \(fields[""]!.joined(separator: ", ")))")
        }
        for (section, allowed) in fields where !section.isEmpty {
            guard case .mapping(let inner, _)? = root[section] else { continue }
            for entry in inner where !allowed.contains(entry.key) {
                problems.add(at: entry.keyPosition, "\(section).\(entry.key)", "unknown field (expected one of: \(allowed.joined(separator: ", ")))")
            }
        }
        if let v = root["serialization_version"], problems.scalar(v) != "1" {
            problems.add(v, "serialization_version", "this loa reads version 1 carrier files, found '\(Escaped(problems.scalar(v) ?? v.kindName))'")
        }
        var carrier: Carrier? = nil
        if let name = problems.scalar(root["name"]) {
            carrier = Carrier(name: name)
            if carrier == nil {
                problems.add(root["name"], "name", "unknown carrier '\(Escaped(name))' (expected one of \(Carrier.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        } else {
            problems.add(root, "name", "missing (required): the carrier id, e.g. viettel")
        }
        var source: KeySource? = nil
        if let key = root["pseudonym_key"] {
            if let env = problems.scalar(key["env"]) { source = .environment(env) }
            else if let file = problems.scalar(key["file"]) { source = .file(file) }
            else if case .scalar = key { problems.add(key, "pseudonym_key", "never write a key inline: use env: VARIABLE or file: /path/outside/the/repo") }
            else { problems.add(key, "pseudonym_key", "expected env: VARIABLE or file: PATH") }
        }
        let unpriced = CarrierConfig(carrier: carrier ?? .viettel, displayName: problems.scalar(root["display_name"]) ?? problems.scalar(root["name"]) ?? "",
                                   mccMnc: problems.scalar(root["mcc_mnc"]) ?? "", keySource: source, path: path, root: root)
        var priced = unpriced
        if let p = root["prices"] {
            guard case .mapping = p else { problems.add(p, "prices", "expected gsm7: PRICE, ucs2: PRICE (per segment) and currency:"); throw problems.error! }
            // A voice message's "segments" are its billed minutes: voice_per_minute prices them.
            for (field, key) in [("gsm7", "gsm7"), ("ucs2", "ucs2"), ("voice_per_minute", "voice")] {
                guard let v = problems.scalar(p[field]) else { continue }
                if let price = Double(v), price >= 0, price.isFinite { priced.prices[key] = price }
                else { problems.add(p[field], "prices.\(field)", "expected a price per \(key == "voice" ? "call-minute" : "segment") (a number, 0 or more), found '\(Escaped(v))'") }
            }
            if let c = problems.scalar(p["currency"]) {
                if c.count == 3, c.allSatisfy({ $0.isASCII && $0.isUppercase }) { priced.currency = c }
                else { problems.add(p["currency"], "prices.currency", "expected an ISO 4217 code such as VND, found '\(Escaped(c))'") }
            }
        }
        let config = priced
        // Everything else in the file, without the secrets (read when sending). A file used only for
        // targeting may name just the carrier and its key; what sending needs is required then.
        _ = config.gatewayFields(&problems, requireSecrets: false, requireGateway: false)
        if let error = problems.error { throw error }
        return config
    }

    /// Problems found in a carrier file, reported together.
    struct Problems {
        let path: String
        let root: SourceNode
        var found: [(position: SourcePosition, line: String)] = []

        mutating func add(_ node: SourceNode?, _ field: String, _ message: String) {
            add(at: node?.position ?? root.position, field, message)
        }
        mutating func add(at position: SourcePosition, _ field: String, _ message: String) {
            found.append((position, "\(path):\(position): error: \(field): \(message)"))
        }
        func scalar(_ node: SourceNode?) -> String? { if case .scalar(let s, _)? = node { return s }; return nil }
        var error: CLIError? {
            guard !found.isEmpty else { return nil }
            let lines = found.enumerated().sorted { a, b in
                (a.element.position.line, a.element.position.column, a.offset) < (b.element.position.line, b.element.position.column, b.offset)
            }.map(\.element.line)
            return CLIError(lines.joined(separator: "\n") + (lines.count > 1 ? "\n\(path): \(lines.count) problems" : ""))
        }
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
        var problems = Problems(path: path, root: root)
        let gateway = gatewayFields(&problems, requireSecrets: requireSecrets, requireGateway: true)
        if let error = problems.error { throw error }
        guard var gateway else { throw CLIError("\(path): cannot be read as a carrier gateway") }
        gateway.pseudonymKey = try pseudonymizer()
        return gateway
    }

    /// Reads every gateway field, adding each problem to `problems`; nil when a required one is missing.
    func gatewayFields(_ problems: inout Problems, requireSecrets: Bool, requireGateway: Bool) -> CarrierGateway? {
        let root = self.root
        func scalar(_ node: SourceNode?) -> String? { problems.scalar(node) }
        func int(_ field: String, _ range: ClosedRange<Int>, default value: Int? = nil) -> Int? {
            guard let s = scalar(root[field]) else {
                if let node = root[field] { problems.add(node, field, "expected a whole number, found \(node.kindName)") }
                else if value == nil && requireGateway { problems.add(root, field, "missing (required)") }
                return value
            }
            guard let v = Int(s), range.contains(v) else {
                // A whole number out of range is shown as the number it is (a carrier file holds no
                // subscriber's number; masking it as one made "found '*******'" unreadable).
                let found = Int(s).map { formatCount($0) } ?? "\(Escaped(s))"
                problems.add(root[field], field, "expected a whole number from \(formatCount(range.lowerBound)) to \(formatCount(range.upperBound)), found '\(found)'")
                return value
            }
            return v
        }
        func seconds(_ node: SourceNode?, _ field: String, default value: Double, _ range: ClosedRange<Int64> = 1...3600) -> Double {
            guard let s = scalar(node) else { return value }
            guard let v = Duration8601.parseSeconds(s), range.contains(v) else {
                problems.add(node, field, "expected a duration from \(Duration8601.format(range.lowerBound)) to \(Duration8601.format(range.upperBound)) such as 10s or 5m, found '\(Escaped(s))'")
                return value
            }
            return Double(v)
        }
        func secret(_ field: String) -> [UInt8]? {
            guard let env = scalar(root[field]) else { return nil }
            guard let value = ProcessInfo.processInfo.environment[env], !value.isEmpty else {
                if requireSecrets { problems.add(root[field], field, "the environment variable \(env) is not set") }
                return nil
            }
            return Array(value.utf8)
        }
        var wire: CarrierGateway.WireProtocol? = nil
        if let proto = scalar(root["protocol"]) {
            wire = CarrierGateway.WireProtocol(rawValue: proto)
            if wire == nil { problems.add(root["protocol"], "protocol", "expected batch-http or kannel, found '\(Escaped(proto))'") }
        } else if requireGateway || root["protocol"] != nil {
            problems.add(root["protocol"] ?? root, "protocol", "missing (required): batch-http or kannel")
        }
        let endpoint = scalar(root["endpoint"]).flatMap { e in e.lowercased().hasPrefix("http://") || e.lowercased().hasPrefix("https://") ? e : nil }
        if endpoint == nil && (requireGateway || root["endpoint"] != nil) {
            problems.add(root["endpoint"] ?? root, "endpoint", "expected the gateway's base URL (http:// or https://)")
        }
        var window: DailyWindow? = nil
        if let w = scalar(root["window"]) {
            window = DailyWindow(w)
            if window == nil { problems.add(root["window"], "window", "expected HH:MM-HH:MM, found '\(Escaped(w))'") }
        }
        var retry = RetryPolicy()
        if let retryNode = root["retry"] {
            retry.initialDelay = seconds(retryNode["initial"], "retry.initial", default: 1, 1...600)
            retry.maxDelay = seconds(retryNode["max"], "retry.max", default: 60, 1...3600)
            if let m = scalar(retryNode["multiplier"]) {
                if let v = Double(m), (1...10).contains(v) { retry.multiplier = v }
                else { problems.add(retryNode["multiplier"], "retry.multiplier", "expected a number from 1 to 10, found '\(Escaped(m))'") }
            }
            if retryNode["attempts"] != nil {
                problems.add(retryNode["attempts"], "retry.attempts", "no longer used: loa never gives up on a transient failure; it retries until the campaign ends (remove this field)")
            }
        }
        let timeout = seconds(root["timeout"], "timeout", default: 10, 1...300)
        var token: String? = nil
        if let env = scalar(root["credentials"]?["token_env"]), let v = ProcessInfo.processInfo.environment[env], !v.isEmpty { token = v }
        let tls = root["tls"]
        var kannel: KannelProtocol.Settings? = nil
        if wire == .kannel, let endpoint {
            func env(_ field: String) -> String {
                guard let name = scalar(root["credentials"]?[field]) else {
                    problems.add(root["credentials"] ?? root, "credentials.\(field)", "missing: Kannel's sendsms user needs it")
                    return ""
                }
                guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
                    if requireSecrets { problems.add(root["credentials"]?[field], "credentials.\(field)", "the environment variable \(name) is not set") }
                    return ""
                }
                return v
            }
            kannel = KannelProtocol.Settings(sendsmsURL: endpoint, username: env("username_env"), password: env("password_env"), dlrBase: scalar(root["dlr_base"]))
        }
        let tps = int("tps", 1...100_000)
        let maxBatch = int("max_batch", 1...100_000)
        let dailyQuota = int("daily_quota", 1...1_000_000_000, default: 10_000_000)
        let signing = secret("signing_secret_env")
        let receipts = secret("receipt_secret_env")
        var signatureVersion = 2
        if let v = scalar(root["signature_version"]) {
            switch v {
            case "2": signatureVersion = 2
            case "1":
                signatureVersion = 1
                if requireSecrets {
                    printError("\(path): warning: signature_version 1 signs only the timestamp and the body: a captured upload's signature can be replayed under another key; ask the carrier for version 2")
                }
            default: problems.add(root["signature_version"], "signature_version", "expected 1 or 2, found '\(Escaped(v))'")
            }
        }
        var receiptSignatureVersion = 2
        let receiptSection = root["receipts"]
        if let v = scalar(receiptSection?["signature_version"]) {
            switch v {
            case "2": receiptSignatureVersion = 2
            case "1":
                receiptSignatureVersion = 1
                if requireSecrets {
                    printError("\(path): warning: receipts.signature_version 1 signs only the body: a captured receipt request can be replayed; ask the carrier for version 2")
                }
            default: problems.add(receiptSection?["signature_version"], "receipts.signature_version", "expected 1 or 2, found '\(Escaped(v))'")
            }
        }
        let validity = seconds(receiptSection?["validity"], "receipts.validity", default: 48 * 3600, 3600...(30 * 86400))
        var receiptParts = ReceiptParts.all
        if let v = scalar(receiptSection?["parts"]) {
            if let p = ReceiptParts(rawValue: v) { receiptParts = p } else {
                problems.add(receiptSection?["parts"], "receipts.parts", "expected all, first or last, found '\(Escaped(v))'")
            }
        }
        let concurrent = root["concurrent_uploads"] == nil ? nil : int("concurrent_uploads", 1...64)
        var voice: CarrierGateway.Voice? = nil
        if let v = root["voice"] {
            if wire == .kannel { problems.add(v, "voice", "Kannel carries no voice calls: remove voice: (voice campaigns need a batch-http gateway)") }
            func count(_ field: String, _ range: ClosedRange<Int>) -> Int? {
                guard let s = scalar(v[field]) else { problems.add(v[field] ?? v, "voice.\(field)", "missing (required)"); return nil }
                guard let n = Int(s), range.contains(n) else {
                    problems.add(v[field], "voice.\(field)", "expected a whole number from \(formatCount(range.lowerBound)) to \(formatCount(range.upperBound)), found '\(Escaped(s))'")
                    return nil
                }
                return n
            }
            let channels = count("channels", 1...10_000), cps = count("calls_per_second", 1...1_000)
            let ring = seconds(v["ring_seconds"], "voice.ring_seconds", default: 30, 5...120)
            var format = TelephoneAudio.Format.wav
            if let f = scalar(v["audio_format"]) {
                if let parsed = TelephoneAudio.Format(rawValue: f) { format = parsed }
                else { problems.add(v["audio_format"], "voice.audio_format", "expected wav (8 kHz 16-bit PCM), alaw or ulaw (G.711), found '\(Escaped(f))'") }
            }
            if let channels, let cps { voice = CarrierGateway.Voice(channels: channels, callsPerSecond: cps, ringSeconds: ring, audioFormat: format) }
        }
        guard let wire, let endpoint, let tps, let maxBatch, let dailyQuota else { return nil }
        var gateway = CarrierGateway(carrier: carrier, displayName: displayName, protocolKind: wire, endpoint: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint,
                                     tps: tps, maxBatch: maxBatch, dailyQuota: dailyQuota,
                                     window: window, retry: retry, timeout: timeout, token: token,
                                     signingSecret: signing, receiptSecret: receipts,
                                     client: .init(timeout: timeout, connectTimeout: min(timeout, 5), caFile: scalar(tls?["ca_file"]),
                                                   clientCertificate: scalar(tls?["client_cert"]), clientKey: scalar(tls?["client_key"])))
        gateway.kannel = kannel
        gateway.signatureVersion = signatureVersion
        gateway.receiptSignatureVersion = receiptSignatureVersion
        gateway.receiptValidity = validity
        gateway.receiptParts = receiptParts
        gateway.concurrentUploads = concurrent
        gateway.voice = voice
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
