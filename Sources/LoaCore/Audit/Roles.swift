/// What a loa user may do. Separation of duties: the people who write and approve campaigns are
/// not the people who run the machine, and the auditor changes nothing.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// Writes and submits campaigns.
    case drafter
    /// Approves or rejects other people's campaigns (and may draft).
    case approver
    /// Runs the machine: imports, dispatch, pause/resume/cancel, receipts, purges.
    case `operator`
    /// Reads everything, verifies and exports the audit trail, exports unmasked numbers (audited);
    /// changes nothing.
    case auditor
    /// Manages users, and may operate.
    case admin

    public var permissions: Set<Permission> {
        switch self {
        case .drafter: [.read, .draft]
        case .approver: [.read, .draft, .approve]
        case .operator: [.read, .operate]
        case .auditor: [.read, .audit, .exportUnmasked]
        case .admin: [.read, .operate, .audit, .manageUsers]
        }
    }

    public func permits(_ p: Permission) -> Bool { permissions.contains(p) }

    /// The roles that hold a permission, for error messages.
    public static func holding(_ p: Permission) -> [Role] { allCases.filter { $0.permits(p) } }
}

public enum Permission: String, Sendable, CaseIterable {
    case read, draft, approve, operate, audit, exportUnmasked = "export-unmasked", manageUsers = "manage-users"

    /// What the permission lets one do, in an operator's words.
    public var doing: String {
        switch self {
        case .read: "read campaigns and reports"
        case .draft: "submit campaigns"
        case .approve: "approve or reject campaigns"
        case .operate: "import data, dispatch, pause, resume or cancel campaigns, and handle receipts"
        case .audit: "verify, seal or export the audit trail"
        case .exportUnmasked: "export unmasked phone numbers"
        case .manageUsers: "add users, issue tokens, change roles or disable users"
        }
    }
}

/// Sign-in failures slow guessing: after `limit` failures for one user within `window` seconds,
/// that user cannot sign in until the oldest of them leaves the window (a right token included).
public struct SignInThrottle: Sendable, Equatable {
    public var limit: Int
    public var window: Int64

    public init(limit: Int = 5, window: Int64 = 900) {
        self.limit = limit
        self.window = window
    }

    /// `failures`: the times of recent failures (any order). Returns when sign-in opens again,
    /// or nil when it is open now.
    public func lockedUntil(failures: [Int64], now: Int64) -> Int64? {
        let recent = failures.filter { $0 > now - window }.sorted()
        guard recent.count >= limit else { return nil }
        // Open again when only limit − 1 of them are left in the window.
        return recent[recent.count - limit] + window
    }
}
