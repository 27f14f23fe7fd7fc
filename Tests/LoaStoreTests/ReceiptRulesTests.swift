import Foundation
import Testing
import LoaCore
import LoaStore
import LoaTestSupport

/// Receipts in the store: order, duplicates, conflicting finals, reconciliation.
@Suite("Receipt rules in the store (SQLite and PostgreSQL)")
struct ReceiptRulesTests {
    /// A store with `count` Viettel messages the carrier accepted; their receipt ids.
    func accepted(_ engine: StoreEngine, count: Int) throws -> (Store, [String]) {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "c", priority: .emergency)
        let messages = (0..<count).map {
            PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: UInt64($0), w1: 3, w2: 3, w3: 3).description, language: "vi", commune: 23377,
                           text: "t", encoding: .gsm7, segments: 1)
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
}
