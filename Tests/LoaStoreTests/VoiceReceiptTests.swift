import Foundation
import Testing
import LoaCore
import LoaStore
import LoaTestSupport

/// Voice receipts in the store: one per call attempt, the message following its best attempt.
@Suite("Voice receipts in the store (SQLite and PostgreSQL)")
struct VoiceReceiptTests {
    @Test("calls follow their best attempt in any order; billed minutes are the started minutes listened; the report's call counts add up",
          arguments: StoreEngine.available)
    func bestAttempt(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        _ = try store.submitCampaign(id: "v", title: "v", priority: .urgent, file: "v.yaml", sha256: "a", by: "lan", channel: .voice)
        _ = try store.approveCampaign("v", sha256: "a", by: "minh", unreviewed: [])
        _ = try store.transitionCampaign("v", "start", by: "minh")
        let calls = (0..<4).map { PlannedMessage.call(carrier: .viettel, subscriber: Pseudonym(w0: UInt64($0), w1: 5, w2: 5, w3: 5).description,
                                                       language: "vi", commune: 23377, clip: "c0ffee") }
        _ = try store.planMessages(campaign: "v", priority: .urgent, day: 1, capPerDay: 1, calls)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 4))
        #expect(batch.messages.map(\.clip) == Array(repeating: "c0ffee", count: 4))
        try store.batchAccepted(batch.id, status: 202, rejected: [:])
        let refs = batch.refs.map(\.description)
        func r(_ i: Int, _ status: ReceiptStatus, _ attempt: Int, listened: Int? = nil, final: Bool = false) -> ReceiptRecord {
            ReceiptRecord(messageRef: refs[i], status: status, at: nil, reason: nil, call: CallAttempt(attempt: attempt, listened: listened, final: final))
        }
        let outcomes = try store.recordReceipts(carrier: .viettel, [
            r(0, .noAnswer, 1), r(0, .answered, 2, listened: 75), r(0, .busy, 1),          // answered on the 2nd call, 75 s: 2 minutes
            r(1, .noAnswer, 1), r(1, .busy, 2), r(1, .noAnswer, 3, final: true),           // never reached
            r(2, .completed, 1, listened: 30), r(2, .noAnswer, 1),                          // listened to the end at once
            r(3, .noAnswer, 3, final: true), r(3, .answered, 2, listened: 12),              // the final no-answer came first
        ])
        #expect(outcomes == [.kept, .applied, .kept, .kept, .kept, .applied, .applied, .kept, .applied, .applied])
        let messages = try store.messages(campaign: "v")
        #expect(messages.map { $0.state } == [.delivered, .failed, .delivered, .delivered])
        #expect(messages.map { $0.reason } == ["answered", "no-answer after 3 attempts", "completed", "answered"])
        let facts = try store.callFacts(campaign: "v")
        #expect(facts.count == 1)
        #expect(facts.first.map { [$0.people, $0.reached, $0.completed, $0.attempts, $0.listened] } == [4, 3, 1, 2 + 3 + 1 + 3, 75 + 30 + 12])
        let billed = try store.deliveryFacts(campaign: "v").reduce(0) { $0 + $1.segments }
        #expect(billed == 2 + 0 + 1 + 1)
        #expect(try store.receipts().count == 10)
        // Every attempt is kept with its number and seconds.
        #expect(try store.receipts().filter { $0.messageRef == refs[0] }.count == 3)
    }
}
