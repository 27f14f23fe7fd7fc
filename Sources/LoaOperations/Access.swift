import LoaCore
import LoaStore

/// Who is acting, and how loa knows.
public struct Actor: Sendable, Equatable {
    public enum Proof: Sendable, Equatable {
        /// The user's token.
        case token
        /// The operating-system account mapped to the user (single-operator installs).
        case operatingSystemAccount(String)
        /// No users are defined yet: the name is taken at its word (a new install).
        case openInstall
    }

    public var name: String
    /// nil on an open install.
    public var role: Role?
    public var proof: Proof

    public init(name: String, role: Role?, proof: Proof) {
        self.name = name
        self.role = role
        self.proof = proof
    }
}

/// Establishes who acts and checks that their role allows it. Three modes (README, "Users and
/// roles"): a store without users takes `--as NAME` at its word (a new install, said on every
/// command); once users exist, a user acts with their token, or through the operating-system
/// account mapped to them.
public enum Access {
    public static func actor(store: Store, as name: String?, token: String?, osUser: String?, needs permission: Permission) throws -> Actor {
        guard try store.hasUsers() else {
            if permission == .exportUnmasked {
                throw OperationError(.notPermitted, "only an auditor may export unmasked numbers, and this store has no users yet: add them first (loa user add NAME --role admin)")
            }
            guard let name = name ?? osUser else { throw OperationError(.notSignedIn, "say who does it: --as NAME") }
            let person = try validName(name)
            return Actor(name: person.text, role: nil, proof: .openInstall)
        }
        let user: Store.UserRecord
        let proof: Actor.Proof
        if let token, !token.isEmpty {
            guard let name else { throw OperationError(.notSignedIn, "a token is given: say whose it is with --as NAME") }
            do { user = try store.signIn(try validName(name).text, token: token) } catch let e as Store.SignInError {
                throw OperationError(.notSignedIn, e.description)
            }
            proof = .token
        } else if let osUser, let mapped = try store.user(osUser: osUser), !mapped.disabled {
            if let name, try validName(name) != (try validName(mapped.name)) {
                throw OperationError(.notSignedIn, "this account (\(osUser)) acts as \(mapped.name); to act as \(name) give their token (--token-file FILE or LOA_TOKEN)")
            }
            user = mapped
            proof = .operatingSystemAccount(osUser)
        } else {
            throw OperationError(.notSignedIn, "this store has users: act with --as NAME and that user's token (--token-file FILE or LOA_TOKEN)"
                                 + (osUser.map { ", or map the account \($0) to a user (loa user add NAME --os-user \($0))" } ?? ""))
        }
        guard user.role.permits(permission) else {
            try store.audit(user.name, "permission-refused", campaign: nil, "a \(user.role.rawValue) may not \(permission.doing)")
            throw OperationError(.notPermitted, "\(user.name) is \(user.role == .drafter ? "a" : "an") \(user.role.rawValue) and may not \(permission.doing) (roles that may: \(Role.holding(permission).map(\.rawValue).joined(separator: ", ")))")
        }
        return Actor(name: user.name, role: user.role, proof: proof)
    }

    static func validName(_ raw: String) throws -> PersonName {
        do { return try PersonName(raw) } catch { throw OperationError(.notSignedIn, "--as: \(error) (found '\(Escaped(raw))')") }
    }
}
