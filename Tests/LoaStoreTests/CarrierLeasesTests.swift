import Foundation
import Testing
import LoaCore
@testable import LoaStore
import LoaTestSupport

@Suite("Carrier leases and connections (SQLite and PostgreSQL)")
struct CarrierLeasesTests {
    @Test("a carrier has one holder at a time; nodes are counted; a closed node frees its carriers", arguments: StoreEngine.available)
    func oneHolderAtATime(engine: StoreEngine) throws {
        let location = try engine.scratchLocation()
        _ = try Store(location: location)
        let a = try Store.carrierLeases(location: location)
        let b = try Store.carrierLeases(location: location)
        #expect(try a.liveNodes() == 2)
        #expect(try a.tryAcquire(.viettel))
        #expect(try a.tryAcquire(.viettel))          // holding it already
        #expect(try !b.tryAcquire(.viettel))
        #expect(try b.tryAcquire(.mobifone))
        #expect(try !a.tryAcquire(.mobifone))
        try a.release(.viettel)
        #expect(try b.tryAcquire(.viettel))
        #expect(try !a.tryAcquire(.viettel))
        b.close()
        #expect(try a.liveNodes() == 1)
        #expect(try a.tryAcquire(.viettel))
        #expect(try a.tryAcquire(.mobifone))
        #expect(a.stillValid())
        a.close()
    }

    @Test("PostgreSQL: a lease ends with its session; the store's own connection comes back after a server-side kill")
    func sessionsEnd() throws {
        guard StoreEngine.available.contains(.postgres) else { return }
        let location = try StoreEngine.postgres.scratchLocation()
        let store = try Store(location: location)
        let a = try Store.carrierLeases(location: location)
        let b = try Store.carrierLeases(location: location)
        #expect(try a.tryAcquire(.gmobile))
        #expect(try !b.tryAcquire(.gmobile))
        // The server ends every other session on this database (as a restart or a network cut would).
        let admin = try PostgresDatabase(url: location)
        try admin.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        usleep(200_000)
        #expect(!a.stillValid())
        // b's session ended too: a fresh node takes the carrier.
        let c = try Store.carrierLeases(location: location)
        #expect(try c.tryAcquire(.gmobile))
        // The store's connection failed once, then reconnected by itself.
        #expect(throws: StoreError.self) { try store.presenceRowCount() }
        #expect(try store.presenceRowCount() == 0)
    }
}

@Suite("Schema migrations (SQLite and PostgreSQL)")
struct MigrationTests {
    @Test("a store written by an earlier version is brought up to date when opened, its data kept", arguments: StoreEngine.available)
    func upgradeOnOpen(engine: StoreEngine) throws {
        let location = try engine.scratchLocation()
        do {
            let old: any SQLDatabase = engine == .sqlite ? try SQLiteDatabase(path: location) : try PostgresDatabase(url: location)
            try Migrations.run(on: old, through: 2)
            try old.run("INSERT INTO campaigns (id, file, file_sha256, title, priority, state, drafted_by, created_at) VALUES ('c', 'x', 'x', 't', 'routine', 'sending', 'a', 0)")
            try old.run("INSERT INTO messages (campaign, carrier, subscriber, language, day, text, encoding, segments, state, updated_at) VALUES ('c', 'viettel', 'h:1', 'vi', 1, 't', 'gsm7', 1, 'planned', 0)")
        }
        let store = try Store(location: location)
        #expect(try store.schemaVersion().version == Migrations.latestVersion)
        #expect(try rawConnection(to: location).query("SELECT version FROM schema_migrations ORDER BY version") { $0.int(0) } == Array(1...Migrations.latestVersion))
        #expect(try store.pendingCount(carrier: .viettel) == 1)
        // The report finds a campaign planned before the upgrade (migration 16 recorded where its messages lie).
        #expect(try store.deliveryFacts(campaign: "c").map(\.count) == [1])
        #expect(try store.claimBatch(carrier: .viettel, limit: 10)?.messages.count == 1)
        // Opening again applies nothing twice.
        _ = try Store(location: location)
        #expect(try rawConnection(to: location).scalarInt("SELECT count(*) FROM schema_migrations") == Int64(Migrations.latestVersion))
    }
}
