import Foundation
import Testing
import LoaCore
import LoaStore
import LoaTestSupport

/// Planning writes each message once, in order, with its text byte for byte (PostgreSQL takes
/// them through COPY, whose text format escapes tabs, line ends and backslashes).
@Suite("Planning messages into the store (SQLite and PostgreSQL)")
struct PlanningTests {
    @Test("texts with tabs, line ends and backslashes, a missing commune, the cap across chunks, planning again, ids in planning order",
          arguments: StoreEngine.available)
    func planning(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "c", priority: .urgent)
        func subscriber(_ i: Int) -> String { Pseudonym(w0: UInt64(i), w1: 5, w2: 5, w3: 5).description }
        let tricky = "Bà con\tchú ý:\nlũ quét \\ sạt lở\r\n\\N không phải trống"
        // 12,000 messages (more than one chunk on either engine); subscriber 7 twice (the second over the cap of 1 a day).
        var planned = (0..<12_000).map { i in
            PlannedMessage(carrier: .viettel, subscriber: subscriber(i), language: "vi", commune: i == 1 ? nil : 23377,
                           text: i == 0 ? tricky : "tin \(i)", encoding: .ucs2, segments: 1)
        }
        planned.append(PlannedMessage(carrier: .viettel, subscriber: subscriber(7), language: "vi", commune: 23377, text: "again", encoding: .ucs2, segments: 1))
        let first = try store.planMessages(campaign: "c", priority: .urgent, day: 1, capPerDay: 1, part: planned)
        #expect(first.planned == 12_000)
        #expect(first.capped == 0)   // the same subscriber twice in one campaign and carrier is one message
        let again = try store.planMessages(campaign: "c", priority: .urgent, day: 1, capPerDay: 1, part: planned)
        #expect(again.planned == 0 && again.capped == 0)
        let messages = try store.messages(campaign: "c")
        #expect(messages.count == 12_000)
        #expect(messages.map(\.subscriber) == (0..<12_000).map(subscriber))
        #expect(messages.map(\.id) == messages.map(\.id).sorted())
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 3))
        #expect(batch.messages.map(\.text) == [tricky, "tin 1", "tin 2"])

        // Another campaign the same day: the cap (1 a day) rejects every subscriber already planned, with the reason.
        try addSendingCampaign(store, id: "d", priority: .urgent)
        let more = (11_990..<12_010).map { i in
            PlannedMessage(carrier: .viettel, subscriber: subscriber(i), language: "vi", commune: 23377, text: "d \(i)", encoding: .ucs2, segments: 1)
        }
        let second = try store.planMessages(campaign: "d", priority: .urgent, day: 1, capPerDay: 1, part: more)
        #expect(second.planned == 10)
        #expect(second.capped == 10)
        let rejected = try store.messages(campaign: "d", state: .rejected)
        #expect(rejected.count == 10)
        #expect(rejected.allSatisfy { $0.reason == "per-subscriber cap: 1 a day across campaigns" })
    }
}
