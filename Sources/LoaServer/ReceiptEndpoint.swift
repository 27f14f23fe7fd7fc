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

/// `POST /receipts/{carrier}`: NDJSON receipts signed with the carrier's receipt secret
/// (X-Loa-Signature = HMAC-SHA256 hex of the body). A bad signature gets 401 and changes nothing;
/// a receipt for an unknown message is kept, never dropped.
public final class ReceiptEndpoint: @unchecked Sendable {
    /// Written from `queue` only (a store connection serves one thread at a time).
    private let sink: any ReceiptSink
    private let secrets: [Carrier: HMACSigner]
    private let queue = DispatchQueue(label: "loa.receipts")
    private let lock = NSLock()
    private var counts = (received: 0, matched: 0, unmatched: 0, rejected: 0)
    /// Bodies larger than this get 413 (nothing more of them is read).
    let maxBody: Int
    /// Refused requests are logged here (never their bodies).
    let logger: Logger

    /// Records what carriers send into `sink` (one store connection of its own).
    public init(sink: any ReceiptSink, secrets: [Carrier: [UInt8]], maxBody: Int = 4 << 20, logger: Logger = quietLogger("loa.receipts")) throws {
        self.sink = sink
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
            let collected: ByteBuffer
            do { collected = try await request.body.collect(upTo: self.maxBody) } catch {
                return self.refused(.contentTooLarge, carrier: name, "body larger than \(self.maxBody / 1024) KiB")
            }
            return try await self.handle(carrier: name, signature: request.headers[HTTPField.Name("X-Loa-Signature")!], body: Array(collected.readableBytesView))
        }
        // Kannel delivery reports: GET /receipts/{carrier}/dlr?id=m123&sig=…&type=%d
        router.get("receipts/:carrier/dlr") { request, context -> Response in
            let name = context.parameters.get("carrier") ?? ""
            let q = request.uri.queryParameters
            return try await self.handleKannel(carrier: name, id: q["id"].map(String.init) ?? "", sig: q["sig"].map(String.init) ?? "",
                                               type: q["type"].flatMap { Int(String($0)) } ?? 0)
        }
        router.get("health") { _, _ in "ok" }
    }

    func handle(carrier name: String, signature: String?, body: [UInt8]) async throws -> Response {
        guard let carrier = Carrier(name: name) else { return refused(.notFound, carrier: name, "unknown carrier") }
        guard let signer = secrets[carrier] else { return refused(.notFound, carrier: name, "no receipt secret configured for \(carrier.rawValue)") }
        guard let signature, signer.verify(body, signature: signature) else {
            record { $0.rejected += 1 }
            return refused(.unauthorized, carrier: name, "bad signature", bytes: body.count)
        }
        let receipts: [ReceiptRecord]
        do { receipts = try BatchHTTP.parseReceipts(body) } catch { return refused(.badRequest, carrier: name, "\(error)", bytes: body.count) }
        let (matched, unmatched) = try await withCheckedThrowingContinuation { (c: CheckedContinuation<(Int, Int), any Error>) in
            queue.async {
                c.resume(with: Result { try self.sink.recordReceipts(carrier: carrier, receipts) })
            }
        }
        record { $0.received += receipts.count; $0.matched += matched; $0.unmatched += unmatched }
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: "{\"received\":\(receipts.count),\"matched\":\(matched),\"unmatched\":\(unmatched)}")))
    }

    func handleKannel(carrier name: String, id: String, sig: String, type: Int) async throws -> Response {
        guard let carrier = Carrier(name: name), let signer = secrets[carrier] else { return refused(.notFound, carrier: name, "unknown carrier") }
        guard signer.verify(Array(id.utf8), signature: sig) else {
            record { $0.rejected += 1 }
            return refused(.unauthorized, carrier: name, "bad signature (Kannel report)")
        }
        guard let status = KannelProtocol.status(dlrType: type) else { return Self.text(.ok, "noted") }   // 4 buffered, 8 SMSC accepted
        let receipt = ReceiptRecord(messageRef: id, status: status, at: nil, reason: type == 16 ? "SMSC rejected" : nil)
        let (matched, unmatched) = try await withCheckedThrowingContinuation { (c: CheckedContinuation<(Int, Int), any Error>) in
            queue.async { c.resume(with: Result { try self.sink.recordReceipts(carrier: carrier, [receipt]) }) }
        }
        record { $0.received += 1; $0.matched += matched; $0.unmatched += unmatched }
        return Self.text(.ok, "ok")
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
    /// Serves the receipt routes until the process is told to stop: idle connections close after
    /// 30 s, at most `maxConnections` at once (more wait to be accepted).
    public func serve(host: String, port: Int, maxConnections: Int, onRunning: @escaping @Sendable () -> Void) async throws {
        let router = Router()
        addRoutes(to: router)
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
