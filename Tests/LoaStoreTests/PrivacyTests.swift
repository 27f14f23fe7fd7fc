import Foundation
import Testing
import LoaCore
import LoaCrypto
import LoaReference
@testable import LoaStore
import LoaTestSupport

/// Regressions for the opt-out, privacy and hostile-input issue, at the store.
@Suite("Store: sealed numbers, private files, bounded input (SQLite and PostgreSQL)")
struct PrivacyTests {
    let units = try! ReferenceData.administrativeUnits()

    func number(_ s: String) -> MSISDN {
        guard case .success(let p) = VietnamNumberingPlan.parse(s) else { fatalError(s) }
        return p.msisdn
    }

    @Test("the contact vault: AES-256-GCM round trip, bound to its row, refused under another key")
    func vaultSealsAndOpens() throws {
        let n = number("0912345678")
        let sealed = try vault.seal(n)
        #expect(sealed.count == 1 + 12 + 12 + 16)
        #expect(try vault.seal(n) != sealed)   // a fresh nonce every time
        #expect(try vault.open(sealed, pseudonym: vault.pseudonym(for: n)) == n)
        // Moved to another row, or changed, it does not open.
        #expect(throws: CryptoError.cannotOpen) { try vault.open(sealed, pseudonym: vault.pseudonym(for: number("0912345679"))) }
        var tampered = sealed
        tampered[20] ^= 1
        #expect(throws: CryptoError.cannotOpen) { try vault.open(tampered, pseudonym: vault.pseudonym(for: n)) }
        let other = try ContactVault(hex: String(repeating: "a5", count: 32))
        #expect(throws: CryptoError.cannotOpen) { try other.open(sealed, pseudonym: other.pseudonym(for: n)) }
        #expect(other.fingerprint != vault.fingerprint)
        #expect(throws: CryptoError.keyTooShort(bytes: 16, needed: 32)) { try ContactVault(hex: String(repeating: "ab", count: 16)) }
        #expect(throws: CryptoError.notHex) { try ContactVault(hex: "not hex at all, not hex at all, not hex at all, not hex at all!!") }
    }

    @Test("a store sealed under one contact key refuses another", arguments: StoreEngine.available)
    func anotherKeyIsRefused(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try Store(location: try engine.scratchLocation())
        try write("msisdn\n0912345678\n", to: "\(dir)/dnc.csv")
        _ = try store.importDoNotCall(path: "\(dir)/dnc.csv", vault: vault)
        let other = try ContactVault(hex: String(repeating: "a5", count: 32))
        #expect(throws: StoreError.self) { try store.optOuts(keys: [.viettel: key], vault: other) }
        #expect(try store.optOuts(keys: [.viettel: key], vault: vault).count == 1)
    }

    @Test("clear numbers of an older store are sealed on the first open with the key, and their tables dropped", arguments: StoreEngine.available)
    func olderStoresAreSealed(engine: StoreEngine) throws {
        let location = try engine.scratchLocation()
        // A store as version 5 left it: clear numbers beside a commune.
        let db: any SQLDatabase = Store.isPostgresURL(location) ? try PostgresDatabase(url: location) : try SQLiteDatabase(path: location)
        try Migrations.run(on: db, through: 5)
        try db.run("INSERT INTO do_not_call (msisdn) VALUES ('0912345678')")
        try db.run("INSERT INTO contacts (list, msisdn, carrier, name, language, commune) VALUES ('uy-tin', '0961234567', 'viettel', 'A Thút', NULL, 23377)")
        let store = try Store(location: location)
        #expect(try store.clearNumbers() == (optOuts: 1, contacts: 1))
        #expect(try store.doNotCallCount() == 1)
        #expect(try store.sealClearNumbers(vault: vault) == 2)
        #expect(try store.clearNumbers() == (optOuts: 0, contacts: 0))
        #expect(try !store.tableExists("contacts") && !store.tableExists("do_not_call"))
        #expect(try store.contacts(lists: ["uy-tin"], vault: vault).map(\.msisdn.national) == ["0961234567"])
        #expect(try store.doNotCallCount() == 1)
        #expect(try store.sealClearNumbers(vault: vault) == 0)
        // What `loa store info` shows, once the clear tables are gone: the sealed ones.
        let counts = Dictionary(uniqueKeysWithValues: try store.tableCounts().map { ($0.table, $0.rows) })
        #expect(counts["opt_outs"] == 1 && counts["contact_entries"] == 1)
        #expect(counts["do_not_call"] == nil && counts["contacts"] == nil)
        for (name, bytes) in try storedBytes(store) {
            #expect(bytes.range(of: Data("912345678".utf8)) == nil && bytes.range(of: Data("961234567".utf8)) == nil, "clear number in \(name)")
        }
    }

    @Test("a contact list is replaced only by a file with a good row; an earlier file can be imported again to restore it",
          arguments: StoreEngine.available)
    func contactListsAreNotWipedByBadFiles(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try Store(location: try engine.scratchLocation())
        func load(_ file: String, replace: Bool = false) throws -> ImportReport {
            try store.importContacts(path: "\(dir)/\(file)", list: "uy-tin", units: units, routing: CarrierRouting(), vault: vault, replaceEvenIfEmpty: replace)
        }
        func members() throws -> [String] { try store.contacts(lists: ["uy-tin"], vault: vault).map(\.name).sorted() }
        try write("msisdn,name,language,commune_code\n0912345678,A,vi,23377\n0912345679,B,,\n", to: "\(dir)/a.csv")
        try write("msisdn,name,language,commune_code\n0961234567,C,vi,\n", to: "\(dir)/b.csv")
        try write("", to: "\(dir)/empty.csv")
        try write("phone;full name\n0912345678;A\n", to: "\(dir)/wrong.csv")
        #expect(try load("a.csv").rowsOK == 2)
        #expect(try load("b.csv").rowsOK == 1)
        #expect(try members() == ["C"])
        for file in ["empty.csv", "wrong.csv"] {
            let r = try load(file)
            #expect(r.listKept, "\(file)")
            #expect(r.notes.contains { $0.contains("the list 'uy-tin' was left as it was") })
            #expect(try members() == ["C"], "\(file)")
        }
        #expect(try load("a.csv").rowsOK == 2)   // the earlier file again: restores the list
        #expect(try members() == ["A", "B"])
        let wiped = try load("empty.csv", replace: true)
        #expect(!wiped.listKept)
        #expect(try members() == [])
    }

    @Test("presence from the future is refused; a carrier's retention purges only its rows, by seen and by import time",
          arguments: StoreEngine.available)
    func presenceTimeIsChecked(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try Store(location: try engine.scratchLocation())
        try write("cgi,lat,lon,commune_code\n452-04-100-1,14.72,107.56,23377\n", to: "\(dir)/cells.csv")
        _ = try store.importCells(path: "\(dir)/cells.csv", units: units)
        let now = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
        let recent = (now - 3600).iso8601(), future = Timestamp.parseISO8601("2099-01-01T00:00:00+07:00")!.iso8601(), soon = (now + 120).iso8601()
        try write("subscriber,cgi,seen_at\n0912345678,452-04-100-1,\(recent)\n0912345679,452-04-100-1,\(future)\n0912345670,452-04-100-1,\(soon)\n", to: "\(dir)/viettel.csv")
        let r = try store.importPresence(path: "\(dir)/viettel.csv", carrier: .viettel, key: key)
        #expect(r.rowsOK == 2)
        #expect(r.problems.map(\.line) == [3])
        #expect(r.problems.first?.reason.contains("is after the import") == true)
        try write("subscriber,cgi,seen_at\n0912000001,452-04-100-1,\(recent)\n", to: "\(dir)/mobifone.csv")
        _ = try store.importPresence(path: "\(dir)/mobifone.csv", carrier: .mobifone, key: key)
        // Viettel's retention of one second purges Viettel's rows only.
        #expect(try store.purgePresence(before: now + 1000, carrier: .viettel) == 2)
        #expect(try store.presenceRowCount() == 1)
        // An import older than the retention goes whole, even with a seen_at still ahead.
        try write("subscriber,cgi,seen_at\n0912000002,452-04-100-1,\(soon)\n", to: "\(dir)/vina.csv")
        _ = try store.importPresence(path: "\(dir)/vina.csv", carrier: .vinaphone, key: key)
        // An import 30 days old (what time would do).
        try rawConnection(to: store.givenLocation).run("UPDATE imports SET started_at = ? WHERE carrier = 'vinaphone'", [.int(now.seconds - 30 * 86400)])
        #expect(try store.purgePresence(before: now - 7 * 86400) == 1)
        #expect(try store.presenceRowCount() == 1)
    }

    @Test("a full disk stops an import saying what it means and what to do; nothing of it is kept, the store stays whole, and the same import goes through once there is room")
    func diskFull() throws {
        let dir = try temporaryDirectory()
        let store = try Store(location: "\(dir)/loa.sqlite")
        try write("cgi,lat,lon,commune_code\n452-04-100-1,14.72,107.56,23377\n", to: "\(dir)/cells.csv")
        _ = try store.importCells(path: "\(dir)/cells.csv", units: units)
        let recent = (Timestamp(seconds: Int64(Date().timeIntervalSince1970)) - 3600).iso8601()
        var text = "subscriber,cgi,seen_at\n"
        for i in 0..<20_000 { text += "09123\(String(format: "%05d", i)),452-04-100-1,\(recent)\n" }
        try write(text, to: "\(dir)/viettel.csv")
        // SQLite's own page limit gives the SQLITE_FULL a full disk gives (no mount needed).
        let pages = try #require(try store.db.scalarInt("PRAGMA page_count"))
        try store.db.execute("PRAGMA max_page_count = \(pages + 40)")
        var stopped: StoreError?
        do { _ = try store.importPresence(path: "\(dir)/viettel.csv", carrier: .viettel, key: key) } catch let e as StoreError { stopped = e }
        let error = try #require(stopped)
        #expect(error.code == .diskFull)
        #expect(error.message.hasPrefix("the disk holding the store is full: \(dir) ("))
        #expect(error.message.contains("Nothing of this step was kept"))
        #expect(error.message.contains("run the same command again"))
        #expect(error.isRetryable)
        #expect(try store.presenceRowCount() == 0)
        #expect(try store.db.query("PRAGMA integrity_check") { $0.text(0) } == ["ok"])
        try store.db.execute("PRAGMA max_page_count = 1073741823")
        #expect(try store.importPresence(path: "\(dir)/viettel.csv", carrier: .viettel, key: key).rowsOK == 20_000)
        #expect(try store.presenceRowCount() == 20_000)
    }

    @Test("a line far too long is one bad line, read in one pass; the rest of the file imports", arguments: StoreEngine.available)
    func overlongLines(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try Store(location: try engine.scratchLocation())
        var text = "cgi,lat,lon,commune_code\n452-04-100-1,14.72,107.56,23377\n"
        text += String(repeating: "x", count: 3 << 20) + "\n"
        text += "452-04-100-2,14.73,107.57,23377\n"
        try write(text, to: "\(dir)/cells.csv")
        let started = Date()
        let r = try store.importCells(path: "\(dir)/cells.csv", units: units)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(r.rowsOK == 2)
        #expect(r.problems.map(\.line) == [3])
        #expect(r.problems.first?.reason.hasPrefix("longer than 64 KiB") == true)
        // A file with no line end at all.
        try write(String(repeating: "y", count: 5 << 20), to: "\(dir)/one-line.csv")
        let one = try store.importCells(path: "\(dir)/one-line.csv", units: units)
        #expect(one.rowsOK == 0 && one.problems.map(\.line) == [1])
    }

    @Test("one CSV reader for every import: quoted commas, doubled quotes, bad UTF-8 and control characters", arguments: StoreEngine.available)
    func oneCSVReader(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try Store(location: try engine.scratchLocation())
        var bytes = Array("msisdn\n\"0912 345 678\"\n 0912345679 \n\"0912,345\"\n".utf8)
        bytes += [0x30, 0x39, 0x31, 0xFF, 0x0A]                      // invalid UTF-8
        bytes += Array("\"0912\"345\n0912345670,\u{1B}[31m\n".utf8)   // text after a quote; an escape sequence
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/dnc.csv"))
        let r = try store.importDoNotCall(path: "\(dir)/dnc.csv", vault: vault)
        #expect(r.rowsOK == 2)
        #expect(r.problems.map(\.line) == [4, 5, 6, 7])
        #expect(r.problems[1].reason == "not UTF-8 text (save the file as UTF-8)")
        #expect(r.problems[2].reason.hasPrefix("text after a closing quote"))
        #expect(r.problems[3].reason == "a control character in '\\u{1b}[31m'")
    }

    @Test("stores that would not outlive the command are refused; reading commands do not create a store", arguments: StoreEngine.available)
    func persistentStoresOnly(engine: StoreEngine) throws {
        for location in ["", "  ", ":memory:", "file::memory:", "file:loa?mode=memory&cache=shared", "FILE:x.db"] {
            #expect(throws: StoreError.self, "\(location)") { try Store(location: location) }
        }
        let missing = engine == .sqlite ? try temporaryDirectory() + "/typo.sqlite"
            : PostgresDatabase.url(ProcessInfo.processInfo.environment["LOA_TEST_POSTGRES_URL"]!, database: "loa_missing_\(UInt32.random(in: 0...UInt32.max))")
        #expect(throws: StoreError.self) { try Store(location: missing, create: false) }
        if engine == .sqlite { #expect(!FileManager.default.fileExists(atPath: missing)) }
    }

    @Test("SQLite store files (the database, its WAL and shared memory, lease files) are readable by their owner only")
    func privateFiles() throws {
        let location = try StoreEngine.sqlite.scratchLocation()
        let previous = umask(0o022)
        defer { umask(previous) }
        let store = try Store(location: location)
        try store.audit("test", "write", campaign: nil)
        let leases = try Store.carrierLeases(location: location)
        _ = try leases.tryAcquire(.viettel)
        defer { leases.close() }
        let dir = (location as NSString).deletingLastPathComponent
        let files = try FileManager.default.subpathsOfDirectory(atPath: dir)
        #expect(files.contains("loa.sqlite-wal") && files.contains("loa.sqlite-shm"))
        for f in files {
            let mode = (try FileManager.default.attributesOfItem(atPath: "\(dir)/\(f)")[.posixPermissions] as? NSNumber)?.intValue ?? 0
            let isDir = (try? FileManager.default.attributesOfItem(atPath: "\(dir)/\(f)")[.type] as? FileAttributeType) == .typeDirectory
            #expect(mode & 0o077 == 0, "\(f) is \(String(mode, radix: 8))\(isDir ? " (directory)" : "")")
        }
    }

    @Test("passwords never show in a store's printed location")
    func passwordsMasked() {
        #expect(PostgresDatabase.maskPassword("postgres://loa:s3cret@db:5432/loa") == "postgres://loa:***@db:5432/loa")
        #expect(PostgresDatabase.maskPassword("postgres://loa@db/loa?sslmode=require&password=s3cret") == "postgres://loa@db/loa?sslmode=require&password=***")
        #expect(PostgresDatabase.maskPassword("POSTGRES://loa:s3cret@db/loa?PASSWORD=x") == "POSTGRES://loa:***@db/loa?PASSWORD=***")
        #expect(Store.isPostgresURL("POSTGRESQL://db/loa"))
        #expect(PostgresDatabase.lowercasedScheme("POSTGRES://Loa@Db/X") == "postgres://Loa@Db/X")
    }
}
