import Foundation
import LoaCore

/// Who dispatches from a store right now, seen from outside (without registering as a node).
public struct DispatchStatus: Sendable, Equatable {
    public var liveNodes: Int
    public var heldCarriers: Set<Carrier>
}

extension Store {
    /// Live dispatcher nodes and the carriers they hold, for operators.
    public static func dispatchStatus(location: String) throws -> DispatchStatus {
        if isPostgresURL(location) {
            let pg = try PostgresDatabase(url: location)
            let rows = try pg.query("""
                SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """) { ($0.int64(0), $0.int(1)) }
            return DispatchStatus(liveNodes: rows.filter { $0.0 == Int64(StoreLocks.nodeClass) }.count,
                                  heldCarriers: Set(rows.filter { $0.0 == Int64(StoreLocks.carrierClass) && $0.1 < carriers.count }.map { carriers[$0.1] }))
        }
        let directory = location + ".dispatch"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        func held(_ name: String) -> Bool {
            let fd = open("\(directory)/\(name)", O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
            return errno == EWOULDBLOCK
        }
        return DispatchStatus(liveNodes: names.filter { $0.hasPrefix("node-") && held($0) }.count,
                              heldCarriers: Set(carriers.filter { held("carrier-\($0.rawValue).lock") }))
    }

    /// The schema version and the name of its last migration.
    public func schemaVersion() throws -> (version: Int, name: String) {
        try db.query("SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1") { ($0.int(0), $0.text(1)) }.first ?? (0, "")
    }

    /// Rows per table, for operators (an estimate on PostgreSQL for the big ones would be faster;
    /// exact counts keep reports honest).
    /// Rows per table; for `preferences`, the statements its blocks hold (`PreferenceBlocks`: a
    /// statement replaced by a later import counts until the blocks are next compacted). The
    /// tables of clear numbers an older store had (`do_not_call`, `contacts`) are listed while
    /// they exist, until `sealClearNumbers` drops them.
    public func tableCounts() throws -> [(table: String, rows: Int)] {
        var tables = ["cells", "presence", "preferences", "opt_outs", "contact_entries", "campaigns", "messages", "batches", "receipts", "audit"]
        for clear in ["do_not_call", "contacts"] where try tableExists(clear) { tables.insert(clear, at: tables.firstIndex(of: "campaigns")!) }
        return try tables.map {
            ($0, $0 == "preferences" ? try PreferenceBlocks.entries(db) : Int(try db.scalarInt("SELECT count(*) FROM \($0)") ?? 0))
        }
    }

    /// This process's leases on the store at `location`, registered as one live node.
    public static func carrierLeases(location: String) throws -> any CarrierLeases {
        isPostgresURL(location) ? try PostgresLeases(url: location) : try FileLeases(databasePath: location)
    }

    /// When this carrier's batches last changed (whole seconds): claimed, attempted or answered.
    public func lastBatchActivity(carrier: Carrier) throws -> Int64? {
        try db.scalarInt("SELECT max(updated_at) FROM batches WHERE carrier = ?", [.text(carrier.rawValue)])
    }

}

/// PostgreSQL: two-key session advisory locks on a connection of their own, (node class, slot)
/// for membership and (carrier class, carrier index) for leases.
final class PostgresLeases: CarrierLeases {
    let pg: PostgresDatabase
    private var closed = false
    /// Advisory locks count re-entries: each carrier is locked once and unlocked once.
    private var held: Set<LaneKey> = []

    init(url: String) throws {
        // A dead server or network shows up within seconds on this side (the node stops sending
        // after 5 s without a confirmed lease, see Dispatcher) …
        let pg = try PostgresDatabase(url: PostgresDatabase.url(url, adding: ["keepalives_idle": "5", "keepalives_interval": "2",
                                                                             "keepalives_count": "3", "tcp_user_timeout": "8000"]),
                                      createIfMissing: true)
        pg.reconnects = false   // the locks live and die with this session
        // … and the server ends an unreachable node's session (freeing its carriers) after
        // 5 + 3 × 3 s of silence, later than that.
        try pg.execute("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 3; SET tcp_keepalives_count = 3")
        self.pg = pg
        // Membership: the first free slot, held for the life of the session.
        for candidate in 0..<1024 where try Self.locked(pg, "SELECT pg_try_advisory_lock(?, ?)", StoreLocks.nodeClass, Int32(candidate)) {
            return
        }
        throw StoreError.database("\(pg.location): 1,024 dispatcher nodes are registered already")
    }

    deinit { close() }

    private static func locked(_ pg: PostgresDatabase, _ sql: String, _ a: Int32, _ b: Int32) throws -> Bool {
        try pg.query(sql, [.int(Int64(a)), .int(Int64(b))]) { $0.text(0) == "t" }.first ?? false
    }

    /// SMS lanes lock (carrier class, carrier index); voice lanes (carrier class, 64 + index).
    static func lockID(_ lane: LaneKey) -> Int32 { Int32(Store.carrierIndex[lane.carrier]!) + (lane.channel == .voice ? 64 : 0) }

    func tryAcquire(_ lane: LaneKey) throws -> Bool {
        if held.contains(lane) { return true }
        guard try Self.locked(pg, "SELECT pg_try_advisory_lock(?, ?)", StoreLocks.carrierClass, Self.lockID(lane)) else { return false }
        held.insert(lane)
        return true
    }

    func release(_ lane: LaneKey) throws {
        guard held.remove(lane) != nil else { return }
        _ = try Self.locked(pg, "SELECT pg_advisory_unlock(?, ?)", StoreLocks.carrierClass, Self.lockID(lane))
    }

    func liveNodes() throws -> Int {
        Int(try pg.scalarInt("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::bigint = ?
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, [.int(Int64(StoreLocks.nodeClass))]) ?? 1)
    }

    func stillValid() -> Bool { !closed && pg.isAlive }

    func close() {
        guard !closed else { return }
        closed = true
        held.removeAll()
        _ = try? pg.execute("SELECT pg_advisory_unlock_all()")
    }
}

/// SQLite: flock on files in `<database>.dispatch/`: `node-N.lock` for membership and
/// `carrier-NAME.lock` for leases. The kernel drops them when the process ends.
final class FileLeases: CarrierLeases {
    let directory: String
    private var node: Int32 = -1
    private var carriers: [LaneKey: Int32] = [:]

    init(databasePath: String) throws {
        directory = databasePath + ".dispatch"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for candidate in 0..<1024 {
            if let fd = try lock("\(directory)/node-\(candidate).lock") { node = fd; return }
        }
        throw StoreError.database("\(directory): 1,024 dispatcher nodes are registered already")
    }

    deinit { close() }

    /// An exclusive, non-blocking flock on `path` (created if needed); nil when someone holds it.
    private func lock(_ path: String) throws -> Int32? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.database("\(path): cannot open: \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return fd }
        let e = errno
        Foundation.close(fd)
        if e == EWOULDBLOCK { return nil }
        throw StoreError.database("\(path): cannot lock: \(String(cString: strerror(e)))")
    }

    func tryAcquire(_ lane: LaneKey) throws -> Bool {
        if carriers[lane] != nil { return true }
        guard let fd = try lock("\(directory)/carrier-\(lane.carrier.rawValue)\(lane.channel == .voice ? "-voice" : "").lock") else { return false }
        carriers[lane] = fd
        return true
    }

    func release(_ lane: LaneKey) throws {
        if let fd = carriers.removeValue(forKey: lane) { Foundation.close(fd) }
    }

    func liveNodes() throws -> Int {
        var live = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasPrefix("node-") {
            // Our own lock conflicts too (flock is per open file): it counts this node.
            if let fd = try lock("\(directory)/\(name)") { Foundation.close(fd) } else { live += 1 }
        }
        return max(1, live)
    }

    func stillValid() -> Bool { node >= 0 }

    func close() {
        for fd in carriers.values { Foundation.close(fd) }
        carriers.removeAll()
        if node >= 0 { Foundation.close(node); node = -1 }
    }
}
