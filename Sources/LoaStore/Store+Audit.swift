import Foundation
import LoaCore
import LoaCrypto

/// The audit trail: a hash chain of entries (`AuditEntry`), appended in the transaction of the
/// change it records, one head at a time (SQLite's write lock; an advisory lock on PostgreSQL).
extension Store {
    static func sha256(_ text: String) -> String {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { sha256Hex(UnsafeRawBufferPointer($0)) }
    }

    /// Appends an entry. Inside a transaction it commits or rolls back with the change it records;
    /// outside, in a transaction of its own.
    @discardableResult
    public func audit(_ actor: String, _ action: String, campaign: String?, _ detail: String = "") throws -> AuditEntry {
        if db.isInTransaction { return try appendAudit(actor, action, campaign: campaign, detail) }
        return try db.transaction { try appendAudit(actor, action, campaign: campaign, detail) }
    }

    func appendAudit(_ actor: String, _ action: String, campaign: String?, _ detail: String) throws -> AuditEntry {
        if db.dialect == .postgres { try db.run("SELECT pg_advisory_xact_lock(\(StoreLocks.audit))") }
        let head = try db.query("SELECT seq, hash FROM audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1") { ($0.int64(0), $0.text(1)) }.first
        var entry = AuditEntry(seq: (head?.0 ?? 0) + 1, at: Self.nowSeconds(), actor: NFC.normalize(actor), action: action,
                               campaign: campaign, detail: NFC.normalize(detail), prev: head?.1 ?? AuditEntry.genesis)
        entry.hash = Self.sha256(entry.canonical)
        try db.run("INSERT INTO audit (at, actor, action, campaign, detail, seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [.int(entry.at), .text(entry.actor), .text(entry.action), entry.campaign.map { .text($0) } ?? .null,
                    .text(entry.detail), .int(entry.seq), .text(entry.prev), .text(entry.hash)])
        return entry
    }

    /// Rows written before the chain existed are chained once, in their order.
    func chainLegacyAudit() throws {
        guard try db.scalarInt("SELECT count(*) FROM audit_legacy WHERE chained = 0") ?? 0 > 0 else { return }
        try db.transaction {
            if db.dialect == .postgres { try db.run("SELECT pg_advisory_xact_lock(\(StoreLocks.audit))") }
            guard let lastID = try db.query("SELECT last_id, chained FROM audit_legacy", row: { ($0.isNull(0) ? 0 : $0.int64(0), $0.int(1)) }).first,
                  lastID.1 == 0 else { return }
            let rows = try db.query("SELECT id, at, actor, action, campaign, detail FROM audit WHERE id <= ? AND hash IS NULL ORDER BY id", [.int(lastID.0)]) {
                ($0.int64(0), $0.int64(1), $0.text(2), $0.text(3), $0.isNull(4) ? nil : $0.text(4), $0.text(5))
            }
            var prev = AuditEntry.genesis, seq: Int64 = 0
            for r in rows {
                seq += 1
                var e = AuditEntry(seq: seq, at: r.1, actor: r.2, action: r.3, campaign: r.4, detail: r.5, prev: prev)
                e.hash = Self.sha256(e.canonical)
                try db.run("UPDATE audit SET seq = ?, prev_hash = ?, hash = ? WHERE id = ?", [.int(seq), .text(prev), .text(e.hash), .int(r.0)])
                prev = e.hash
            }
            try db.run("UPDATE audit_legacy SET chained = 1")
        }
    }

    /// The trail in stored order (a campaign's, or all of it); `nil` for a row without a hash.
    public func auditEntries(campaign: String? = nil) throws -> [(row: Int64, entry: AuditEntry?)] {
        let sql = "SELECT id, seq, at, actor, action, campaign, detail, prev_hash, hash FROM audit"
            + (campaign == nil ? "" : " WHERE campaign = ?") + " ORDER BY id"
        return try db.query(sql, campaign.map { [.text($0)] } ?? []) {
            let row = $0.int64(0)
            guard !$0.isNull(8), !$0.isNull(1) else { return (row, nil) }
            return (row, AuditEntry(seq: $0.int64(1), at: $0.int64(2), actor: $0.text(3), action: $0.text(4),
                                    campaign: $0.isNull(5) ? nil : $0.text(5), detail: $0.text(6),
                                    prev: $0.isNull(7) ? "" : $0.text(7), hash: $0.text(8)))
        }
    }

    /// A campaign's trail, for status pages (no chain check).
    public func auditTrail(campaign: String) throws -> [(at: Timestamp, actor: String, action: String, detail: String)] {
        try db.query("SELECT at, actor, action, detail FROM audit WHERE campaign = ? ORDER BY id", [.text(campaign)]) {
            (Timestamp(seconds: $0.int64(0)), $0.text(1), $0.text(2), $0.text(3))
        }
    }

    /// Checks the whole chain (and that `seal`, a head sealed earlier, is still in it).
    public func verifyAudit(against seal: String? = nil) throws -> AuditVerifier {
        AuditVerifier(try auditEntries(), sha256: { Store.sha256($0) }, against: seal)
    }

    /// Records the carrier file a dispatch runs with; a file whose SHA-256 differs from the one
    /// seen last time is audited as changed. Returns whether it changed (or is seen the first time).
    @discardableResult
    public func noteCarrierFile(carrier: String, path: String, sha256: String, by actor: String) throws -> Bool {
        try db.transaction {
            let last = try db.query("SELECT detail FROM audit WHERE action IN ('carrier-file-seen', 'carrier-file-changed') AND detail LIKE ? ORDER BY id DESC LIMIT 1",
                                    [.text(carrier + ": %")]) { $0.text(0) }.first
            let detail = "\(carrier): \(path) sha256 \(sha256)"
            guard last.map({ !$0.hasSuffix("sha256 \(sha256)") }) ?? true else { return false }
            try audit(actor, last == nil ? "carrier-file-seen" : "carrier-file-changed", campaign: nil, detail)
            return true
        }
    }
}
