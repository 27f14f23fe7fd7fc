import Foundation
import HTTPTypes
import Hummingbird
import LoaCore
import LoaCrypto
import Logging
import ServiceLifecycle
import LoaCarriers
import NIOCore
import HummingbirdCore

/// `POST /receipts/{carrier}`: NDJSON receipts signed with the carrier's receipt secret (protocol
/// version 2: X-Loa-Signature = HMAC-SHA256 of "<X-Loa-Timestamp>\n<Content-SHA256>"). A bad
/// signature, a timestamp more than 5 minutes off, or a signature already accepted gets 401 and
/// changes nothing. Each line is answered on its own; a line that cannot be read or matches no
/// message is quarantined with the reason, never dropped. Version 1 (HMAC of the body, no replay
/// protection) is accepted only from carriers configured for it, with a warning in the log.
public final class ReceiptEndpoint: @unchecked Sendable {
    /// Called on `queue` only: one call at a time, or as many at once as the sink has connections.
    private let sink: any ReceiptSink
    private let secrets: [Carrier: HMACSigner]
    private let queue: DispatchQueue
    private let lock = NSLock()
    private var counts = (received: 0, matched: 0, unmatched: 0, rejected: 0)
    /// Carriers still signing receipts the version-1 way (their carrier file says so).
    private let legacySignature: Set<Carrier>
    /// Which parts of long messages each carrier reports (default: all).
    private let parts: [Carrier: ReceiptParts]
    private let clock: @Sendable () -> Int64
    /// Bodies larger than this get 413 (nothing more of them is read).
    let maxBody: Int
    /// Refused requests are logged here (never their bodies).
    let logger: Logger

    /// Records what carriers send into `sink` (`Store.receiptStores`: connections of its own).
    public init(sink: any ReceiptSink, secrets: [Carrier: [UInt8]], legacySignature: Set<Carrier> = [], parts: [Carrier: ReceiptParts] = [:], maxBody: Int = 4 << 20,
                logger: Logger = quietLogger("loa.receipts"), clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws {
        self.sink = sink
        queue = DispatchQueue(label: "loa.receipts", attributes: sink.concurrentCalls > 1 ? .concurrent : [])
        self.legacySignature = legacySignature
        self.parts = parts
        self.clock = clock
        self.secrets = try secrets.mapValues { try HMACSigner(secret: $0) }
        self.maxBody = maxBody
        self.logger = logger
    }

    func refused(_ status: HTTPResponse.Status, carrier: String, _ reason: String, bytes: Int? = nil) -> Response {
        var metadata: Logger.Metadata = ["status": "\(status.code)", "carrier": "\(Escaped(carrier))", "reason": "\(reason)"]
        if let bytes { metadata["bytes"] = "\(bytes)" }
        logger.warning("receipts refused", metadata: metadata)
        return Self.text(status, reason)
    }

    public var totals: (received: Int, matched: Int, unmatched: Int, rejected: Int) { lock.lock(); defer { lock.unlock() }; return counts }

    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("receipts/:carrier") { request, context -> Response in
            let name = context.parameters.get("carrier") ?? ""
            let h = request.headers
            let signature = h[HTTPField.Name("X-Loa-Signature")!], timestamp = h[HTTPField.Name("X-Loa-Timestamp")!]
            let contentSHA256 = h[HTTPField.Name("Content-SHA256")!]
            guard let carrier = Carrier(name: name) else { return self.refused(.notFound, carrier: name, "unknown carrier") }
            guard let signer = self.secrets[carrier] else { return self.refused(.notFound, carrier: name, "no receipt secret configured for \(carrier.rawValue)") }
            // Version 2 signs the headers (the body's hash among them): a request they do not
            // authenticate is refused before any of its body is read.
            if !self.legacySignature.contains(carrier), let problem = self.headerProblem(signer, signature: signature, timestamp: timestamp, contentSHA256: contentSHA256) {
                self.record { $0.rejected += 1 }
                return self.refused(.unauthorized, carrier: name, problem)
            }
            let collected: ByteBuffer
            do { collected = try await request.body.collect(upTo: self.maxBody) } catch {
                return self.refused(.contentTooLarge, carrier: name, "body larger than \(self.maxBody / 1024) KiB")
            }
            return try await self.handle(carrier, signer, signature: signature, timestamp: timestamp, contentSHA256: contentSHA256, body: Array(collected.readableBytesView))
        }
        // Kannel delivery reports: GET /receipts/{carrier}/dlr?id=m123&sig=…&type=%d
        router.get("receipts/:carrier/dlr") { request, context -> Response in
            let name = context.parameters.get("carrier") ?? ""
            let q = request.uri.queryParameters
            return try await self.handleKannel(carrier: name, id: q["id"].map(String.init) ?? "", sig: q["sig"].map(String.init) ?? "",
                                               type: q["type"].flatMap { Int(String($0)) } ?? 0, smpp: q["smpp"].map(String.init))
        }
        router.get("health") { _, _ in "ok" }
    }

    /// Version 2, from the headers alone: the signature over "<timestamp>\n<Content-SHA256>" and the
    /// timestamp's distance from loa's clock (the body's hash is checked once it is read).
    func headerProblem(_ signer: HMACSigner, signature: String?, timestamp: String?, contentSHA256: String?) -> String? {
        guard let signature else { return "no X-Loa-Signature" }
        guard let timestamp, let seconds = Int64(timestamp) else { return "no X-Loa-Timestamp (protocol version 2: seconds since 1970)" }
        guard let contentSHA256, contentSHA256.count == 64 else { return "Content-SHA256 missing or not the body's" }
        guard signer.verify(Array(BatchHTTP.receiptSignedText(timestamp: timestamp, contentSHA256: contentSHA256.lowercased()).utf8), signature: signature) else {
            return "bad signature (version 2: HMAC of \"<X-Loa-Timestamp>\\n<Content-SHA256>\")"
        }
        return ReplayWindow.staleness(timestamp: seconds, now: clock())?.description
    }

    /// What the body tells once read: version 1, the body's HMAC; version 2 (headers already
    /// checked), that the body is the one whose hash was signed.
    func bodyProblem(_ carrier: Carrier, _ signer: HMACSigner, signature: String?, contentSHA256: String?, body: [UInt8]) -> String? {
        guard let signature else { return "no X-Loa-Signature" }
        if legacySignature.contains(carrier) {
            guard signer.verify(body, signature: signature) else { return "bad signature (version 1: HMAC of the body)" }
            logger.warning("receipts signed the version-1 way (no replay protection): move the carrier to version 2", metadata: ["carrier": "\(carrier.rawValue)"])
            return nil
        }
        guard let contentSHA256, contentSHA256.lowercased() == body.withUnsafeBytes({ sha256Hex($0) }) else { return "Content-SHA256 missing or not the body's" }
        return nil
    }

    /// A request whose headers passed `headerProblem` (version 2) and whose body was read.
    func handle(_ carrier: Carrier, _ signer: HMACSigner, signature: String?, timestamp: String?, contentSHA256: String?, body: [UInt8]) async throws -> Response {
        let name = carrier.rawValue
        if let problem = bodyProblem(carrier, signer, signature: signature, contentSHA256: contentSHA256, body: body) {
            record { $0.rejected += 1 }
            return refused(.unauthorized, carrier: name, problem, bytes: body.count)
        }
        // Each signature once, for every process on the store (version 1 has no replay protection).
        if !legacySignature.contains(carrier), let signature, let seconds = timestamp.flatMap({ Int64($0) }) {
            let fresh: Bool
            do { fresh = try await withStoreWait { try self.sink.admitSignature(signature.lowercased(), at: seconds, forgetBefore: ReplayWindow.forgetBefore(now: self.clock())) } } catch let busy as StoreBusy {
                var response = refused(.serviceUnavailable, carrier: name, "the store is busy (\(busy.reason)): nothing was recorded; post again, signed afresh", bytes: body.count)
                response.headers[.retryAfter] = "10"
                return response
            }
            if !fresh {
                record { $0.rejected += 1 }
                return refused(.unauthorized, carrier: name, ReplayWindow.Refusal.replayed.description, bytes: body.count)
            }
        }
        let lines = BatchHTTP.receiptLines(body)
        var receipts: [(number: Int, record: ReceiptRecord)] = []
        var unreadable: [(number: Int, line: String, reason: String)] = []
        for (n, line) in lines {
            switch line {
            case .receipt(let r): receipts.append((n, r))
            case .unreadable(let text, let reason): unreadable.append((n, text, reason))
            }
        }
        let toQuarantine = unreadable.map { (line: $0.line, reason: "line \($0.number): \($0.reason)") }
        let toRecord = receipts.map(\.record)
        let mode = parts[carrier] ?? .all
        // A store busy with a large import is waited for (up to a minute), then the carrier is told
        // to come back (503 with Retry-After): never a 500, never a receipt lost.
        let outcomes: [ReceiptOutcome]
        do {
            // Two steps, each committed on its own: a retry of the second never quarantines lines twice.
            if !toQuarantine.isEmpty { try await withStoreWait { try self.sink.quarantine(carrier: carrier, toQuarantine) } }
            outcomes = try await withStoreWait { try self.sink.recordReceipts(carrier: carrier, parts: mode, toRecord) }
        } catch let busy as StoreBusy {
            var response = refused(.serviceUnavailable, carrier: name, "the store is busy (\(busy.reason)): nothing was recorded; post again", bytes: body.count)
            response.headers[.retryAfter] = "10"
            return response
        }
        var results: [(Int, String, String?)] = unreadable.map { ($0.number, "quarantined", $0.reason) }
        for (i, outcome) in outcomes.enumerated() {
            switch outcome {
            case .applied: results.append((receipts[i].number, "applied", nil))
            case .kept: results.append((receipts[i].number, "kept", nil))
            case .quarantined(let reason): results.append((receipts[i].number, "quarantined", reason))
            }
        }
        results.sort { $0.0 < $1.0 }
        let quarantined = results.filter { $0.1 == "quarantined" }.count
        record { $0.received += lines.count; $0.matched += lines.count - quarantined; $0.unmatched += quarantined }
        if quarantined > 0 { logger.warning("receipts quarantined", metadata: ["carrier": "\(carrier.rawValue)", "lines": "\(quarantined)"]) }
        var json = "{\"received\":\(lines.count),\"applied\":\(results.filter { $0.1 == "applied" }.count),\"kept\":\(results.filter { $0.1 == "kept" }.count),\"quarantined\":\(quarantined),\"lines\":["
        json += results.map { r in "{\"line\":\(r.0),\"result\":\"\(r.1)\"" + (r.2.map { ",\"reason\":\(JSONString.quoted($0))" } ?? "") + "}" }.joined(separator: ",")
        json += "]}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    func handleKannel(carrier name: String, id: String, sig: String, type: Int, smpp: String? = nil) async throws -> Response {
        guard let carrier = Carrier(name: name), let signer = secrets[carrier] else { return refused(.notFound, carrier: name, "unknown carrier") }
        guard signer.verify(Array(id.utf8), signature: sig) else {
            record { $0.rejected += 1 }
            return refused(.unauthorized, carrier: name, "bad signature (Kannel report)")
        }
        guard let status = KannelProtocol.status(dlrType: type) else { return Self.text(.ok, "noted: report type \(type) is not one Kannel sends") }
        // The report type decides; the SMSC's receipt text (%A), when Kannel has one, gives the error and the time.
        let text = smpp.flatMap { SMPPReceipt.parse($0) }
        let byType: String? = switch type { case 16: "SMSC rejected"; case 2: "failed (Kannel report type 2)"; default: nil }
        let reason = text?.reason ?? byType
        let receipt = ReceiptRecord(messageRef: id, status: status, at: text?.doneDate, reason: reason)
        let outcomes: [ReceiptOutcome]
        do { outcomes = try await withStoreWait { try self.sink.recordReceipts(carrier: carrier, [receipt]) } } catch let busy as StoreBusy {
            // Kannel retries a report that fails.
            return refused(.serviceUnavailable, carrier: name, "the store is busy (\(busy.reason)): post again")
        }
        let quarantined = outcomes.filter { if case .quarantined = $0 { true } else { false } }.count
        record { $0.received += 1; $0.matched += 1 - quarantined; $0.unmatched += quarantined }
        return Self.text(.ok, "ok")
    }

    /// Why the store could not be written in time.
    struct StoreBusy: Error { var reason: String }

    /// Runs `work` on the store's queue; while the store says it is busy, tries again for up to
    /// `patience` seconds, then throws `StoreBusy`.
    func withStoreWait<T: Sendable>(patience: Double = 60, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let deadline = Date().addingTimeInterval(patience)
        while true {
            do {
                return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
                    queue.async { c.resume(with: Result { try work() }) }
                }
            } catch let e as any RetryableError where e.isRetryable {
                if Date() >= deadline { throw StoreBusy(reason: "\(e)") }
                logger.warning("the store is busy: waiting", metadata: ["reason": "\(e)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func record(_ change: (inout (received: Int, matched: Int, unmatched: Int, rejected: Int)) -> Void) {
        lock.lock(); change(&counts); lock.unlock()
    }

    static func text(_ status: HTTPResponse.Status, _ s: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }
}

/// Runs a Hummingbird router on 127.0.0.1 in the background and reports the bound port. `stop()`
/// shuts it down gracefully (open connections finish) and waits until it has.
public final class BackgroundServer: @unchecked Sendable {
    public private(set) var port = 0
    private var task: Task<Void, any Error>?
    private var group: ServiceGroup?

    public init() {}

    public func start(_ router: Router<BasicRequestContext>, port requested: Int = 0) async throws -> Int {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: requested)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: quietLogger())
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quietLogger("loa.services")))
        self.group = group
        task = Task { try await group.run() }
        for await p in stream { port = p; break }
        return port
    }

    public func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await task?.value
    }
}

extension ReceiptEndpoint {
    /// Serves a router (the receipt routes, the console's, or both) until the process is told to
    /// stop: idle connections close after 30 s, at most `maxConnections` at once (more wait).
    public static func serve(_ router: Router<BasicRequestContext>, host: String, port: Int, maxConnections: Int, onRunning: @escaping @Sendable () -> Void) async throws {
        let app = Application(router: router, server: .http1(configuration: .init(idleTimeout: .seconds(30))),
                              configuration: .init(address: .hostname(host, port: port), availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
                              onServerRunning: { _ in onRunning() }, logger: quietLogger("loa.serve"))
        try await app.runService()
    }
}

/// A logger that tells what a server refused or could not do, on stderr, at info level.
public func serverLogger(_ label: String) -> Logger {
    var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = .info
    return logger
}

/// Hummingbird's own logger, at warning level: the CLI prints what matters itself.
public func quietLogger(_ label: String = "loa.http") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}
