import ArgumentParser
import Foundation
import LoaCore
import LoaOperations
import LoaStore

struct ContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "The contact lists in the store, and their members with masked numbers.",
        subcommands: [ContactsExport.self]
    )
}

struct ContactsExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "A contact list as CSV (UTF-8 with a BOM, CRLF): name, number, carrier, language, commune_code, opted_out.",
        discussion: """
            Numbers are masked (0912***678) unless an auditor asks for them with --unmasked (signed \
            in with their token, once users exist); every unmasked export is recorded in the audit \
            trail with the list and the number of rows. Needs the contact key (LOA_CONTACT_KEY). \
            Without a list name, lists the lists and their sizes.
            """
    )
    @Argument(help: "The list's name (omit it to see the lists).") var list: String?
    @Flag(name: .long, help: "Clear numbers (auditors only; audited).") var unmasked = false
    @Option(name: .long, help: "Write to this file (mode 0600) instead of standard output.") var out: String?
    @Flag(name: .long, help: "Replace --out if it exists.") var force = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        guard let list else {
            for (name, n) in try db.contactListNames().sorted(by: { $0.key < $1.key }) { print("\(name)  \(formatCount(n)) members") }
            return
        }
        guard try db.contactListNames()[list] != nil else { throw CLIError("no contact list '\(Escaped(list))' in \(db.location) (loa contacts export lists them)") }
        let me: Actor? = unmasked ? try actor.actor(db, needs: .exportUnmasked) : nil
        let vault = try store.requireContactVault(for: "reading a contact list")
        let contacts = try db.contacts(lists: [list], vault: vault).sorted { ($0.name, $0.msisdn.national) < ($1.name, $1.msisdn.national) }
        var lines = [["name", "msisdn", "carrier", "language", "commune_code", "opted_out"]]
        for c in contacts {
            lines.append([c.name, unmasked ? c.msisdn.national : c.msisdn.masked, c.carrier.rawValue, c.language ?? "",
                          c.commune.map(Commune.codeText) ?? "", c.optedOut ? "yes" : "no"])
        }
        let csv = CSVLine.document(lines, field: CSVLine.textField)
        if let me {
            try db.audit(me.name, "export-unmasked", campaign: nil, "contact list \(list): \(contacts.count) numbers unmasked" + (out.map { " to \($0)" } ?? " to standard output"))
        }
        if let out { try OutputFile.write(csv, to: out, force: force) } else { FileHandle.standardOutput.write(Data(csv)) }
    }
}
