import Foundation
import Testing
import LoaCore
import LoaCrypto
@testable import LoaStore
@testable import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaTestSupport

@Suite("Carrier answers: 413, permanent rejections, daily quota", .serialized)
struct CarrierAnswersTests {
    @Test("413: batches are split and every message still goes once", arguments: StoreEngine.available)
    func tooLargeSplits(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 500)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 10_000, maxBatch: 40)
        // loa believes 200 per batch; the carrier takes 40.
        let d = try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 2000, maxBatch: 200)], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        let stats = sim.currentStats()
        #expect(stats.accepted == 500)
        #expect(stats.duplicateMessages == 0)
        let store = try Store(location: path)
        // The carrier's X-Max-Batch is used at once: no halving down step by step (each worker meets one 413 at most).
        let batches = try store.batches()
        // Only batches claimed before the first answer met a 413 (at most the 500 messages in batches of
        // up to 200: three), all above the carrier's 40; after it, every claim was at most 40.
        let tooLarge = batches.filter { $0.httpStatus == 413 }
        #expect(!tooLarge.isEmpty && tooLarge.count <= 3 && tooLarge.allSatisfy { $0.size > 40 }, "\(tooLarge.map(\.size)) refused with 413")
        #expect(batches.filter { $0.state == .accepted }.map(\.size).max() ?? 0 <= 40)
        let (all, accepted) = (try store.messages().count, try store.messages(state: .accepted).count)
        #expect(all == accepted)
        await server.stop()
    }

    @Test("connections cut in the middle of the answer: the upload fails at once, goes again under its key, each message once")
    func connectionCutMidAnswer() async throws {
        let path = try StoreEngine.sqlite.scratchLocation()
        try storeWithCampaign(path, carriers: [.mobifone], count: 400)
        let (sim, server, port) = try await startSimulator(.mobifone, tps: 10_000, maxBatch: 50) { o in
            o.faults = [.reset]
            o.faultRate = 0.5
            o.seed = 7
        }
        // What a client sees: a network error, not an answer.
        let direct = CurlClient(.init(timeout: 2, connectTimeout: 1))
        var sawCut = false, probes = 0
        for i in 0..<8 where !sawCut {
            probes += 1
            let body = BatchHTTP.body([.init(id: Int64(90_000 + i), campaign: "x", subscriber: "h:" + String(repeating: "0", count: 64), text: "t", encoding: "ucs2", segments: 1)], identity: nil) { _ in "LOA" }
            let headers = BatchHTTP.headers(idempotencyKey: "probe-\(i)", body: body, signer: try HMACSigner(secret: signing), token: nil, now: Int64(Date().timeIntervalSince1970))
            do { _ = try await onThread { try direct.post("http://127.0.0.1:\(port)/batches", headers: headers, body: body) } } catch let error as CurlError { sawCut = error.mayHaveReachedServer }
        }
        #expect(sawCut)
        let d = try dispatcher(path, gateways: [gateway(.mobifone, port: port, tps: 10_000, maxBatch: 50)], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        let stats = sim.currentStats()
        #expect(stats.faults > 2)
        #expect(stats.replays > 0)
        #expect(stats.accepted == 400 + probes)   // a cut batch was accepted all the same
        #expect(stats.duplicateMessages == 0)
        let store = try Store(location: path)
        let (all, accepted) = (try store.messages().count, try store.messages(state: .accepted).count)
        #expect(all == accepted)
        await server.stop()
    }

    @Test("the contract's test vectors (carriers/README.md): signature version 2 and the subscriber pseudonym")
    func testVectors() throws {
        let body = Array(#"{"message_id":"m1-0123456789abcdef","msisdn":"h:a538549442bc57430465e70b76821563fb756df57c893044d5a3ab49ed5c536e","sender":"LOA","encoding":"gsm7","text":"Test","segments":1}"#.utf8) + [0x0A]
        let headers = Dictionary(uniqueKeysWithValues: BatchHTTP.headers(idempotencyKey: "loa-0123456789abcdef-viettel-1", body: body,
                                                                         signer: try HMACSigner(secret: Array("signing-secret-0001".utf8)), token: nil, now: 1_795_503_900))
        #expect(headers["Content-SHA256"] == "b71bf1d0e141b8bc04430f194ec8845479bcf40f13bbcbc28fd9ab3f948c967c")
        #expect(headers["X-Loa-Signature-Version"] == "2")
        #expect(headers["X-Loa-Signature"] == "510a2299038bdcaa4ab4fa87d2146ca6721d44c6f3823451f53181b1d884fd55")   // Python's hmac
        let key = (0..<32).map { UInt8($0) }   // the key file's 64 hex digits 000102…1f, decoded
        guard case .success(let n) = VietnamNumberingPlan.parse("0912345678") else { Issue.record("number"); return }
        #expect(try KeyedPseudonymizer(key: key).pseudonym(for: n.msisdn).description == "h:79a61a748707e757c389b31af4907b3e844e43158680c0acfc414d9ab5c833a4")
    }

    @Test("a signed upload with a stale timestamp, or signed for another key, is refused (401)")
    func staleAndMovedSignatures() async throws {
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100)
        let client = CurlClient(.init(timeout: 2))
        let body = BatchHTTP.body([.init(id: 1, campaign: "x", subscriber: "h:" + String(repeating: "0", count: 64), text: "t", encoding: "gsm7", segments: 1)],
                                  identity: StoreIdentity("0123456789abcdef")) { _ in "LOA" }
        let signer = try HMACSigner(secret: signing)
        let now = Int64(Date().timeIntervalSince1970)
        let stale = BatchHTTP.headers(idempotencyKey: "k-1", body: body, signer: signer, token: nil, now: now - 600)
        let staleAnswer = try await onThread { try client.post("http://127.0.0.1:\(port)/batches", headers: stale, body: body) }
        #expect(staleAnswer.status == 401)
        var moved = BatchHTTP.headers(idempotencyKey: "k-2", body: body, signer: signer, token: nil, now: now)
        moved = moved.map { $0.0 == "Idempotency-Key" ? ($0.0, "k-3") : $0 }
        let movedHeaders = moved
        let movedAnswer = try await onThread { try client.post("http://127.0.0.1:\(port)/batches", headers: movedHeaders, body: body) }
        #expect(movedAnswer.status == 401)
        let fresh = BatchHTTP.headers(idempotencyKey: "k-4", body: body, signer: signer, token: nil, now: now)
        let freshAnswer = try await onThread { try client.post("http://127.0.0.1:\(port)/batches", headers: fresh, body: body) }
        #expect(freshAnswer.status == 202)
        #expect(sim.currentStats().badSignatures == 2)
        await server.stop()
    }

    @Test("a message the carrier rejects is recorded with its reason and never retried", arguments: StoreEngine.available)
    func permanentRejection(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        // Two messages (ids 3 and 7) to subscribers the carrier cannot map back.
        try storeWithCampaign(path, carriers: [.viettel], count: 20, subscriber: { i in [2, 6].contains(i) ? "x:\(i + 1)" : nil })
        let store = try Store(location: path)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100)
        let d = try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 1000)], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        #expect(sim.currentStats().accepted == 18)
        #expect(sim.currentStats().batches == 1)   // no retry of the rejected ones
        let rejected = try store.messages(state: .rejected).map { "\($0.id):\($0.reason ?? "")" }
        #expect(rejected == ["3:unknown subscriber", "7:unknown subscriber"])
        await server.stop()
    }

    @Test("the daily quota stops a carrier for the day; what is left waits, planned", arguments: StoreEngine.available)
    func dailyQuota(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 300)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100)
        var g = gateway(.viettel, port: port, tps: 1000)
        g.dailyQuota = 120
        let d = try dispatcher(path, gateways: [g], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d)
        #expect(sim.currentStats().accepted == 120)
        let store = try Store(location: path)
        #expect(try store.messages(state: .planned).count == 180)
        #expect(try store.campaignRecord("test-campaign")?.state == .sending)
        await server.stop()
    }
}

@Suite("Receipt lines")
struct ReceiptLineTests {
    func receipts(_ text: String) -> [(Int, BatchHTTP.ReceiptLine)] { BatchHTTP.receiptLines(Array(text.utf8)).map { ($0.number, $0.line) } }

    @Test("a receipt's time is read, or its line is reported with the reason: never silently dropped; the other lines stand")
    func receiptTimes() throws {
        let good = receipts("""
            {"message_id":"m1-abc","status":"delivered","at":"2026-11-24T08:15:00+07:00"}
            {"message_id":"m2-abc","status":"failed","reason":"absent subscriber"}
            {"message_id":"m3-abc","status":"expired","at":null}

            """).compactMap { if case .receipt(let r) = $0.1 { r } else { nil } }
        #expect(good.map(\.messageRef) == ["m1-abc", "m2-abc", "m3-abc"])
        #expect(good[0].at == Timestamp.parseISO8601("2026-11-24T08:15:00+07:00"))
        #expect(good[1].at == nil && good[2].at == nil)
        #expect(good[1].reason == "absent subscriber")
        for bad in ["\"24/11/2026 08:15\"", "1764000000", "\"2026-11-24T08:15:00\""] {
            let lines = receipts("{\"message_id\":\"m1-abc\",\"status\":\"delivered\"}\n{\"message_id\":\"m2-abc\",\"status\":\"delivered\",\"at\":\(bad)}\n")
            #expect(lines.count == 2)
            guard case .unreadable(_, let reason) = lines.last?.1 else { Issue.record("line 2 read"); continue }
            #expect(lines.last?.0 == 2)
            #expect(reason.hasPrefix("at: expected ISO 8601 with an offset"))
        }
    }

    @Test("statuses: the five outcomes and the two intermediate ones, in any case; anything else is named")
    func statuses() {
        let lines = receipts(["delivered", "FAILED", "expired", "rejected", "unknown", "enroute", "accepted", "DELIVRD"]
            .map { "{\"message_id\":\"m1\",\"status\":\"\($0)\"}" }.joined(separator: "\n"))
        let states = lines.map { line -> String in
            switch line.1 {
            case .receipt(let r): r.status.messageState?.rawValue ?? "(intermediate)"
            case .unreadable(_, let reason): reason
            }
        }
        #expect(states == ["delivered", "failed", "expired", "rejected", "unknown", "(intermediate)", "(intermediate)",
                           "status: DELIVRD is not a receipt status (delivered|failed|expired|rejected|unknown|enroute|accepted|answered|completed|no-answer|busy)"])
    }

    @Test("the fast reader of flat lines agrees with the full JSON reader, and leaves it everything else")
    func fastReader() throws {
        let flat = [
            #"{"message_id":"m1-abc","status":"delivered","at":"2026-11-24T08:15:00+07:00"}"#,
            #" { "message_id" : "m2" , "status":"failed", "reason":"thuê bao vắng mặt", "at":null }  "#,
            #"{}"#,
        ]
        for line in flat {
            let fast = try #require(BatchHTTP.flatObject(Array(line.utf8)), "\(line)")
            let full = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(fast.keys) == Set(full.keys))
            for (k, v) in full { #expect("\(fast[k]!)" == "\(v)", "\(k)") }
        }
        for line in [#"{"message_id":"m\u0031","status":"delivered"}"#, #"{"message_id":"m1","error_code":11}"#, #"{"a":{"b":"c"}}"#,
                     #"{"message_id":"m1"} trailing"#, #"{"message_id":"m1",}"#, #"["m1"]"#] {
            #expect(BatchHTTP.flatObject(Array(line.utf8)) == nil, "\(line)")
        }
        // Through the full reader, the same receipt.
        guard case .receipt(let r) = BatchHTTP.receiptLine(Array(#"{"message_id":"m\u0031","status":"delivered","error_code":11}"#.utf8)) else { Issue.record("unread"); return }
        #expect(r.messageRef == "m1" && r.reason == "error 11")
    }

    @Test("the SMSC's receipt text passed through (smpp) gives the status, the time and the error when the line does not; error_code is kept")
    func smppPassThrough() {
        let lines = receipts("""
            {"message_id":"m1","smpp":"id:9 sub:001 dlvrd:000 submit date:2612010900 done date:2612011300 stat:UNDELIV err:00B text:"}
            {"message_id":"m2","status":"failed","error_code":"0x0B","reason":"absent subscriber"}
            {"message_id":"m3","smpp":"stat:SOMETHING"}
            {"message_id":"m4","smpp":"hello"}
            """)
        guard case .receipt(let r1) = lines[0].1, case .receipt(let r2) = lines[1].1 else { Issue.record("\(lines)"); return }
        #expect(r1.status == .failed && r1.reason == "SMSC: UNDELIV, error 00B" && r1.at == Timestamp.parseISO8601("2026-12-01T13:00:00+07:00"))
        #expect(r2.reason == "absent subscriber, error 0x0B")
        guard case .unreadable(_, let why3) = lines[2].1, case .unreadable(_, let why4) = lines[3].1 else { Issue.record("\(lines)"); return }
        #expect(why3.hasPrefix("smpp: stat:SOMETHING is not an SMPP state"))
        #expect(why4 == "smpp: not an SMPP receipt text (id:… stat:… err:…)")
    }

    @Test("voice receipts: the attempt, the seconds listened and whether it was the last call; a call's status without its attempt is named")
    func voiceReceipts() {
        let lines = receipts("""
            {"message_id":"m1-abc","status":"answered","attempt":2,"listened":23}
            {"message_id":"m2-abc","status":"no-answer","attempt":"3","final":true}
            {"message_id":"m3-abc","status":"completed","attempt":1,"listened":41.6,"at":"2026-12-05T09:00:00+07:00"}
            {"message_id":"m4-abc","status":"busy"}
            {"message_id":"m5-abc","status":"answered","attempt":1,"listened":-4}
            """)
        let calls = lines.map { line -> String in
            switch line.1 {
            case .receipt(let r): "\(r.status.rawValue) \(r.call.map { "\($0.attempt) \($0.listened.map(String.init) ?? "-") \($0.final)" } ?? "none")"
            case .unreadable(_, let reason): reason
            }
        }
        #expect(calls == [
            "answered 2 23 false",
            "no-answer 3 - true",
            "completed 1 42 false",
            "attempt: a call's receipt (busy) says which attempt it reports",
            "listened: expected seconds from 0 to 3600, found -4",
        ])
    }
}
