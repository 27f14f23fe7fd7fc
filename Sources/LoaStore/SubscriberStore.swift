import Foundation
import LoaCore

/// The embedded store: a SQLite file in WAL mode holding cells, presence (pseudonyms only),
/// stated language preferences, the do-not-call list and contact lists.
///
/// Privacy by design: presence rows carry a carrier's keyed pseudonym, never a clear MSISDN.
/// Clear numbers exist only where no location is attached (do-not-call list, contact lists).
public final class SubscriberStore: @unchecked Sendable {
    public let db: SQLiteDatabase

    /// Carrier index stored in presence rows. Append new carriers at the end; never reorder.
    public static let carrierIndex: [Carrier: UInt8] = Dictionary(uniqueKeysWithValues: Carrier.allCases.enumerated().map { ($1, UInt8($0)) })
    public static let carriers: [Carrier] = Carrier.allCases

    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try Migrations.run(on: db)
        // An import cut off by a crash left rows tagged with an unfinished import: drop them.
        try db.execute("DELETE FROM presence WHERE import_id IN (SELECT id FROM imports WHERE completed = 0 AND kind = 'presence')")
        try db.execute("DELETE FROM imports WHERE completed = 0")
    }

    // MARK: Cells

    public func cells() throws -> [Cell] {
        try db.query("SELECT id, cgi, lat, lon, commune FROM cells ORDER BY id") {
            Cell(id: Int32($0.int(0)), cgi: $0.text(1), latitude: $0.double(2), longitude: $0.double(3), commune: $0.int(4))
        }
    }

    func cellIDsByPackedCGI() throws -> [UInt64: Int32] {
        var map: [UInt64: Int32] = [:]
        for (id, cgi) in try db.query("SELECT id, cgi FROM cells", row: { (Int32($0.int(0)), $0.text(1)) }) {
            if let c = CellGlobalIdentity(cgi) { map[c.packed] = id }
        }
        return map
    }

    // MARK: Presence queries

    /// Rule 2's input: the latest presence per subscriber with run − seenWithin ≤ seen_at ≤ run.
    /// Rows after the run time are not yet seen and are ignored.
    public func latestPresence(at run: Timestamp, seenWithin: Int64) throws -> LatestPresenceTable {
        let from = run.seconds - seenWithin, to = run.seconds
        // Presence rows of one import are contiguous in rowid; scan only imports overlapping the window.
        let ranges = try db.query("""
            SELECT first_rowid, last_rowid, rows_ok FROM imports
            WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND max_seen >= ? AND min_seen <= ?
            """, [.int(from), .int(to)]) { ($0.int64(0), $0.int64(1), $0.int(2)) }
        // Snapshots repeat subscribers: plan for half the rows as distinct subscribers (the table grows if not).
        var table = LatestPresenceTable(expected: ranges.reduce(0) { $0 + $1.2 } / 2, since: from, adviseMemory: adviseHugePages)
        let stmt = try db.prepare("SELECT carrier, subscriber, cell, seen_at FROM presence WHERE rowid BETWEEN ? AND ? AND seen_at BETWEEN ? AND ?")
        for (first, last, _) in ranges {
            stmt.reset()
            stmt.bindInt(first, at: 1); stmt.bindInt(last, at: 2); stmt.bindInt(from, at: 3); stmt.bindInt(to, at: 4)
            while try stmt.step() {
                guard let p = stmt.pseudonym(1) else { continue }
                table.offer(carrier: UInt8(truncatingIfNeeded: stmt.int64(0)), subscriber: p, cell: Int32(truncatingIfNeeded: stmt.int64(2)), seenAt: stmt.int64(3))
            }
        }
        return table
    }

    public func presenceRowCount() throws -> Int { Int(try db.scalarInt("SELECT count(*) FROM presence") ?? 0) }

    /// Deletes presence seen before `cutoff` (Law 91/2025: keep location data no longer than needed).
    @discardableResult
    public func purgePresence(before cutoff: Timestamp) throws -> Int {
        // Only imports that hold rows older than the cutoff are scanned, by their rowid range.
        let ranges = try db.query("""
            SELECT first_rowid, last_rowid FROM imports
            WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND min_seen < ? AND purged_at IS NULL
            """, [.int(cutoff.seconds)]) { ($0.int64(0), $0.int64(1)) }
        var removed = 0
        for (first, last) in ranges {
            try db.run("DELETE FROM presence WHERE rowid BETWEEN ? AND ? AND seen_at < ?", [.int(first), .int(last), .int(cutoff.seconds)])
            removed += db.changes
        }
        try db.run("UPDATE imports SET purged_at = ? WHERE kind = 'presence' AND max_seen < ?", [.int(cutoff.seconds), .int(cutoff.seconds)])
        try db.run("UPDATE imports SET min_seen = ? WHERE kind = 'presence' AND min_seen < ? AND max_seen >= ?", [.int(cutoff.seconds), .int(cutoff.seconds), .int(cutoff.seconds)])
        return removed
    }

    // MARK: Preferences, opt-outs, contacts

    public func preferences() throws -> [CarrierPseudonym: String] {
        var out: [CarrierPseudonym: String] = [:]
        let stmt = try db.prepare("SELECT carrier, subscriber, language FROM preferences")
        while try stmt.step() {
            guard let p = stmt.pseudonym(1), stmt.int(0) < Self.carriers.count else { continue }
            out[CarrierPseudonym(carrier: Self.carriers[stmt.int(0)], subscriber: p)] = stmt.text(2)
        }
        return out
    }

    /// The do-not-call list as pseudonyms under each carrier's key, to match presence rows.
    public func optOuts(keys: [Carrier: KeyedPseudonymizer]) throws -> Set<CarrierPseudonym> {
        var out = Set<CarrierPseudonym>()
        let numbers = try db.query("SELECT msisdn FROM do_not_call") { $0.text(0) }
        for number in numbers {
            guard case .success(let parsed) = VietnamNumberingPlan.parse(number) else { continue }
            for (carrier, key) in keys { out.insert(CarrierPseudonym(carrier: carrier, subscriber: key.pseudonym(for: parsed.msisdn))) }
        }
        return out
    }

    public func doNotCallCount() throws -> Int { Int(try db.scalarInt("SELECT count(*) FROM do_not_call") ?? 0) }

    public func contacts(lists: [String]) throws -> [Contact] {
        var out: [Contact] = []
        for list in lists {
            out += try db.query("SELECT msisdn, carrier, name, language, commune FROM contacts WHERE list = ? ORDER BY rowid", [.text(list)]) { row in
                guard case .success(let p) = VietnamNumberingPlan.parse(row.text(0)) else { return nil }
                return Contact(list: list, msisdn: p.msisdn, carrier: Carrier(rawValue: row.text(1)) ?? p.carrierOfOrigin, name: row.text(2),
                               language: row.isNull(3) ? nil : row.text(3), commune: row.isNull(4) ? nil : row.int(4))
            }.compactMap { $0 }
        }
        return out
    }

    public func contactListNames() throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try db.query("SELECT list, count(*) FROM contacts GROUP BY list") { ($0.text(0), $0.int(1)) })
    }

    public struct ImportRecord: Sendable {
        public var id: Int64
        public var kind: String
        public var carrier: String?
        public var file: String
        public var rowsOK: Int
        public var rowsBad: Int
    }

    public func imports() throws -> [ImportRecord] {
        try db.query("SELECT id, kind, carrier, file, rows_ok, rows_bad FROM imports WHERE completed = 1 ORDER BY id") {
            ImportRecord(id: $0.int64(0), kind: $0.text(1), carrier: $0.isNull(2) ? nil : $0.text(2), file: $0.text(3), rowsOK: $0.int(4), rowsBad: $0.int(5))
        }
    }
}

/// Asks Linux for transparent huge pages over a large buffer (the 2 MiB-aligned part of it).
func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
    let huge = 2 << 20
    guard let base = buffer.baseAddress, buffer.count >= 2 * huge else { return }
    let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
    let end = (Int(bitPattern: base) + buffer.count) & ~(huge - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, 14 /* MADV_HUGEPAGE */) }
    #endif
}

/// Versioned schema migrations, applied in order on open.
enum Migrations {
    static let all: [(version: Int, name: String, sql: String)] = [
        (1, "subscribers and presence", """
            CREATE TABLE cells (
                id INTEGER PRIMARY KEY,
                cgi TEXT NOT NULL UNIQUE,
                lat REAL NOT NULL,
                lon REAL NOT NULL,
                commune INTEGER NOT NULL
            );
            CREATE TABLE imports (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                carrier TEXT,
                file TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                completed INTEGER NOT NULL DEFAULT 0,
                rows_ok INTEGER NOT NULL DEFAULT 0,
                rows_bad INTEGER NOT NULL DEFAULT 0,
                first_rowid INTEGER,
                last_rowid INTEGER,
                min_seen INTEGER,
                max_seen INTEGER,
                purged_at INTEGER
            );
            -- Presence: pseudonym (32-byte HMAC-SHA256 under the carrier's key), never a clear number.
            CREATE TABLE presence (
                carrier INTEGER NOT NULL,
                subscriber BLOB NOT NULL,
                cell INTEGER NOT NULL,
                seen_at INTEGER NOT NULL,
                import_id INTEGER NOT NULL
            );
            CREATE TABLE preferences (
                carrier INTEGER NOT NULL,
                subscriber BLOB NOT NULL,
                language TEXT NOT NULL,
                PRIMARY KEY (carrier, subscriber)
            ) WITHOUT ROWID;
            -- Do-not-call: clear numbers with nothing else attached.
            CREATE TABLE do_not_call (msisdn TEXT PRIMARY KEY) WITHOUT ROWID;
            -- Contact lists: people who agreed to receive messages; no location.
            CREATE TABLE contacts (
                list TEXT NOT NULL,
                msisdn TEXT NOT NULL,
                carrier TEXT NOT NULL,
                name TEXT NOT NULL,
                language TEXT,
                commune INTEGER,
                PRIMARY KEY (list, msisdn)
            );
            """),
        (2, "dispatch", """
            CREATE TABLE campaigns (
                id TEXT PRIMARY KEY,
                file TEXT NOT NULL,
                file_sha256 TEXT NOT NULL,
                title TEXT NOT NULL,
                priority TEXT NOT NULL,
                state TEXT NOT NULL,
                drafted_by TEXT NOT NULL,
                approved_by TEXT,
                created_at INTEGER NOT NULL,
                planned_at INTEGER
            );
            -- Who did what, in order; never updated or deleted.
            CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                at INTEGER NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                campaign TEXT,
                detail TEXT NOT NULL DEFAULT ''
            );
            -- One row per recipient and campaign. subscriber is a pseudonym (h:…); commune is kept
            -- for reports by commune.
            CREATE TABLE messages (
                id INTEGER PRIMARY KEY,
                campaign TEXT NOT NULL REFERENCES campaigns(id),
                carrier TEXT NOT NULL,
                subscriber TEXT NOT NULL,
                language TEXT NOT NULL,
                commune INTEGER,
                day INTEGER NOT NULL,
                text TEXT NOT NULL,
                encoding TEXT NOT NULL,
                segments INTEGER NOT NULL,
                state TEXT NOT NULL,
                batch INTEGER,
                reason TEXT,
                updated_at INTEGER NOT NULL,
                UNIQUE (campaign, carrier, subscriber)
            );
            CREATE INDEX messages_pending ON messages (carrier, state, campaign);
            CREATE INDEX messages_subscriber_day ON messages (subscriber, day);
            CREATE INDEX messages_batch ON messages (batch);
            CREATE TABLE batches (
                id INTEGER PRIMARY KEY,
                carrier TEXT NOT NULL,
                campaign TEXT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL,
                size INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                retry_at REAL,
                http_status INTEGER,
                reason TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE INDEX batches_open ON batches (carrier, state);
            CREATE INDEX batches_campaign ON batches (carrier, campaign);
            -- Every receipt as received, matched or not: nothing is dropped.
            CREATE TABLE receipts (
                id INTEGER PRIMARY KEY,
                carrier TEXT NOT NULL,
                message_ref TEXT NOT NULL,
                status TEXT NOT NULL,
                at INTEGER,
                reason TEXT,
                received_at INTEGER NOT NULL,
                message INTEGER
            );
            """),
    ]

    static func run(on db: SQLiteDatabase) throws {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        let applied = Set(try db.query("SELECT version FROM schema_migrations") { $0.int(0) })
        for m in all where !applied.contains(m.version) {
            try db.transaction {
                try db.execute(m.sql)
                try db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%s','now'))", [.int(Int64(m.version)), .text(m.name)])
            }
        }
    }
}
