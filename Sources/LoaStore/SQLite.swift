import CSQLite3
import Foundation
import LoaCore

/// A thin, typed wrapper over the SQLite C API. Every SQLite return code goes through `check`.
public final class SQLiteDatabase: SQLDatabase, @unchecked Sendable {
    let handle: OpaquePointer
    public let path: String
    public var dialect: SQLDialect { .sqlite }
    public var location: String { path }
    /// Statements of `run` and `query`, prepared once per connection.
    private var cache: [String: Statement] = [:]

    /// Opens the database file, creating it (mode 0600: it holds personal data) when `create`.
    /// SQLite gives its -wal and -shm files the same mode as the database file.
    public init(path: String, create: Bool = true) throws(StoreError) {
        if create {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) } else if errno != EEXIST { throw .database("\(path): cannot create: \(String(cString: strerror(errno)))") }
        }
        _ = Self.configured
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close(db) }
            throw .database("\(path): cannot open: \(message)")
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, 10_000)
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = NORMAL")
        // Deleted rows are overwritten, not left in free pages: purged locations and the clear
        // numbers of older stores must be gone, not merely unlinked.
        try execute("PRAGMA secure_delete = ON")
        try execute("PRAGMA foreign_keys = ON")
        try execute("PRAGMA temp_store = MEMORY")
        try execute("PRAGMA cache_size = -65536")
    }

    /// Process-wide settings, made before the first connection initializes SQLite.
    private static let configured: Bool = csqlite3_disable_memstatus() == SQLITE_OK

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(StoreError) {
        guard rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW else {
            throw failure(rc, "\(what()): \(String(cString: sqlite3_errmsg(handle))) (code \(rc))")
        }
    }

    /// What a failed call means: another process held the write lock past the busy timeout (a
    /// large import: transient), the disk is full (said plainly, with the free space), or else a
    /// database error.
    func failure(_ rc: Int32, _ message: String) -> StoreError {
        if (rc & 0xFF) == SQLITE_BUSY { return StoreError(.busy, message) }
        if (rc & 0xFF) == SQLITE_FULL || ((rc & 0xFF) == SQLITE_IOERR && sqlite3_system_errno(handle) == ENOSPC) {
            let directory = (path as NSString).deletingLastPathComponent
            var fs = statvfs()
            let free = statvfs(directory.isEmpty ? "." : directory, &fs) == 0 ? " (\(UInt64(fs.f_bavail) * UInt64(fs.f_frsize) / 1_048_576) MiB free)" : ""
            return StoreError(.diskFull, """
                the disk holding the store is full: \(directory.isEmpty ? "." : directory)\(free). Nothing of this step was kept \
                (its transaction was rolled back; what was committed before is intact). Free some space there (or move the store), \
                then run the same command again: it goes on from where it stopped. [\(message)]
                """)
        }
        return .database(message)
    }

    public func execute(_ sql: String) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "code \(rc)"
            sqlite3_free(error)
            throw failure(rc, "\(message) in: \(sql.prefix(120))")
        }
    }

    public func prepare(_ sql: String) throws(StoreError) -> Statement {
        var stmt: OpaquePointer?
        try check(sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil), "prepare \(sql.prefix(80))")
        return Statement(stmt!, db: self)
    }

    /// Runs `body` (a scan that reads each page once) with a page cache of 2 MiB instead of the
    /// connection's: a large cache only costs the time to recycle its pages (a 5M-message report:
    /// 1.5–1.9 s with 64 MiB, 1.1–1.6 s with 2 MiB).
    public func scanning<T>(_ body: () throws -> T) throws -> T {
        let size = try scalarInt("PRAGMA cache_size") ?? -2048
        try execute("PRAGMA cache_size = -2048")
        defer { try? execute("PRAGMA cache_size = \(size)") }
        return try body()
    }

    /// A function SQLite calls with a row's values (`sqlite3_user_data` gives the context).
    public typealias AggregateStep = @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void

    /// Runs `sql`, a scan that passes each row's `arguments` values to the aggregate `name`: SQLite
    /// calls `step` inside the scan, with `context`, so that no row comes back through a step and
    /// column calls. The aggregate exists on this connection only while `sql` runs, with a small
    /// page cache (`scanning`).
    func aggregate(_ name: String, arguments: Int32, context: UnsafeMutableRawPointer, step: AggregateStep, sql: String, _ bindings: [SQLValue]) throws {
        try check(sqlite3_create_function_v2(handle, name, arguments, SQLITE_UTF8 | SQLITE_DIRECTONLY, context, nil, step, { _ in }, nil), "registering \(name)")
        defer { sqlite3_create_function_v2(handle, name, arguments, SQLITE_UTF8, nil, nil, nil, nil, nil) }
        try scanning {
            let stmt = try prepare(sql)
            defer { stmt.reset() }
            try stmt.bind(bindings)
            while try stmt.step() {}
        }
    }

    /// Held by each write transaction of this connection, when set (once, before the connection
    /// is used): a thread of this process that needs a moment without its writes takes it too
    /// (`WALCheckpointer`'s last pass before the log starts over).
    var writeGate: NSLock?

    /// Takes the write lock at once, so that two writers never deadlock upgrading a read.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        writeGate?.lock()
        defer { writeGate?.unlock() }
        return try inTransaction(begin: "BEGIN IMMEDIATE", body)
    }

    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }

    func cached(_ sql: String) throws(StoreError) -> Statement {
        if let stmt = cache[sql] { return stmt }
        let stmt = try prepare(sql)
        cache[sql] = stmt
        return stmt
    }

    public func query<T>(_ sql: String, _ bindings: [SQLValue], row: (any SQLRow) throws -> T) throws -> [T] {
        let stmt = try cached(sql)
        defer { stmt.reset() }
        try stmt.bind(bindings)
        var out: [T] = []
        while try stmt.step() { out.append(try row(stmt)) }
        return out
    }

    @discardableResult
    public func run(_ sql: String, _ bindings: [SQLValue]) throws(StoreError) -> Int {
        let stmt = try cached(sql)
        defer { stmt.reset() }
        try stmt.bind(bindings)
        _ = try stmt.step()
        return changes
    }
}

public final class Statement: SQLRow {
    let stmt: OpaquePointer
    unowned let db: SQLiteDatabase

    init(_ stmt: OpaquePointer, db: SQLiteDatabase) {
        self.stmt = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(stmt) }

    public func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    public func bind(_ values: [SQLValue]) throws(StoreError) {
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    @inline(__always)
    public func bind(_ value: SQLValue, at index: Int32) throws(StoreError) {
        let rc: Int32
        switch value {
        case .int(let v): rc = sqlite3_bind_int64(stmt, index, v)
        case .double(let v): rc = sqlite3_bind_double(stmt, index, v)
        case .text(let s): rc = sqlite3_bind_text(stmt, index, s, -1, csqlite3_transient())
        case .blob(let b): rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), csqlite3_transient()) }
        case .null: rc = sqlite3_bind_null(stmt, index)
        }
        try db.check(rc, "bind parameter \(index)")
    }

    @inline(__always)
    public func bindInt(_ v: Int64, at index: Int32) { sqlite3_bind_int64(stmt, index, v) }

    /// Binds NUL-terminated text that stays alive and unchanged until the statement has run.
    @inline(__always)
    public func bindStaticText(_ p: UnsafePointer<CChar>, at index: Int32) {
        sqlite3_bind_text(stmt, index, p, -1, nil)
    }

    @inline(__always)
    public func bindBlob(_ p: UnsafeRawPointer, count: Int, at index: Int32) {
        sqlite3_bind_blob(stmt, index, p, Int32(count), csqlite3_transient())
    }

    /// True when a row is available; false when done.
    @discardableResult
    public func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        try db.check(rc, "step")
        return false
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(stmt, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }
    public func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, column) else { return "" }
        return String(cString: p)
    }
    public func blob(_ column: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, column))
        guard n > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    /// A 32-byte blob column read as a pseudonym without copying into an Array.
    @inline(__always)
    public func pseudonym(_ column: Int32) -> Pseudonym? {
        guard sqlite3_column_bytes(stmt, column) == 32, let p = sqlite3_column_blob(stmt, column) else { return nil }
        return Pseudonym(bytes: UnsafeRawBufferPointer(start: p, count: 32))
    }
}

