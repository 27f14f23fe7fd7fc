import LoaCore
import LoaCrypto
import Synchronization

/// A signed-in user's session: a random id in an HttpOnly, SameSite=Strict cookie, a random CSRF
/// token that every form carries, and two expiries (idle and absolute). Sessions live in this
/// process only: restarting the console signs everyone out, which is the safe direction.
public struct ConsoleSession: Sendable, Equatable {
    public var id: String
    public var user: String
    public var csrf: String
    public var createdAt: Int64
    public var lastSeen: Int64
}

/// The console's sessions, shared by every request.
public final class ConsoleSessions: Sendable {
    public struct Lifetimes: Sendable {
        /// Signed out after this long without a request (seconds).
        public var idle: Int64
        /// Signed out this long after signing in, however active (seconds).
        public var absolute: Int64
        public init(idle: Int64 = 30 * 60, absolute: Int64 = 12 * 3600) {
            self.idle = idle
            self.absolute = absolute
        }
    }

    private let sessions = Mutex<[String: ConsoleSession]>([:])
    public let lifetimes: Lifetimes

    public init(lifetimes: Lifetimes = Lifetimes()) { self.lifetimes = lifetimes }

    /// A new session for `user`.
    public func open(user: String, now: Int64) -> ConsoleSession {
        let session = ConsoleSession(id: Self.randomToken(), user: user, csrf: Self.randomToken(), createdAt: now, lastSeen: now)
        sessions.withLock { all in
            // Expired sessions go whenever one is opened: the table never grows without bound.
            all = all.filter { !self.expired($0.value, now: now) }
            all[session.id] = session
        }
        return session
    }

    /// The live session with this id (its idle time restarts), or nil.
    public func find(_ id: String, now: Int64) -> ConsoleSession? {
        sessions.withLock { all in
            guard var s = all[id] else { return nil }
            if expired(s, now: now) { all[id] = nil; return nil }
            s.lastSeen = now
            all[id] = s
            return s
        }
    }

    public func close(_ id: String) { _ = sessions.withLock { $0.removeValue(forKey: id) } }

    /// Every session of a user ends (disabled, role changed elsewhere: they sign in again).
    public func close(user: String) { sessions.withLock { all in all = all.filter { $0.value.user != user } } }

    func expired(_ s: ConsoleSession, now: Int64) -> Bool {
        now - s.lastSeen > lifetimes.idle || now - s.createdAt > lifetimes.absolute
    }

    /// 256 random bits as hex.
    static func randomToken() -> String { randomHex(bytes: 32) }

    /// The same secret, compared in constant time.
    static func sameSecret(_ a: String, _ b: String) -> Bool { constantTimeEqual(Array(a.utf8), Array(b.utf8)) }
}
