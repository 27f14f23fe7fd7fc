import Foundation
import Testing
import LoaCore
import LoaCrypto
@testable import LoaStore
@testable import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaTestSupport

/// Campaign policies that end at `end` (seconds from now).
func policies(_ ids: [String], endingIn seconds: Double) -> Dispatcher.Campaigns {
    var p = policies(ids)
    let end = Timestamp(seconds: Int64(Date().timeIntervalSince1970 + seconds))
    for id in ids { p.policies[id]!.end = end }
    return p
}

func states(_ path: String) throws -> [String: Int] {
    let store = try Store(location: path)
    return Dictionary(grouping: try store.messages(), by: { $0.state?.rawValue ?? "?" }).mapValues(\.count)
}

/// Regressions for messages lost or destroyed by dispatch (the silent-loss issue, items 1–5).
@Suite("Dispatch never loses or destroys a message", .serialized)
struct SilentLossTests {
    @Test("an outage that outlasts the campaign: what is unsent at the end expires with the reason; nothing is rejected",
          arguments: StoreEngine.available)
    func outageUntilTheEnd(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.mobifone], count: 120)
        let (sim, server, port) = try await startSimulator(.mobifone, tps: 1000, maxBatch: 100) { o in
            o.outage = 0..<600
            o.outageRetryAfter = "0"
        }
        var g = gateway(.mobifone, port: port, tps: 400)
        g.retry = RetryPolicy(initialDelay: 0.05, multiplier: 2, maxDelay: 0.3)
        let d = try dispatcher(path, gateways: [g], campaigns: policies(["test-campaign"], endingIn: 3))
        let started = Date()
        let lanes = try await runDispatcherReturning(d)
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(sim.currentStats().accepted == 0)
        #expect(try states(path) == ["expired": 120])
        let store = try Store(location: path)
        let reasons = Set(try store.messages().map { $0.reason ?? "" })
        #expect(reasons.allSatisfy { $0.hasPrefix("campaign ended at ") && $0.contains("before the carrier accepted it") }, "\(reasons)")
        #expect(lanes.first?.expired == 120)
        #expect(try store.campaignRecord("test-campaign")?.state == .completed)
        await server.stop()
    }

    @Test("a wrong signing secret (401): the carrier's lane stops at once, every message stays planned, a run with the right secret sends each once",
          arguments: StoreEngine.available)
    func wrongSecret(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel, .vinaphone], count: 200)
        let (badSim, badServer, badPort) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100) { o in
            o.signingSecret = Array("the-carrier-expects-another-secret".utf8)
        }
        let (goodSim, goodServer, goodPort) = try await startSimulator(.vinaphone, tps: 1000, maxBatch: 100)
        let d = try dispatcher(path, gateways: [gateway(.viettel, port: badPort, tps: 400), gateway(.vinaphone, port: goodPort, tps: 400)],
                           campaigns: policies(["test-campaign"])) { _ in }
        let started = Date()
        let lanes = try await runDispatcherReturning(d)
        #expect(Date().timeIntervalSince(started) < 10)
        let viettel = lanes.first { $0.carrier == .viettel }!
        #expect(viettel.fault?.contains("HTTP 401") == true, "\(viettel.fault ?? "no fault")")
        #expect(viettel.problem?.hasPrefix("stopped: ") == true)
        #expect(lanes.first { $0.carrier == .vinaphone }?.problem == nil)   // the other carrier went on
        #expect(badSim.currentStats().badSignatures >= 1 && badSim.currentStats().badSignatures <= 2)
        #expect(goodSim.currentStats().accepted == 200)
        let store = try Store(location: path)
        #expect(try store.messageCounts(campaign: "test-campaign")["viettel"] == [.planned: 200])
        #expect(try store.campaignRecord("test-campaign")?.state == .sending)
        await badServer.stop()
        // Fixed: the same messages go, each once.
        let (fixedSim, fixedServer, fixedPort) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100)
        try await runDispatcher(try dispatcher(path, gateways: [gateway(.viettel, port: fixedPort, tps: 400)], campaigns: policies(["test-campaign"])))
        #expect(fixedSim.currentStats().accepted == 200)
        #expect(fixedSim.currentStats().duplicateMessages == 0)
        #expect(try store.messageCounts(campaign: "test-campaign")["viettel"] == [.accepted: 200])
        await goodServer.stop()
        await fixedServer.stop()
    }

    @Test("a status word outside the contract is never taken as acceptance: the batch stays open under its key, the lane stops",
          arguments: StoreEngine.available)
    func unknownStatusWord(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 60)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100) { o in o.misbehaviour = .statusWord("failed") }
        let lanes = try await runDispatcherReturning(try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 400)], campaigns: policies(["test-campaign"])))
        #expect(lanes[0].fault?.contains("status \"failed\" (expected accepted or rejected)") == true, "\(lanes[0].fault ?? "no fault")")
        // The lane's two workers may each have had a batch out when the first answer came back.
        let batches = sim.currentStats().batches
        #expect(batches == 1 || batches == 2)
        let store = try Store(location: path)
        let counts = try store.messageCounts(campaign: "test-campaign")["viettel"] ?? [:]
        #expect(counts[.accepted] == nil && counts[.rejected] == nil, "\(counts)")
        #expect((counts[.submitted] ?? 0) + (counts[.planned] ?? 0) == 60, "\(counts)")
        // What the carrier saw stays open under its key; nothing else is held.
        let open = try store.batches().filter { $0.state == .retryAt && ($0.reason ?? "").hasPrefix("answer not understood:") }
        #expect(open.count == batches)
        let held = try store.messages(state: .submitted).filter { m in open.contains { $0.id == m.batch } }
        #expect(held.count == counts[.submitted] ?? 0)
        await server.stop()
    }

    @Test("REJECTED in capitals is a rejection; every message rejected is a problem the summary names", arguments: StoreEngine.available)
    func rejectedInCapitals(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 30)
        let (_, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100) { o in o.misbehaviour = .statusWord("REJECTED") }
        let lanes = try await runDispatcherReturning(try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 400)], campaigns: policies(["test-campaign"])))
        #expect(try states(path) == ["rejected": 30])
        #expect(lanes[0].problem?.contains("rejected every message") == true)
        await server.stop()
    }

    @Test("answers without results, with a foreign message or a missing one: nothing is made final", arguments: [
        CarrierSimulator.Misbehaviour.notJSON, .noResults, .foreignMessage, .missingMessage,
    ])
    func incompleteAnswers(misbehaviour: CarrierSimulator.Misbehaviour) async throws {
        let path = try StoreEngine.sqlite.scratchLocation()
        try storeWithCampaign(path, carriers: [.gmobile], count: 20)
        let (_, server, port) = try await startSimulator(.gmobile, tps: 1000, maxBatch: 100) { o in o.misbehaviour = misbehaviour }
        let lanes = try await runDispatcherReturning(try dispatcher(path, gateways: [gateway(.gmobile, port: port, tps: 1000)], campaigns: policies(["test-campaign"])))
        #expect(lanes[0].fault != nil)
        let s = try states(path)
        #expect(s["accepted"] == nil && s["rejected"] == nil, "\(s)")
        await server.stop()
    }

    @Test("two stores sending to one carrier never share an idempotency key or a message id", arguments: StoreEngine.available)
    func storesDoNotCollide(engine: StoreEngine) async throws {
        let first = try engine.scratchLocation(), second = try engine.scratchLocation()
        try storeWithCampaign(first, carriers: [.viettel], count: 100)
        try storeWithCampaign(second, carriers: [.viettel], count: 100)   // same batch and message numbers
        let (sim, server, port) = try await startSimulator(.viettel, tps: 2000, maxBatch: 100)
        for path in [first, second] {
            try await runDispatcher(try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 1000)], campaigns: policies(["test-campaign"])))
        }
        let stats = sim.currentStats()
        #expect(stats.accepted == 200)
        #expect(stats.replays == 0)
        #expect(stats.duplicateMessages == 0)
        let a = try Store(location: first), b = try Store(location: second)
        #expect(a.identity != b.identity)
        #expect(try states(first) == ["accepted": 100] && states(second) == ["accepted": 100])
        // A receipt for the first store's message 1 means nothing to the second store.
        let receipt = ReceiptRecord(messageRef: MessageRef(id: 1, store: a.identity).description, status: .delivered, at: nil, reason: nil)
        #expect(try b.recordReceipts(carrier: .viettel, [receipt]) == [.quarantined(reason: "message \(receipt.messageRef) belongs to another store (this one is \(b.identity.hex))")])
        #expect(try a.recordReceipts(carrier: .viettel, [receipt]) == [.applied])
        await server.stop()
    }
}

func runDispatcherReturning(_ d: Dispatcher) async throws -> [Dispatcher.Progress] {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Dispatcher.Progress], any Error>) in
        Thread { c.resume(with: Result { try d.run(untilDrained: true) }) }.start()
    }
}

/// The outage test counts the uploads offered while the carrier is down: a timing test.
extension DispatchTimingTests {
    @Test("a carrier outage: nothing becomes final, the backlog is not re-offered while it lasts, everything goes once when it is back",
          arguments: StoreEngine.available)
    func outage(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 300)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100) { o in
            o.outage = 0..<4
            o.outageRetryAfter = "1"
        }
        var g = gateway(.viettel, port: port, tps: 200)
        g.retry = RetryPolicy(initialDelay: 0.05, multiplier: 2, maxDelay: 0.5)
        let d = try dispatcher(path, gateways: [g], campaigns: policies(["test-campaign"]))
        let lanes = try await runDispatcherReturning(d)
        let stats = sim.currentStats()
        #expect(stats.accepted == 300)
        #expect(stats.duplicateMessages == 0)
        // Three failures open the circuit; then one probe per Retry-After (1 s) while the outage lasts.
        #expect(stats.outageRefusals >= 3 && stats.outageRefusals <= 12, "\(stats.outageRefusals) uploads offered during a 4 s outage")
        #expect(try states(path) == ["accepted": 300])
        #expect(lanes.first?.problem == nil)
        // Every re-upload counted once: uploads = batches + re-uploads.
        let batches = try Store(location: path).batches().count
        #expect(lanes[0].retries == stats.outageRefusals + stats.batches - batches, "\(lanes[0].retries) retries counted")
        // The progress bar's total is what was sent, not more.
        #expect(lanes[0].sent == 300 && lanes[0].total == 300, "\(lanes[0])")
        #expect(try Store(location: path).campaignRecord("test-campaign")?.state == .completed)
        await server.stop()
    }
}
