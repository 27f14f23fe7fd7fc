import Foundation
import Synchronization
import Testing
import LoaCore
import LoaStore
import LoaTestSupport

/// Receipts in the store: order, duplicates, conflicting finals, reconciliation.
@Suite("Receipt rules in the store (SQLite and PostgreSQL)")
struct ReceiptRulesTests {
    /// A store with `count` Viettel messages the carrier accepted, of `segments` parts each; their receipt ids.
    func accepted(_ engine: StoreEngine, count: Int, segments: Int = 1) throws -> (Store, [String]) {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "c", priority: .emergency)
        let messages = (0..<count).map {
            PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: UInt64($0), w1: 3, w2: 3, w3: 3).description, language: "vi", commune: 23377,
                           text: "t", encoding: .gsm7, segments: segments)
        }
        _ = try store.planMessages(campaign: "c", priority: .emergency, day: 1, capPerDay: 1, messages)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: count))
        try store.batchAccepted(batch.id, status: 202, rejected: [:])
        return (store, batch.refs.map { $0.description })
    }

    func receipt(_ ref: String, _ status: ReceiptStatus, _ at: String?, reason: String? = nil) -> ReceiptRecord {
        ReceiptRecord(messageRef: ref, status: status, at: at.flatMap { Timestamp.parseISO8601($0) }, reason: reason)
    }

    @Test("duplicates change nothing; between two finals the later `at` wins and the conflict is recorded; a final without a time never overrides",
          arguments: StoreEngine.available)
    func conflictingFinals(engine: StoreEngine) throws {
        let (store, refs) = try accepted(engine, count: 2)
        let (m1, m2) = (refs[0], refs[1])
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(m1, .delivered, "2026-12-01T09:00:00+07:00")]) == [.applied])
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(m1, .delivered, "2026-12-01T09:00:00+07:00")]) == [.kept])
        // An earlier failure arriving late: delivered stays.
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(m1, .failed, "2026-12-01T08:59:00+07:00")]) == [.kept])
        #expect(try store.messages().first?.state == .delivered)
        // A later correction wins.
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(m1, .failed, "2026-12-01T09:30:00+07:00", reason: "absent subscriber")]) == [.applied])
        #expect(try store.messages().first.map { ($0.state, $0.reason) } ?? (nil, nil) == (.failed, "absent subscriber"))
        // Without a time a receipt never overrides a final.
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(m1, .delivered, nil)]) == [.kept])
        let conflicts = try store.receipts().compactMap(\.conflict)
        #expect(conflicts == [
            "failed at 2026-12-01T08:59:00+07:00 conflicts with delivered at 2026-12-01T09:00:00+07:00, which stays (the later receipt wins; one without a time never does)",
            "failed at 2026-12-01T09:30:00+07:00 replaces delivered at 2026-12-01T09:00:00+07:00: the later receipt wins",
            "delivered (no time given) conflicts with failed at 2026-12-01T09:30:00+07:00, which stays (the later receipt wins; one without a time never does)",
        ])
        // Intermediate statuses are kept and move nothing.
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(m2, .enroute, nil), receipt(m2, .accepted, nil)]) == [.kept, .kept])
        #expect(try store.messages().last?.state == .accepted)
        #expect(try store.receipts().count == 7)
    }

    @Test("reconciliation: accepted with no final receipt within the validity becomes no-receipt; a late receipt still applies",
          arguments: StoreEngine.available)
    func reconciliation(engine: StoreEngine) throws {
        let (store, refs) = try accepted(engine, count: 3)
        _ = try store.recordReceipts(carrier: .viettel, [receipt(refs[0], .delivered, nil)])
        let now = Int64(Date().timeIntervalSince1970)
        // Accepted just now: within a validity of 48 h nothing changes.
        #expect(try store.reconcileReceipts(carrier: .viettel, acceptedBefore: now - 48 * 3600) == 0)
        // As if 48 h had passed.
        #expect(try store.reconcileReceipts(carrier: .viettel, acceptedBefore: now + 1) == 2)
        #expect(try store.messages().map(\.state) == [.delivered, .noReceipt, .noReceipt])
        #expect(try store.messages().last?.reason == "no final receipt within the carrier's validity period")
        #expect(try store.recordReceipts(carrier: .viettel, [receipt(refs[2], .delivered, nil)]) == [.applied])
        #expect(try store.messages().map(\.state) == [.delivered, .noReceipt, .delivered])
        #expect(try store.reconcileReceipts(carrier: .viettel, acceptedBefore: now + 1) == 0)
    }

    @Test("parts of a long message: every part recorded; delivered once all are, failed when one fails; a carrier reporting only the last part",
          arguments: StoreEngine.available)
    func parts(engine: StoreEngine) throws {
        let (store, refs) = try accepted(engine, count: 2, segments: 3)
        func part(_ ref: String, _ n: Int, _ status: ReceiptStatus) -> ReceiptRecord {
            ReceiptRecord(messageRef: ref, status: status, at: nil, reason: nil, part: n)
        }
        #expect(try store.recordReceipts(carrier: .viettel, [part(refs[0], 1, .delivered), part(refs[0], 3, .delivered)]) == [.kept, .kept])
        #expect(try store.messages()[0].state == .accepted)
        #expect(try store.recordReceipts(carrier: .viettel, [part(refs[0], 2, .delivered)]) == [.applied])
        #expect(try store.messages()[0].state == .delivered)
        // A part failed: the message failed, whatever the others say.
        #expect(try store.recordReceipts(carrier: .viettel, [part(refs[1], 1, .delivered), part(refs[1], 2, .failed), part(refs[1], 3, .delivered)])
                == [.kept, .applied, .kept])
        #expect(try store.messages()[1].state == .failed)
        #expect(try store.receipts().compactMap(\.part) == [1, 3, 2, 1, 2, 3])
        // A carrier that reports the last part only.
        let (other, more) = try accepted(engine, count: 1, segments: 2)
        #expect(try other.recordReceipts(carrier: .viettel, parts: .last, [part(more[0], 1, .failed)]) == [.kept])
        #expect(try other.recordReceipts(carrier: .viettel, parts: .last, [part(more[0], 2, .delivered)]) == [.applied])
        #expect(try other.messages()[0].state == .delivered)
    }

    @Test("a store from before receipts were folded onto their messages: the parts and the time of a final it holds still decide what comes next",
          arguments: StoreEngine.available)
    func foldedFromOlderStore(engine: StoreEngine) throws {
        let (store, refs) = try accepted(engine, count: 2, segments: 2)
        let (m1, m2) = (try #require(MessageRef(refs[0])).id, try #require(MessageRef(refs[1])).id)
        let location = store.givenLocation
        // Back to the shape version 16 left: receipts found through an index by message, nothing on the row.
        do {
            let raw: any SQLDatabase = engine == .sqlite ? try SQLiteDatabase(path: location, create: false) : try PostgresDatabase(url: location)
            let nine = Timestamp.parseISO8601("2026-12-01T09:00:00+07:00")!.seconds, eleven = nine + 7200
            try raw.execute("""
                INSERT INTO receipts (carrier, message_ref, status, at, received_at, message, part) VALUES
                    ('viettel', '\(refs[0])', 'delivered', \(nine), 1, \(m1), 1),
                    ('viettel', '\(refs[0])', 'enroute', NULL, 2, \(m1), 1),
                    ('viettel', '\(refs[1])', 'failed', \(nine), 3, \(m2), NULL),
                    ('viettel', '\(refs[1])', 'failed', \(eleven), 4, \(m2), NULL);
                UPDATE messages SET state = 'failed' WHERE id = \(m2);
                ALTER TABLE messages DROP COLUMN receipt_at;
                ALTER TABLE messages DROP COLUMN receipt_parts;
                CREATE INDEX receipts_message ON receipts (message);
                DELETE FROM schema_migrations WHERE version = 17;
                """)
        }
        let reopened = try Store(location: location)
        // Part 1 was delivered (its later "enroute" does not undo that): part 2 completes the message.
        #expect(try reopened.recordReceipts(carrier: .viettel, [ReceiptRecord(messageRef: refs[0], status: .delivered, at: nil, reason: nil, part: 2)]) == [.applied])
        // failed stands as of 11:00 (its latest receipt): a delivery at 10:00 does not replace it.
        #expect(try reopened.recordReceipts(carrier: .viettel, [receipt(refs[1], .delivered, "2026-12-01T10:00:00+07:00")]) == [.kept])
        #expect(try reopened.messages().map(\.state) == [.delivered, .failed])
        #expect(try reopened.receipts().last?.conflict?.contains("conflicts with failed at 2026-12-01T11:00:00+07:00") == true)
    }

    @Test("the receipts endpoint's SQLite store copies its log back on a thread of its own, below the 30,000 pages at which its writer would")
    func receiptsLogCopiedInBackground() throws {
        let (store, refs) = try accepted(.sqlite, count: 3000)
        let endpoint = try Store.forReceipts(location: store.givenLocation)
        let outcomes = try endpoint.recordReceipts(carrier: .viettel, refs.map { ReceiptRecord(messageRef: $0, status: .delivered, at: nil, reason: nil) })
        #expect(outcomes.filter { $0 == .applied }.count == 3000)
        // Within 10 s even on a busy machine (a pass runs every 50 ms).
        let deadline = Date().addingTimeInterval(10)
        while endpoint.pagesCheckpointedInBackground == 0 && Date() < deadline { usleep(10_000) }
        #expect(endpoint.pagesCheckpointedInBackground > 0)
        #expect(try store.messages().filter { $0.state == .delivered }.count == 3000)
        // A store opened the usual way has no such thread.
        #expect(store.pagesCheckpointedInBackground == 0)
    }

    @Test("SQLite: the receipts connection's log is started over by its thread while the writer goes on; a reader holding an old snapshot holds up neither")
    func receiptsLogStartedOverInBackground() throws {
        let (store, refs) = try accepted(.sqlite, count: 3000)
        let endpoint = try Store.forReceipts(location: store.givenLocation, restartLogAfter: 100)
        // Another connection reads from a snapshot taken before any receipt: the log cannot be
        // copied past it, so it cannot start over yet.
        let reader = try rawConnection(to: store.givenLocation)
        try reader.execute("BEGIN")
        #expect(try reader.query("SELECT count(*) FROM messages WHERE state = 'accepted'", []) { $0.int(0) } == [3000])
        // The writer never waits for that reader (a checkpoint that waited for readers with the
        // write lock held stalled it for its busy timeout, 10 s, at each try).
        var slowest = 0.0
        for start in stride(from: 0, to: refs.count, by: 100) {
            let chunk = refs[start..<start + 100]
            let t0 = Date()
            let outcomes = try endpoint.recordReceipts(carrier: .viettel, chunk.map { ReceiptRecord(messageRef: $0, status: .delivered, at: nil, reason: nil) })
            slowest = max(slowest, Date().timeIntervalSince(t0))
            #expect(outcomes == Array(repeating: ReceiptOutcome.applied, count: chunk.count))
        }
        #expect(slowest < 5, "a call took \(slowest) s")
        #expect(try reader.query("SELECT count(*) FROM messages WHERE state = 'accepted'", []) { $0.int(0) } == [3000])
        try reader.execute("COMMIT")
        // Once the reader is done, the thread has the log started over while the writer goes on.
        let deadline = Date().addingTimeInterval(20)
        var calls = 0
        while endpoint.logRestartsInBackground == 0 && Date() < deadline {
            let chunk = refs[(calls * 100) % 3000 ..< (calls * 100) % 3000 + 100]
            #expect(try endpoint.recordReceipts(carrier: .viettel, chunk.map { ReceiptRecord(messageRef: $0, status: .delivered, at: nil, reason: nil) })
                    == Array(repeating: ReceiptOutcome.kept, count: 100))
            calls += 1
        }
        #expect(endpoint.logRestartsInBackground > 0)
        #expect(try store.messages().filter { $0.state == .delivered }.count == 3000)
        #expect(try store.receipts().count == 3000 + calls * 100)
    }

    @Test("two processes recording the two parts of the same messages at the same time: every message ends delivered (no decision lost)",
          arguments: StoreEngine.available)
    func partsFromTwoProcessesAtOnce(engine: StoreEngine) throws {
        let (store, refs) = try accepted(engine, count: 400, segments: 2)
        let location = store.givenLocation
        let failures = Mutex<[String]>([])
        let ready = Atomic<Int>(0)
        let done = DispatchGroup()
        for k in 0..<2 {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    let other = try Store(location: location, create: false)
                    // Both connections open before either records: they meet on the same messages.
                    ready.add(1, ordering: .relaxed)
                    while ready.load(ordering: .relaxed) < 2 { usleep(100) }
                    // One receipt per call, so that the two connections interleave message by message.
                    for ref in refs {
                        _ = try other.recordReceipts(carrier: .viettel, [ReceiptRecord(messageRef: ref, status: .delivered, at: nil, reason: nil, part: k + 1)])
                    }
                } catch { failures.withLock { $0.append("\(error)") } }
            }.start()
        }
        done.wait()
        #expect(failures.withLock { $0 } == [])
        let states = try store.messages().map(\.state)
        #expect(states.filter { $0 != .delivered }.count == 0)
        #expect(try store.receipts().count == 800)
    }
}
