import CLibPQ
import Foundation
import LoaCore

/// A connection to a PostgreSQL server through libpq (the system's libpq-dev, synchronous, like
/// the SQLite side). Statements are written with `?` placeholders and prepared once per
/// connection; parameters go as text (binary for blobs), results come back as text.
public final class PostgresDatabase: SQLDatabase, @unchecked Sendable {
    let conn: OpaquePointer
    public let location: String
    public var dialect: SQLDialect { .postgres }
    /// Prepared statement names by SQL text.
    private var prepared: [String: String] = [:]
    private var insideTransaction = false
    public var isInTransaction: Bool { insideTransaction }
    /// Reconnect when the connection was found broken before a statement (a server restart while
    /// idle): that statement was never sent, so running it on the new session is safe. Off for
    /// sessions whose advisory locks matter (leases): a new session would not hold them.
    public var reconnects = true

    /// `url`: `postgres://user:password@host:port/database` (libpq's URI form; `?sslmode=…` etc. allowed).
    /// `createIfMissing`: create the database named in the URL when the server says it does not exist.
    public init(url given: String, createIfMissing: Bool = false) throws(StoreError) {
        let url = Self.lowercasedScheme(given)
        location = Self.maskPassword(url)
        guard var c = PQconnectdb(url) else { throw .database("\(location): out of memory") }
        if PQstatus(c) != CONNECTION_OK && createIfMissing && String(cString: PQerrorMessage(c)).contains("does not exist") {
            PQfinish(c)
            try Self.createDatabase(url: url)
            guard let again = PQconnectdb(url) else { throw .database("\(location): out of memory") }
            c = again
        }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(c)
            throw .database("\(location): cannot connect: \(message)")
        }
        conn = c
        clibpq_silence_notices(c)
        try execute("SET client_encoding = 'UTF8'")
    }

    deinit { PQfinish(conn) }

    /// `url` with its database name replaced (`postgres://u:p@h:5432/old?x=y` → `…/new?x=y`).
    public static func url(_ url: String, database: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        return String(url[..<scheme.upperBound]) + authority + "/" + database + query
    }

    /// `url` with connection parameters added (kept when the URL sets them already).
    public static func url(_ url: String, adding parameters: [String: String]) -> String {
        let existing = url.firstIndex(of: "?").map { url[url.index(after: $0)...].split(separator: "&").map { String($0.split(separator: "=")[0]) } } ?? []
        let extra = parameters.sorted { $0.key < $1.key }.filter { !existing.contains($0.key) }.map { "\($0.key)=\($0.value)" }
        if extra.isEmpty { return url }
        return url + (url.contains("?") ? "&" : "?") + extra.joined(separator: "&")
    }

    /// The database name in `url` (libpq's default, the user name, when there is none).
    static func databaseName(_ url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let name = rest[rest.index(after: slash)...].prefix { $0 != "?" }
        return name.isEmpty ? nil : String(name).removingPercentEncoding
    }

    /// Creates the database named in `url` when it does not exist yet (connecting to the server's
    /// `postgres` database to do so; the role needs CREATEDB). Its collation is `C`: text keys
    /// (campaign, carrier, subscriber pseudonyms) are compared byte by byte instead of through the
    /// locale, which made index inserts 15% slower under `C.UTF-8` here; for UTF-8 text, byte order
    /// is code point order, what `C.UTF-8` sorts by anyway. The character classes stay the server's.
    public static func createDatabase(url: String) throws(StoreError) {
        guard let name = databaseName(url) else { throw .input("\(maskPassword(url)): the URL names no database (postgres://user:password@host:port/DATABASE)") }
        let admin = try PostgresDatabase(url: Self.url(url, database: "postgres"))
        let exists = (try? admin.query("SELECT 1 FROM pg_database WHERE datname = ?", [.text(name)]) { _ in true })?.isEmpty == false
        if exists { return }
        let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        do { try admin.execute("CREATE DATABASE \(quoted) TEMPLATE template0 LC_COLLATE 'C'") }
        catch {
            // Another process may have created it at the same moment.
            if (try? admin.query("SELECT 1 FROM pg_database WHERE datname = ?", [.text(name)]) { _ in true })?.isEmpty == false { return }
            throw error
        }
    }

    /// Drops the database named in `url`, its sessions closed first (benchmarks' scratch databases).
    public static func dropDatabase(url: String) throws(StoreError) {
        guard let name = databaseName(url) else { throw .input("\(maskPassword(url)): the URL names no database") }
        let admin = try PostgresDatabase(url: Self.url(url, database: "postgres"))
        try admin.execute("DROP DATABASE IF EXISTS \"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\" WITH (FORCE)")
    }

    /// Whether the server still answers on this connection (leases live as long as it does).
    public var isAlive: Bool {
        guard let r = PQexec(conn, "SELECT 1") else { return false }
        defer { PQclear(r) }
        return PQresultStatus(r) == PGRES_TUPLES_OK
    }

    /// libpq reads `postgres://` and `postgresql://` in lower case only.
    static func lowercasedScheme(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        return url[..<scheme.lowerBound].lowercased() + url[scheme.lowerBound...]
    }

    /// The URL with its password hidden, wherever it is: `user:***@host`, `?password=***`.
    public static func maskPassword(_ url: String) -> String {
        var out = url
        if let scheme = out.range(of: "://"), let at = out[scheme.upperBound...].firstIndex(of: "@"),
           let colon = out[scheme.upperBound..<at].firstIndex(of: ":") {
            out = String(out[..<colon]) + ":***" + String(out[at...])
        }
        guard let q = out.firstIndex(of: "?") else { return out }
        let parameters = out[out.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { p -> String in
            let key = p.split(separator: "=", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
            return key == "password" || key == "sslpassword" ? "\(p.split(separator: "=", maxSplits: 1).first ?? "")=***" : String(p)
        }
        return String(out[...q]) + parameters.joined(separator: "&")
    }

    func error(_ what: String, _ result: OpaquePointer?) -> StoreError {
        var message = result.map { String(cString: PQresultErrorMessage($0)) } ?? ""
        if message.isEmpty { message = String(cString: PQerrorMessage(conn)) }
        message = message.trimmingCharacters(in: .whitespacesAndNewlines)
        var sqlState = ""
        if let result, let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { sqlState = String(cString: state); message += " (SQLSTATE \(sqlState))" }
        // 53100 disk_full: the server's disk, said plainly.
        if sqlState == "53100" {
            return StoreError(.diskFull, """
                the PostgreSQL server's disk is full. Nothing of this step was kept (its transaction was rolled back; what was \
                committed before is intact). Free space on the server, then run the same command again. [\(what): \(message)]
                """)
        }
        return .database("\(what): \(message)")
    }

    /// `?` → `$1, $2, …`, outside quoted strings, identifiers and comments.
    static func numberedPlaceholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quote: Character? = nil
        var previous: Character = " "
        var inComment = false
        for ch in sql {
            if inComment {
                out.append(ch)
                if ch == "\n" { inComment = false }
            } else if let q = quote {
                out.append(ch)
                if ch == q { quote = nil }
            } else if ch == "'" || ch == "\"" {
                quote = ch
                out.append(ch)
            } else if ch == "-" && previous == "-" {
                inComment = true
                out.append(ch)
            } else if ch == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
            previous = ch
        }
        return out
    }

    /// Outside a transaction, a connection found broken is re-established once.
    private func reconnectIfBroken() {
        guard reconnects, !insideTransaction, PQstatus(conn) != CONNECTION_OK else { return }
        PQreset(conn)
        prepared.removeAll()
        if PQstatus(conn) == CONNECTION_OK {
            clibpq_silence_notices(conn)
            _ = try? execute("SET client_encoding = 'UTF8'")
        }
    }

    /// Executes with parameters; the caller clears the result.
    private func exec(_ sql: String, _ bindings: [SQLValue]) throws(StoreError) -> OpaquePointer {
        reconnectIfBroken()
        var name = prepared[sql]
        if name == nil && prepared.count < 512 {
            let newName = "loa_\(prepared.count + 1)"
            let r = PQprepare(conn, newName, Self.numberedPlaceholders(sql), Int32(bindings.count), nil)
            defer { PQclear(r) }
            guard PQresultStatus(r) == PGRES_COMMAND_OK else { throw error("prepare \(sql.prefix(100))", r) }
            prepared[sql] = newName
            name = newName
        }
        // Parameters as C strings (text) or bytes (blobs, binary format).
        var buffers: [[CChar]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        buffers.reserveCapacity(bindings.count)
        for b in bindings {
            switch b {
            case .null: buffers.append(nil); lengths.append(0); formats.append(0)
            case .int(let v): buffers.append(Array(String(v).utf8CString)); lengths.append(0); formats.append(0)
            case .double(let v): buffers.append(Array(String(v).utf8CString)); lengths.append(0); formats.append(0)
            case .text(let s): buffers.append(Array(s.utf8CString)); lengths.append(0); formats.append(0)
            case .blob(let bytes): buffers.append(bytes.map { CChar(bitPattern: $0) }); lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        let result: OpaquePointer? = withPointers(buffers) { values in
            if let name { return PQexecPrepared(conn, name, Int32(bindings.count), values, lengths, formats, 0) }
            return PQexecParams(conn, Self.numberedPlaceholders(sql), Int32(bindings.count), nil, values, lengths, formats, 0)
        }
        guard let result else { throw error(String(sql.prefix(100)), nil) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let e = error(String(sql.prefix(100)), result)
            PQclear(result)
            throw e
        }
        return result
    }

    @discardableResult
    public func run(_ sql: String, _ bindings: [SQLValue]) throws(StoreError) -> Int {
        let r = try exec(sql, bindings)
        defer { PQclear(r) }
        return Int(String(cString: PQcmdTuples(r))) ?? 0
    }

    public func query<T>(_ sql: String, _ bindings: [SQLValue], row: (any SQLRow) throws -> T) throws -> [T] {
        let r = try exec(sql, bindings)
        defer { PQclear(r) }
        let n = PQntuples(r)
        var out: [T] = []
        out.reserveCapacity(Int(n))
        for i in 0..<n { out.append(try row(PostgresRow(result: r, row: i))) }
        return out
    }

    public func execute(_ script: String) throws(StoreError) {
        let r = PQexec(conn, script)
        defer { PQclear(r) }
        let status = PQresultStatus(r)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw error(String(script.prefix(100)), r) }
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        reconnectIfBroken()
        insideTransaction = true
        defer { insideTransaction = false }
        return try inTransaction(begin: "BEGIN", body)
    }

    // MARK: COPY (bulk presence)

    /// `COPY … FROM STDIN`: `write` is called with a function that sends bytes.
    func copyIn(_ sql: String, _ write: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let r = PQexec(conn, sql)
        let status = PQresultStatus(r)
        if status != PGRES_COPY_IN { let e = error(String(sql.prefix(100)), r); PQclear(r); throw e }
        PQclear(r)
        var failure: (any Error)? = nil
        do {
            try write { bytes in
                guard PQputCopyData(conn, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count)) == 1 else {
                    throw self.error("COPY data", nil)
                }
            }
        } catch { failure = error }
        PQputCopyEnd(conn, failure == nil ? nil : "loa: import failed")
        try finishCopy(sql, failure: failure)
    }

    /// Reads the COPY's outcome (the connection is usable again after it); the caller's own failure
    /// wins over the server's.
    private func finishCopy(_ sql: String, failure: (any Error)?) throws {
        var serverError: StoreError? = nil
        while let res = PQgetResult(conn) {
            if PQresultStatus(res) != PGRES_COMMAND_OK && serverError == nil { serverError = error(String(sql.prefix(100)), res) }
            PQclear(res)
        }
        if let failure { throw failure }
        if let serverError { throw serverError }
    }

    /// `COPY … TO STDOUT`: `read` gets each chunk (a row, for binary format) as it arrives.
    func copyOut(_ sql: String, _ read: (UnsafeRawBufferPointer) throws -> Void) throws {
        let r = PQexec(conn, sql)
        let status = PQresultStatus(r)
        if status != PGRES_COPY_OUT { let e = error(String(sql.prefix(100)), r); PQclear(r); throw e }
        PQclear(r)
        var failure: (any Error)? = nil
        while true {
            var buffer: UnsafeMutablePointer<CChar>? = nil
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let buffer {
                if failure == nil {
                    do { try read(UnsafeRawBufferPointer(start: buffer, count: Int(n))) } catch { failure = error }
                }
                PQfreemem(buffer)
            } else if n == -1 {
                break
            } else {
                throw error("COPY out", nil)
            }
        }
        try finishCopy(sql, failure: failure)
    }
}

/// Pointers to each buffer's bytes (nil for NULL), valid during `body`.
private func withPointers<R>(_ buffers: [[CChar]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(buffers.count)
    func next(_ i: Int) -> R {
        if i == buffers.count { return body(pointers) }
        guard let b = buffers[i] else { pointers.append(nil); return next(i + 1) }
        return b.withUnsafeBufferPointer { p in
            pointers.append(p.baseAddress)
            return next(i + 1)
        }
    }
    return next(0)
}

struct PostgresRow: SQLRow {
    let result: OpaquePointer
    let row: Int32

    func value(_ column: Int32) -> UnsafeMutablePointer<CChar> { PQgetvalue(result, row, column) }
    func isNull(_ column: Int32) -> Bool { PQgetisnull(result, row, column) == 1 }
    func text(_ column: Int32) -> String { String(cString: value(column)) }
    func int64(_ column: Int32) -> Int64 {
        var v: Int64 = 0, negative = false
        var p = value(column)
        if p.pointee == 0x2D { negative = true; p += 1 }
        while p.pointee >= 0x30 && p.pointee <= 0x39 { v = v &* 10 &+ Int64(p.pointee - 0x30); p += 1 }
        return negative ? -v : v
    }
    func double(_ column: Int32) -> Double { Double(text(column)) ?? 0 }
    /// bytea in text form: `\x` and hex digits.
    func blob(_ column: Int32) -> [UInt8] {
        let hex = Array(text(column).utf8.dropFirst(2))
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        func v(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
        var i = 0
        while i + 1 < hex.count { out.append(v(hex[i]) << 4 | v(hex[i + 1])); i += 2 }
        return out
    }
    /// bytea in text form: `\x` and 64 hex digits.
    func pseudonym(_ column: Int32) -> Pseudonym? {
        guard PQgetlength(result, row, column) == 66 else { return nil }
        return Pseudonym("h:" + text(column).dropFirst(2))
    }
}
