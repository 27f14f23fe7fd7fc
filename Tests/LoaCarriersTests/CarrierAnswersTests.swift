import Foundation
import Testing
import LoaCore
import LoaStore
@testable import LoaCarriers
import LoaTestSupport

@Suite("Carrier answers: 413, permanent rejections, daily quota", .serialized)
struct CarrierAnswersTests {
    @Test("413: batches are split and every message still goes once", arguments: StoreEngine.available)
    func tooLargeSplits(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 500)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 10_000, maxBatch: 40)
        // loa believes 200 per batch; the carrier takes 40.
        let d = Dispatcher(storeLocation: path, gateways: [gateway(.viettel, port: port, tps: 2000, maxBatch: 200)], campaigns: policies(["test-campaign"])) { _ in }
        try await runDispatcher(d)
        let stats = sim.currentStats()
        #expect(stats.accepted == 500)
        #expect(stats.duplicateMessages == 0)
        let store = try SubscriberStore(location: path)
        #expect(try store.db.scalarInt("SELECT count(*) FROM batches WHERE http_status = 413") ?? 0 >= 1)
        #expect(try store.db.scalarInt("SELECT count(*) FROM messages WHERE state != 'accepted'") == 0)
        await server.stop()
    }

    @Test("a message the carrier rejects is recorded with its reason and never retried", arguments: StoreEngine.available)
    func permanentRejection(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 20)
        let store = try SubscriberStore(location: path)
        // Two messages to subscribers the carrier cannot map back.
        try store.db.run("UPDATE messages SET subscriber = 'x:' || id WHERE id IN (3, 7)")
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100)
        let d = Dispatcher(storeLocation: path, gateways: [gateway(.viettel, port: port, tps: 1000)], campaigns: policies(["test-campaign"])) { _ in }
        try await runDispatcher(d)
        #expect(sim.currentStats().accepted == 18)
        #expect(sim.currentStats().batches == 1)   // no retry of the rejected ones
        let rejected = try store.db.query("SELECT id, reason FROM messages WHERE state = 'rejected' ORDER BY id") { "\($0.int(0)):\($0.text(1))" }
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
        let d = Dispatcher(storeLocation: path, gateways: [g], campaigns: policies(["test-campaign"])) { _ in }
        try await runDispatcher(d)
        #expect(sim.currentStats().accepted == 120)
        let store = try SubscriberStore(location: path)
        #expect(try store.db.scalarInt("SELECT count(*) FROM messages WHERE state = 'planned'") == 180)
        #expect(try store.campaignRecord("test-campaign")?.state == .sending)
        await server.stop()
    }
}
