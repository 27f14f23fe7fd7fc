import ArgumentParser
import Foundation
import LoaCore
import LoaOperations
import LoaStore

/// Who acts: `--as NAME` with that user's token (`--token-file` or `LOA_TOKEN`), or the
/// operating-system account mapped to a loa user. A store without users takes `--as` at its word.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: "Who does it (a loa user; recorded in the audit trail).") var name: String?
    @Option(name: .long, help: "A file holding the user's token (default: $LOA_TOKEN).") var tokenFile: String?

    func token() throws -> String? {
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else { throw CLIError("--token-file: \(tokenFile) cannot be read") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ProcessInfo.processInfo.environment["LOA_TOKEN"].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The user acting, checked for `permission`; refused with the reason (and audited) otherwise.
    func actor(_ store: Store, needs permission: Permission) throws -> Actor {
        do {
            let actor = try Access.actor(store: store, as: name, token: try token(), osUser: operatingSystemAccount(), needs: permission)
            if actor.proof == .openInstall {
                printError("note: this store has no users yet, so --as is taken at its word; add them with: loa user add NAME --role admin")
            }
            return actor
        } catch let e as OperationError { throw CLIError(e.message) }
    }
}

/// The name of the account running this process.
func operatingSystemAccount() -> String? {
    guard let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name else { return nil }
    return String(cString: name)
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "loa users, their roles and tokens (drafter, approver, operator, auditor, admin).",
        discussion: """
            The first user must be an admin and can be added by anyone; after that only an admin \
            adds users, issues tokens, changes roles and disables users. A token is shown once and \
            kept as its SHA-256 only.
            """,
        subcommands: [UserAdd.self, UserToken.self, UserRoleChange.self, UserDisable.self, UserList.self]
    )
}

struct UserAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a user with a role; their first token is shown once.")
    @Argument(help: "The user's name (as it appears in the audit trail).") var user: String
    @Option(help: "drafter, approver, operator, auditor or admin.") var role: String
    @Option(name: .long, help: "Map an operating-system account to this user (single-operator installs).") var osUser: String?
    @Option(name: .long, help: "Write the new user's token to this file (mode 0600) instead of printing it.") var out: String?
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        guard let role = Role(rawValue: role) else { throw ValidationError("--role: drafter, approver, operator, auditor or admin (found '\(Escaped(role))')") }
        let db = try store.open(create: true)
        let person = try personName(user)
        let by: String? = try db.hasUsers() ? try actor.actor(db, needs: .manageUsers).name : nil
        do {
            let u = try db.addUser(person, role: role, osUser: osUser, by: by)
            printError("\(u.name): \(u.role.rawValue)" + (u.osUser.map { ", acting for the account \($0)" } ?? ""))
            try showToken(try db.issueToken(for: u.name, by: by ?? u.name), for: u.name, out: out)
        } catch let e as StoreError { throw CLIError(e.description) }
    }
}

/// A new token goes to standard output or to a file of mode 0600, once.
func showToken(_ token: String, for user: String, out: String?) throws {
    if let out {
        guard FileManager.default.createFile(atPath: out, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("--out: cannot write \(out)")
        }
        printError("the token for \(user) is in \(out) (shown nowhere else; the store keeps its hash only)")
    } else {
        print(token)
        printError("the token for \(user) is shown once: keep it (the store keeps its hash only)")
    }
}

struct UserToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Issue a new token for a user (shown once; earlier tokens stop working).")
    @Argument var user: String
    @Option(name: .long, help: "Write the token to this file (mode 0600) instead of printing it.") var out: String?
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        let me = try actor.actor(db, needs: .manageUsers)
        do {
            try showToken(try db.issueToken(for: user, by: me.name), for: user, out: out)
        } catch let e as StoreError { throw CLIError(e.description) }
    }
}

struct UserRoleChange: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "role", abstract: "Change a user's role.")
    @Argument var user: String
    @Argument(help: "drafter, approver, operator, auditor or admin.") var role: String
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        guard let role = Role(rawValue: role) else { throw ValidationError("role: drafter, approver, operator, auditor or admin (found '\(Escaped(role))')") }
        let db = try store.open()
        let me = try actor.actor(db, needs: .manageUsers)
        do { try db.setRole(of: user, to: role, by: me.name) } catch let e as StoreError { throw CLIError(e.description) }
        print("\(user): \(role.rawValue)")
    }
}

struct UserDisable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Disable a user (their token stops working; their history stays).")
    @Argument var user: String
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        let me = try actor.actor(db, needs: .manageUsers)
        do { try db.disableUser(user, by: me.name) } catch let e as StoreError { throw CLIError(e.description) }
        print("\(user): disabled")
    }
}

struct UserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The users, their roles and whether they hold a token.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let users = try store.open().users()
        if users.isEmpty { print("no users: --as is taken at its word until the first admin is added (loa user add NAME --role admin)"); return }
        for u in users {
            print([u.name, u.role.rawValue, u.hasToken ? "token" : "no token", u.osUser.map { "account \($0)" } ?? "", u.disabled ? "disabled" : ""]
                .filter { !$0.isEmpty }.joined(separator: "  "))
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The hash-chained audit trail: verify it, seal its head, export it for an auditor.",
        subcommands: [AuditVerify.self, AuditSeal.self, AuditExport.self, AuditList.self]
    )
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check every entry's hash and link; exits 1 at the first break.")
    @Option(name: .long, help: "A head hash sealed earlier (loa audit seal): it must still be in the chain.") var against: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let v = try store.open().verifyAudit(against: against)
        if let b = v.result {
            printError("audit trail broken: \(b)")
            throw ExitCode(1)
        }
        guard let head = v.head else { print("the audit trail is empty"); return }
        print("audit trail intact: \(formatCount(v.entries)) entries, head \(head.seq) \(head.hash) at \(Timestamp(seconds: head.at).iso8601())"
              + (against.map { "; the sealed head \($0) is in it" } ?? ""))
    }
}

struct AuditSeal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Print the head of a verified chain, to write in the department's paper log or send elsewhere.",
        discussion: "Later, loa audit verify --against HASH proves that nothing up to it changed.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let v = try store.open().verifyAudit()
        if let b = v.result { printError("audit trail broken, nothing sealed: \(b)"); throw ExitCode(1) }
        guard let head = v.head else { throw CLIError("the audit trail is empty: nothing to seal") }
        print("loa audit seal: entry \(head.seq), \(head.hash), sealed \(Timestamp(seconds: Store.nowSeconds()).iso8601())")
    }
}

struct AuditExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the chain as NDJSON (one entry per line, with its hash) for an auditor.",
        discussion: "README, \"Audit trail\", gives the canonical form and a short script that checks the file without loa.")
    @Option(name: .long, help: "The file to write (default: standard output).") var out: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        var text = ""
        var unchained = 0
        for (_, entry) in try store.open().auditEntries() {
            guard let entry else { unchained += 1; continue }
            text += entry.exportLine + "\n"
        }
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else { throw CLIError("--out: cannot write \(out)") }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if unchained > 0 { printError("\(unchained) rows without a hash (written around loa) are not in the export: loa audit verify names them") }
    }
}

struct AuditList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The entries, newest last (a campaign's with --campaign).")
    @Option(name: .long) var campaign: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        for (row, entry) in try store.open().auditEntries(campaign: campaign) {
            guard let e = entry else { print("row \(row): no hash (written around loa)"); continue }
            print("\(e.seq)  \(Timestamp(seconds: e.at).iso8601())  \(e.actor)  \(e.action)" + (e.campaign.map { "  [\($0)]" } ?? "") + (e.detail.isEmpty ? "" : ": \(e.detail)"))
        }
    }
}
