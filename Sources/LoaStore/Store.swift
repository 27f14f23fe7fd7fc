import Foundation
import CSQLite3
import Synchronization
import LoaCore
import LoaCrypto

/// The store: cells, presence (pseudonyms only), stated language preferences, the do-not-call
/// list, contact lists, and the dispatch state (campaigns, messages, batches, receipts, audit).
/// One implementation over two engines: a SQLite file in WAL mode (the embedded default, a
/// province on one machine) or a PostgreSQL server (national scale, several dispatchers).
///
/// Privacy by design: presence rows carry a carrier's keyed pseudonym, never a clear MSISDN.
/// Clear numbers exist only where no location is attached (do-not-call list, contact lists).
public final class Store: @unchecked Sendable {
    let db: any SQLDatabase
    let engine: Engine
    /// The location as given (a PostgreSQL URL with its password): for this package's tools only,
    /// never printed (`location` masks the password).
    package let givenLocation: String
    /// This store's identity, carried by every idempotency key and message id it puts on the wire.
    public let identity: StoreIdentity
    /// SQLite, the receipts endpoint's store only: the thread copying the log back (`forReceipts`).
    let checkpointer = Mutex<WALCheckpointer?>(nil)

    /// Pages of the log copied back into the database by the store's own checkpoint thread (0 without one).
    package var pagesCheckpointedInBackground: Int { checkpointer.withLock { $0?.pagesCopied ?? 0 } }
    /// Times that thread had the log started over (without it, the writer's own checkpoint does, past 30,000 pages).
    package var logRestartsInBackground: Int { checkpointer.withLock { $0?.logRestarts ?? 0 } }

    enum Engine {
        case sqlite(SQLiteDatabase)
        case postgres(PostgresDatabase)
    }

    /// A carrier's number in the store (its place in `Carrier.allCases`, as `carrierIndex`), without hashing.
    static func ordinal(_ c: Carrier) -> UInt8 {
        switch c {
        case .viettel: 0
        case .vinaphone: 1
        case .mobifone: 2
        case .vietnamobile: 3
        case .gmobile: 4
        case .itelecom: 5
        case .reddi: 6
        }
    }

    /// Carrier index stored in presence rows. Append new carriers at the end; never reorder.
    public static let carrierIndex: [Carrier: UInt8] = Dictionary(uniqueKeysWithValues: Carrier.allCases.enumerated().map { ($1, UInt8($0)) })
    public static let carriers: [Carrier] = Carrier.allCases

    /// True for `postgres://…` and `postgresql://…` (any case); anything else is a SQLite file path.
    public static func isPostgresURL(_ location: String) -> Bool {
        let l = location.lowercased()
        return l.hasPrefix("postgres://") || l.hasPrefix("postgresql://")
    }

    /// Why `location` is no place for a store, or nil when it is one.
    static func notPersistent(_ location: String) -> String? {
        let trimmed = location.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return "the store location is empty (is LOA_DATABASE set to nothing?): give --database PATH or a postgres:// URL" }
        let l = trimmed.lowercased()
        if l == ":memory:" || (l.hasPrefix("file:") && (l.contains("mode=memory") || l.contains(":memory:"))) {
            return "\(location): an in-memory database would vanish when this command ends; give a file path or a postgres:// URL"
        }
        if l.hasPrefix("file:") { return "\(location): give the store as a plain file path, not a file: URI" }
        return nil
    }

    /// Opens the store at `location`: a SQLite file path or a PostgreSQL URL. With `create`, a
    /// missing store is created (a SQLite file with mode 0600; a PostgreSQL database when the role
    /// may); without, a missing store is an error (a mistyped path must not read as "nobody").
    /// A store that would not outlive the process (`:memory:`, an in-memory URI, an empty
    /// location) is refused. Pending schema migrations run first.
    public init(location: String, create: Bool = true) throws {
        if let why = Self.notPersistent(location) { throw StoreError.input(why) }
        givenLocation = location
        if Self.isPostgresURL(location) {
            let pg = try PostgresDatabase(url: location, createIfMissing: create)
            db = pg
            engine = .postgres(pg)
        } else {
            if !create && !FileManager.default.fileExists(atPath: location) {
                throw StoreError(.noStore, "\(location): no store here (a mistyped path or --database?). Import data first (loa import …), which creates it")
            }
            let file = try SQLiteDatabase(path: location, create: create)
            db = file
            engine = .sqlite(file)
        }
        try Migrations.run(on: db)
        identity = try Self.identity(of: db)
        try chainLegacyAudit()
        // An import cut off by a crash left rows tagged with an unfinished import: drop them.
        // (Imports commit as one transaction, so on PostgreSQL another node's import in progress is invisible here.)
        // (Checked first: the delete would scan the presence table of a SQLite store on every open.)
        if try db.scalarInt("SELECT count(*) FROM imports WHERE completed = 0") ?? 0 > 0 {
            try db.run("DELETE FROM presence WHERE import_id IN (SELECT id FROM imports WHERE completed = 0 AND kind = 'presence')")
            try db.run("DELETE FROM imports WHERE completed = 0")
        }
    }

    /// The store a receipts endpoint writes to: an existing one, on a connection of its own set for
    /// a steady stream of writes to rows at random. SQLite: the log is copied back into the
    /// database by a thread of its own (`WALCheckpointer`), which has it started over once it
    /// passes `restartLogAfter` pages (its last pass holds off this connection's write
    /// transactions for a moment); the writer copies it itself only past 30,000 pages (120 MB);
    /// pages are read through a memory map of up to 1 GiB instead of a read per page.
    /// PostgreSQL: nothing to set.
    public static func forReceipts(location: String, restartLogAfter: Int = 10_000) throws -> Store {
        let store = try Store(location: location, create: false)
        if case .sqlite(let file) = store.engine {
            try file.execute("PRAGMA wal_autocheckpoint = 30000")
            try file.execute("PRAGMA mmap_size = 1073741824")
            // Without its thread (a connection it could not open), the writer's own checkpoints still bound the log.
            let gate = NSLock()
            file.writeGate = gate
            store.checkpointer.withLock { $0 = try? WALCheckpointer(path: file.path, gate: gate, restartAfter: restartLogAfter) }
        }
        return store
    }

    /// The connections a receipts endpoint records with. SQLite: one (`forReceipts`; the store
    /// has one writer at a time anyway). PostgreSQL: up to `connections`, so that requests are
    /// recorded side by side and one held up (its rows locked by another process) does not hold up
    /// the others; two requests about the same message take turns (a request locks its rows in id
    /// order).
    public static func receiptStores(location: String, connections: Int = 4) throws -> StorePool {
        try StorePool(location: location, capacity: isPostgresURL(location) ? connections : 1) { try forReceipts(location: $0) }
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
    /// Rows after the run time are not yet seen and are ignored. The carriers are split into
    /// `workers` groups of about equal rows, each scanned on its own connection and thread (on
    /// PostgreSQL, by its own server process too).
    public func latestPresence(at run: Timestamp, seenWithin: Int64, workers: Int = 2) throws -> LatestPresence {
        let from = run.seconds - seenWithin, to = run.seconds
        // Only imports overlapping the window are scanned.
        let imports = try db.query("""
            SELECT id, first_rowid, last_rowid, rows_ok, coalesce(carrier, '') FROM imports
            WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND max_seen >= ? AND min_seen <= ?
            """, [.int(from), .int(to)]) { PresenceImport(id: $0.int64(0), first: $0.int64(1), last: $0.int64(2), rows: $0.int(3), carrier: $0.text(4)) }
        // A carrier's imports stay together (its subscribers' rows must meet in one table); the
        // largest carriers first, each to the group with the fewest rows so far.
        let byCarrier = Dictionary(grouping: imports, by: \.carrier).values.sorted { $0.reduce(0) { $0 + $1.rows } > $1.reduce(0) { $0 + $1.rows } }
        var groups = [[PresenceImport]](repeating: [], count: max(1, min(workers, byCarrier.count)))
        for carrier in byCarrier {
            let lightest = groups.indices.min { groups[$0].reduce(0) { $0 + $1.rows } < groups[$1].reduce(0) { $0 + $1.rows } }!
            groups[lightest] += carrier
        }
        if groups.count == 1 { return LatestPresence([try scanLatest(groups[0], from: from, to: to)]) }
        final class Part: @unchecked Sendable { var result: Result<LatestPresenceTable, any Error> = .failure(CancellationError()) }
        let others = groups.dropFirst().map { _ in Part() }
        let done = DispatchSemaphore(value: 0)
        let location = givenLocation
        for (group, part) in zip(groups.dropFirst(), others) {
            let thread = Thread {
                part.result = Result { try Store(location: location, create: false).scanLatest(group, from: from, to: to) }
                done.signal()
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
        let first = Result { try scanLatest(groups[0], from: from, to: to) }
        for _ in others { done.wait() }
        return LatestPresence(try [first.get()] + others.map { try $0.result.get() })
    }

    struct PresenceImport: Sendable { var id: Int64, first: Int64, last: Int64, rows: Int, carrier: String }

    private func scanLatest(_ imports: [PresenceImport], from: Int64, to: Int64) throws -> LatestPresenceTable {
        // Snapshots repeat subscribers: plan for half the rows as distinct subscribers (the table grows if not).
        var table = LatestPresenceTable(expected: imports.reduce(0) { $0 + $1.rows } / 2, since: from, adviseMemory: adviseHugePages)
        switch engine {
        case .sqlite(let file):
            // Presence rows of one import are contiguous in rowid: scan each range.
            let stmt = try file.prepare("SELECT carrier, subscriber, cell, seen_at FROM presence WHERE rowid BETWEEN ? AND ? AND seen_at BETWEEN ? AND ?")
            try file.scanning {
                for i in imports {
                    stmt.reset()
                    stmt.bindInt(i.first, at: 1); stmt.bindInt(i.last, at: 2); stmt.bindInt(from, at: 3); stmt.bindInt(to, at: 4)
                    while try stmt.step() {
                        guard let p = stmt.pseudonym(1) else { continue }
                        table.offer(carrier: UInt8(truncatingIfNeeded: stmt.int64(0)), subscriber: p, cell: Int32(truncatingIfNeeded: stmt.int64(2)), seenAt: stmt.int64(3))
                    }
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

    /// Carriers with presence rows seen in [from, to]: those whose subscribers a campaign at that
    /// time may reach.
    public func presenceCarriers(seenFrom from: Timestamp, to: Timestamp) throws -> Set<Carrier> {
        Set(try db.query("""
            SELECT DISTINCT carrier FROM imports WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND purged_at IS NULL
            AND max_seen >= ? AND min_seen <= ?
            """, [.int(from.seconds), .int(to.seconds)]) { Carrier(rawValue: $0.text(0)) }.compactMap { $0 })
    }

    public func presenceRowCount() throws -> Int { Int(try db.scalarInt("SELECT count(*) FROM presence") ?? 0) }

    /// Deletes presence seen before `cutoff` (Law 91/2025: keep location data no longer than
    /// needed), and every row of an import made before `cutoff`, whatever its `seen_at` says (a
    /// date in the future must not keep a row forever). Only `carrier`'s presence when given.
    @discardableResult
    public func purgePresence(before cutoff: Timestamp, carrier: Carrier? = nil) throws -> Int {
        let carrierFilter = carrier == nil ? "" : " AND carrier = ?"
        let carrierBinding: [SQLValue] = carrier.map { [.text($0.rawValue)] } ?? []
        // Only imports that hold rows older than the cutoff are scanned (SQLite: by their rowid range).
        let ranges = try db.query("""
            SELECT id, first_rowid, last_rowid, CASE WHEN started_at < ? THEN 1 ELSE 0 END FROM imports
            WHERE kind = 'presence' AND completed = 1 AND rows_ok > 0 AND (min_seen < ? OR started_at < ?) AND purged_at IS NULL\(carrierFilter)
            """, [.int(cutoff.seconds), .int(cutoff.seconds), .int(cutoff.seconds)] + carrierBinding) { ($0.int64(0), $0.int64(1), $0.int64(2), $0.int(3) == 1) }
        var removed = 0
        for (id, first, last, whole) in ranges {
            let seenFilter = whole ? "" : " AND seen_at < ?"
            let seenBinding: [SQLValue] = whole ? [] : [.int(cutoff.seconds)]
            switch engine {
            case .sqlite: removed += try db.run("DELETE FROM presence WHERE rowid BETWEEN ? AND ?\(seenFilter)", [.int(first), .int(last)] + seenBinding)
            case .postgres: removed += try db.run("DELETE FROM presence WHERE import_id = ?\(seenFilter)", [.int(id)] + seenBinding)
            }
            if whole { try db.run("UPDATE imports SET purged_at = ? WHERE id = ?", [.int(cutoff.seconds), .int(id)]) }
        }
        try db.run("UPDATE imports SET purged_at = ? WHERE kind = 'presence' AND max_seen < ?\(carrierFilter)", [.int(cutoff.seconds), .int(cutoff.seconds)] + carrierBinding)
        try db.run("UPDATE imports SET min_seen = ? WHERE kind = 'presence' AND min_seen < ? AND max_seen >= ?\(carrierFilter)",
                   [.int(cutoff.seconds), .int(cutoff.seconds), .int(cutoff.seconds)] + carrierBinding)
        return removed
    }

    // MARK: Preferences, opt-outs, contacts

    /// Every stated language, compactly, by the store's carrier index (`Store.carriers`): the
    /// blocks are read in the order they were stated, so a later statement replaces an earlier one.
    public func languagePreferences() throws -> LanguagePreferences {
        var table = LanguagePreferences(expected: try PreferenceBlocks.entries(db))
        try PreferenceBlocks.forEach(db) { block in
            // 0: the statement was withdrawn.
            let numbers = block.languages.map { $0 == PreferenceBlocks.withdrawal ? 0 : table.number(of: $0) }
            block.forEachEntry { carrier, language, subscriber in
                guard Int(carrier) < Self.carriers.count, language < numbers.count else { return }
                if numbers[language] == 0 { table.withdraw(carrier: carrier, subscriber: subscriber) }
                else { table.set(languageNumber: numbers[language], carrier: carrier, subscriber: subscriber) }
            }
        }
        return table
    }

    public func preferences() throws -> [CarrierPseudonym: String] {
        var out: [CarrierPseudonym: String] = [:]
        try PreferenceBlocks.forEach(db) { block in
            block.forEachEntry { carrier, language, subscriber in
                guard Int(carrier) < Self.carriers.count, language < block.languages.count else { return }
                let key = CarrierPseudonym(carrier: Self.carriers[Int(carrier)], subscriber: subscriber)
                out[key] = block.languages[language] == PreferenceBlocks.withdrawal ? nil : block.languages[language]
            }
        }
        return out
    }

    /// The do-not-call list as pseudonyms under each carrier's key, to match presence rows. The
    /// sealed numbers are opened in memory for this, never written anywhere.
    public func optOuts(keys: [Carrier: KeyedPseudonymizer], vault: ContactVault) throws -> Set<CarrierPseudonym> {
        try checkVault(vault)
        var out = Set<CarrierPseudonym>()
        for (subscriber, sealed) in try db.query("SELECT subscriber, sealed FROM opt_outs", row: { ($0.pseudonym(0), $0.blob(1)) }) {
            guard let subscriber else { continue }
            let msisdn = try vault.open(sealed, pseudonym: subscriber)
            for (carrier, key) in keys { out.insert(CarrierPseudonym(carrier: carrier, subscriber: key.pseudonym(for: msisdn))) }
        }
        return out
    }

    public func doNotCallCount() throws -> Int {
        Int(try db.scalarInt("SELECT count(*) FROM opt_outs") ?? 0) + (try clearNumbers().optOuts)
    }

    /// Members of contact lists, their numbers opened with the contact key; `optedOut` when the
    /// number is also on the do-not-call list.
    public func contacts(lists: [String], vault: ContactVault) throws -> [Contact] {
        try checkVault(vault)
        var out: [Contact] = []
        for list in lists {
            let rows = try db.query("""
                SELECT c.subscriber, c.sealed, c.carrier, c.name, c.language, c.commune,
                       CASE WHEN EXISTS (SELECT 1 FROM opt_outs o WHERE o.subscriber = c.subscriber) THEN 1 ELSE 0 END
                FROM contact_entries c WHERE c.list = ? ORDER BY c.subscriber
                """, [.text(list)]) { row in
                (row.pseudonym(0), row.blob(1), row.text(2), row.text(3), row.isNull(4) ? nil : row.text(4), row.isNull(5) ? nil : row.int(5), row.int(6) == 1)
            }
            for (subscriber, sealed, carrier, name, language, commune, optedOut) in rows {
                guard let subscriber else { continue }
                let msisdn = try vault.open(sealed, pseudonym: subscriber)
                out.append(Contact(list: list, msisdn: msisdn, carrier: Carrier(rawValue: carrier) ?? .viettel, name: name,
                                   language: language, commune: commune, optedOut: optedOut))
            }
        }
        return out
    }

    public func contactListNames() throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try db.query("SELECT list, count(*) FROM contact_entries GROUP BY list") { ($0.text(0), $0.int(1)) })
    }

    // MARK: The contact key

    /// The contact key must be the one that sealed the store's numbers (the first key used is
    /// recorded by its fingerprint): another key would open nothing.
    func checkVault(_ vault: ContactVault) throws { try checkVault(fingerprint: vault.fingerprint) }

    func checkVault(fingerprint: String) throws {
        let recorded = try db.query("SELECT fingerprint FROM vault WHERE singleton = 1") { $0.text(0) }.first
        if let recorded {
            guard recorded == fingerprint else {
                throw StoreError(.wrongContactKey, "the contact key (fingerprint \(fingerprint)) is not the one this store's numbers are sealed with (fingerprint \(recorded))")
            }
        } else {
            try db.run("INSERT INTO vault (singleton, fingerprint) VALUES (1, ?) ON CONFLICT DO NOTHING", [.text(fingerprint)])
            try checkVault(fingerprint: fingerprint)
        }
    }

    func tableExists(_ table: String) throws -> Bool {
        let n: Int64? = switch db.dialect {
        case .sqlite: try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(table)])
        case .postgres: try db.scalarInt("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", [.text(table)])
        }
        return (n ?? 0) > 0
    }

    /// Clear numbers left by versions before 6 (tables `do_not_call` and `contacts`), not yet sealed.
    public func clearNumbers() throws -> (optOuts: Int, contacts: Int) {
        func count(_ table: String) throws -> Int {
            try tableExists(table) ? Int(try db.scalarInt("SELECT count(*) FROM \(table)") ?? 0) : 0
        }
        return (try count("do_not_call"), try count("contacts"))
    }

    /// Seals the clear numbers a store from before version 6 still holds, then drops their tables,
    /// in one transaction. Returns how many numbers were sealed.
    @discardableResult
    public func sealClearNumbers(vault: ContactVault) throws -> Int {
        guard try tableExists("do_not_call") || tableExists("contacts") else { return 0 }
        // SQLite: the old pages also leave the write-ahead log (overwritten by secure_delete in the file).
        defer { if case .sqlite(let file) = engine { try? file.execute("PRAGMA wal_checkpoint(TRUNCATE)") } }
        return try db.transaction {
            try checkVault(vault)
            var sealed = 0
            let now = Self.nowSeconds()
            if try tableExists("do_not_call") {
                for number in try db.query("SELECT msisdn FROM do_not_call", row: { $0.text(0) }) {
                    guard case .success(let p) = VietnamNumberingPlan.parse(number) else { continue }
                    try db.run("INSERT INTO opt_outs (subscriber, sealed, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               [.blob(vault.pseudonym(for: p.msisdn).bytes), .blob(try vault.seal(p.msisdn)), .int(now)])
                    sealed += 1
                }
                try db.run("DROP TABLE do_not_call")
            }
            if try tableExists("contacts") {
                let rows = try db.query("SELECT list, msisdn, carrier, name, language, commune FROM contacts") {
                    ($0.text(0), $0.text(1), $0.text(2), $0.text(3), $0.isNull(4) ? nil : $0.text(4), $0.isNull(5) ? nil : $0.int64(5))
                }
                for (list, number, carrier, name, language, commune) in rows {
                    guard case .success(let p) = VietnamNumberingPlan.parse(number) else { continue }
                    try db.run("""
                        INSERT INTO contact_entries (list, subscriber, sealed, carrier, name, language, commune) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO NOTHING
                        """, [.text(list), .blob(vault.pseudonym(for: p.msisdn).bytes), .blob(try vault.seal(p.msisdn)), .text(carrier), .text(name),
                              language.map { .text($0) } ?? .null, commune.map { .int($0) } ?? .null])
                    sealed += 1
                }
                try db.run("DROP TABLE contacts")
            }
            try audit("loa", "seal-clear-numbers", campaign: nil, "\(sealed) clear numbers sealed under the contact key \(vault.fingerprint); clear tables dropped")
            return sealed
        }
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

