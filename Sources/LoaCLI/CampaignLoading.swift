import ArgumentParser
import Foundation
import LoaCore
import LoaCrypto
import LoaReference
import LoaOperations
import LoaStore

/// Options every store-using command shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store: a SQLite file, or postgres://user:password@host:port/database (default: $LOA_DATABASE or ./loa.sqlite).")
    var database: String?

    @Option(name: .long, help: "Directory of carrier files (default: $LOA_CARRIERS or ./carriers).")
    var carriers: String?

    var databaseLocation: String { database ?? ProcessInfo.processInfo.environment["LOA_DATABASE"] ?? "loa.sqlite" }
    var carriersDirectory: String { carriers ?? ProcessInfo.processInfo.environment["LOA_CARRIERS"] ?? "carriers" }

    func carrierConfigs() throws -> [Carrier: CarrierConfig] { try CarrierConfig.loadAll(directory: carriersDirectory) }

    /// Opens the store. Commands that only read pass `create: false`: a mistyped path must not
    /// look like an empty province. With the contact key at hand, clear numbers an older loa left
    /// are sealed at once.
    func open(create: Bool = false) throws -> Store {
        let db = try Store(location: databaseLocation, create: create)
        if let vault = try contactVault() {
            let sealed = try db.sealClearNumbers(vault: vault)
            if sealed > 0 { printError("note: \(formatCount(sealed)) clear phone numbers from an earlier loa were sealed under the contact key") }
        }
        return db
    }

    /// The operator's contact key, which seals the numbers of contact lists and the do-not-call
    /// list: hex (64 digits or more) in $LOA_CONTACT_KEY, or in the file $LOA_CONTACT_KEY_FILE
    /// (outside the repository and the store). nil when neither is set.
    func contactVault() throws -> ContactVault? {
        let env = ProcessInfo.processInfo.environment
        var text: String
        var source: String
        if let v = env["LOA_CONTACT_KEY"], !v.isEmpty {
            (text, source) = (v, "LOA_CONTACT_KEY")
        } else if let file = env["LOA_CONTACT_KEY_FILE"], !file.isEmpty {
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("LOA_CONTACT_KEY_FILE: \(file) cannot be read") }
            (text, source) = (String(decoding: data, as: UTF8.self), "the file \(file)")
        } else {
            return nil
        }
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do { return try ContactVault(hex: text) } catch {
            throw CLIError("the contact key in \(source): \(error) (generate one with: openssl rand -hex 32)")
        }
    }

    static let contactKeyHelp = "set LOA_CONTACT_KEY (64 hex digits, e.g. from openssl rand -hex 32) or LOA_CONTACT_KEY_FILE; keep it outside the repository and the store"

    /// The contact key, or an error that says what needs it and how to set it.
    func requireContactVault(for what: String) throws -> ContactVault {
        guard let vault = try contactVault() else {
            throw CLIError("\(what) needs the contact key, which seals phone numbers in the store: \(Self.contactKeyHelp)")
        }
        return vault
    }

    /// The keys the carrier files and the environment give, for library operations.
    func operatorKeys() throws -> OperatorKeys {
        let configs = try carrierConfigs()
        let descriptions = configs.mapValues { "its pseudonym key: \($0.keyDescription)" }
        let directory = carriersDirectory
        return OperatorKeys(carriers: Set(configs.keys), pseudonymKeys: try CarrierConfig.keys(configs),
                            keySource: { descriptions[$0] ?? "no carrier file in \(directory)" },
                            contactVault: try contactVault(), contactKeyHelp: Self.contactKeyHelp)
    }
}

/// A timestamp option: ISO 8601 with offset, or "now".
struct TimeArgument: ExpressibleByArgument {
    var timestamp: Timestamp
    init?(argument: String) {
        if argument == "now" {
            timestamp = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
        } else if let t = Timestamp.parseISO8601(argument) {
            timestamp = t
        } else {
            return nil
        }
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

func loadUnits() throws -> AdministrativeUnits {
    do { return try ReferenceData.administrativeUnits() } catch { throw CLIError("\(error)") }
}

