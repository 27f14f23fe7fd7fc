import LoaCore
import LoaCrypto

/// Store operations for carriers without idempotency (Kannel): per-message outcomes, at most once.
extension Store: BatchQueue {
    /// Numbers of contact-list members by their pseudonym under the carrier's `key`: what Kannel
    /// needs, opened with the contact key in memory at send time, never stored with a message.
    public func contactNumbers(pseudonymizer key: any Pseudonymizer, contacts vault: any SealedContactOpening) throws -> [String: MSISDN] {
        try checkVault(fingerprint: vault.fingerprint)
        var out: [String: MSISDN] = [:]
        for (subscriber, sealed) in try db.query("SELECT DISTINCT subscriber, sealed FROM contact_entries", row: { ($0.pseudonym(0), $0.blob(1)) }) {
            guard let subscriber else { continue }
            let msisdn = try vault.openSealed(sealed, pseudonym: subscriber)
            out[key.pseudonym(for: msisdn).description] = msisdn
        }
        return out
    }

    /// One message's outcome.
    public func messageSubmitted(_ id: Int64, state: MessageState, reason: String?) throws {
        let now = Self.nowSeconds()
        try db.transaction {
            try db.run("UPDATE messages SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state IN \(MessageState.sql(from: [.submitted], to: state))",
                       [.text(state.rawValue), reason.map { .text($0) } ?? .null, .int(now), .int(id)])
        }
    }

    /// Kannel: messages of an interrupted submission may or may not have gone: never resend them.
    public func markInterruptedUnknown(batch: Int64) throws {
        try db.transaction {
            try moveSubmitted(batch, to: .unknown, reason: "interrupted while Kannel was submitting it; not sent again to avoid a duplicate", at: Self.nowSeconds())
            try db.run("UPDATE batches SET state = '\(BatchState.accepted.rawValue)', reason = 'interrupted (Kannel: at most once)' WHERE id = ?", [.int(batch)])
        }
    }

    /// Kannel refused or could not be reached before a message went: back to planned.
    public func returnToPlanned(batch: Int64) throws {
        try db.transaction { try returnToWaiting(batch, at: Self.nowSeconds()) }
    }

    public func finishBatch(_ batch: Int64) throws {
        try db.run("UPDATE batches SET state = '\(BatchState.accepted.rawValue)', updated_at = ? WHERE id = ?", [.int(Self.nowSeconds()), .int(batch)])
    }
}
