import LoaCore

/// Which SQL engine a connection speaks. The store writes portable SQL (with `?` placeholders)
/// and asks the dialect only where the engines differ.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// One row of a result, read by column index (0-based).
public protocol SQLRow {
    func int64(_ column: Int32) -> Int64
    func double(_ column: Int32) -> Double
    func text(_ column: Int32) -> String
    func isNull(_ column: Int32) -> Bool
    /// A 32-byte binary column read as a pseudonym (nil when it is not 32 bytes).
    func pseudonym(_ column: Int32) -> Pseudonym?
    /// A binary column's bytes.
    func blob(_ column: Int32) -> [UInt8]
}

extension SQLRow {
    public func int(_ column: Int32) -> Int { Int(int64(column)) }
}

/// A connection to the store's database: SQLite (a file) or PostgreSQL (a server). One
/// connection serves one thread at a time; every worker opens its own.
public protocol SQLDatabase: AnyObject {
    var dialect: SQLDialect { get }
    /// Where the data lives, safe to print (a PostgreSQL URL without its password).
    var location: String { get }
    /// Runs one statement with `?` placeholders; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ bindings: [SQLValue]) throws(StoreError) -> Int
    /// Runs a query with `?` placeholders and collects its rows with `row`.
    func query<T>(_ sql: String, _ bindings: [SQLValue], row: (any SQLRow) throws -> T) throws -> [T]
    /// Runs a script of statements without parameters (migrations).
    func execute(_ script: String) throws(StoreError)
    /// Runs `body` in a transaction that takes the write lock at once (SQLite: BEGIN IMMEDIATE),
    /// committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T
    /// Inside `transaction`'s body.
    var isInTransaction: Bool { get }
}

extension SQLDatabase {
    @discardableResult
    public func run(_ sql: String) throws(StoreError) -> Int { try run(sql, []) }

    public func query<T>(_ sql: String, row: (any SQLRow) throws -> T) throws -> [T] { try query(sql, [], row: row) }

    public func scalarInt(_ sql: String, _ bindings: [SQLValue] = []) throws -> Int64? {
        try query(sql, bindings) { $0.isNull(0) ? nil : $0.int64(0) }.first ?? nil
    }

    /// `begin`, then `body`, committed when it returns, rolled back when it throws: the engines'
    /// `transaction` differ only in how they begin.
    func inTransaction<T>(begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Inserts one row and returns its generated `id` (`INSERT … RETURNING id` on both engines).
    public func insertReturningID(_ sql: String, _ bindings: [SQLValue]) throws -> Int64 {
        guard let id = try query(sql + " RETURNING id", bindings, row: { $0.int64(0) }).first else {
            throw StoreError.database("insert returned no id: \(sql.prefix(80))")
        }
        return id
    }
}

public enum SQLValue: Sendable, Hashable {
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// Why the store refused or failed. `code` is stable: callers (the CLI, the console) match on it,
/// never on the text, which is for people and may change.
public struct StoreError: Error, CustomStringConvertible, Equatable, RetryableError {
    public enum Code: String, Sendable {
        /// The database failed (cannot connect, a statement failed, a constraint).
        case database = "store.database"
        /// Another process held the write lock too long (a large import): try again shortly.
        case busy = "store.busy"
        /// The disk holding the store is full: the step was rolled back; free space and run it again.
        case diskFull = "store.disk-full"
        /// The input is wrong (a file, an argument) and the message says where.
        case input = "store.input"
        /// A file to import does not exist.
        case noSuchFile = "store.no-such-file"
        /// No store at the location (without `create`).
        case noStore = "store.no-store"
        /// Clear numbers in a file, and no pseudonym key for the carrier: nothing was imported.
        case missingPseudonymKey = "store.missing-pseudonym-key"
        /// The contact key is not the one the store's numbers are sealed with.
        case wrongContactKey = "store.wrong-contact-key"
        /// No such campaign, or it is not in a state that allows the step.
        case campaign = "store.campaign"
        /// The user's role does not allow it, or a sign-in was refused.
        case permission = "store.permission"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func database(_ message: String) -> StoreError { StoreError(.database, message) }
    public static func input(_ message: String) -> StoreError { StoreError(.input, message) }

    public var isRetryable: Bool { code == .busy || code == .diskFull }
    public var cause: String { code.rawValue }

    public var description: String { code == .database || code == .busy ? "database: \(message)" : message }
}

extension Array {
    /// The array in consecutive slices of at most `size` elements (statements with a bounded
    /// number of bound values).
    func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
