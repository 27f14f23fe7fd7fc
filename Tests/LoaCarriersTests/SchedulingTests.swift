import Foundation
import Testing
import LoaCore
import LoaStore
@testable import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaTestSupport

func addCampaign(_ store: Store, id: String, priority: Campaign.Priority, carrier: Carrier, count: Int, subscriberOffset: UInt64 = 0) throws {
    try addSendingCampaign(store, id: id, priority: priority)
    let messages = (0..<count).map { i in
        PlannedMessage(carrier: carrier, subscriber: Pseudonym(w0: UInt64(i) + subscriberOffset, w1: 9, w2: 9, w3: 9).description,
                                       language: "vi", commune: 23377, text: "\(id) \(i)", encoding: .gsm7, segments: 1)
    }
    _ = try store.planMessages(campaign: id, priority: .emergency, day: 1, capPerDay: 1, messages)
}

@Suite("Scheduling: priorities, fair share, caps, pause", .serialized)
struct SchedulingTests {
    @Test("higher priority first; equal priorities take turns", arguments: StoreEngine.available)
    func priorityAndFairShare(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        try addCampaign(store, id: "routine-a", priority: .routine, carrier: .viettel, count: 30, subscriberOffset: 0)
        try addCampaign(store, id: "urgent-b", priority: .urgent, carrier: .viettel, count: 30, subscriberOffset: 100)
        try addCampaign(store, id: "urgent-c", priority: .urgent, carrier: .viettel, count: 30, subscriberOffset: 200)
        try addCampaign(store, id: "emergency-d", priority: .emergency, carrier: .viettel, count: 20, subscriberOffset: 300)
        var order: [String] = []
        while let batch = try store.claimBatch(carrier: .viettel, limit: 10) {
            order.append(batch.messages[0].campaign)
            try store.batchAccepted(batch.id, status: 202, rejected: [:])
        }
        #expect(order == ["emergency-d", "emergency-d",
                          "urgent-b", "urgent-c", "urgent-b", "urgent-c", "urgent-b", "urgent-c",
                          "routine-a", "routine-a", "routine-a"])
        // Only allowed campaigns are claimed (e.g. outside a campaign's window).
        try addCampaign(store, id: "routine-e", priority: .routine, carrier: .viettel, count: 5, subscriberOffset: 400)
        #expect(try store.claimBatch(carrier: .viettel, limit: 10, allowed: ["nothing"]) == nil)
        #expect(try store.claimBatch(carrier: .viettel, limit: 10, allowed: ["routine-e"])?.messages.count == 5)
    }

    @Test("a batch waiting to go again is taken by one upload worker only, and counts its attempt", arguments: StoreEngine.available)
    func openBatchTakenOnce(engine: StoreEngine) throws {
        let path = try engine.scratchLocation()
        let store = try Store(location: path)
        let other = try Store(location: path)
        try addCampaign(store, id: "r", priority: .urgent, carrier: .viettel, count: 4)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 10))
        try store.recordAttempt(batch: batch.id)
        try store.batchRetry(batch.id, at: 0, status: 503, reason: "HTTP 503")
        let due = try other.openBatches(carrier: .viettel, dueAt: 1, excluding: [], limit: 5)
        #expect(due.map(\.id) == [batch.id])
        #expect(due.first?.attempts == 1)
        #expect(try store.openBatches(carrier: .viettel, dueAt: 1, excluding: [batch.id]).isEmpty)
        // Two workers (two connections) saw it due: the first takes it, the second gets nothing.
        #expect(try store.batchUploading(batch.id) == true)
        #expect(try other.batchUploading(batch.id) == false)
        #expect(try other.openBatches(carrier: .viettel, dueAt: 1).isEmpty)
        try store.batchAccepted(batch.id, status: 202, rejected: [:])
        #expect(try other.batchUploading(batch.id) == false)
        let attempts = try store.batches().first { $0.id == batch.id }?.attempts
        #expect(attempts == 2)
    }

    @Test("per-subscriber cap across campaigns: one routine message a day, emergencies exempt", arguments: StoreEngine.available)
    func perSubscriberCap(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        for (id, p) in [("a", Campaign.Priority.routine), ("b", .routine), ("c", .emergency), ("d", .routine)] {
            try addDraftCampaign(store, id: id, priority: p)
        }
        let m = PlannedMessage(carrier: .viettel, subscriber: "h:" + String(repeating: "ab", count: 32), language: "vi",
                                               commune: nil, text: "t", encoding: .gsm7, segments: 1)
        #expect(try store.planMessages(campaign: "a", priority: .routine, day: 7, capPerDay: 1, [m]) == (1, 0))
        #expect(try store.planMessages(campaign: "b", priority: .routine, day: 7, capPerDay: 1, [m]) == (0, 1))
        #expect(try store.planMessages(campaign: "d", priority: .routine, day: 8, capPerDay: 1, [m]) == (1, 0))   // another day
        #expect(try store.planMessages(campaign: "c", priority: .emergency, day: 7, capPerDay: 1, [m]) == (1, 0))
        let reason = try store.messages(campaign: "b").first { $0.day == 7 }?.reason
        #expect(reason == "per-subscriber cap: 1 a day across campaigns")
        // Planning twice adds nothing.
        #expect(try store.planMessages(campaign: "a", priority: .routine, day: 7, capPerDay: 1, [m]) == (0, 0))
    }

    @Test("planning in parts: a part repeated after a crash adds nothing; the cap holds across parts; the audit has the totals",
          arguments: StoreEngine.available)
    func planningInParts(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        for id in ["early", "big"] {
            try addDraftCampaign(store, id: id, priority: .routine)
        }
        func messages(_ range: Range<Int>) -> [PlannedMessage] {
            range.map { PlannedMessage(carrier: .vinaphone, subscriber: Pseudonym(w0: UInt64($0), w1: 5, w2: 5, w3: 5).description, language: "vi",
                                             commune: nil, text: "t", encoding: .gsm7, segments: 1) }
        }
        // Another campaign already reached subscribers 0..<100 today.
        #expect(try store.planMessages(campaign: "early", priority: .routine, day: 3, capPerDay: 1, messages(0..<100)) == (100, 0))
        // First attempt: one part of 600 goes in, then the process dies before the rest.
        #expect(try store.planMessages(campaign: "big", priority: .routine, day: 3, capPerDay: 1, part: messages(0..<600)) == (500, 100))
        #expect(try store.campaignRecord("big")?.planned == false)
        // Second attempt: every part again.
        #expect(try store.planMessages(campaign: "big", priority: .routine, day: 3, capPerDay: 1, part: messages(0..<600)) == (0, 0))
        #expect(try store.planMessages(campaign: "big", priority: .routine, day: 3, capPerDay: 1, part: messages(600..<1000)) == (400, 0))
        try store.finishPlanning(campaign: "big", written: (400, 0))
        #expect(try store.campaignRecord("big")?.planned == true)
        #expect(try store.messageCounts(campaign: "big")["vinaphone"] == [.planned: 900, .rejected: 100])
        #expect(try store.auditTrail(campaign: "big").last?.detail == "900 messages planned, 100 over the per-subscriber cap (600 of them before this run)")
    }

    @Test("pause stops new batches mid-flight; resume finishes; cancel drops what is left", arguments: StoreEngine.available)
    func pauseResumeCancel(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        try storeWithCampaign(path, carriers: [.viettel], count: 400)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 1000, maxBatch: 100)
        let store = try Store(location: path)
        let d = try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 100)], campaigns: policies(["test-campaign"]))
        Thread { try? await_(d) }.start()
        try await Task.sleep(for: .milliseconds(1200))
        _ = try store.transitionCampaign("test-campaign", "pause", by: "minh")
        try await Task.sleep(for: .milliseconds(1500))
        let atPause = sim.currentStats().accepted
        try await Task.sleep(for: .milliseconds(1000))
        #expect(sim.currentStats().accepted == atPause)          // nothing more while paused
        #expect(atPause > 0 && atPause < 400)
        d.stop()
        _ = try store.transitionCampaign("test-campaign", "resume", by: "minh")
        let d2 = try dispatcher(path, gateways: [gateway(.viettel, port: port, tps: 400)], campaigns: policies(["test-campaign"]))
        try await runDispatcher(d2)
        #expect(sim.currentStats().accepted == 400)
        #expect(sim.currentStats().duplicateMessages == 0)
        #expect(try store.campaignRecord("test-campaign")?.state == .completed)
        #expect(try store.auditTrail(campaign: "test-campaign").map(\.action) == ["submit", "approve", "start", "plan", "pause", "resume", "complete"])
        // Cancel: planned messages are rejected with the reason, nothing more is sent.
        try addCampaign(store, id: "to-cancel", priority: .routine, carrier: .viettel, count: 10, subscriberOffset: 5000)
        _ = try store.transitionCampaign("to-cancel", "cancel", by: "minh")
        #expect(try store.messages(campaign: "to-cancel", state: .rejected).filter { $0.reason == "campaign cancelled" }.count == 10)
        await server.stop()
    }
}

func await_(_ d: Dispatcher) throws { try d.run(untilDrained: false) }
