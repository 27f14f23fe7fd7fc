import ArgumentParser
import Foundation
import LoaCore
import LoaStore

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "The store: engine, schema, contents, and who dispatches from it.",
        subcommands: [StoreInfo.self]
    )
}

struct StoreInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Engine and location, schema version (migrations run on open), rows per table, live dispatchers and the carriers they hold."
    )
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        let schema = try db.schemaVersion()
        print("store: \(db.engineName) \(db.location)")
        print("schema: version \(schema.version) (\(schema.name))")
        for (table, rows) in try db.tableCounts() {
            print("  \(table.padding(toLength: 16, withPad: " ", startingAt: 0)) \(formatCount(rows))")
        }
        let status = try Store.dispatchStatus(location: store.databaseLocation)
        let held = Carrier.allCases.filter { status.heldCarriers.contains($0) }.map(\.rawValue)
        print("dispatchers: \(status.liveNodes) running" + (held.isEmpty ? "" : "; carriers held: \(held.joined(separator: ", "))"))
    }
}
