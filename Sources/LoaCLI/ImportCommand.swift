import ArgumentParser
import Foundation
import Synchronization
import LoaCore
import LoaOperations
import LoaStore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import carrier data into the store (streaming; bad lines are reported and skipped).",
        discussion: """
            Files are CSV with a header line. Imports never abort on one bad line: they report how \
            many lines were bad and the first \(ImportReport.keptProblems) with line numbers and reasons. \
            Importing the same file twice does nothing (use --force).
            """,
        subcommands: [ImportCells.self, ImportPresence.self, ImportPreferences.self, ImportDoNotCall.self, ImportContacts.self]
    )
}

/// Prints what an import did and records it in the audit trail (file, its SHA-256, counts).
func printReport(_ report: ImportReport, audit: (Store, Actor)? = nil) {
    if let (db, me) = audit {
        let sha = report.sha256 ?? "unknown"
        let what = report.alreadyImported ? "already imported: nothing done" : "\(report.rowsOK) rows kept, \(report.rowsBad) refused"
        do { try db.audit(me.name, "import-\(report.kind)", campaign: nil, "\(report.file) sha256 \(sha): \(what)") } catch {
            printError("warning: the import is done but could not be recorded in the audit trail: \(error)")
        }
    }
    print(report.summary)
    for note in report.notes { print("  note: \(note)") }
    for p in report.problems { printError("  \(report.file):\(p.line): \(p.reason)") }
    if report.rowsBad > report.problems.count {
        printError("  … and \(formatCount(report.rowsBad - report.problems.count)) more bad lines; all \(formatCount(report.rowsBad)) by kind:")
    }
    if report.rowsBad > report.problems.count || report.problemKinds.count > 1 {
        for k in report.problemsByKind {
            let n = formatCount(k.count)
            printError("    \(String(repeating: " ", count: max(0, 10 - n.count)))\(n)  \(k.kind)")
        }
    }
}

struct ImportCells: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cells", abstract: "Cells: cgi,lat,lon,commune_code (cgi = MCC-MNC-LAC-CI).")
    @Argument var file: String
    @Flag(name: .long, help: "Import even if this exact file was imported before.") var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open(create: true)
        let me = try actor.actor(db, needs: .operate)
        let units = try loadUnits()
        printReport(try withImportProgress { try db.importCells(path: file, units: units, force: force, progress: $0) }, audit: (db, me))
    }
}

struct ImportPresence: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "A carrier's presence snapshot: subscriber,cgi,seen_at.",
        discussion: """
            subscriber is an MSISDN, pseudonymized at once with the carrier's key (carriers/X.yaml \
            pseudonym_key), or a pseudonym h:<64 hex> = HMAC-SHA256 of the E.164 number under that \
            key. seen_at is ISO 8601 with an offset. The carrier that supplied the file is the \
            subscriber's carrier. After the import, this carrier's presence older than --retention \
            (by when it was seen, or by when it was imported) is purged. Rows seen more than \
            --future-tolerance after now are refused (a wrong clock or date).
            """
    )
    @Argument var file: String
    @Option(name: .long, help: "The carrier that supplied the file.") var carrier: String
    @Option(name: .long, help: "Keep this carrier's presence this long (default 7d, at least 1h).") var retention = "7d"
    @Option(name: .long, help: "Refuse rows seen more than this after now (default 5m).") var futureTolerance = "5m"
    @Flag(name: .long, help: "Import even if this exact file was imported before.") var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        guard let c = Carrier(name: carrier) else { throw ValidationError("unknown carrier '\(carrier)' (expected one of \(Carrier.allCases.map(\.rawValue).joined(separator: ", ")))") }
        let keep = try durationOption(retention, "--retention", 3600...Duration8601.maxSeconds)
        let ahead = try durationOption(futureTolerance, "--future-tolerance", 0...86400)
        let configs = try store.carrierConfigs()
        let key = try configs[c]?.pseudonymizer()
        let db = try store.open(create: true)
        let me = try actor.actor(db, needs: .operate)
        let now = Int64(Date().timeIntervalSince1970)
        let cutoff = Timestamp(seconds: now - keep)
        printReport(try explainingMissingKey(configs[c], c, store) {
            try withImportProgress { try db.importPresence(path: file, carrier: c, key: key, notAfter: Timestamp(seconds: now + ahead), retainedAfter: cutoff, force: force, progress: $0) }
        }, audit: (db, me))
        let purged = try db.purgePresence(before: cutoff, carrier: c)
        if purged > 0 { try db.audit(me.name, "purge", campaign: nil, "\(purged) \(c.rawValue) presence rows before \(cutoff.iso8601()) (retention \(retention))") }
        if purged > 0 { print("  purged \(formatCount(purged)) \(c.rawValue) presence rows seen or imported before \(cutoff.iso8601()) (retention \(retention))") }
    }
}

struct ImportPreferences: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preferences",
        abstract: "Stated language preferences: subscriber,language (one carrier's file) or subscriber,language[,carrier] (one file for all).",
        discussion: """
            subscriber is an MSISDN, pseudonymized at once with its carrier's key, or a pseudonym \
            h:<64 hex>. language is a BCP 47 tag (an ISO 639 code: vi, ium, zh-Hant). With --carrier \
            the file is that carrier's. Without it one file serves every carrier: a line names its \
            carrier (viettel, vinaphone, …) in a third field, or, for a clear number, leaves it out and \
            takes the carrier serving the number: the porting list given with --routing, else the one \
            its prefix was allocated to (the report says how many lines took that). A later statement \
            for a subscriber replaces an earlier one.
            """
    )
    @Argument var file: String
    @Option(name: .long, help: "The carrier that supplied the file; omit it for one file of every carrier.") var carrier: String?
    @Option(name: .long, help: "A carrier routing (porting) list, CSV msisdn,carrier, for lines that name no carrier.") var routing: String?
    @Flag(name: .long) var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let configs = try store.carrierConfigs()
        let db = try store.open(create: true)
        let me = try actor.actor(db, needs: .operate)
        if let carrier {
            guard let c = Carrier(name: carrier) else { throw ValidationError("unknown carrier '\(carrier)'") }
            if routing != nil { throw ValidationError("--routing is for a file of every carrier: with --carrier every line is \(c.rawValue)'s") }
            let key = try configs[c]?.pseudonymizer()
            printReport(try explainingMissingKey(configs[c], c, store) {
                try withImportProgress { try db.importPreferences(path: file, carrier: c, key: key, force: force, progress: $0) }
            }, audit: (db, me))
            return
        }
        let keys = try CarrierConfig.keys(configs)
        let routingList = try routing.map { try InspectMSISDN.parseRouting($0) } ?? CarrierRouting()
        do {
            printReport(try withImportProgress { try db.importPreferences(path: file, carrier: nil, keys: keys, routing: routingList, force: force, progress: $0) },
                        audit: (db, me))
        } catch let error as StoreError where error.code == .missingPseudonymKey {
            let message = error.message
            let missing = Carrier.allCases.filter { keys[$0] == nil }.map { c in
                "\(c.rawValue): " + (configs[c]?.keyDescription ?? "no carrier file in \(store.carriersDirectory)")
            }
            throw CLIError("\(message)\n  carriers without a key (hex, at least 32 digits):\n    " + missing.joined(separator: "\n    "))
        }
    }
}

struct ImportDoNotCall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "do-not-call",
        abstract: "The do-not-call (opt-out) list: msisdn.",
        discussion: "Numbers are added to the list, each sealed under the contact key (LOA_CONTACT_KEY): the store never holds them in clear."
    )
    @Argument var file: String
    @Flag(name: .long) var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let vault = try store.requireContactVault(for: "importing the do-not-call list")
        let db = try store.open(create: true)
        let me = try actor.actor(db, needs: .operate)
        printReport(try withImportProgress { try db.importDoNotCall(path: file, vault: vault, force: force, progress: $0) }, audit: (db, me))
    }
}

struct ImportContacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "A named contact list: msisdn,name,language,commune_code (people who agreed to receive messages).",
        discussion: """
            The file replaces the list of the same name, but only when it has at least one good row: \
            an empty file or one with the wrong columns leaves the list as it was (--replace empties \
            it all the same). Importing an earlier file again restores the list it held. language \
            and commune_code may be empty. Numbers are sealed under the contact key \
            (LOA_CONTACT_KEY); a person on the do-not-call list is not messaged through a list.
            """
    )
    @Argument var file: String
    @Option(name: .long, help: "The list's name, used by campaigns under audience.contact_lists.") var list: String
    @Option(name: .long, help: "A carrier routing (porting) list, CSV msisdn,carrier.") var routing: String?
    @Flag(name: .long, help: "Replace the list even when the file has no good row (empties it).") var replace = false
    @Flag(name: .long) var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        var routingList = CarrierRouting()
        if let routing { routingList = try InspectMSISDN.parseRouting(routing) }
        let vault = try store.requireContactVault(for: "importing a contact list")
        let db = try store.open(create: true)
        let me = try actor.actor(db, needs: .operate)
        let units = try loadUnits()
        let report = try withImportProgress {
            try db.importContacts(path: file, list: list, units: units, routing: routingList,
                                  vault: vault, replaceEvenIfEmpty: replace, force: force, progress: $0)
        }
        printReport(report, audit: (db, me))
        if report.listKept { throw ExitCode(1) }
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete presence data older than the retention period.")
    @Option(name: .long, help: "Delete presence seen longer ago than this (default 7d).") var olderThan = "7d"
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let keep = try durationOption(olderThan, "--older-than", 3600...Duration8601.maxSeconds)
        let cutoff = Timestamp(seconds: Int64(Date().timeIntervalSince1970) - keep)
        let db = try store.open()
        let me = try actor.actor(db, needs: .operate)
        let n = try db.purgePresence(before: cutoff)
        try db.audit(me.name, "purge", campaign: nil, "\(n) presence rows before \(cutoff.iso8601()) (--older-than \(olderThan))")
        print("purged \(formatCount(n)) presence rows seen or imported before \(cutoff.iso8601())")
    }
}

/// A duration option checked against its allowed range, with the range in the message.
func durationOption(_ text: String, _ name: String, _ range: ClosedRange<Int64>) throws -> Int64 {
    guard let v = Duration8601.parseSeconds(text), range.contains(v) else {
        throw ValidationError("\(name): expected a duration from \(Duration8601.format(range.lowerBound)) to \(Duration8601.format(range.upperBound)) such as 7d, 12h or 30m, found '\(Escaped(text))'")
    }
    return v
}

/// Runs an import with a progress line on stderr (rows, share of the file, rows/s): redrawn in
/// place on a terminal, one line per report otherwise.
func withImportProgress(_ body: (@escaping (ImportProgress) -> Void) throws -> ImportReport) throws -> ImportReport {
    let tty = isatty(2) != 0
    let drawn = Atomic<Bool>(false)
    defer { if tty && drawn.load(ordering: .relaxed) { FileHandle.standardError.write(Data("\n".utf8)) } }
    return try body { p in
        drawn.store(true, ordering: .relaxed)
        let share = p.totalBytes > 0 ? min(100, p.bytesRead * 100 / p.totalBytes) : 0
        let rate = p.seconds > 0 ? Int(Double(p.rows) / p.seconds) : 0
        let text = "  \(formatCount(p.rows)) rows · \(share)% of the file · \(formatCount(rate)) rows/s"
        if tty { FileHandle.standardError.write(Data(("\r" + text + "   ").utf8)) } else { printError(text) }
    }
}

/// An import stopped because the file holds clear numbers and the carrier's key is missing: say
/// where the key should come from.
func explainingMissingKey<T>(_ config: CarrierConfig?, _ carrier: Carrier, _ store: StoreOptions, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StoreError where error.code == .missingPseudonymKey {
        let message = error.message
        let source = config?.keyDescription ?? "no carrier file for \(carrier.rawValue) in \(store.carriersDirectory)"
        throw CLIError("\(message)\n  the key (hex, at least 32 digits): \(source)")
    }
}
