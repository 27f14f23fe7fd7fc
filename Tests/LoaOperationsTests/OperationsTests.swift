import Foundation
import Testing
import LoaCore
import LoaCrypto
import LoaOperations
import LoaReference
import LoaStore
import LoaTestSupport

/// Builders for a campaign without a YAML library.
func s(_ v: String) -> SourceNode { .scalar(v, SourcePosition(line: 1, column: 1)) }
func list(_ items: [SourceNode]) -> SourceNode { .sequence(items, SourcePosition(line: 1, column: 1)) }
func map(_ pairs: [(String, SourceNode)]) -> SourceNode {
    .mapping(pairs.map { (key: $0.0, keyPosition: SourcePosition(line: 1, column: 1), value: $0.1) }, SourcePosition(line: 1, column: 1))
}

let units = try! ReferenceData.administrativeUnits()
let viettelKey = try! KeyedPseudonymizer(key: Array("viettel-key-0123456789abcdef0123".utf8))
let mobifoneKey = try! KeyedPseudonymizer(key: Array("mobifone-key-0123456789abcdef012".utf8))
let vault = try! ContactVault(hex: String(repeating: "6b", count: 32))

/// An emergency for Xã Bờ Y (23377), from 2026-12-01 07:30 to 2026-12-02 20:00 (Vietnam).
func campaign(id: String = "lu-bo-y") -> Campaign {
    var parser = CampaignParser(units: units)
    let c = parser.parse(map([
        ("id", s(id)), ("title", s("Lũ quét")), ("purpose", s("disaster")), ("office", s("Sở")), ("legal_basis", s("220/KH-UBND")),
        ("channel", s("sms")), ("sender", s("QUANGNGAI")), ("priority", s("emergency")),
        ("audience", map([("communes", list([s("23377")])), ("seen_within", s("24h"))])),
        ("languages", map([("default", s("vi"))])),
        ("variants", map([("vi", s("Xã {commune}: lũ quét, lên vùng cao ngay."))])),
        ("schedule", map([("start", s("2026-12-01T07:30:00+07:00")), ("end", s("2026-12-02T20:00:00+07:00")), ("windows", list([s("00:00-24:00")]))])),
    ]))
    #expect(parser.diagnostics.filter { $0.severity == .error } == [])
    return c!
}

let at = Timestamp.parseISO8601("2026-12-01T09:00:00+07:00")!

/// A store with two cells of Xã Bờ Y, 30 Viettel and 20 MobiFone subscribers seen there, and
/// five numbers on the do-not-call list (three of them Viettel subscribers in the area).
func province(_ engine: StoreEngine) throws -> Store {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-ops-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let store = try Store(location: try engine.scratchLocation())
    try "cgi,lat,lon,commune_code\n452-04-100-1,14.72,107.56,23377\n452-01-100-2,14.73,107.57,23377\n".write(toFile: "\(dir)/cells.csv", atomically: true, encoding: .utf8)
    _ = try store.importCells(path: "\(dir)/cells.csv", units: units)
    let viettel = (0..<30).map { String(format: "0961%06d", $0) + ",452-04-100-1,2026-12-01T08:00:00+07:00" }
    let mobifone = (0..<20).map { String(format: "0901%06d", $0) + ",452-01-100-2,2026-12-01T08:30:00+07:00" }
    try ("subscriber,cgi,seen_at\n" + viettel.joined(separator: "\n") + "\n").write(toFile: "\(dir)/v.csv", atomically: true, encoding: .utf8)
    try ("subscriber,cgi,seen_at\n" + mobifone.joined(separator: "\n") + "\n").write(toFile: "\(dir)/m.csv", atomically: true, encoding: .utf8)
    _ = try store.importPresence(path: "\(dir)/v.csv", carrier: .viettel, key: viettelKey)
    _ = try store.importPresence(path: "\(dir)/m.csv", carrier: .mobifone, key: mobifoneKey)
    try "msisdn\n0961000000\n0961000001\n0961000002\n0912999999\n0912999998\n".write(toFile: "\(dir)/dnc.csv", atomically: true, encoding: .utf8)
    _ = try store.importDoNotCall(path: "\(dir)/dnc.csv", vault: vault)
    return store
}

func keys(_ pseudonymKeys: [Carrier: KeyedPseudonymizer]) -> OperatorKeys {
    OperatorKeys(carriers: [.viettel, .mobifone], pseudonymKeys: pseudonymKeys, keySource: { "\($0.rawValue).yaml has no pseudonym_key" },
                 contactVault: vault, contactKeyHelp: "set LOA_CONTACT_KEY")
}

/// What an operator does, called as a library (the CLI and the console map onto these).
@Suite("Operations: audience, the dispatch gate, planning (SQLite and PostgreSQL)")
struct OperationsTests {
    @Test("the audience: each person once, opt-outs applied through the carriers' keys", arguments: StoreEngine.available)
    func audience(engine: StoreEngine) throws {
        let store = try province(engine)
        let run = AudienceRun(campaign: campaign(), area: AudienceArea(communes: [23377]), units: units, store: store,
                              keys: keys([.viettel: viettelKey, .mobifone: mobifoneKey]), at: at)
        #expect(try run.carriersWithoutPresence() == [])
        var seen = Set<String>()
        let summary = try run.run { seen.insert($0.subscriber.description) }
        #expect(summary.recipients == 47)
        #expect(summary.optedOut == 3)
        #expect(seen.count == 47)
        #expect(summary.byCarrier == [.viettel: 27, .mobifone: 20])
    }

    @Test("without a carrier's key the do-not-call list cannot be applied: refused, naming the carrier and where its key comes from",
          arguments: StoreEngine.available)
    func optOutsNeedKeys(engine: StoreEngine) throws {
        let store = try province(engine)
        let run = AudienceRun(campaign: campaign(), area: AudienceArea(communes: [23377]), units: units, store: store,
                              keys: keys([.viettel: viettelKey]), at: at)
        var selected = 0
        #expect {
            _ = try run.run { _ in selected += 1 }
        } throws: { error in
            guard let e = error as? OperationError else { return false }
            return e.code == .optOutsCannotBeApplied && e.message.contains("mobifone (mobifone.yaml has no pseudonym_key)")
        }
        #expect(selected == 0)
    }

    @Test("the gate: never submitted, a draft, a changed file, an ended campaign are refused; completed is skipped; approved is planned once and started",
          arguments: StoreEngine.available)
    func gateAndPlanning(engine: StoreEngine) throws {
        let store = try province(engine)
        let c = campaign()
        let dispatch = CampaignDispatch(store: store)
        func refusal(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let e as OperationError { return e.code == .notSendable ? e.message : "\(e.code)" } catch { return "\(error)" }
        }
        #expect(refusal { _ = try dispatch.step(for: c, file: "c.yaml", sha256: "aa", at: at) } == "lu-bo-y was never submitted: loa campaign submit c.yaml --as NAME")
        _ = try store.submitCampaign(c, file: "c.yaml", sha256: "aa", by: "lan")
        #expect(refusal { _ = try dispatch.step(for: c, file: "c.yaml", sha256: "aa", at: at) }?.hasPrefix("lu-bo-y is not approved yet") == true)
        _ = try store.approveCampaign(c.id, sha256: "aa", by: "minh", unreviewed: [])
        #expect(refusal { _ = try dispatch.step(for: c, file: "c.yaml", sha256: "bb", at: at) } == "c.yaml changed since it was approved; submit it again")
        let late = Timestamp.parseISO8601("2026-12-03T00:00:00+07:00")!
        #expect(refusal { _ = try dispatch.step(for: c, file: "c.yaml", sha256: "aa", at: late) }?.hasPrefix("lu-bo-y ended at") == true)
        #expect(try dispatch.step(for: c, file: "c.yaml", sha256: "aa", at: at) == .send(plan: true, start: true))

        let run = AudienceRun(campaign: c, area: AudienceArea(communes: [23377]), units: units, store: store,
                              keys: keys([.viettel: viettelKey, .mobifone: mobifoneKey]), at: at)
        let planned = try dispatch.plan(c, audience: run)
        #expect(planned == CampaignDispatch.Planned(planned: 47, capped: 0, recipients: 47, segments: 47))   // one UCS-2 part each
        try dispatch.start(c.id)
        #expect(try dispatch.step(for: c, file: "c.yaml", sha256: "aa", at: at) == .send(plan: false, start: false))
        // Planning again (another dispatcher) writes nothing new.
        #expect(try dispatch.plan(c, audience: run).byAnother)
        #expect(try store.messages(campaign: c.id).count == 47)
        // A stop request between parts ends planning with its code.
        let other = campaign(id: "lu-bo-y-2")
        _ = try store.submitCampaign(other, file: "d.yaml", sha256: "dd", by: "lan")
        #expect(throws: OperationError.self) { _ = try dispatch.plan(other, audience: run) { true } }
        _ = try store.transitionCampaign(c.id, "complete", by: "minh")
        #expect(try dispatch.step(for: c, file: "c.yaml", sha256: "aa", at: at) == .skip("lu-bo-y is completed: skipped"))
    }
}

@Suite("Receipt files (SQLite and PostgreSQL)")
struct ReceiptImportTests {
    @Test("a CSV receipt file: applied with the same rules, bad lines quarantined with file:line and the reason; a second import changes nothing",
          arguments: StoreEngine.available)
    func csv(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "c", priority: .emergency)
        let planned = (0..<3).map { PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: UInt64($0), w1: 4, w2: 4, w3: 4).description,
                                                   language: "vi", commune: 23377, text: "t", encoding: .gsm7, segments: 1) }
        _ = try store.planMessages(campaign: "c", priority: .emergency, day: 1, capPerDay: 1, planned)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 3))
        try store.batchAccepted(batch.id, status: 202, rejected: [:])
        let refs = batch.refs.map(\.description)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-receipts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = "\(dir)/viettel-receipts.csv"
        try ("\u{FEFF}message_id,status,at,reason\n"
             + "\(refs[0]),delivered,2026-12-01T09:00:00+07:00,\n"
             + "\(refs[1]),failed,,\"absent subscriber, switched off\"\n"
             + "\(refs[2]),DELIVRD,,\n"
             + "m999-\(store.identity.hex),delivered,,\n"
             + "\(refs[2]),delivered\n").write(toFile: file, atomically: true, encoding: .utf8)
        let report = try ReceiptImport.run(path: file, carrier: .viettel, store: store)
        #expect(report == ReceiptImport.Report(lines: 5, applied: 2, kept: 0, quarantined: 3, format: "CSV"))
        #expect(try store.messages().map(\.state) == [.delivered, .failed, .accepted])
        #expect(try store.messages()[1].reason == "absent subscriber, switched off")
        #expect(try store.quarantined().map(\.reason) == [
            "\(file):4: status: DELIVRD is not a receipt status (delivered|failed|expired|rejected|unknown|enroute|accepted|answered|completed|no-answer|busy)",
            "\(file):6: expected 4 fields (message_id,status,at,reason), found 2",
            "no message m999-\(store.identity.hex) for viettel in this store",
        ])
        // The same file again: recognised by its SHA-256, nothing applied and nothing quarantined twice.
        let twice = try ReceiptImport.run(path: file, carrier: .viettel, store: store)
        #expect(twice == ReceiptImport.Report(format: "CSV", alreadyImported: 1))
        #expect(try store.quarantined().count == 3)
        let again = try ReceiptImport.run(path: file, carrier: .viettel, store: store, force: true)
        #expect(again.applied == 0 && again.kept == 2)
        #expect(try store.messages().map(\.state) == [.delivered, .failed, .accepted])
        // NDJSON, and a file that is neither.
        try "{\"message_id\":\"\(refs[2])\",\"status\":\"delivered\"}\n".write(toFile: "\(dir)/r.ndjson", atomically: true, encoding: .utf8)
        #expect(try ReceiptImport.run(path: "\(dir)/r.ndjson", carrier: .viettel, store: store) == ReceiptImport.Report(lines: 1, applied: 1, format: "NDJSON"))
        try "id;state\n".write(toFile: "\(dir)/bad.csv", atomically: true, encoding: .utf8)
        #expect(throws: OperationError.self) { _ = try ReceiptImport.run(path: "\(dir)/bad.csv", carrier: .viettel, store: store) }
    }
}
