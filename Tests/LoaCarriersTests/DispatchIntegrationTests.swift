import Foundation
import Hummingbird
import Testing
import LoaCore
import LoaCrypto
import LoaStore
@testable import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaTestSupport

/// A store with one approved, sending campaign and `count` planned messages per carrier.
/// `subscriber` may name the i-th message's subscriber (nil: a pseudonym of its own).
func storeWithCampaign(_ path: String, carriers: [Carrier], count: Int, priority: Campaign.Priority = .urgent, id: String = "test-campaign",
                       subscriber: ((Int) -> String?)? = nil) throws {
    let store = try Store(location: path)
    try addSendingCampaign(store, id: id, title: "Thử", priority: priority)
    for carrier in carriers {
        let messages = (0..<count).map { i in
            PlannedMessage(carrier: carrier, subscriber: subscriber?(i) ?? Pseudonym(w0: UInt64(i), w1: 1, w2: 2, w3: UInt64(carrier.hashValue & 0xFF)).description,
                                           language: "vi", commune: 23377, text: "Thông báo \(i)", encoding: .ucs2, segments: 1)
        }
        _ = try store.planMessages(campaign: id, priority: .emergency, day: 20_000, capPerDay: 1, messages)
    }
}

func policies(_ ids: [String]) -> Dispatcher.Campaigns {
    let start = Timestamp(seconds: 0), end = Timestamp(seconds: Int64(Date().timeIntervalSince1970) + 86400)
    let always = SendingPolicy(campaignWindows: [DailyWindow(startMinute: 0, endMinute: 1440)], carrierWindow: nil, priority: .emergency, start: start, end: end)
    return Dispatcher.Campaigns(policies: Dictionary(uniqueKeysWithValues: ids.map { ($0, always) }), senders: Dictionary(uniqueKeysWithValues: ids.map { ($0, "QUANGNGAI") }))
}

/// A dispatcher over a pool of the store at `location`.
func dispatcher(_ location: String, gateways: [CarrierGateway], campaigns: Dispatcher.Campaigns,
                onProgress: @escaping @Sendable (Dispatcher.Progress) -> Void = { _ in }) throws -> Dispatcher {
    Dispatcher(storage: try StorePool(location: location, capacity: Dispatcher.storeConnections(carriers: gateways.count)), gateways: gateways,
               campaigns: campaigns, onProgress: onProgress)
}

func runDispatcher(_ d: Dispatcher) async throws {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
        let t = Thread { c.resume(with: Result { try d.run(untilDrained: true) }) }
        t.start()
    }
}

let signing: [UInt8] = Array("signing-secret-for-tests-0001".utf8)

/// A carrier simulator checking upload signatures, served on a free loopback port.
func startSimulator(_ carrier: Carrier, tps: Int, maxBatch: Int, configure: (inout CarrierSimulator.Options) -> Void = { _ in }) async throws
    -> (sim: CarrierSimulator, server: BackgroundServer, port: Int) {
    var o = CarrierSimulator.Options(carrier: carrier, tps: tps, maxBatch: maxBatch)
    o.signingSecret = signing
    configure(&o)
    let sim = try CarrierSimulator(o)
    let server = BackgroundServer()
    return (sim, server, try await server.start(sim.router()))
}
let receiptSecret: [UInt8] = Array("receipt-secret-for-tests-0001".utf8)

func gateway(_ carrier: Carrier, port: Int, tps: Int, maxBatch: Int = 100, timeout: Double = 1) -> CarrierGateway {
    CarrierGateway(carrier: carrier, displayName: carrier.rawValue, protocolKind: .batchHTTP, endpoint: "http://127.0.0.1:\(port)", tps: tps,
                   maxBatch: maxBatch, dailyQuota: 1_000_000, window: nil, retry: RetryPolicy(initialDelay: 0.05, multiplier: 2, maxDelay: 1),
                   timeout: timeout, token: nil, signingSecret: signing, receiptSecret: receiptSecret,
                   client: .init(timeout: timeout, connectTimeout: 1))
}

/// The few tests that measure time at the carrier's side (rates per second, uploads offered during
/// an outage). `ops/test.sh` runs them alone, after the others, so that nothing shares the cores
/// with them; every other test runs in parallel.
@Suite("Dispatch timing: rates measured at the carrier (SQLite and PostgreSQL; run alone)", .serialized)
struct DispatchTimingTests {
    @Test("20% faults (503, 500, lost answers, slow, connections cut): every message accepted exactly once, rate held, receipts recorded", arguments: StoreEngine.available)
    func faultsExactlyOnce(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        let carriers: [Carrier] = [.viettel, .vinaphone, .mobifone]
        try storeWithCampaign(path, carriers: carriers, count: 600)
        let endpoint = try ReceiptEndpoint(sink: Store(location: path, create: false), secrets: Dictionary(uniqueKeysWithValues: carriers.map { ($0, receiptSecret) }))
        let receiptRouter = Router()
        endpoint.addRoutes(to: receiptRouter)
        let receiptServer = BackgroundServer()
        let receiptPort = try await receiptServer.start(receiptRouter)
        var sims: [Carrier: CarrierSimulator] = [:]
        var gateways: [CarrierGateway] = []
        var servers: [BackgroundServer] = []
        for carrier in carriers {
            let (sim, server, port) = try await startSimulator(carrier, tps: 400, maxBatch: 100) { o in
                o.receiptURL = "http://127.0.0.1:\(receiptPort)/receipts/\(carrier.rawValue)"
                o.receiptSecret = receiptSecret
                o.faultRate = 0.2
                o.stallSeconds = 1.5
                o.receiptDelay = 0.05...0.3
                o.seed = UInt64(carrier.rawValue.count)
            }
            sims[carrier] = sim
            servers.append(server)
            gateways.append(gateway(carrier, port: port, tps: 400))
        }
        let d = try dispatcher(path, gateways: gateways, campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        for carrier in carriers {
            let stats = sims[carrier]!.currentStats()
            #expect(stats.accepted == 600, "\(carrier)")
            #expect(stats.duplicateMessages == 0, "\(carrier)")
            #expect(stats.faults > 0, "\(carrier)")
            #expect(stats.maxInAnySecond <= 400, "\(carrier)")
            sims[carrier]!.drainReceipts(timeout: 10)
        }
        try await Task.sleep(for: .milliseconds(500))
        let store = try Store(location: path)
        let counts = try store.messageCounts(campaign: "test-campaign")
        for carrier in carriers {
            let c = counts[carrier.rawValue] ?? [:]
            let total: Int = c.values.reduce(0, +)
            let open: Int = (c[.planned] ?? 0) + (c[.submitted] ?? 0)
            let delivered: Int = c[.delivered] ?? 0
            #expect(total == 600)
            #expect(open == 0, "\(carrier): \(c)")
            #expect(delivered > 500, "\(carrier): \(c)")
        }
        #expect(endpoint.totals.unmatched == 0)
        #expect(try store.campaignRecord("test-campaign")?.state == .completed)
        await receiptServer.stop()
        for s in servers { await s.stop() }
    }

    @Test("a carrier slower than configured answers 429: Retry-After is honoured and nothing is lost or doubled", arguments: StoreEngine.available)
    func retryAfterHonoured(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.gmobile], count: 300)
        let (sim, server, port) = try await startSimulator(.gmobile, tps: 100, maxBatch: 100)
        // loa believes the carrier takes 400/s; the carrier refuses above 100/s.
        let d = try dispatcher(path, gateways: [gateway(.gmobile, port: port, tps: 400)], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        let stats = sim.currentStats()
        #expect(stats.refused429 > 0)
        #expect(stats.accepted == 300)
        #expect(stats.duplicateMessages == 0)
        #expect(stats.maxInAnySecond <= 100)
        await server.stop()
    }

    @Test("the batch of 1,000 at 200 TPS arrives paced: at most 200 in any second", arguments: StoreEngine.available)
    func pacedAtTheCarrier(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 1000)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 200, maxBatch: 1000)
        let started = Date()
        let d = try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 200, maxBatch: 1000)], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        let stats = sim.currentStats()
        #expect(stats.accepted == 1000)
        #expect(stats.refused429 == 0)
        #expect(stats.maxInAnySecond <= 200)
        // Measured where it arrives: no 100 ms holds more than TPS/10 plus one batch (jitter).
        #expect(stats.maxIn100ms <= 40, "\(stats.maxIn100ms) in 100 ms")
        #expect(Date().timeIntervalSince(started) >= 4.0)   // 1,000 at 200/s cannot take less than ~5 s
        await server.stop()
    }

    @Test("two dispatchers on one store share the carriers: each message once, every carrier's rate held in total",
          arguments: StoreEngine.available)
    func twoDispatchersShareTheWork(engine: StoreEngine) async throws {
        let location = try engine.scratchLocation()
        let carriers: [Carrier] = [.viettel, .vinaphone, .mobifone]
        try storeWithCampaign(location, carriers: carriers, count: 1500)
        var sims: [Carrier: CarrierSimulator] = [:]
        var gateways: [CarrierGateway] = []
        var servers: [BackgroundServer] = []
        for carrier in carriers {
            let (sim, server, port) = try await startSimulator(carrier, tps: 300, maxBatch: 100)
            sims[carrier] = sim
            servers.append(server)
            gateways.append(gateway(carrier, port: port, tps: 300))
        }
        // What each node sent, per carrier (its progress reports are cumulative).
        final class Sent: @unchecked Sendable {
            let lock = NSLock()
            var byNode: [[Carrier: Int]] = [[:], [:]]
            func record(_ node: Int, _ p: Dispatcher.Progress) {
                lock.lock(); byNode[node][p.carrier] = max(byNode[node][p.carrier] ?? 0, p.sent); lock.unlock()
            }
        }
        let sent = Sent()
        let first = try dispatcher(location, gateways: gateways, campaigns: policies(["test-campaign"])) { sent.record(0, $0) }
        let second = try dispatcher(location, gateways: gateways, campaigns: policies(["test-campaign"])) { sent.record(1, $0) }
        async let a: Void = runDispatcher(first)
        try await Task.sleep(for: .milliseconds(300))
        async let b: Void = runDispatcher(second)
        _ = try await (a, b)
        for carrier in carriers {
            let stats = sims[carrier]!.currentStats()
            #expect(stats.accepted == 1500, "\(carrier)")
            #expect(stats.duplicateMessages == 0, "\(carrier)")
            #expect(stats.maxInAnySecond <= 300, "\(carrier): \(stats.maxInAnySecond) in one second")
        }
        let totals = sent.byNode.map { $0.values.reduce(0, +) }
        #expect(totals[0] > 0 && totals[1] > 0, "both nodes sent: \(sent.byNode)")
        #expect(totals[0] + totals[1] == 4500, "\(sent.byNode)")
        let store = try Store(location: location)
        let counts = try store.messageCounts(campaign: "test-campaign")
        #expect(carriers.allSatisfy { counts[$0.rawValue] == [.accepted: 1500] }, "\(counts)")
        #expect(try store.campaignRecord("test-campaign")?.state == .completed)
        for s in servers { await s.stop() }
    }
}

/// Posts `body` to the receipt endpoint on `port` with `headers`, off the cooperative pool.
func postReceipts(_ port: Int, _ body: [UInt8], _ headers: [(String, String)], carrier: String = "viettel", timeout: Double = 10) async throws -> (status: Int, body: String) {
    let answer = try await onThread { try CurlClient(.init(timeout: timeout)).post("http://127.0.0.1:\(port)/receipts/\(carrier)", headers: headers, body: body) }
    return (answer.status, String(decoding: answer.body, as: UTF8.self))
}

@Suite("Receipts over HTTP: signatures (version 2, replay window), per-line answers, quarantine (SQLite and PostgreSQL)")
struct ReceiptEndpointTests {
    static let now: Int64 = 1_780_000_000

    func endpoint(_ path: String, legacy: Set<Carrier> = [], maxBody: Int = 4 << 20) async throws -> (ReceiptEndpoint, BackgroundServer, Int) {
        let endpoint = try ReceiptEndpoint(sink: Store(location: path, create: false), secrets: [.viettel: receiptSecret, .mobifone: receiptSecret],
                                           legacySignature: legacy, maxBody: maxBody, clock: { Self.now })
        let router = Router()
        endpoint.addRoutes(to: router)
        let server = BackgroundServer()
        return (endpoint, server, try await server.start(router))
    }

    @Test("signed requests only: a bad signature, a stale or future timestamp, a replayed request get 401 and change nothing",
          arguments: StoreEngine.available)
    func signatures(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 3)
        let (_, server, port) = try await endpoint(path)
        let store = try Store(location: path)
        let ref = MessageRef(id: 1, store: store.identity)
        let body = Array("{\"message_id\":\"\(ref)\",\"status\":\"unknown\"}\n".utf8)
        let signer = try HMACSigner(secret: receiptSecret)
        let wrong = try HMACSigner(secret: Array("another-secret-000000000000001".utf8))
        var bad = BatchHTTP.receiptHeaders(body: body, signer: wrong, now: Self.now)
        #expect(try await postReceipts(port, body, bad).status == 401)
        bad = BatchHTTP.receiptHeaders(body: body, signer: signer, now: Self.now - 301)
        #expect(try await postReceipts(port, body, bad).status == 401)
        bad = BatchHTTP.receiptHeaders(body: body, signer: signer, now: Self.now + 301)
        #expect(try await postReceipts(port, body, bad).status == 401)
        // Version 1 (the body's HMAC alone) from a carrier on version 2.
        #expect(try await postReceipts(port, body, [("X-Loa-Signature", signer.sign(body))]).status == 401)
        // Another body under a good request's headers.
        let good = BatchHTTP.receiptHeaders(body: body, signer: signer, now: Self.now - 290)
        #expect(try await postReceipts(port, Array(body.dropLast()) + Array(" \n".utf8), good).status == 401)
        #expect(try store.receipts().isEmpty)
        #expect(try store.messages().first?.state == .planned)
        let first = try await postReceipts(port, body, good)
        #expect(first.status == 200)
        #expect(first.body == "{\"received\":1,\"applied\":0,\"kept\":1,\"quarantined\":0,\"lines\":[{\"line\":1,\"result\":\"kept\"}]}")
        // The same request again, within the window: a replay.
        #expect(try await postReceipts(port, body, good).status == 401)
        #expect(try store.receipts().count == 1)
        // A body over the limit: refused on its headers (401) when they are not signed, before any
        // of it is read; 413 only for a signed one.
        let (_, small, smallPort) = try await endpoint(path, maxBody: 1024)
        let large = Array(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        #expect(try await postReceipts(smallPort, large, []).status == 401)
        #expect(try await postReceipts(smallPort, large, BatchHTTP.receiptHeaders(body: large, signer: wrong, now: Self.now)).status == 401)
        #expect(try await postReceipts(smallPort, large, BatchHTTP.receiptHeaders(body: large, signer: signer, now: Self.now)).status == 413)
        await small.stop()
        // To another `loa serve` on the same store (its own memory): a replay all the same.
        let (_, otherServer, otherPort) = try await endpoint(path)
        let elsewhere = try await postReceipts(otherPort, body, good)
        #expect(elsewhere.status == 401)
        #expect(try store.receipts().count == 1)
        await otherServer.stop()
        await server.stop()
    }

    @Test("each line answered on its own: unreadable lines, unknown statuses and unknown messages go to the quarantine with the reason; replay applies what now matches",
          arguments: StoreEngine.available)
    func perLineAndQuarantine(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 2)
        let store = try Store(location: path)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 2))
        try store.batchAccepted(batch.id, status: 202, rejected: [:])
        let (endpoint, server, port) = try await endpoint(path)
        let id = store.identity.hex
        let body = Array("""
            {"message_id":"m1-\(id)","status":"delivered","at":"2026-12-01T09:00:00+07:00"}
            not json
            {"message_id":"m2-\(id)","status":"DELIVRD"}
            {"message_id":"m3-\(id)","status":"failed","reason":"absent subscriber"}
            {"message_id":"m2-\(id)","status":"enroute"}
            {"message_id":"m1-\(id)","status":"failed"}
            {"message_id":"m2-\(id)","status":"delivered","at":"yesterday"}

            """.utf8)
        let answer = try await postReceipts(port, body, BatchHTTP.receiptHeaders(body: body, signer: try HMACSigner(secret: receiptSecret), now: Self.now))
        #expect(answer.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(json["received"] as? Int == 7 && json["applied"] as? Int == 1 && json["kept"] as? Int == 2 && json["quarantined"] as? Int == 4)
        let results = (json["lines"] as? [[String: Any]] ?? []).map { "\($0["line"]!):\($0["result"]!)" }
        #expect(results == ["1:applied", "2:quarantined", "3:quarantined", "4:quarantined", "5:kept", "6:kept", "7:quarantined"])
        // m1 delivered stays delivered (a later failure does not overwrite a final state); m2 is still accepted.
        #expect(try store.messages().map { $0.state } == [.delivered, .accepted])
        let q = try store.quarantined()
        #expect(q.map(\.reason) == [
            "line 2: not a JSON object: expected {\"message_id\": \"…\", \"status\": \"delivered|failed|expired|rejected|unknown|enroute|accepted|answered|completed|no-answer|busy\"}",
            "line 3: status: DELIVRD is not a receipt status (delivered|failed|expired|rejected|unknown|enroute|accepted|answered|completed|no-answer|busy)",
            "line 7: at: expected ISO 8601 with an offset (2026-11-24T08:15:00+07:00), found yesterday",
            "no message m3-\(id) for viettel in this store",
        ])
        #expect(q.last?.line == "{\"message_id\":\"m3-\(id)\",\"status\":\"failed\",\"reason\":\"absent subscriber\"}")
        #expect(endpoint.totals.unmatched == 4)
        // Message 3 appears (a store restored from a backup): replay applies its receipt; the unreadable lines stay.
        let more = [PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: 99, w1: 1, w2: 2, w3: 3).description, language: "vi", commune: 23377,
                                   text: "t", encoding: .gsm7, segments: 1)]
        _ = try store.planMessages(campaign: "test-campaign", priority: .emergency, day: 20_000, capPerDay: 1, more)
        let replay = try store.replayQuarantine { line in
            switch BatchHTTP.receiptLines(Array(line.utf8)).first?.line {
            case .receipt(let r): .success(r)
            case .unreadable(_, let reason): .failure(.init(reason: reason))
            case nil: .failure(.init(reason: "empty"))
            }
        }
        #expect(replay == (1, 3))
        #expect(try store.quarantined().count == 3)
        #expect(try store.receipts().filter { $0.messageRef == "m3-\(id)" }.map(\.message) == [3])
        await server.stop()
    }

    @Test("PostgreSQL: a request held up by rows another process has locked does not hold up the others; it is recorded once the lock goes")
    func heldRequestDoesNotHoldUpOthers() async throws {
        guard StoreEngine.available.contains(.postgres) else { return }
        let path = try StoreEngine.postgres.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 2)
        let store = try Store(location: path)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 2))
        try store.batchAccepted(batch.id, status: 202, rejected: [:])
        let id = store.identity.hex
        let endpoint = try ReceiptEndpoint(sink: Store.receiptStores(location: path), secrets: [.viettel: receiptSecret], clock: { Self.now })
        // (SQLite: one connection, its one writer at a time.)
        let file = try StoreEngine.sqlite.scratchLocation()
        _ = try Store(location: file)
        #expect(try Store.receiptStores(location: file).concurrentCalls == 1)
        let router = Router()
        endpoint.addRoutes(to: router)
        let server = BackgroundServer()
        let port = try await server.start(router)
        // Another process holds message 1's row (a long transaction of its own).
        let other = try rawConnection(to: path)
        try other.execute("BEGIN")
        _ = try other.query("SELECT id FROM messages WHERE id = 1 FOR UPDATE", []) { $0.int64(0) }
        let signer = try HMACSigner(secret: receiptSecret)
        func post(_ message: Int, timeout: Double) async throws -> (status: Int, body: String) {
            let body = Array("{\"message_id\":\"m\(message)-\(id)\",\"status\":\"delivered\"}\n".utf8)
            return try await postReceipts(port, body, BatchHTTP.receiptHeaders(body: body, signer: signer, now: Self.now), timeout: timeout)
        }
        let held = Task { try await post(1, timeout: 60) }
        // Message 1's request is waiting for the lock; message 2's is answered meanwhile (one
        // connection for all requests would keep it behind message 1's until the client gave up).
        try await Task.sleep(for: .milliseconds(300))
        let free = try await post(2, timeout: 30)
        #expect(free.status == 200 && free.body.contains("\"applied\":1"), "\(free)")
        #expect(try store.messages().map(\.state) == [.accepted, .delivered])
        try other.execute("COMMIT")
        let late = try await held.value
        #expect(late.status == 200 && late.body.contains("\"applied\":1"), "\(late)")
        #expect(try store.messages().map(\.state) == [.delivered, .delivered])
        await server.stop()
    }

    @Test("a store held by another process past its busy timeout (a large import): the request waits and succeeds; nothing answers 500")
    func busyStoreIsWaitedFor() async throws {
        let path = try StoreEngine.sqlite.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 1)
        let (_, server, port) = try await endpoint(path)
        let id = try Store(location: path).identity.hex
        // Another process's long write (a connection of its own, on a thread of its own).
        let locked = DispatchSemaphore(value: 0)
        Thread {
            guard let raw = try? rawConnection(to: path), (try? raw.execute("BEGIN IMMEDIATE")) != nil,
                  (try? raw.run("UPDATE campaigns SET title = title")) != nil else { locked.signal(); return }
            locked.signal()
            usleep(11_500_000)   // past SQLite's 10-second busy timeout
            try? raw.execute("COMMIT")
        }.start()
        try await onThread { locked.wait() }
        let held = Date()
        let body = Array("{\"message_id\":\"m1-\(id)\",\"status\":\"unknown\"}\n".utf8)
        let answer = try await postReceipts(port, body, BatchHTTP.receiptHeaders(body: body, signer: try HMACSigner(secret: receiptSecret), now: Self.now),
                                            timeout: 60)
        #expect(answer.status == 200, "\(answer.body)")
        #expect(Date().timeIntervalSince(held) >= 11)
        #expect(try Store(location: path).receipts().count == 1)
        await server.stop()
    }

    @Test("a carrier still on receipt signatures version 1 (its file says so) is accepted; the others are not", arguments: StoreEngine.available)
    func legacySignature(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.mobifone], count: 1)
        let (_, server, port) = try await endpoint(path, legacy: [.mobifone])
        let id = try Store(location: path).identity.hex
        let body = Array("{\"message_id\":\"m1-\(id)\",\"status\":\"unknown\"}\n".utf8)
        let v1 = [("X-Loa-Signature", try HMACSigner(secret: receiptSecret).sign(body))]
        #expect(try await postReceipts(port, body, v1, carrier: "mobifone").status == 200)
        #expect(try await postReceipts(port, body, v1, carrier: "viettel").status == 401)
        await server.stop()
    }
}
