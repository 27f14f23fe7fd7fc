import ArgumentParser
import Foundation
import LoaCarriers
import LoaCore
import LoaOperations
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

            `reconcile` records as no-receipt the messages a carrier accepted longer ago than its \
            receipts.validity (default 48 h) without a final receipt; `loa serve` does it every 10 \
            minutes. A receipt that comes later still applies.
            """,
        subcommands: [ReceiptsImport.self, ReceiptsQuarantine.self, ReceiptsReplay.self, ReceiptsReconcile.self]
    )
}

/// `--carrier NAME` as a carrier, or refused naming what was given.
func carrierOption(_ name: String) throws -> Carrier {
    guard let c = Carrier(name: name) else { throw ValidationError("--carrier: unknown carrier '\(Escaped(name))'") }
    return c
}

struct ReceiptsQuarantine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quarantine", abstract: "List the quarantined receipt lines, oldest first.")
    @Option(name: .long, help: "Only this carrier's lines.") var carrier: String?
    @Option(name: .long, help: "Lines to show at most (default 50; the count is always given).") var limit = 50
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let c = try carrier.map(carrierOption)
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
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let c = try carrier.map(carrierOption)
        var parts: [Carrier: ReceiptParts] = [:]
        for (carrier, config) in try store.carrierConfigs() { parts[carrier] = try config.gateway(requireSecrets: false).receiptParts }
        let db = try store.open()
        let me = try actor.actor(db, needs: .operate)
        let result = try db.replayQuarantine(carrier: c, parts: parts) { line in
            switch BatchHTTP.receiptLines(Array(line.utf8)).first?.line {
            case .receipt(let r): .success(r)
            case .unreadable(_, let reason): .failure(.init(reason: reason))
            case nil: .failure(.init(reason: "an empty line"))
            }
        }
        try db.audit(me.name, "receipts-replay", campaign: nil, "\(c?.rawValue ?? "every carrier"): \(result.replayed) lines applied, \(result.left) left in the quarantine")
        print("\(formatCount(result.replayed)) receipt line(s) applied; \(formatCount(result.left)) still in the quarantine (loa receipts quarantine)")
    }
}

struct ReceiptsReconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reconcile",
                                                    abstract: "Record as no-receipt what was accepted longer ago than each carrier's receipts.validity without a final receipt.")
    @Option(name: .long, help: "The time to reconcile at (ISO 8601 or now).") var at: TimeArgument = TimeArgument(argument: "now")!
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        let me = try actor.actor(db, needs: .operate)
        for (carrier, n) in try reconcileReceipts(db, store.carrierConfigs(), at: at.timestamp) {
            if n.count > 0 { try db.audit(me.name, "receipts-reconcile", campaign: nil, "\(carrier.rawValue): \(n.count) messages recorded as no-receipt at \(at.timestamp.iso8601())") }
            print("\(carrier.rawValue): \(formatCount(n.count)) message(s) without a final receipt after \(Duration8601.format(Int64(n.validity))) recorded as no-receipt")
        }
    }
}

/// Reconciles every carrier with a carrier file at `at`: what each recorded, with its validity.
func reconcileReceipts(_ db: Store, _ configs: [Carrier: CarrierConfig], at: Timestamp) throws -> [(Carrier, (count: Int, validity: Double))] {
    var out: [(Carrier, (count: Int, validity: Double))] = []
    for carrier in configs.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
        let validity = try configs[carrier]!.gateway(requireSecrets: false).receiptValidity
        out.append((carrier, (try db.reconcileReceipts(carrier: carrier, acceptedBefore: at.seconds - Int64(validity)), validity)))
    }
    return out
}

struct ReceiptsImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Apply a carrier's receipt file (CSV with a header, or NDJSON), with the same rules as receipts over HTTP.",
        discussion: """
            CSV: a header naming message_id, status, and any of at, reason, error_code, smpp; NDJSON: \
            one receipt object per line, as over HTTP. Read as a stream in parts of 5,000; a line that \
            cannot be read or matches no message goes to the quarantine with its line number and the \
            reason (loa receipts quarantine). A file imported before (same SHA-256) is not read again \
            unless --force.
            """
    )
    @Argument(help: "The receipt file.") var file: String
    @Option(name: .long, help: "The carrier that sent it.") var carrier: String
    @Flag(name: .long, help: "Read it again even if this exact file was imported before.") var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let c = try carrierOption(carrier)
        let tty = isatty(2) == 1
        let started = Date()
        var lastShown = Date.distantPast
        let parts = try store.carrierConfigs()[c]?.gateway(requireSecrets: false).receiptParts ?? .all
        let db = try store.open()
        let me = try actor.actor(db, needs: .operate)
        let report = try ReceiptImport.run(path: file, carrier: c, parts: parts, store: db, force: force, actor: me.name) { lines, bytes, size in
            guard tty, Date().timeIntervalSince(lastShown) >= 0.5 else { return }
            lastShown = Date()
            let rate = Int(Double(lines) / max(0.001, Date().timeIntervalSince(started)))
            let share = size > 0 ? bytes * 100 / size : 0
            FileHandle.standardError.write(Data("\r  \(formatCount(lines)) receipts · \(share)% of the file · \(formatCount(rate))/s   ".utf8))
        }
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
        if let earlier = report.alreadyImported {
            print("\(file): imported before for \(c.rawValue) (import #\(earlier), same SHA-256): nothing done (--force reads it again; its unreadable lines would be quarantined again)")
            return
        }
        print("\(file) (\(report.format)): \(formatCount(report.lines)) receipt line(s) for \(c.rawValue): \(formatCount(report.applied)) applied, "
              + "\(formatCount(report.kept)) kept without a change (duplicates, intermediate, final already), \(formatCount(report.quarantined)) quarantined")
        if report.quarantined > 0 { print("  see them with: loa receipts quarantine --carrier \(c.rawValue)") }
    }
}
