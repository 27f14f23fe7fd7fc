import Foundation
import Testing
import LoaCore
import LoaStore
import LoaCrypto
import LoaTestSupport

/// The audit trail as a hash chain: every kind of tampering is found at the entry where it happened.
@Suite("Audit trail hash chain (SQLite and PostgreSQL)")
struct AuditTrailTests {
    /// A store with six entries: submit, approve, start, and three of the operator's own.
    func trail(_ engine: StoreEngine) throws -> (Store, String) {
        let location = try engine.scratchLocation()
        let store = try Store(location: location)
        try addSendingCampaign(store, id: "lũ-quét", priority: .emergency)
        try store.audit("Nguyễn Thị Lan", "import-presence", campaign: nil, "presence.csv sha256 ab: 10 rows kept, 0 refused")
        try store.audit("Trần Minh", "pause", campaign: "lũ-quét", "line one\nline \"two\"\t\u{8}\u{C}\u{1}")
        try store.audit("Trần Minh", "resume", campaign: "lũ-quét")
        return (store, location)
    }

    func hashOf(_ store: Store, seq: Int64) throws -> String {
        try #require(try store.auditEntries().compactMap(\.entry).first { $0.seq == seq }).hash
    }

    @Test("an untouched trail verifies; entries link and hash as the canonical form says", arguments: StoreEngine.available)
    func intact(engine: StoreEngine) throws {
        let (store, _) = try trail(engine)
        let v = try store.verifyAudit()
        #expect(v.result == nil)
        #expect(v.entries == 6)
        #expect(v.head?.seq == 6)
        let entries = try store.auditEntries().compactMap(\.entry)
        #expect(entries.map(\.action) == ["submit", "approve", "start", "import-presence", "pause", "resume"])
        #expect(entries[0].prev == AuditEntry.genesis)
        for i in 1..<entries.count { #expect(entries[i].prev == entries[i - 1].hash) }
        // Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) of entry 5.
        #expect(entries[4].canonical == #"{"action":"pause","actor":"Trần Minh","at":\#(entries[4].at),"campaign":"lũ-quét","detail":"line one\nline \"two\"\t\b\f\u0001","prev":"\#(entries[3].hash)","seq":5}"#)
    }

    @Test("an edited entry is found where it was edited", arguments: StoreEngine.available)
    func edited(engine: StoreEngine) throws {
        let (store, location) = try trail(engine)
        try rawConnection(to: location).run("UPDATE audit SET actor = 'Someone Else' WHERE seq = 2")
        #expect(try store.verifyAudit().result == .edited(seq: 2))
    }

    @Test("a removed entry is found, and so is a removed run of them", arguments: StoreEngine.available)
    func removed(engine: StoreEngine) throws {
        let (store, location) = try trail(engine)
        let raw = try rawConnection(to: location)
        try raw.run("DELETE FROM audit WHERE seq = 3")
        #expect(try store.verifyAudit().result == .removed(from: 3, through: 3))
        try raw.run("DELETE FROM audit WHERE seq = 4")
        #expect(try store.verifyAudit().result == .removed(from: 3, through: 4))
    }

    @Test("an entry forged with a right hash and put in the middle is found", arguments: StoreEngine.available)
    func inserted(engine: StoreEngine) throws {
        let (store, location) = try trail(engine)
        let raw = try rawConnection(to: location)
        try raw.execute("DROP INDEX audit_seq; DROP INDEX audit_prev;")
        let second = try #require(try store.auditEntries()[1].entry)
        let secondRow = try store.auditEntries()[1].row
        try raw.run("UPDATE audit SET id = id + 100 WHERE seq >= 3")
        var forged = AuditEntry(seq: 3, at: second.at, actor: "Trần Minh", action: "approve", campaign: "khác", detail: "", prev: second.hash)
        forged.hash = sha256(forged.canonical)
        try raw.run("INSERT INTO audit (id, at, actor, action, campaign, detail, seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [.int(secondRow + 1), .int(forged.at), .text(forged.actor), .text(forged.action), .text("khác"), .text(""), .int(3), .text(forged.prev), .text(forged.hash)])
        #expect(try store.verifyAudit().result == .inserted(seq: 3))
    }

    @Test("two entries swapped are found as moved", arguments: StoreEngine.available)
    func reordered(engine: StoreEngine) throws {
        let (store, location) = try trail(engine)
        let raw = try rawConnection(to: location)
        let rows = try store.auditEntries().map(\.row)
        try raw.run("UPDATE audit SET id = -1 WHERE id = ?", [.int(rows[2])])
        try raw.run("UPDATE audit SET id = ? WHERE id = ?", [.int(rows[2]), .int(rows[3])])
        try raw.run("UPDATE audit SET id = ? WHERE id = -1", [.int(rows[3])])
        #expect(try store.verifyAudit().result == .reordered(seq: 4, after: 2))
    }

    @Test("a truncated trail still links, but a head sealed before the cut is missing", arguments: StoreEngine.available)
    func truncated(engine: StoreEngine) throws {
        let (store, location) = try trail(engine)
        let sealedHead = try hashOf(store, seq: 6)
        let earlierSeal = try hashOf(store, seq: 3)
        try rawConnection(to: location).run("DELETE FROM audit WHERE seq >= 5")
        #expect(try store.verifyAudit().result == nil)
        #expect(try store.verifyAudit(against: earlierSeal).result == nil)
        #expect(try store.verifyAudit(against: sealedHead).result == .sealMissing(hash: sealedHead))
    }

    @Test("a row written around loa, without a hash, is named", arguments: StoreEngine.available)
    func unchained(engine: StoreEngine) throws {
        let (store, location) = try trail(engine)
        try rawConnection(to: location).run("INSERT INTO audit (at, actor, action, detail) VALUES (1, 'x', 'approve', '')")
        let last = try #require(try store.auditEntries().last).row
        #expect(try store.verifyAudit().result == .unchained(row: last))
    }

    @Test("a carrier file is recorded the first time a dispatch sees it and whenever it changes, not otherwise", arguments: StoreEngine.available)
    func carrierFileChanges(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        #expect(try store.noteCarrierFile(carrier: "viettel", path: "carriers/viettel.yaml", sha256: "aa", by: "Op"))
        #expect(try !store.noteCarrierFile(carrier: "viettel", path: "carriers/viettel.yaml", sha256: "aa", by: "Op"))
        #expect(try store.noteCarrierFile(carrier: "mobifone", path: "carriers/mobifone.yaml", sha256: "aa", by: "Op"))
        #expect(try store.noteCarrierFile(carrier: "viettel", path: "carriers/viettel.yaml", sha256: "bb", by: "Op"))
        #expect(try !store.noteCarrierFile(carrier: "viettel", path: "carriers/viettel.yaml", sha256: "bb", by: "Op"))
        let trail = try store.auditEntries().compactMap(\.entry).map { "\($0.action) \($0.detail)" }
        #expect(trail == ["carrier-file-seen viettel: carriers/viettel.yaml sha256 aa", "carrier-file-seen mobifone: carriers/mobifone.yaml sha256 aa",
                          "carrier-file-changed viettel: carriers/viettel.yaml sha256 bb"])
    }

    @Test("entries written before the chain existed are chained once, in their order, when the store is opened")
    func legacyRowsChained() throws {
        let location = try StoreEngine.sqlite.scratchLocation()
        // A store as loa left it before version 10: the audit table without seq/prev/hash.
        do {
            let raw = try SQLiteDatabase(path: location, create: true)
            try Store.migrate(raw, through: 9)
            try raw.execute("INSERT INTO audit (at, actor, action, campaign, detail) VALUES (100, 'lan', 'submit', 'c', 'file sha256 abc'), (200, 'minh', 'approve', 'c', '');")
        }
        let store = try Store(location: location)
        let v = try store.verifyAudit()
        #expect(v.result == nil)
        #expect(v.entries == 2)
        #expect(try store.auditEntries().compactMap(\.entry).map(\.actor) == ["lan", "minh"])
        try store.audit("lan", "cancel", campaign: "c")
        #expect(try store.verifyAudit().entries == 3)
        // Opened again: nothing is chained twice.
        #expect(try Store(location: location).verifyAudit().result == nil)
    }

    func sha256(_ s: String) -> String {
        var d = Array(s.utf8)
        return d.withUnsafeMutableBytes { sha256Hex(UnsafeRawBufferPointer($0)) }
    }
}
