/// What a message's receipts have told so far, folded one receipt at a time: its state and reason,
/// the time of the receipts that set (or confirmed) that state, and the latest status of each part
/// of a long message. The store keeps it on the message's row, so a receipt is decided from that
/// row alone, without reading the message's earlier receipts back.
public struct ReceiptFold: Sendable, Equatable {
    public var state: MessageState
    public var reason: String?
    /// The latest `at` among the receipts that moved the message to its state or repeated it
    /// (the conflict rule's time of the current final); nil when none gave a time.
    public var stateAt: Timestamp?
    /// The latest status of each part reported so far (1-based); a final is never replaced by an
    /// intermediate status of the same part.
    public var parts: [Int: ReceiptStatus]

    public init(state: MessageState, reason: String? = nil, stateAt: Timestamp? = nil, parts: [Int: ReceiptStatus] = [:]) {
        self.state = state
        self.reason = reason
        self.stateAt = stateAt
        self.parts = parts
    }

    /// What one receipt did.
    public struct Step: Sendable, Equatable {
        /// The message's state or reason changed.
        public var moved: Bool
        /// Two different finals met: what conflicted and which stayed (kept with the receipt).
        public var conflict: String?
        public init(moved: Bool, conflict: String?) {
            self.moved = moved
            self.conflict = conflict
        }
    }

    /// Applies one receipt of a message of `segments` parts, reported per `mode`.
    public mutating func apply(_ receipt: ReceiptRecord, segments: Int, mode: ReceiptParts) -> Step {
        var status = receipt.status
        if let part = receipt.part, segments > 1 {
            let intermediateAfterFinal = parts[part]?.messageState?.isFinal == true && receipt.status.messageState?.isFinal != true
            if !intermediateAfterFinal { parts[part] = receipt.status }
            // A part's receipt stands for the message only once the parts decide it.
            guard let decided = mode.messageStatus(segments: segments, part: part, parts: parts) else { return Step(moved: false, conflict: nil) }
            status = decided
        }
        switch ReceiptDecision.decide(current: state, currentAt: stateAt, status: status, at: receipt.at) {
        case .move(let target):
            state = target
            stateAt = receipt.at
            reason = receipt.reason ?? reason
            return Step(moved: true, conflict: nil)
        case .keep:
            // A receipt repeating the state with a later time moves the state's time on.
            if status.messageState == state, let at = receipt.at, stateAt.map({ at > $0 }) ?? true { stateAt = at }
            return Step(moved: false, conflict: nil)
        case .conflict(let winner, let note):
            guard winner != state else { return Step(moved: false, conflict: note) }
            state = winner
            stateAt = receipt.at
            reason = receipt.reason ?? note
            return Step(moved: true, conflict: note)
        }
    }

    /// The parts as the store keeps them: "1:delivered 2:failed" in part order; nil when none.
    public var partsText: String? {
        parts.isEmpty ? nil : parts.keys.sorted().map { "\($0):\(parts[$0]!.rawValue)" }.joined(separator: " ")
    }

    /// Reads `partsText` back; entries that cannot be read are left out.
    public static func parts(_ text: String?) -> [Int: ReceiptStatus] {
        guard let text, !text.isEmpty else { return [:] }
        var out: [Int: ReceiptStatus] = [:]
        for entry in text.split(separator: " ") {
            guard let colon = entry.firstIndex(of: ":"), let part = Int(entry[..<colon]),
                  let status = ReceiptStatus(rawValue: String(entry[entry.index(after: colon)...])) else { continue }
            out[part] = status
        }
        return out
    }
}
