import Foundation
import LoaCore
import LoaCrypto
#if canImport(Glibc)
import Glibc
#endif

/// loa users and their tokens. The store keeps a token's SHA-256 only: a token is 32 random bytes,
/// so a fast hash is enough (a slow KDF guards guessable passwords, which these are not).
extension Store {
    public struct UserRecord: Sendable, Equatable {
        public var name: String
        public var role: Role
        public var hasToken: Bool
        public var osUser: String?
        public var disabled: Bool
    }

    /// Why a sign-in was refused (each is audited as `sign-in-refused`).
    public enum SignInError: Error, Equatable, CustomStringConvertible {
        case unknownUser(String)
        case disabled(String)
        case noToken(String)
        case wrongToken(String)
        case throttled(String, until: Int64)

        public var description: String {
            switch self {
            case .unknownUser(let n): "there is no loa user \(n) (loa user list)"
            case .disabled(let n): "the user \(n) is disabled"
            case .noToken(let n): "\(n) has no token yet: an admin issues one with loa user token \(n)"
            case .wrongToken(let n): "the token given is not \(n)'s (--token-file FILE or LOA_TOKEN)"
            case .throttled(let n, let until): "too many failed sign-ins for \(n): try again after \(Timestamp(seconds: until).iso8601())"
            }
        }
    }

    static func tokenHash(_ token: String) -> String { sha256(token) }

    public func users() throws -> [UserRecord] {
        try db.query("SELECT name, role, token_sha256, os_user, disabled_at FROM users ORDER BY folded") { Self.userRecord($0) }
    }

    public func user(_ name: String) throws -> UserRecord? {
        try db.query("SELECT name, role, token_sha256, os_user, disabled_at FROM users WHERE folded = ?", [.text(Self.folded(name))]) { Self.userRecord($0) }.first
    }

    /// The user an operating-system account is mapped to (single-operator installs).
    public func user(osUser: String) throws -> UserRecord? {
        try db.query("SELECT name, role, token_sha256, os_user, disabled_at FROM users WHERE os_user = ?", [.text(osUser)]) { Self.userRecord($0) }.first
    }

    public func hasUsers() throws -> Bool { try db.scalarInt("SELECT count(*) FROM users") ?? 0 > 0 }

    static func userRecord(_ r: any SQLRow) -> UserRecord {
        UserRecord(name: r.text(0), role: Role(rawValue: r.text(1)) ?? .drafter, hasToken: !r.isNull(2),
                   osUser: r.isNull(3) ? nil : r.text(3), disabled: !r.isNull(4))
    }

    static func folded(_ name: String) -> String { (try? PersonName(name))?.folded ?? NFC.normalize(name).lowercased() }

    /// Adds a user (audited). `by` is the admin adding them, or nil for the first user, which must be an admin.
    public func addUser(_ name: PersonName, role: Role, osUser: String?, by admin: String?) throws -> UserRecord {
        try db.transaction {
            if admin == nil {
                guard try !hasUsers() else { throw StoreError(.permission, "only an admin adds users once the first one exists (--as ADMIN with their token)") }
                guard role == .admin else { throw StoreError(.permission, "the first user must be an admin (--role admin): nobody else could add the others") }
            }
            if try user(name.text) != nil { throw StoreError(.input, "there is already a user \(name.text)") }
            if let osUser, let other = try user(osUser: osUser) { throw StoreError(.input, "the account \(osUser) is already mapped to \(other.name)") }
            try db.run("INSERT INTO users (folded, name, role, os_user, created_at) VALUES (?, ?, ?, ?, ?)",
                       [.text(name.folded), .text(name.text), .text(role.rawValue), osUser.map { .text($0) } ?? .null, .int(Self.nowSeconds())])
            try audit(admin ?? name.text, "user-add", campaign: nil, "\(name.text) as \(role.rawValue)" + (osUser.map { ", operating-system account \($0)" } ?? ""))
        }
        return try user(name.text)!
    }

    /// A new token for the user, replacing any earlier one; returned once, kept as its hash.
    public func issueToken(for name: String, by actor: String) throws -> String {
        let token = "loa_" + randomHex(bytes: 32)
        try db.transaction {
            guard let u = try user(name) else { throw StoreError(.input, "there is no user \(name)") }
            try db.run("UPDATE users SET token_sha256 = ? WHERE folded = ?", [.text(Self.tokenHash(token)), .text(Self.folded(name))])
            try audit(actor, "user-token", campaign: nil, "new token for \(u.name) (SHA-256 \(Self.tokenHash(token).prefix(12))…); earlier tokens no longer work")
        }
        return token
    }

    public func setRole(of name: String, to role: Role, by actor: String) throws {
        try db.transaction {
            guard let u = try user(name) else { throw StoreError(.input, "there is no user \(name)") }
            if u.role == .admin && role != .admin, try db.scalarInt("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL") ?? 0 <= 1 {
                throw StoreError(.permission, "\(u.name) is the last admin: make another user admin first")
            }
            try db.run("UPDATE users SET role = ? WHERE folded = ?", [.text(role.rawValue), .text(Self.folded(name))])
            try audit(actor, "user-role", campaign: nil, "\(u.name): \(u.role.rawValue) → \(role.rawValue)")
        }
    }

    public func disableUser(_ name: String, by actor: String) throws {
        try db.transaction {
            guard let u = try user(name) else { throw StoreError(.input, "there is no user \(name)") }
            guard !u.disabled else { return }
            if u.role == .admin, try db.scalarInt("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL") ?? 0 <= 1 {
                throw StoreError(.permission, "\(u.name) is the last admin: make another user admin first")
            }
            try db.run("UPDATE users SET disabled_at = ?, token_sha256 = NULL WHERE folded = ?", [.int(Self.nowSeconds()), .text(Self.folded(name))])
            try audit(actor, "user-disable", campaign: nil, "\(u.name) disabled; their token no longer works")
        }
    }

    /// Checks a user's token. A refusal is audited and counted; too many in the throttle's window
    /// refuse even a right token until the window has passed.
    public func signIn(_ name: String, token: String?, throttle: SignInThrottle = SignInThrottle(), now: Int64 = Store.nowSeconds()) throws -> UserRecord {
        let folded = Self.folded(name)
        let failures = try db.query("SELECT at FROM auth_failures WHERE folded = ? AND at > ?", [.text(folded), .int(now - throttle.window)]) { $0.int64(0) }
        let refusal: SignInError?
        let found = try db.query("SELECT name, role, token_sha256, os_user, disabled_at FROM users WHERE folded = ?", [.text(folded)]) {
            (Self.userRecord($0), $0.isNull(2) ? nil : $0.text(2))
        }.first
        if let until = throttle.lockedUntil(failures: failures, now: now) {
            refusal = .throttled(found?.0.name ?? name, until: until)
        } else if let (u, stored) = found {
            if u.disabled { refusal = .disabled(u.name) }
            else if let stored, let token { if constantTimeEqual(Self.tokenHash(token), stored) { return u } else { refusal = .wrongToken(u.name) } }
            else if stored == nil { refusal = .noToken(u.name) }
            else { refusal = .wrongToken(u.name) }
        } else {
            refusal = .unknownUser(name)
        }
        try db.transaction {
            try db.run("INSERT INTO auth_failures (folded, at) VALUES (?, ?)", [.text(folded), .int(now)])
            try db.run("DELETE FROM auth_failures WHERE at < ?", [.int(now - 86_400)])
            try audit(name, "sign-in-refused", campaign: nil, refusal!.description)
        }
        throw refusal!
    }
}

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var diff: UInt8 = 0
    for i in x.indices { diff |= x[i] ^ y[i] }
    return diff == 0
}
