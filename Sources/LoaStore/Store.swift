import Foundation
import LoaCore

/// The store: cells, presence (pseudonyms only), stated language preferences, the do-not-call
/// list, contact lists, and the dispatch state (campaigns, messages, batches, receipts, audit).
/// One implementation over two engines: a SQLite file in WAL mode (the embedded default, a
/// province on one machine) or a PostgreSQL server (national scale, several dispatchers).
///
/// Privacy by design: presence rows carry a carrier's keyed pseudonym, never a clear MSISDN.
/// Clear numbers exist only where no location is attached (do-not-call list, contact lists).
public final class Store: @unchecked Sendable {
    public let db: any SQLDatabase
    let engine: Engine
    /// This store's identity, carried by every idempotency key and message id it puts on the wire.
    public let identity: StoreIdentity

    enum Engine {
        case sqlite(SQLiteDatabase)
        case postgres(PostgresDatabase)
    }

    /// Carrier index stored in presence rows. Append new carriers at the end; never reorder.
    public static let carrierIndex: [Carrier: UInt8] = Dictionary(uniqueKeysWithValues: Carrier.allCases.enumerated().map { ($1, UInt8($0)) })
    public static let carriers: [Carrier] = Carrier.allCases

    /// True for `postgres://…` and `postgresql://…`; anything else is a SQLite file path.
    public static func isPostgresURL(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// Opens (creating if needed) the store at `location`: a SQLite file path or a PostgreSQL URL
    /// (its database is created when missing and the role may). Pending schema migrations run first.
    public init(location: String) throws {
        if Self.isPostgresURL(location) {
            let pg = try PostgresDatabase(url: location, createIfMissing: true)
            db = pg
            engine = .postgres(pg)
        } else {
            let file = try SQLiteDatabase(path: location)
            db = file
            engine = .sqlite(file)
        }
        try Migrations.run(on: db)
        identity = try Self.identity(of: db)
        // An import cut off by a crash left rows tagged with an unfinished import: drop them.
        // (Imports commit as one transaction, so on PostgreSQL another node's import in progress is invisible here.)
        // (Checked first: the delete would scan the presence table of a SQLite store on every open.)
        if try db.scalarInt("SELECT count(*) FROM imports WHERE completed = 0") ?? 0 > 0 {
            try db.run("DELETE FROM presence WHERE import_id IN (SELECT id FROM imports WHERE completed = 0 AND kind = 'presence')")
            try db.run("DELETE FROM imports WHERE completed = 0")
        }
    }

    /// The store's identity, created on first open (processes opening a new store together agree
    /// on one: the first insert wins).
    static func identity(of db: any SQLDatabase) throws -> StoreIdentity {
        let read = { try db.query("SELECT id FROM store_identity WHERE singleton = 1") { StoreIdentity($0.text(0)) }.first ?? nil }
        if let id = try read() { return id }
        var rng = SystemRandomNumberGenerator()
        try db.run("INSERT INTO store_identity (singleton, id, created_at) VALUES (1, ?, ?) ON CONFLICT DO NOTHING",
                   [.text(StoreIdentity.random(using: &rng).hex), .int(Int64(Date().timeIntervalSince1970))])
        guard let id = try read() else { throw StoreError.database("the store's identity is missing or not 16 hex digits") }
        return id
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
        // Only imports overlapping the window are scanned.
        let imports = try db.query("""
            SELECT id, first_rowid, last_rowid, rows_ok FROM imports
            WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND max_seen >= ? AND min_seen <= ?
            """, [.int(from), .int(to)]) { (id: $0.int64(0), first: $0.int64(1), last: $0.int64(2), rows: $0.int(3)) }
        // Snapshots repeat subscribers: plan for half the rows as distinct subscribers (the table grows if not).
        var table = LatestPresenceTable(expected: imports.reduce(0) { $0 + $1.rows } / 2, since: from, adviseMemory: adviseHugePages)
        switch engine {
        case .sqlite(let file):
            // Presence rows of one import are contiguous in rowid: scan each range.
            let stmt = try file.prepare("SELECT carrier, subscriber, cell, seen_at FROM presence WHERE rowid BETWEEN ? AND ? AND seen_at BETWEEN ? AND ?")
            for i in imports {
                stmt.reset()
                stmt.bindInt(i.first, at: 1); stmt.bindInt(i.last, at: 2); stmt.bindInt(from, at: 3); stmt.bindInt(to, at: 4)
                while try stmt.step() {
                    guard let p = stmt.pseudonym(1) else { continue }
                    table.offer(carrier: UInt8(truncatingIfNeeded: stmt.int64(0)), subscriber: p, cell: Int32(truncatingIfNeeded: stmt.int64(2)), seenAt: stmt.int64(3))
                }
            }
        case .postgres(let pg):
            guard !imports.isEmpty else { break }
            let ids = imports.map { String($0.id) }.joined(separator: ",")
            try PresenceCopy.read(from: pg, sql: """
                COPY (SELECT carrier, subscriber, cell, seen_at FROM presence WHERE import_id IN (\(ids)) AND seen_at BETWEEN \(from) AND \(to))
                TO STDOUT (FORMAT binary)
                """) { carrier, subscriber, cell, seenAt in
                table.offer(carrier: carrier, subscriber: subscriber, cell: cell, seenAt: seenAt)
            }
        }
        return table
    }

    public func presenceRowCount() throws -> Int { Int(try db.scalarInt("SELECT count(*) FROM presence") ?? 0) }

    /// Deletes presence seen before `cutoff` (Law 91/2025: keep location data no longer than needed).
    @discardableResult
    public func purgePresence(before cutoff: Timestamp) throws -> Int {
        // Only imports that hold rows older than the cutoff are scanned (SQLite: by their rowid range).
        let ranges = try db.query("""
            SELECT id, first_rowid, last_rowid FROM imports
            WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND min_seen < ? AND purged_at IS NULL
            """, [.int(cutoff.seconds)]) { ($0.int64(0), $0.int64(1), $0.int64(2)) }
        var removed = 0
        for (id, first, last) in ranges {
            switch engine {
            case .sqlite: removed += try db.run("DELETE FROM presence WHERE rowid BETWEEN ? AND ? AND seen_at < ?", [.int(first), .int(last), .int(cutoff.seconds)])
            case .postgres: removed += try db.run("DELETE FROM presence WHERE import_id = ? AND seen_at < ?", [.int(id), .int(cutoff.seconds)])
            }
        }
        try db.run("UPDATE imports SET purged_at = ? WHERE kind = 'presence' AND max_seen < ?", [.int(cutoff.seconds), .int(cutoff.seconds)])
        try db.run("UPDATE imports SET min_seen = ? WHERE kind = 'presence' AND min_seen < ? AND max_seen >= ?", [.int(cutoff.seconds), .int(cutoff.seconds), .int(cutoff.seconds)])
        return removed
    }

    // MARK: Preferences, opt-outs, contacts

    public func preferences() throws -> [CarrierPseudonym: String] {
        var out: [CarrierPseudonym: String] = [:]
        for (carrier, subscriber, language) in try db.query("SELECT carrier, subscriber, language FROM preferences", row: { ($0.int(0), $0.pseudonym(1), $0.text(2)) }) {
            guard let subscriber, carrier < Self.carriers.count else { continue }
            out[CarrierPseudonym(carrier: Self.carriers[carrier], subscriber: subscriber)] = language
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
            out += try db.query("SELECT msisdn, carrier, name, language, commune FROM contacts WHERE list = ? ORDER BY msisdn", [.text(list)]) { row in
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
