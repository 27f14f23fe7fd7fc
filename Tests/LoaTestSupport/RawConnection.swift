import Foundation
import LoaCrypto
import LoaReference
import LoaStore
import LoaCore

/// A connection of the test's own to the store's database, beside the store: only for what no port
/// can do, such as leaving the state a crash would leave, or reading every table to prove that no
/// clear number is stored anywhere.
public func rawConnection(to location: String) throws -> any SQLDatabase {
    Store.isPostgresURL(location) ? try PostgresDatabase(url: location) : try SQLiteDatabase(path: location, create: false)
}

/// Rows in one of the store's tables (through `Store.tableCounts`, what `loa store status` shows).
public func rowCount(_ store: Store, _ table: String) throws -> Int {
    try store.tableCounts().first { $0.table == table }?.rows ?? -1
}

/// A campaign drafted by lan, approved by minh and sending: what dispatch tests start from.
public func addSendingCampaign(_ store: Store, id: String, title: String? = nil, priority: Campaign.Priority) throws {
    _ = try store.submitCampaign(id: id, title: title ?? id, priority: priority, file: "\(id).yaml", sha256: "abc", by: "lan")
    _ = try store.approveCampaign(id, sha256: "abc", by: "minh", unreviewed: [])
    _ = try store.transitionCampaign(id, "start", by: "minh")
}

/// A draft campaign (submitted, not approved): planning tests need no more.
public func addDraftCampaign(_ store: Store, id: String, priority: Campaign.Priority) throws {
    _ = try store.submitCampaign(id: id, title: id, priority: priority, file: "\(id).yaml", sha256: "abc", by: "lan")
}

/// Imports `numbers` as the contact list `list` (named "A", no language or commune), through a CSV
/// file as an operator would.
public func importContactList(_ store: Store, list: String, numbers: [String], vault: ContactVault) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-contacts-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let csv = "msisdn,name,language,commune_code\n" + numbers.map { "\($0),A,," }.joined(separator: "\n") + "\n"
    try csv.write(toFile: "\(dir)/contacts.csv", atomically: true, encoding: .utf8)
    let report = try store.importContacts(path: "\(dir)/contacts.csv", list: list, units: ReferenceData.administrativeUnits(), routing: CarrierRouting(), vault: vault)
    guard report.rowsOK == numbers.count else { throw StoreError.input("contact list: \(report.rowsOK) of \(numbers.count) imported") }
}

/// Runs a blocking call (libcurl, a store's big statement) on a thread of its own and awaits it:
/// a test must never block Swift's cooperative pool (two threads on two cores), or the in-process
/// servers of the tests running beside it (carrier simulators, the receipt endpoint) stall.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        let t = Thread { c.resume(with: Result { try body() }) }
        t.stackSize = 1 << 21
        t.start()
    }
}
