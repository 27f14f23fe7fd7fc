import ArgumentParser
import Foundation
import LoaCarriers
import LoaCore
import LoaStore

struct ReceiptsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipts",
        abstract: "Delivery receipts nothing matched: list them, apply them again.",
        discussion: """
            A receipt line that cannot be read, or names a message this store does not have, is kept \
            in a quarantine with the carrier and the reason (loa never drops one). After the cause is \
            fixed (a store restored from a backup, a carrier's format corrected), `replay` applies them \
            again; what still matches nothing stays, with the reason brought up to date.
            """,
        subcommands: [ReceiptsQuarantine.self, ReceiptsReplay.self]
    )
}

struct ReceiptsQuarantine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quarantine", abstract: "List the quarantined receipt lines, oldest first.")
    @Option(name: .long, help: "Only this carrier's lines.") var carrier: String?
    @Option(name: .long, help: "Lines to show at most (default 50; the count is always given).") var limit = 50
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let c = try carrier.map { name in
            guard let c = Carrier(name: name) else { throw ValidationError("--carrier: unknown carrier '\(Escaped(name))'") }
            return c
        }
        let lines = try store.open().quarantined(carrier: c)
        print("\(formatCount(lines.count)) receipt line(s) in the quarantine" + (c.map { " for \($0.rawValue)" } ?? ""))
        for q in lines.prefix(max(0, limit)) {
            print("  #\(q.id)  \(q.receivedAt.iso8601())  \(q.carrier)  \(q.reason)")
            print("      \(Escaped(String(q.line.prefix(300))))")
        }
        if lines.count > limit { print("  … \(formatCount(lines.count - limit)) more (--limit N)") }
    }
}

struct ReceiptsReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Apply the quarantined receipt lines again.")
    @Option(name: .long, help: "Only this carrier's lines.") var carrier: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let c = try carrier.map { name in
            guard let c = Carrier(name: name) else { throw ValidationError("--carrier: unknown carrier '\(Escaped(name))'") }
            return c
        }
        let result = try store.open().replayQuarantine(carrier: c) { line in
            switch BatchHTTP.receiptLines(Array(line.utf8)).first?.line {
            case .receipt(let r): .success(r)
            case .unreadable(_, let reason): .failure(.init(reason: reason))
            case nil: .failure(.init(reason: "an empty line"))
            }
        }
        print("\(formatCount(result.replayed)) receipt line(s) applied; \(formatCount(result.left)) still in the quarantine (loa receipts quarantine)")
    }
}
