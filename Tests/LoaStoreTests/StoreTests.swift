import Foundation
import Testing
import LoaCore
import LoaCrypto
import LoaReference
@testable import LoaStore
import LoaTestSupport

func temporaryDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func write(_ text: String, to path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

let key = try! KeyedPseudonymizer(key: Array("0123456789abcdef0123456789abcdef".utf8))
let vault = try! ContactVault(hex: String(repeating: "5a", count: 32))

/// The store contract: every test runs on SQLite and on PostgreSQL.
@Suite("Store (SQLite and PostgreSQL)")
struct StoreTests {
    let units = try! ReferenceData.administrativeUnits()

    @Test func referenceData() throws {
        #expect(units.provinces.count == 34)
        #expect(units.communes.count == 3321)
        #expect(units.preReformProvinces.count == 63)
        #expect(try units.commune(23377).get().name == "Xã Bờ Y")
        #expect(units.province(62).failureDescription == "province code 62 (Kon Tum) is from before 1 July 2025: it is now part of Quảng Ngãi (code 51)")
        #expect(units.commune(99999).failureDescription?.hasPrefix("commune code 99999 is not in the 2025 list") == true)
        #expect(units.commune(62).failureDescription?.contains("looks like a province code") == true)
        // Codes are text: five digits for communes, two for provinces, zero-padded when written.
        #expect(try units.commune(6184).get().codeText == "06184")
        #expect(Commune.codeText(23377) == "23377")
        #expect(Province.codeText(4) == "04")
        #expect(units.province(2).failureDescription?.hasPrefix("province code 02 ") == true)
        #expect(units.commune(6999).failureDescription?.hasPrefix("commune code 06999 is not in the 2025 list") == true)
    }

    @Test("HMAC-SHA256 pseudonyms match RFC 2104 (checked against Python's hmac)")
    func hmac() throws {
        guard case .success(let p) = VietnamNumberingPlan.parse("0912 345 678") else { Issue.record("parse"); return }
        #expect(key.pseudonym(for: p.msisdn).description == "h:a538549442bc57430465e70b76821563fb756df57c893044d5a3ab49ed5c536e")
        #expect(throws: CryptoError.keyTooShort(bytes: 3, needed: 16)) { try KeyedPseudonymizer(key: [1, 2, 3]) }
    }

    func storeWithCells(_ dir: String, _ engine: StoreEngine, location: String? = nil) throws -> Store {
        let store = try Store(location: location ?? engine.scratchLocation())
        try write("""
            cgi,lat,lon,commune_code
            452-04-100-1,14.72,107.56,23377
            452-04-100-2,14.73,107.57,23377
            452-04-200-1,14.62,107.80,23392
            452-04-300-1,20.53,104.62,14845
            452-04-300-2,20.53,104.62,2345
            bad-cgi,1,2,23377
            452-04-300-3,95,104.62,14845
            452-04-300-4,20.5,104.6,62

            """, to: "\(dir)/cells.csv")
        let report = try store.importCells(path: "\(dir)/cells.csv", units: units)
        #expect(report.rowsOK == 4)
        #expect(report.rowsBad == 4)
        #expect(report.problems.map(\.line) == [6, 7, 8, 9])
        #expect(report.problems[0].reason.hasPrefix("commune_code: commune code 02345 is not in the 2025 list"))
        #expect(report.problems[1].reason.hasPrefix("cgi: 'bad-cgi' is not MCC-MNC-LAC-CI"))
        #expect(report.problems[2].reason == "lat: expected degrees -90..90, found '95'")
        #expect(report.problems[3].reason.contains("looks like a province code"))
        return store
    }

    @Test(arguments: StoreEngine.available)
    func presenceImportPseudonymizesAndReportsBadLines(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        try write("""
            subscriber,cgi,seen_at
            0912345678,452-04-100-1,2026-11-24T08:00:00+07:00
            +84912345678,452-04-200-1,2026-11-24T09:00:00+07:00
            h:00000000000000000000000000000000000000000000000000000000000000ff,452-04-100-2,2026-11-24T02:00:00Z
            024 3825 1234,452-04-100-1,2026-11-24T08:00:00+07:00
            0912345679,452-04-999-9,2026-11-24T08:00:00+07:00
            0912345679,452-04-100-1,24/11/2026 08:00
            0912345679,452-04-100-1
            h:zz,452-04-100-1,2026-11-24T08:00:00+07:00
            01623456789,452-04-100-2,2026-11-23T08:00:00+07:00
            """, to: "\(dir)/presence.csv")
        var progressCalls = 0
        let report = try store.importPresence(path: "\(dir)/presence.csv", carrier: .vinaphone, key: key) { _ in progressCalls += 1 }
        #expect(report.rowsOK == 4)
        #expect(report.rowsBad == 5)
        #expect(report.problems.map(\.line) == [5, 6, 7, 8, 9])
        #expect(report.problems[0].reason == "subscriber: landline number (area code 024); SMS needs a mobile number")
        #expect(report.problems[1].reason == "cgi: 452-04-999-9 is not in the cell list (import it with loa import cells)")
        #expect(report.problems[2].reason.hasPrefix("seen_at: expected ISO 8601 with an offset"))
        #expect(report.problems[3].reason == "expected 3 fields subscriber,cgi,seen_at, found 2")
        #expect(report.problems[4].reason.hasPrefix("subscriber:"))
        #expect(progressCalls >= 1)
        // The clear number is nowhere in the store; its pseudonym is.
        for (name, bytes) in try storedBytes(store) {
            for clear in ["0912345678", "912345678", "+84912345678", "0323456789", "01623456789"] {
                #expect(bytes.range(of: Data(clear.utf8)) == nil, "\(clear) found in \(name)")
            }
        }
        // Latest presence at 09:30: the 09:00 row (Sa Loong, cell 3) wins over 08:00.
        let run = Timestamp.parseISO8601("2026-11-24T09:30:00+07:00")!
        let table = try store.latestPresence(at: run, seenWithin: 72 * 3600)
        var latest: [String: Int32] = [:]
        table.forEach { _, p, cell, _ in latest[p.description] = cell }
        let me = key.pseudonym(for: try VietnamNumberingPlan.parse("0912345678").get().msisdn).description
        #expect(latest[me] == 3)
        #expect(latest.count == 3)
        // At 08:30 the 09:00 row is not yet seen.
        var early: [String: Int32] = [:]
        try store.latestPresence(at: Timestamp.parseISO8601("2026-11-24T08:30:00+07:00")!, seenWithin: 72 * 3600).forEach { _, p, c, _ in early[p.description] = c }
        #expect(early[me] == 1)
        // With a 1 h window only rows from 08:30 on count: 0912345678 at 09:00 and the pseudonym at
        // 02:00Z (= 09:00+07:00); the migrated number seen yesterday is stale.
        #expect(try store.latestPresence(at: run, seenWithin: 3600).count == 2)
    }

    @Test(arguments: StoreEngine.available)
    func sameFileTwiceIsSkippedAndDuplicatesCollapse(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        let rows = "0912345678,452-04-100-1,2026-11-24T08:00:00+07:00\n"
        try write(rows + rows, to: "\(dir)/a.csv")
        try write(rows, to: "\(dir)/b.csv")
        #expect(try store.importPresence(path: "\(dir)/a.csv", carrier: .viettel, key: key).rowsOK == 2)
        let again = try store.importPresence(path: "\(dir)/a.csv", carrier: .viettel, key: key)
        #expect(again.alreadyImported)
        #expect(again.rowsOK == 0)
        #expect(try store.importPresence(path: "\(dir)/b.csv", carrier: .viettel, key: key).rowsOK == 1)
        #expect(try store.presenceRowCount() == 3)
        // Duplicates across files: one subscriber.
        #expect(try store.latestPresence(at: Timestamp.parseISO8601("2026-11-24T10:00:00+07:00")!, seenWithin: 72 * 3600).count == 1)
    }

    @Test("a carrier's number in the store is the same by either way of finding it")
    func carrierOrdinals() {
        for c in Carrier.allCases { #expect(Store.ordinal(c) == Store.carrierIndex[c]) }
    }

    @Test("canonical numbers are found in place with their carrier of origin; other forms are left to the full parser")
    func canonicalNumbers() {
        func canonical(_ s: String) -> String? {
            Array(s.utf8).withUnsafeBufferPointer { b in
                VietnamNumberingPlan.canonical(utf8: b).map { String(decoding: b[$0.nsn], as: UTF8.self) + " " + $0.carrier.rawValue }
            }
        }
        #expect(canonical("0912345678") == "912345678 vinaphone")
        #expect(canonical("84961234567") == "961234567 viettel")
        #expect(canonical("+84901234567") == "901234567 mobifone")
        for other in ["0243123456", "01623456789", "912345678", "0912 345 678", "0012345678", "091234567a", "+8491234567", ""] {
            #expect(canonical(other) == nil, "\(other)")
        }
    }

    @Test("one preferences file for every carrier: the carrier on each line, its key for clear numbers", arguments: StoreEngine.available)
    func mixedPreferences(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        let viettel = try KeyedPseudonymizer(key: Array("viettel-key-0123456789abcdef".utf8))
        let vinaphone = try KeyedPseudonymizer(key: Array("vinaphone-key-0123456789abcdef".utf8))
        let pseudonym = "h:" + String(repeating: "cd", count: 32)
        try write("""
            subscriber,language,carrier
            0961000001,sed,viettel
            0912000001,ium,VinaPhone
            \(pseudonym),jra,mobifone
            0961000002,sed,telco
            0961000003,sed
            0912000002,bdq,
            0961000004,jra
            \(pseudonym),sed
            0961000005
            0961000006,sed,viettel,extra

            """, to: "\(dir)/all.csv")
        // 0961000004 moved to VinaPhone: the porting list says so; the others take their prefix's carrier.
        guard case .success(let ported) = VietnamNumberingPlan.parse("0961000004") else { Issue.record("number"); return }
        let report = try store.importPreferences(path: "\(dir)/all.csv", carrier: nil, keys: [.viettel: viettel, .vinaphone: vinaphone],
                                                 routing: CarrierRouting(ported: [ported.msisdn: .vinaphone]))
        #expect(report.rowsOK == 6)
        #expect(report.problems.map(\.line) == [5, 9, 10, 11])
        #expect(report.problems.map(\.reason) == ["carrier: unknown 'telco' (expected one of viettel, vinaphone, mobifone, vietnamobile, gmobile, itelecom, reddi)",
                                                  "carrier: a pseudonym cannot be routed by its number: name its carrier in the third field",
                                                  "expected 3 fields subscriber,language,carrier, found 1",
                                                  "expected 3 fields subscriber,language,carrier, found 4"])
        #expect(report.notes.contains("2 lines named no carrier and took the one the number's prefix was allocated to "
                                      + "(a ported number's preference needs its carrier on the line, or the porting list with --routing)"))
        func number(_ s: String) -> MSISDN { guard case .success(let p) = VietnamNumberingPlan.parse(s) else { fatalError(s) }; return p.msisdn }
        let prefs = try store.preferences()
        #expect(prefs.count == 6)
        #expect(prefs[CarrierPseudonym(carrier: .viettel, subscriber: viettel.pseudonym(for: number("0961000001")))] == "sed")
        #expect(prefs[CarrierPseudonym(carrier: .vinaphone, subscriber: vinaphone.pseudonym(for: number("0912000001")))] == "ium")
        #expect(prefs[CarrierPseudonym(carrier: .mobifone, subscriber: Pseudonym(pseudonym)!)] == "jra")
        #expect(prefs[CarrierPseudonym(carrier: .viettel, subscriber: viettel.pseudonym(for: number("0961000003")))] == "sed")
        #expect(prefs[CarrierPseudonym(carrier: .vinaphone, subscriber: vinaphone.pseudonym(for: number("0912000002")))] == "bdq")
        #expect(prefs[CarrierPseudonym(carrier: .vinaphone, subscriber: vinaphone.pseudonym(for: number("0961000004")))] == "jra")
        // A clear number of a carrier without its key: refused whole.
        try write("subscriber,language,carrier\n0901000001,vi,mobifone\n", to: "\(dir)/more.csv")
        #expect(throws: StoreError.self) { _ = try store.importPreferences(path: "\(dir)/more.csv", carrier: nil, keys: [.viettel: viettel]) }
        // A one-carrier import of a file that names carriers says how to import it.
        let one = try store.importPreferences(path: "\(dir)/all.csv", carrier: .viettel, key: viettel, force: true)
        #expect(one.problems.first?.reason == "expected 2 fields subscriber,language, found 3 (a file with the carrier on every line is imported without --carrier)")
    }

    @Test("preferences: quoted, spaced and non-ASCII lines follow the same rules as plain ones; the last statement wins across sorted chunks",
          arguments: StoreEngine.available)
    func preferencesFastAndFullRules(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        func number(_ s: String) -> MSISDN { guard case .success(let p) = VietnamNumberingPlan.parse(s) else { fatalError(s) }; return p.msisdn }
        // Line 2 and 3 are one subscriber written two ways (the later wins); line 4 is quoted with
        // spaces; line 5 holds a tab (a control character); line 6 a language in another script;
        // line 7 a number with a lost leading zero; line 8 a carrier in a one-carrier file.
        try write("""
            SUBSCRIBER,language
            0912000001,vi
            "+84 912 000 001" , sed
             "0912000002","jra"
            0912000003,v\ti
            0912000004,tiếng
            912000005,bdq
            0912000006,vi,Vinaphone
            0912000001,ium

            """, to: "\(dir)/p.csv")
        let report = try store.importPreferences(path: "\(dir)/p.csv", carrier: .vinaphone, keys: [.vinaphone: key], routing: CarrierRouting(),
                                                 force: false, progress: nil, chunkRows: 2)
        #expect(report.rowsOK == 5)
        #expect(report.problems.map(\.line) == [5, 6, 8])
        #expect(report.problems[0].reason.hasPrefix("a control character in"))
        #expect(report.problems[1].reason.hasPrefix("language: 'tiếng' is not"))
        #expect(report.problems[2].reason == "expected 2 fields subscriber,language, found 3 (a file with the carrier on every line is imported without --carrier)")
        let prefs = try store.preferences()
        func language(_ n: String) -> String? { prefs[CarrierPseudonym(carrier: .vinaphone, subscriber: key.pseudonym(for: number(n)))] }
        // 0912000001 was stated three times, across chunks of two rows: the file's last line wins.
        #expect(language("0912000001") == "ium")
        #expect(language("0912000002") == "jra")
        #expect(language("0912000005") == "bdq")
        #expect(prefs.count == 3)
        // Many keys over many chunks, with repeats far apart: the last of each wins.
        var lines = "subscriber,language\n"
        for i in 0..<3000 { lines += String(format: "0912%06d,%@\n", i % 1000, ["vi", "sed", "jra"][i / 1000]) }
        try write(lines, to: "\(dir)/many.csv")
        let many = try store.importPreferences(path: "\(dir)/many.csv", carrier: .vinaphone, keys: [.vinaphone: key], routing: CarrierRouting(),
                                               force: false, progress: nil, chunkRows: 700)
        #expect(many.rowsOK == 3000)
        let after = try store.preferences()
        #expect(after.count == 1000)
        #expect(Set(after.values) == ["jra"])
        // The compact table selection reads holds the same statements.
        let compact = try store.languagePreferences()
        #expect(compact.count == 1000)
        #expect(after.allSatisfy { compact.language(carrier: Store.carrierIndex[$0.key.carrier]!, subscriber: $0.key.subscriber) == $0.value })
        // The same file again: recognised by its SHA-256 while it streams, nothing kept.
        let again = try store.importPreferences(path: "\(dir)/many.csv", carrier: .vinaphone, key: key)
        #expect(again.alreadyImported)
        #expect(try store.preferences().count == 1000)
    }

    @Test("stated languages kept as blocks: re-imports append, the last statement wins across imports, and blocks are compacted once re-imports outnumber the base",
          arguments: StoreEngine.available)
    func preferenceBlocksCompacted(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        let raw = try rawConnection(to: store.givenLocation)
        func blocks() throws -> [String] {
            try raw.query("SELECT compacted, entries FROM preference_blocks ORDER BY id", []) { "\($0.int(0)):\($0.int(1))" }
        }
        func language(_ i: Int) throws -> String? {
            guard case .success(let p) = VietnamNumberingPlan.parse(String(format: "0912%06d", i)) else { return nil }
            return try store.preferences()[CarrierPseudonym(carrier: .vinaphone, subscriber: key.pseudonym(for: p.msisdn))]
        }
        func importLines(_ name: String, _ range: Range<Int>, _ language: String, chunkRows: Int = 1000) throws {
            try write("subscriber,language\n" + range.map { String(format: "0912%06d,%@\n", $0, language) }.joined(), to: "\(dir)/\(name).csv")
            let report = try store.importPreferences(path: "\(dir)/\(name).csv", carrier: .vinaphone, keys: [.vinaphone: key], routing: CarrierRouting(),
                                                     force: false, progress: nil, chunkRows: chunkRows)
            #expect(report.rowsOK == range.count)
        }
        // The first import becomes the base, one block per chunk.
        try importLines("a", 0..<1000, "sed", chunkRows: 600)
        #expect(try blocks() == ["1:600", "1:400"])
        // A smaller re-import is appended: 300 statements after 1,000.
        try importLines("b", 900..<1200, "jra")
        #expect(try blocks() == ["1:600", "1:400", "0:300"])
        #expect(try language(899) == "sed")
        #expect(try language(950) == "jra")
        #expect(try store.languagePreferences().count == 1200)
        // Appended statements (300 + 800) now outnumber the base (1,000): every key once, the last statement of each.
        try importLines("c", 100..<900, "ium")
        #expect(try blocks() == ["1:1200"])
        #expect(try language(99) == "sed")
        #expect(try language(100) == "ium")
        #expect(try language(899) == "ium")
        #expect(try language(900) == "jra")
        #expect(try language(1199) == "jra")
        #expect(try rowCount(store, "preferences") == 1200)
        // A compaction that sorts one range of keys at a time keeps the same statements.
        let before = try store.preferences()
        try importLines("d", 0..<1200, "bdq")
        try store.db.transaction { try PreferenceBlocks.compact(store.db, passSize: 100) }
        #expect(try blocks().count == 32)   // 2,400 statements, at most 100 a pass: 32 ranges of keys
        #expect(try blocks().allSatisfy { $0.hasPrefix("1:") })
        let after = try store.preferences()
        #expect(after.count == before.count)
        #expect(Set(after.values) == ["bdq"])
        #expect(try store.languagePreferences().count == 1200)
    }

    @Test("a statement withdrawn ('-'): no stated language for that subscriber, and the earlier statement is gone from the store's blocks",
          arguments: StoreEngine.available)
    func preferenceWithdrawn(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        func pseudonym(_ s: String) -> Pseudonym {
            guard case .success(let p) = VietnamNumberingPlan.parse(s) else { fatalError(s) }
            return key.pseudonym(for: p.msisdn)
        }
        try write("subscriber,language\n0912000001,sed\n0912000002,jra\n0912000003,ium\n", to: "\(dir)/a.csv")
        _ = try store.importPreferences(path: "\(dir)/a.csv", carrier: .vinaphone, key: key)
        // 0912000002 withdraws; 0912000004 withdraws a statement never made; 0912000003 withdraws, then states again.
        try write("subscriber,language\n0912000002,-\n0912000004,-\n0912000003,-\n0912000003,bdq\n", to: "\(dir)/b.csv")
        let report = try store.importPreferences(path: "\(dir)/b.csv", carrier: .vinaphone, key: key)
        #expect(report.rowsOK == 4)
        #expect(report.notes.contains("3 lines withdrew a statement ('-'): those subscribers have no stated language now, and their earlier statements are removed from the store"))
        let vinaphone = Store.carrierIndex[.vinaphone]!
        #expect(try store.preferences() == [CarrierPseudonym(carrier: .vinaphone, subscriber: pseudonym("0912000001")): "sed",
                                             CarrierPseudonym(carrier: .vinaphone, subscriber: pseudonym("0912000003")): "bdq"])
        let table = try store.languagePreferences()
        #expect(table.stated == 2)
        #expect(table.language(carrier: vinaphone, subscriber: pseudonym("0912000002")) == nil)
        #expect(table.language(carrier: vinaphone, subscriber: pseudonym("0912000003")) == "bdq")
        // Compacted at once: no block holds 0912000002 (nor the withdrawals) any more.
        var held: [Pseudonym] = []
        try PreferenceBlocks.forEach(store.db) { block in block.forEachEntry { _, _, subscriber in held.append(subscriber) } }
        #expect(Set(held) == [pseudonym("0912000001"), pseudonym("0912000003")])
        #expect(held.count == 2)
        // Withdrawn in memory too, in the order read: a later statement gives a language again.
        var loaded = LanguagePreferences()
        loaded.set("sed", carrier: 1, subscriber: pseudonym("0912000002"))
        loaded.withdraw(carrier: 1, subscriber: pseudonym("0912000002"))
        #expect(loaded.language(carrier: 1, subscriber: pseudonym("0912000002")) == nil)
        #expect(loaded.stated == 0)
        loaded.set("jra", carrier: 1, subscriber: pseudonym("0912000002"))
        #expect(loaded.language(carrier: 1, subscriber: pseudonym("0912000002")) == "jra")
        #expect(loaded.stated == 1)
    }

    @Test("a store whose stated languages were rows of the former table: opened, they are blocks and read the same", arguments: StoreEngine.available)
    func preferencesMovedIntoBlocks(engine: StoreEngine) throws {
        let location = try engine.scratchLocation()
        let p1 = Pseudonym(w0: 1, w1: 2, w2: 3, w3: 4), p2 = Pseudonym(w0: 0xFFFF_0000_0000_0001, w1: 5, w2: 6, w3: 7)
        do {
            let raw: any SQLDatabase = engine == .sqlite ? try SQLiteDatabase(path: location, create: true) : try rawConnection(to: location)
            try Store.migrate(raw, through: 17)
            for (carrier, subscriber, language) in [(1, p1, "sed"), (0, p1, "ium"), (1, p2, "jra"), (99, p2, "vi")] {
                try raw.run("INSERT INTO preferences (carrier, subscriber, language) VALUES (?, ?, ?)", [.int(Int64(carrier)), .blob(subscriber.bytes), .text(language)])
            }
        }
        let store = try Store(location: location)
        let prefs = try store.preferences()
        // A row of a carrier the store does not know (99) was never read: it is not carried over.
        #expect(prefs == [CarrierPseudonym(carrier: Store.carriers[1], subscriber: p1): "sed", CarrierPseudonym(carrier: Store.carriers[0], subscriber: p1): "ium",
                          CarrierPseudonym(carrier: Store.carriers[1], subscriber: p2): "jra"])
        let raw = try rawConnection(to: location)
        #expect(try raw.query("SELECT compacted, entries, languages FROM preference_blocks", []) { "\($0.int(0)) \($0.int(1)) \($0.text(2))" } == ["1 3 ium sed jra"])
        #expect(try raw.scalarInt("SELECT count(*) FROM schema_migrations WHERE version = 18") == 1)
        #expect(throws: (any Error).self) { _ = try raw.scalarInt("SELECT count(*) FROM preferences") }
    }

    @Test("an import report counts every bad line by its kind, beyond the first 20 it lists")
    func badLinesByKind() throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, .sqlite)
        let pseudonym = "h:" + String(repeating: "ab", count: 32)
        var text = ""
        for i in 0..<30 { text += "\(pseudonym),452-04-9\(i)-1,2026-11-24T08:00:00+07:00\n" }
        for i in 0..<5 { text += "\(pseudonym),452-04-100-1,24/11/2026 0\(i):00\n" }
        text += "\(pseudonym),452-04-100-1,2026-11-24T08:00:00+07:00\n"
        try write(text, to: "\(dir)/p.csv")
        let report = try store.importPresence(path: "\(dir)/p.csv", carrier: .viettel, key: nil, notAfter: Timestamp(seconds: 1_900_000_000))
        #expect(report.rowsOK == 1)
        #expect(report.rowsBad == 35)
        #expect(report.problems.count == 20)
        let kinds = report.problemsByKind.map { "\($0.count) \($0.kind)" }
        #expect(kinds == ["30 cgi: … is not in the cell list (import it with loa import cells)",
                          "5 seen_at: expected ISO 8601 with an offset (2026-11-24T08:15:00+07:00), found '…'"])
    }

    @Test(arguments: StoreEngine.available)
    func clearNumbersNeedAKey(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        // A pseudonym first, then a clear number: the import stops and keeps nothing (not a file of bad lines, exit 0).
        try write("h:\(String(repeating: "ab", count: 32)),452-04-100-1,2026-11-24T08:00:00+07:00\n0912345678,452-04-100-1,2026-11-24T08:00:00+07:00\n", to: "\(dir)/p.csv")
        #expect {
            _ = try store.importPresence(path: "\(dir)/p.csv", carrier: .viettel, key: nil)
        } throws: { error in
            (error as? StoreError)?.code == .missingPseudonymKey
                && "\(error)".contains("p.csv:2: subscriber: a clear number, but no pseudonym key is configured for viettel: nothing was imported")
        }
        #expect(try store.presenceRowCount() == 0)
        try write("subscriber,language\n0912345678,vi\n", to: "\(dir)/l.csv")
        #expect(throws: StoreError.self) { _ = try store.importPreferences(path: "\(dir)/l.csv", carrier: .viettel, key: nil) }
        #expect(try rowCount(store, "preferences") == 0)
    }

    @Test(arguments: StoreEngine.available)
    func unfinishedImportIsRemovedOnOpen(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let location = try engine.scratchLocation()
        do {
            let store = try storeWithCells(dir, engine, location: location)
            // What a crash in the middle of an import leaves (no port writes half an import).
            let raw = try rawConnection(to: location)
            try raw.run("INSERT INTO imports (id, kind, file, sha256, started_at, completed) VALUES (99, 'presence', 'x', 'y', 0, 0)")
            try raw.run("INSERT INTO presence VALUES (0, ?, 1, 5, 99)", [.blob([UInt8](repeating: 0, count: 32))])
            #expect(try store.presenceRowCount() == 1)
        }
        let reopened = try Store(location: location)
        #expect(try reopened.presenceRowCount() == 0)
        #expect(try rawConnection(to: location).scalarInt("SELECT count(*) FROM imports WHERE completed = 0") == 0)
    }

    @Test(arguments: StoreEngine.available)
    func purgeRemovesOldPresence(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        try write("0912345678,452-04-100-1,2026-11-01T08:00:00+07:00\n0912345679,452-04-100-1,2026-11-24T08:00:00+07:00\n", to: "\(dir)/p.csv")
        _ = try store.importPresence(path: "\(dir)/p.csv", carrier: .viettel, key: key)
        #expect(try store.purgePresence(before: Timestamp.parseISO8601("2026-11-17T00:00:00+07:00")!) == 1)
        #expect(try store.presenceRowCount() == 1)
    }

    @Test("a key repeated in one file: the last row wins (one statement holds many rows)", arguments: StoreEngine.available)
    func repeatedKeysLastRowWins(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        try write("cgi,lat,lon,commune_code\n452-04-900-1,14.7,107.5,23377\n452-04-900-1,14.8,107.6,23392\n", to: "\(dir)/cells2.csv")
        #expect(try store.importCells(path: "\(dir)/cells2.csv", units: units).rowsOK == 2)
        let cell = try store.cells().filter { $0.cgi == "452-04-900-1" }
        #expect(cell.count == 1)
        #expect(cell.first?.commune == 23392)
        #expect(cell.first?.latitude == 14.8)
        try write("subscriber,language\n0912345678,vi\n0912345678,bdq\n", to: "\(dir)/prefs.csv")
        _ = try store.importPreferences(path: "\(dir)/prefs.csv", carrier: .viettel, key: key)
        #expect(try store.preferences().values.sorted() == ["bdq"])
        // More rows than one statement holds, with repeats across statements.
        let numbers = (0..<700).map { String(format: "0912%06d", $0 % 600) }
        try write("msisdn\n" + numbers.joined(separator: "\n") + "\n", to: "\(dir)/dnc.csv")
        #expect(try store.importDoNotCall(path: "\(dir)/dnc.csv", vault: vault).rowsOK == 700)
        #expect(try store.doNotCallCount() == 600)
    }

    @Test(arguments: StoreEngine.available)
    func doNotCallPreferencesAndContacts(engine: StoreEngine) throws {
        let dir = try temporaryDirectory()
        let store = try storeWithCells(dir, engine)
        try write("msisdn\n0912 345 678\n0912345678\n1900 1234\n", to: "\(dir)/dnc.csv")
        let dnc = try store.importDoNotCall(path: "\(dir)/dnc.csv", vault: vault)
        #expect(dnc.rowsOK == 2)
        #expect(dnc.rowsBad == 1)
        #expect(try store.doNotCallCount() == 1)
        let optOuts = try store.optOuts(keys: [.vinaphone: key], vault: vault)
        #expect(optOuts.first?.subscriber.description == "h:a538549442bc57430465e70b76821563fb756df57c893044d5a3ab49ed5c536e")

        // Any ISO 639 code (ium: Iu Mien, the Dao language of Lạng Sơn and Cao Bằng); a mistyped one is named with the closest.
        try write("subscriber,language\n0912345678,sed\n0912345679,xx\n0912345680,ium\n0912345681,imu\n", to: "\(dir)/prefs.csv")
        let prefs = try store.importPreferences(path: "\(dir)/prefs.csv", carrier: .vinaphone, key: key)
        #expect(prefs.rowsOK == 2)
        #expect(prefs.problems.map(\.reason) == ["language: 'xx' is not an ISO 639 language code; did you mean xh (Xhosa)?",
                                                 "language: 'imu' is not an ISO 639 language code; did you mean ium (Iu Mien (Dao))?"])
        #expect(Set(try store.preferences().values) == ["sed", "ium"])

        try write("msisdn,name,language,commune_code\n0912345678,\"Y Blương, trưởng thôn\",jra,23377\n0961234567,A Thút,,\n0243,Bad,vi,23377\n0961234568,C,vi,99999\n", to: "\(dir)/contacts.csv")
        let contacts = try store.importContacts(path: "\(dir)/contacts.csv", list: "uy-tin", units: units, routing: CarrierRouting(), vault: vault)
        #expect(contacts.rowsOK == 2)
        #expect(contacts.rowsBad == 2)
        let loaded = try store.contacts(lists: ["uy-tin"], vault: vault).sorted { $0.name > $1.name }
        #expect(loaded.map(\.name) == ["Y Blương, trưởng thôn", "A Thút"])
        #expect(loaded.map(\.carrier) == [.vinaphone, .viettel])
        #expect(loaded.map(\.msisdn.national) == ["0912345678", "0961234567"])
        #expect(loaded.map(\.optedOut) == [true, false])   // 0912345678 is on the do-not-call list
        #expect(loaded[1].language == nil)
        // Neither list holds a clear number, in any form.
        for (name, bytes) in try storedBytes(store) {
            for number in ["0912345678", "912345678", "0961234567", "961234567"] {
                #expect(bytes.range(of: Data(number.utf8)) == nil, "\(number) in \(name)")
            }
        }
    }
}

extension Result {
    var failureDescription: String? {
        if case .failure(let e) = self { return "\(e)" }
        return nil
    }
}

/// Everything the store holds, as bytes to search: the SQLite files, or each PostgreSQL table as text.
func storedBytes(_ store: Store) throws -> [(String, Data)] {
    let raw = try rawConnection(to: store.givenLocation)
    switch raw.dialect {
    case .sqlite:
        let dir = (store.location as NSString).deletingLastPathComponent
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("loa.sqlite") }.map {
            ($0, try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\($0)")))
        }
    case .postgres:
        let tables = try raw.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'") { $0.text(0) }
        return try tables.map { table in
            (table, Data(try raw.query("SELECT coalesce(string_agg(t::text, '|'), '') FROM \(table) t") { $0.text(0) }.joined().utf8))
        }
    }
}
