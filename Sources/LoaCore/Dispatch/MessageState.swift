/// A message's life, written to the store before the network call that depends on it:
///
///     planned ──claim──▶ submitted ──answer──▶ accepted ──receipt──▶ delivered | failed | expired | unknown
///        │  ◀──release──    │    └──────────▶ rejected
///        │                  ├──campaign ended──▶ expired
///        │                  └──Kannel answer lost──▶ unknown ──receipt──▶ delivered | failed | expired
///        ├──campaign ended──▶ expired
///        └──cancelled, over the cap──▶ rejected
///
/// This table is the one the store enforces: every update of a message's state names the states
/// it moves from, and each of those moves must be allowed here.
public enum MessageState: String, Sendable, CaseIterable, Codable {
    case planned, submitted, accepted, rejected, delivered, failed, expired, unknown
    /// Accepted by the carrier, and no final receipt within the carrier's validity period
    /// (`loa receipts reconcile`); a late receipt still applies.
    case noReceipt = "no-receipt"

    /// No further change: the message's story is told.
    public var isFinal: Bool { [.rejected, .delivered, .failed, .expired].contains(self) }

    /// Whether a message may move from this state to `next`.
    public func canMove(to next: MessageState) -> Bool {
        switch (self, next) {
        // Claimed into a batch; released when the batch never went (stop, 413 split, a fault).
        case (.planned, .submitted), (.submitted, .planned): true
        // Cancelled or over the per-subscriber cap; or the campaign ended before it went.
        case (.planned, .rejected), (.planned, .expired): true
        // The carrier's answer, or the campaign's end before any answer loa understood.
        case (.submitted, .accepted), (.submitted, .rejected), (.submitted, .expired), (.submitted, .unknown): true
        // Receipts: a receipt may arrive before the upload's own answer is recorded.
        case (.submitted, .delivered), (.submitted, .failed): true
        case (.accepted, .delivered), (.accepted, .failed), (.accepted, .expired), (.accepted, .unknown), (.accepted, .rejected): true
        // An "unknown" receipt may be followed by the real outcome.
        case (.unknown, .delivered), (.unknown, .failed), (.unknown, .expired), (.unknown, .rejected): true
        // Reconciliation, and a late receipt after it.
        case (.accepted, .noReceipt): true
        case (.noReceipt, .delivered), (.noReceipt, .failed), (.noReceipt, .expired), (.noReceipt, .rejected), (.noReceipt, .unknown): true
        default: false
        }
    }

    /// The states in `from` as SQL (`('planned', 'submitted')`), for an update that moves them to
    /// `target`. Every move must be one the table allows: a store that asked for another is wrong.
    public static func sql(from: [MessageState], to target: MessageState) -> String {
        for state in from { precondition(state.canMove(to: target), "\(state) → \(target) is not a message transition") }
        return "(" + from.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
    }
}

/// What a receipt does to its message. A receipt moves a message where the transition table allows;
/// between two different final outcomes reported by receipts (a carrier correcting itself, or two
/// receipts arriving out of order) the one with the later `at` wins and the conflict is recorded.
public enum ReceiptDecision: Sendable, Equatable {
    /// Move the message to this state.
    case move(MessageState)
    /// Keep the receipt; the message stays (a duplicate, an intermediate status, a state it cannot leave).
    case keep
    /// Two different finals: `winner` is the message's state after this receipt (it may stay), `note` says what conflicted.
    case conflict(winner: MessageState, note: String)

    /// The finals receipts report; a message in one of them may be corrected by a later receipt.
    static let receiptFinals: Set<MessageState> = [.delivered, .failed, .expired, .rejected]

    /// `current` is the message's state, set by a receipt timed `currentAt` when it is a receipt's final
    /// (nil when that receipt had no time); `status` and `at` are the new receipt's.
    public static func decide(current: MessageState, currentAt: Timestamp?, status: ReceiptStatus, at: Timestamp?) -> ReceiptDecision {
        guard let target = status.messageState else { return .keep }
        if current.canMove(to: target) { return .move(target) }
        guard target != current, receiptFinals.contains(current), receiptFinals.contains(target) else { return .keep }
        let later = if let at, let currentAt { at > currentAt } else { false }
        let was = currentAt.map { " at \($0.iso8601())" } ?? " (no time given)"
        let now = at.map { " at \($0.iso8601())" } ?? " (no time given)"
        return later
            ? .conflict(winner: target, note: "\(status.rawValue)\(now) replaces \(current.rawValue)\(was): the later receipt wins")
            : .conflict(winner: current, note: "\(status.rawValue)\(now) conflicts with \(current.rawValue)\(was), which stays (the later receipt wins; one without a time never does)")
    }
}

/// A delivery receipt's status, as carriers report it.
public enum ReceiptStatus: String, Sendable, CaseIterable, Codable {
    case delivered, failed, expired, rejected, unknown
    /// Intermediate: on its way (kept; never changes a message's state).
    case enroute
    /// Intermediate: the SMSC took it (kept; never changes a message's state).
    case accepted
    /// Voice: the person answered and listened for a while (`listened` seconds).
    case answered
    /// Voice: the person listened to the end.
    case completed
    /// Voice: nobody answered this attempt (final with `final: true`: no more calls).
    case noAnswer = "no-answer"
    /// Voice: the line was busy on this attempt (final with `final: true`).
    case busy

    /// The state a message moves to; nil for an intermediate status.
    public var messageState: MessageState? {
        switch self {
        case .delivered: .delivered
        case .failed: .failed
        case .expired: .expired
        case .rejected: .rejected
        case .unknown: .unknown
        case .answered, .completed: .delivered
        case .enroute, .accepted, .noAnswer, .busy: nil
        }
    }

    /// The statuses of one call attempt (voice receipts).
    public static let voiceStatuses: Set<ReceiptStatus> = [.answered, .completed, .noAnswer, .busy]

    /// The words a receipt line may carry, for messages that name them.
    public static let words = allCases.map(\.rawValue).joined(separator: "|")
}

/// A campaign's life: drafted → approved (by someone else) → sending ⇄ paused → completed | cancelled.
public enum CampaignState: String, Sendable, CaseIterable, Codable {
    case draft, approved, sending, paused, completed, cancelled
    /// An approver sent it back with a reason; submitting the file again makes it a draft.
    case rejected

    public enum TransitionError: Error, Equatable, CustomStringConvertible {
        case selfApproval(String)
        case notAllowed(from: CampaignState, action: String)
        case unreviewedTranslations([String])
        public var description: String {
            switch self {
            case .selfApproval(let who): "\(who) drafted this campaign and cannot approve it: a second person must approve"
            case .notAllowed(let from, let action): "cannot \(action) a campaign that is \(from.rawValue)"
            case .unreviewedTranslations(let tags): "variants \(tags.joined(separator: ", ")) are not yet checked by a native translator (review: needs-native-review)"
            }
        }
    }

    /// Approval: only a draft, only by someone other than the drafter, only when every variant
    /// that needs a native translator's review has had it.
    /// `aloneAllowed`: an emergency under a policy that lets one approver send it at once, a
    /// second confirming afterwards (`EmergencyApproval`): the drafter may then approve alone.
    public static func approve(state: CampaignState, drafter: String, approver: String, unreviewed: [String],
                               aloneAllowed: Bool = false) -> Result<CampaignState, TransitionError> {
        guard state == .draft else { return .failure(.notAllowed(from: state, action: "approve")) }
        // Names are compared as people: NFC, trimmed, ignoring case.
        let same = (try? PersonName(drafter)) == (try? PersonName(approver)) || drafter.lowercased() == approver.lowercased()
        if same && !aloneAllowed { return .failure(.selfApproval(approver)) }
        if !unreviewed.isEmpty { return .failure(.unreviewedTranslations(unreviewed)) }
        return .success(.approved)
    }

    public func after(_ action: String) -> Result<CampaignState, TransitionError> {
        switch (self, action) {
        case (.approved, "start"), (.paused, "resume"): .success(.sending)
        case (.sending, "pause"), (.approved, "pause"): .success(.paused)
        case (.sending, "complete"): .success(.completed)
        case (.draft, "cancel"), (.approved, "cancel"), (.sending, "cancel"), (.paused, "cancel"), (.rejected, "cancel"): .success(.cancelled)
        case (.draft, "reject"): .success(.rejected)
        default: .failure(.notAllowed(from: self, action: action))
        }
    }
}

/// A province's policy for emergencies (`emergency:` in the policy file): one approver may send an
/// emergency at once, even one they drafted, when a second approver confirms within `window`
/// seconds; both approvals are recorded. Without confirmation by then, loa sends no more of it.
public struct EmergencyApproval: Sendable, Equatable {
    public var window: Int64

    public init(window: Int64) { self.window = window }

    /// What a second approval may be, given who approved first.
    public static func confirms(first: String, second: String) -> Bool {
        (try? PersonName(first)) != (try? PersonName(second)) && first.lowercased() != second.lowercased()
    }
}
