import LoaCore
import LoaCrypto
import LoaStore

/// Why an operation refused or failed. `code` is stable (scripts and the console match on it);
/// `message` is for people and says what to do.
public struct OperationError: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The do-not-call list cannot be applied to a carrier's subscribers (its key is missing).
        case optOutsCannotBeApplied = "operations.opt-outs-cannot-be-applied"
        /// A contact list named by the campaign is not in the store.
        case unknownContactList = "operations.unknown-contact-list"
        /// A contact list has members on a carrier without a key.
        case contactWithoutKey = "operations.contact-without-key"
        /// The contact key is needed and not set.
        case contactKeyMissing = "operations.contact-key-missing"
        /// The campaign may not be sent (not submitted, not approved, changed, ended).
        case notSendable = "operations.not-sendable"
        /// A carrier has no presence in the campaign's window: planning would leave its subscribers out.
        case noPresence = "operations.no-presence"
        /// Stopped on request (a signal) between two steps.
        case stopped = "operations.stopped"
        /// A file is not in the format expected (its header, its first line).
        case notReadable = "operations.not-readable"
        /// Who acts could not be established (no --as, a refused sign-in).
        case notSignedIn = "operations.not-signed-in"
        /// The user's role does not allow the action.
        case notPermitted = "operations.not-permitted"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The keys an operation may need, and where each comes from (for messages that say what to set):
/// the carriers' pseudonym keys (from their carrier files) and the operator's contact key.
public struct OperatorKeys: Sendable {
    /// Carriers with a carrier file (their subscribers can be reached).
    public var carriers: Set<Carrier>
    /// The carriers' pseudonym keys, for those that have one.
    public var pseudonymKeys: [Carrier: KeyedPseudonymizer]
    /// Where each carrier's key comes from (or why there is none), in the operator's words.
    public var keySource: @Sendable (Carrier) -> String
    /// The contact key, when set.
    public var contactVault: ContactVault?
    /// How to set the contact key (said when it is needed and missing).
    public var contactKeyHelp: String

    public init(carriers: Set<Carrier>, pseudonymKeys: [Carrier: KeyedPseudonymizer], keySource: @escaping @Sendable (Carrier) -> String,
                contactVault: ContactVault?, contactKeyHelp: String) {
        self.carriers = carriers
        self.pseudonymKeys = pseudonymKeys
        self.keySource = keySource
        self.contactVault = contactVault
        self.contactKeyHelp = contactKeyHelp
    }

    /// The contact key, or an error saying `what` needs it and how to set it.
    public func requireContactVault(for what: String) throws -> ContactVault {
        guard let contactVault else { throw OperationError(.contactKeyMissing, "\(what) needs the contact key, which seals phone numbers in the store: \(contactKeyHelp)") }
        return contactVault
    }
}
