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

    @Test("planned messages are those without a batch: one left planned without a batch (over the cap, cancelled, expired unsent) gets batch 0 and is never claimed; a batch given back is claimed again; a store of version 18 is brought to this",
          arguments: StoreEngine.available)
    func plannedMeansNoBatch(engine: StoreEngine) throws {
        let location = try engine.scratchLocation()
        let store = try Store(location: location)
        let raw = try rawConnection(to: location)
        func subscriber(_ i: Int) -> String { Pseudonym(w0: UInt64(i), w1: 6, w2: 6, w3: 6).description }
        func plan(_ campaign: String, _ range: Range<Int>) throws -> (planned: Int, capped: Int) {
            try store.planMessages(campaign: campaign, priority: .urgent, day: 1, capPerDay: 1, part: range.map {
                PlannedMessage(carrier: .viettel, subscriber: subscriber($0), language: "vi", commune: 23377, text: "\(campaign) \($0)", encoding: .ucs2, segments: 1)
            })
        }
        func withoutBatch(_ campaign: String) throws -> [String] {
            try raw.query("SELECT state, coalesce(CAST(batch AS TEXT), 'null') FROM messages WHERE campaign = ? AND (batch IS NULL OR batch = 0) ORDER BY id",
                          [.text(campaign)]) { "\($0.text(0)) \($0.text(1))" }
        }
        try addSendingCampaign(store, id: "a", priority: .urgent)
        try addSendingCampaign(store, id: "b", priority: .urgent)
        try addSendingCampaign(store, id: "c", priority: .urgent)
        #expect(try plan("a", 0..<3) == (3, 0))
        // Subscribers 1 and 2 are over the cap in b: rejected at planning, batch 0.
        #expect(try plan("b", 1..<5) == (2, 2))
        #expect(try withoutBatch("b") == ["rejected 0", "rejected 0", "planned null", "planned null"])
        // c is cancelled with its messages planned: rejected, batch 0.
        #expect(try plan("c", 10..<12) == (2, 0))
        _ = try store.transitionCampaign("c", "cancel", by: "minh")
        #expect(try withoutBatch("c") == ["rejected 0", "rejected 0"])
        // a's planned messages expire unsent: expired, batch 0.
        #expect(try store.expireUnsent(campaign: "a", carrier: .viettel, reason: "campaign ended") == 3)
        #expect(try withoutBatch("a") == ["expired 0", "expired 0", "expired 0"])
        // Only b's two planned messages are claimed; given back, they are claimed again.
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 10))
        #expect(batch.messages.map(\.text) == ["b 3", "b 4"])
        #expect(try store.claimBatch(carrier: .viettel, limit: 10) == nil)
        try store.releaseUnsent(batch: batch.id)
        #expect(try withoutBatch("b") == ["rejected 0", "rejected 0", "planned null", "planned null"])
        #expect(try store.pendingCount(carrier: .viettel) == 2)
        #expect(try store.claimBatch(carrier: .viettel, limit: 10)?.messages.map(\.text) == ["b 3", "b 4"])
        // Read back, a message that never had a batch shows none.
        #expect(try store.messages(campaign: "b", state: .rejected).map(\.batch) == [nil, nil])

        // A store as version 18 left it: messages out of planned without a batch have NULL.
        let old = try engine.scratchLocation()
        do {
            let store18 = try Store(location: old)
            try addSendingCampaign(store18, id: "b", priority: .urgent)
            _ = try store18.planMessages(campaign: "b", priority: .urgent, day: 1, capPerDay: 1, part: (0..<2).map {
                PlannedMessage(carrier: .viettel, subscriber: subscriber($0), language: "vi", commune: 23377, text: "b \($0)", encoding: .ucs2, segments: 1)
            })
            let raw18 = try rawConnection(to: old)
            try raw18.execute("""
                UPDATE messages SET batch = NULL WHERE batch = 0;
                UPDATE messages SET state = 'rejected', reason = 'campaign cancelled' WHERE id = (SELECT min(id) FROM messages);
                DROP INDEX messages_planned;
                CREATE INDEX messages_planned ON messages (carrier, campaign, id) WHERE state = 'planned';
                DELETE FROM schema_migrations WHERE version = 19;
                """)
        }
        let reopened = try Store(location: old)
        #expect(try rawConnection(to: old).query("SELECT state, coalesce(CAST(batch AS TEXT), 'null') FROM messages ORDER BY id", []) { "\($0.text(0)) \($0.text(1))" }
                == ["rejected 0", "planned null"])
        #expect(try reopened.claimBatch(carrier: .viettel, limit: 10)?.messages.map(\.text) == ["b 1"])
    }
}
