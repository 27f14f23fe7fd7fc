import LoaCore

/// What the store holds about messages, batches and receipts, read as values: for operators'
/// views, reports and tests (nothing outside the store reads its tables).
extension Store {
    /// One message as stored (its subscriber is a pseudonym, never a number).
    public struct MessageRecord: Sendable, Equatable {
        public var id: Int64
        public var campaign: String
        public var carrier: Carrier?
        public var subscriber: String
        public var language: String
        public var day: Int
        public var state: MessageState?
        public var reason: String?
        public var batch: Int64?
    }

    /// One batch as stored.
    public struct BatchRecord: Sendable, Equatable {
        public var id: Int64
        public var carrier: Carrier?
        public var campaign: String
        public var idempotencyKey: String
        public var state: BatchState?
        public var size: Int
        public var attempts: Int
        public var httpStatus: Int?
        public var reason: String?
    }

    /// One receipt as received.
    public struct StoredReceipt: Sendable, Equatable {
        public var carrier: Carrier?
        public var messageRef: String
        public var status: String
        public var at: Timestamp?
        public var reason: String?
        /// The message it matched; nil for a receipt kept unmatched.
        public var message: Int64?
        /// Another final receipt of the message it conflicted with, and which won.
        public var conflict: String?
        /// The part of a long message it reported; nil for the whole message.
        public var part: Int?
    }

    /// Messages in id order, of one campaign and in one state when given.
    public func messages(campaign: String? = nil, state: MessageState? = nil) throws -> [MessageRecord] {
        var sql = "SELECT id, campaign, carrier, subscriber, language, day, state, reason, batch FROM messages WHERE 1 = 1"
        var args: [SQLValue] = []
        if let campaign { sql += " AND campaign = ?"; args.append(.text(campaign)) }
        if let state { sql += " AND state = ?"; args.append(.text(state.rawValue)) }
        return try db.query(sql + " ORDER BY id", args) {
            MessageRecord(id: $0.int64(0), campaign: $0.text(1), carrier: Carrier(rawValue: $0.text(2)), subscriber: $0.text(3), language: $0.text(4),
                          day: $0.int(5), state: MessageState(rawValue: $0.text(6)), reason: $0.isNull(7) ? nil : $0.text(7),
                          batch: $0.isNull(8) || $0.int64(8) == 0 ? nil : $0.int64(8))   // 0: left planned without a batch (migration 19)
        }
    }

    /// Batches in id order, of one carrier when given.
    public func batches(carrier: Carrier? = nil) throws -> [BatchRecord] {
        var sql = "SELECT id, carrier, campaign, idempotency_key, state, size, attempts, http_status, reason FROM batches"
        var args: [SQLValue] = []
        if let carrier { sql += " WHERE carrier = ?"; args.append(.text(carrier.rawValue)) }
        return try db.query(sql + " ORDER BY id", args) {
            BatchRecord(id: $0.int64(0), carrier: Carrier(rawValue: $0.text(1)), campaign: $0.text(2), idempotencyKey: $0.text(3), state: BatchState(rawValue: $0.text(4)),
                        size: $0.int(5), attempts: $0.int(6), httpStatus: $0.isNull(7) ? nil : $0.int(7), reason: $0.isNull(8) ? nil : $0.text(8))
        }
    }

    /// Every receipt received, in the order received.
    public func receipts() throws -> [StoredReceipt] {
        try db.query("SELECT carrier, message_ref, status, at, reason, message, conflict, part FROM receipts ORDER BY id") {
            StoredReceipt(carrier: Carrier(rawValue: $0.text(0)), messageRef: $0.text(1), status: $0.text(2), at: $0.isNull(3) ? nil : Timestamp(seconds: $0.int64(3)),
                          reason: $0.isNull(4) ? nil : $0.text(4), message: $0.isNull(5) ? nil : $0.int64(5), conflict: $0.isNull(6) ? nil : $0.text(6),
                          part: $0.isNull(7) ? nil : $0.int(7))
        }
    }

    /// Where the store is: a SQLite file path or a PostgreSQL URL (its password masked).
    public var location: String { db.location }

    /// "SQLite" or "PostgreSQL".
    public var engineName: String { db.dialect == .postgres ? "PostgreSQL" : "SQLite" }
}
