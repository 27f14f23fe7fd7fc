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

    @Test("planned messages are those without a batch: one left planned without a batch (over the cap, cancelled, expired unsent) gets batch 0 and is never claimed; a batch given back is claimed again; a store of version 18 is brought to this one",
          arguments: StoreEngine.available)
    func plannedMeansNoBatch(engine: StoreEngine) throws {
        let (location, store, raw) = try Self.scratch(engine)
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
            let (_, raw18) = try Self.sending(at: old, "b", priority: .urgent, messages: 2, to: subscriber)
            try raw18.execute("""
                UPDATE messages SET batch = NULL WHERE batch = 0;
                UPDATE messages SET state = 'rejected', reason = 'campaign cancelled' WHERE id = (SELECT min(id) FROM messages);
                DROP TABLE claim_marks;
                DROP INDEX messages_lane;
                CREATE INDEX messages_batch ON messages (batch);
                ALTER TABLE batches DROP COLUMN first_message;
                ALTER TABLE batches DROP COLUMN last_message;
                CREATE INDEX messages_planned ON messages (carrier, campaign, id) WHERE state = 'planned';
                DELETE FROM schema_migrations WHERE version IN (19, 20);
                """)
        }
        let reopened = try Store(location: old)
        #expect(try rawConnection(to: old).query("SELECT state, coalesce(CAST(batch AS TEXT), 'null') FROM messages ORDER BY id", []) { "\($0.text(0)) \($0.text(1))" }
                == ["rejected 0", "planned null"])
        #expect(try reopened.claimBatch(carrier: .viettel, limit: 10)?.messages.map(\.text) == ["b 1"])
    }

    /// A store at `location` with campaign `id` sending and its Viettel messages "id 0", "id 1"…
    /// planned; and a connection of its own to look into it.
    static func sending(at location: String, _ id: String, priority: Campaign.Priority, messages: Int, to subscriber: (Int) -> String) throws -> (Store, any SQLDatabase) {
        let store = try Store(location: location)
        try addSendingCampaign(store, id: id, priority: priority)
        _ = try store.planMessages(campaign: id, priority: priority, day: 1, capPerDay: 1, part: (0..<messages).map {
            PlannedMessage(carrier: .viettel, subscriber: subscriber($0), language: "vi", commune: 23377, text: "\(id) \($0)", encoding: .ucs2, segments: 1)
        })
        return (store, try rawConnection(to: location))
    }

    /// A new store, where it is, and a connection of its own to look into it.
    static func scratch(_ engine: StoreEngine) throws -> (location: String, store: Store, raw: any SQLDatabase) {
        let location = try engine.scratchLocation()
        return (location, try Store(location: location), try rawConnection(to: location))
    }

    @Test("a claim takes the lowest ids waiting in its lane (carrier and campaign) and rewrites no index entry; what waits again (a batch given back, a 413) is claimed first; a batch's messages are its range in its lane; a version-19 store is brought to this",
          arguments: StoreEngine.available)
    func claimsByLaneMarks(engine: StoreEngine) throws {
        let (location, store, raw) = try Self.scratch(engine)
        func subscriber(_ i: Int) -> String { Pseudonym(w0: UInt64(i), w1: 7, w2: 7, w3: 7).description }
        func texts(_ batch: Batch?) -> [String] { batch?.messages.map(\.text) ?? [] }
        func states() throws -> [String] { try raw.query("SELECT state FROM messages ORDER BY id", []) { $0.text(0) } }
        try addSendingCampaign(store, id: "a", priority: .emergency)
        // Viettel (even) and MobiFone (odd) interleaved in one part.
        _ = try store.planMessages(campaign: "a", priority: .emergency, day: 1, capPerDay: 1, part: (0..<12).map {
            PlannedMessage(carrier: $0 % 2 == 0 ? .viettel : .mobifone, subscriber: subscriber($0), language: "vi", commune: 23377, text: "a \($0)", encoding: .ucs2, segments: 1)
        })
        let b2: Batch
        do {
            // Its connection closes at the end of this block, and PostgreSQL counts its updates then.
            let first = try Store(location: location)
            let b1 = try #require(try first.claimBatch(carrier: .viettel, limit: 2))
            #expect(texts(b1) == ["a 0", "a 2"])
            b2 = try #require(try first.claimBatch(carrier: .viettel, limit: 2))
            #expect(texts(b2) == ["a 4", "a 6"])
            // Accepting b1 changes its messages, not MobiFone's between them.
            try first.batchAccepted(b1.id, status: 200, rejected: [:])
        }
        #expect(try states() == ["accepted", "planned", "accepted", "planned", "submitted", "planned", "submitted", "planned", "planned", "planned", "planned", "planned"])
        if engine == .postgres {
            // Six updates (two claims of two, one acceptance of two) in a page with room: none
            // wrote an index entry (before, a claim wrote four per message).
            var counts = (updates: 0, hot: 0)
            for _ in 0..<200 where counts.updates < 6 {
                Thread.sleep(forTimeInterval: 0.05)
                counts = try #require(try raw.query("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'messages'", []) { ($0.int(0), $0.int(1)) }.first)
            }
            #expect(counts == (6, 6))
        }
        // b2 given back: claimed again, before the rest.
        try store.releaseUnsent(batch: b2.id)
        #expect(try store.pendingCount(carrier: .viettel) == 4)
        let b3 = try #require(try store.claimBatch(carrier: .viettel, limit: 3))
        #expect(texts(b3) == ["a 4", "a 6", "a 8"])
        // Too large (413): back again, and taken in smaller batches.
        try store.batchTooLarge(b3.id)
        #expect(texts(try store.claimBatch(carrier: .viettel, limit: 1)) == ["a 4"])
        #expect(texts(try store.claimBatch(carrier: .viettel, limit: 10)) == ["a 6", "a 8", "a 10"])
        #expect(try store.claimBatch(carrier: .viettel, limit: 10) == nil)
        #expect(try store.pendingCount(carrier: .viettel) == 4)   // the two batches uploading
        #expect(texts(try store.claimBatch(carrier: .mobifone, limit: 10)) == ["a 1", "a 3", "a 5", "a 7", "a 9", "a 11"])
        // Planned later into a lane whose mark went past: claimed.
        _ = try store.planMessages(campaign: "a", priority: .emergency, day: 1, capPerDay: 1, part: [
            PlannedMessage(carrier: .viettel, subscriber: subscriber(20), language: "vi", commune: 23377, text: "a 20", encoding: .ucs2, segments: 1)])
        #expect(texts(try store.claimBatch(carrier: .viettel, limit: 10)) == ["a 20"])
        // Expired unsent, then cancelled: nothing waits, and the marks are past every message.
        func marks(_ campaign: String) throws -> [String] {
            try raw.query("SELECT carrier, below, upto, waiting FROM claim_marks WHERE campaign = ? ORDER BY carrier", [.text(campaign)]) { "\($0.text(0)) \($0.int64(1)) \($0.int64(2)) \($0.int64(3))" }
        }
        _ = try store.planMessages(campaign: "a", priority: .emergency, day: 1, capPerDay: 1, part: [21, 22].map {
            PlannedMessage(carrier: .viettel, subscriber: subscriber($0), language: "vi", commune: 23377, text: "a \($0)", encoding: .ucs2, segments: 1)
        })
        #expect(try store.pendingCount(carrier: .viettel) == 5 + 2)   // three batches uploading, two planned
        #expect(try store.expireUnsent(campaign: "a", carrier: .viettel, reason: "campaign ended") == 2)
        #expect(try store.claimBatch(carrier: .viettel, limit: 10) == nil)
        #expect(try marks("a") == ["mobifone 13 12 0", "viettel 16 15 0"])
        try addSendingCampaign(store, id: "c", priority: .emergency)
        _ = try store.planMessages(campaign: "c", priority: .emergency, day: 1, capPerDay: 1, part: [30, 31].map {
            PlannedMessage(carrier: $0 == 30 ? .viettel : .gmobile, subscriber: subscriber($0), language: "vi", commune: 23377, text: "c \($0)", encoding: .ucs2, segments: 1)
        })
        #expect(try store.hasWork(carrier: .gmobile))
        #expect(try store.pendingCount(carrier: .gmobile) == 1)
        _ = try store.transitionCampaign("c", "cancel", by: "minh")
        #expect(try marks("c") == ["gmobile 18 17 0", "viettel 17 16 0"])
        #expect(try store.hasWork(carrier: .gmobile) == false)
        #expect(try store.pendingCount(carrier: .gmobile) == 0)

        // A store as version 19 left it: one batch uploading (ids 1, 2), one given back (3, 4).
        let old = try engine.scratchLocation()
        do {
            let (store19, raw19) = try Self.sending(at: old, "b", priority: .emergency, messages: 6, to: subscriber)
            _ = try #require(try store19.claimBatch(carrier: .viettel, limit: 2))
            let given = try #require(try store19.claimBatch(carrier: .viettel, limit: 2))
            try raw19.execute("""
                DROP TABLE claim_marks;
                DROP INDEX messages_lane;
                CREATE INDEX messages_planned ON messages (carrier, campaign, id) WHERE batch IS NULL;
                CREATE INDEX messages_batch ON messages (batch);
                ALTER TABLE batches DROP COLUMN first_message;
                ALTER TABLE batches DROP COLUMN last_message;
                UPDATE messages SET state = 'planned', batch = NULL WHERE batch = \(given.id);
                DELETE FROM batches WHERE id = \(given.id);
                DELETE FROM schema_migrations WHERE version = 20;
                """)
        }
        let reopened = try Store(location: old)
        #expect(texts(try reopened.claimBatch(carrier: .viettel, limit: 10)) == ["b 2", "b 3", "b 4", "b 5"])
        let first = try #require(try reopened.batches(carrier: .viettel).first)
        try reopened.batchAccepted(first.id, status: 200, rejected: [:])
        #expect(try reopened.messages(campaign: "b", state: .accepted).count == 2)
        #expect(try reopened.claimBatch(carrier: .viettel, limit: 10) == nil)
    }
}

