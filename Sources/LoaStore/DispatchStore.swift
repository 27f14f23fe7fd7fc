import Foundation
import LoaCore

/// Durable dispatch state in the store (SQLite or PostgreSQL): campaigns and approvals, messages, batches and
/// receipts. Every state a network call depends on is committed before the call.
extension Store {
    public struct CampaignRecord: Sendable, Equatable {
        public var id: String
        public var title: String
        public var priority: Campaign.Priority
        public var state: CampaignState
        public var draftedBy: String
        public var approvedBy: String?
        public var fileSHA256: String
        public var planned: Bool
        /// An emergency approved alone: when a second approval is due (seconds), and who gave it.
        public var secondApprovalDue: Int64? = nil
        public var secondApprovedBy: String? = nil

        /// Approved alone and not confirmed by `now`: nothing more may be sent.
        public func awaitsOverdueConfirmation(now: Int64) -> Bool {
            secondApprovalDue.map { $0 < now && secondApprovedBy == nil } ?? false
        }
    }

    public static func nowSeconds() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// Inside a transaction: other writers of this campaign wait (SQLite's write lock does it already).
    func lockCampaign(_ id: String) throws {
        if db.dialect == .postgres { _ = try db.query("SELECT id FROM campaigns WHERE id = ? FOR UPDATE", [.text(id)]) { _ in () } }
    }

    public func campaignRecord(_ id: String) throws -> CampaignRecord? {
        try db.query("SELECT id, title, priority, state, drafted_by, approved_by, file_sha256, planned_at, second_approval_due, second_approved_by FROM campaigns WHERE id = ?", [.text(id)]) {
            CampaignRecord(id: $0.text(0), title: $0.text(1), priority: Campaign.Priority(rawValue: $0.text(2)) ?? .routine,
                           state: CampaignState(rawValue: $0.text(3)) ?? .draft, draftedBy: $0.text(4),
                           approvedBy: $0.isNull(5) ? nil : $0.text(5), fileSHA256: $0.text(6), planned: !$0.isNull(7),
                           secondApprovalDue: $0.isNull(8) ? nil : $0.int64(8), secondApprovedBy: $0.isNull(9) ? nil : $0.text(9))
        }.first
    }

    /// Registers a campaign file as a draft (or refreshes a draft whose file changed).
    public func submitCampaign(_ campaign: Campaign, file: String, sha256: String, by actor: String) throws -> CampaignRecord {
        try submitCampaign(id: campaign.id, title: campaign.title, priority: campaign.priority, file: file, sha256: sha256, by: actor,
                           office: campaign.office, purpose: campaign.purpose, channel: campaign.channel)
    }

    /// Registers a campaign by what the store keeps of it (its file is checked elsewhere).
    /// `office`, `purpose` and `channel` are what the annual report groups by (unknown when nil).
    public func submitCampaign(id: String, title: String, priority: Campaign.Priority, file: String, sha256: String, by actor: String,
                               office: String? = nil, purpose: Campaign.Purpose? = nil, channel: Campaign.Channel? = nil) throws -> CampaignRecord {
        let grouping: [SQLValue] = [office.map { .text($0) } ?? .null, purpose.map { .text($0.rawValue) } ?? .null, channel.map { .text($0.rawValue) } ?? .null]
        try db.transaction {
            if let existing = try campaignRecord(id) {
                guard existing.state == .draft || existing.state == .rejected else {
                    if existing.fileSHA256 != sha256 {
                        throw StoreError(.campaign, "campaign \(id) is \(existing.state.rawValue): its file changed since approval; give the new version a new id")
                    }
                    return
                }
                try db.run("UPDATE campaigns SET file = ?, file_sha256 = ?, title = ?, priority = ?, drafted_by = ?, state = 'draft', "
                           + "office = coalesce(?, office), purpose = coalesce(?, purpose), channel = coalesce(?, channel) WHERE id = ?",
                           [.text(file), .text(sha256), .text(title), .text(priority.rawValue), .text(actor)] + grouping + [.text(id)])
                try audit(actor, "resubmit", campaign: id, "file sha256 \(sha256)")
            } else {
                try db.run("INSERT INTO campaigns (id, file, file_sha256, title, priority, state, drafted_by, created_at, office, purpose, channel) "
                           + "VALUES (?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?)",
                           [.text(id), .text(file), .text(sha256), .text(title), .text(priority.rawValue), .text(actor), .int(Self.nowSeconds())] + grouping)
                try audit(actor, "submit", campaign: id, "file sha256 \(sha256)")
            }
        }
        return try campaignRecord(id)!
    }

    /// Approval by a second person; the file must be the one submitted. With an emergency policy,
    /// an emergency may be approved alone (by its drafter too), a second approver confirming
    /// within the policy's window: the same command by another approver confirms it.
    public func approveCampaign(_ id: String, sha256: String, by approver: String, unreviewed: [String],
                                emergency: EmergencyApproval? = nil, now: Int64 = Store.nowSeconds()) throws -> CampaignRecord {
        try db.transaction {
            try lockCampaign(id)
            guard let record = try campaignRecord(id) else { throw StoreError(.campaign, "campaign \(id) was never submitted (loa campaign submit FILE --as NAME)") }
            guard record.fileSHA256 == sha256 else { throw StoreError(.campaign, "campaign \(id): the file changed since it was submitted; submit it again before approval") }
            // The second approval of an emergency sent on one.
            if record.state != .draft, let due = record.secondApprovalDue, record.secondApprovedBy == nil, let first = record.approvedBy {
                guard EmergencyApproval.confirms(first: first, second: approver) else {
                    throw StoreError(.campaign, "\(id): \(approver) approved it already; the second approval must come from another approver")
                }
                try db.run("UPDATE campaigns SET second_approved_by = ? WHERE id = ?", [.text(approver), .text(id)])
                let late = now > due ? " (after the deadline \(Timestamp(seconds: due).iso8601()): sending may resume)" : ""
                try audit(approver, "second-approve", campaign: id, "confirms \(first)'s approval under the emergency policy\(late); file sha256 \(sha256)")
                return
            }
            let alone = record.priority == .emergency && emergency != nil
            switch CampaignState.approve(state: record.state, drafter: record.draftedBy, approver: approver, unreviewed: unreviewed, aloneAllowed: alone) {
            case .failure(let e): throw StoreError(.campaign, "\(id): \(e.description)")
            case .success(let next):
                try db.run("UPDATE campaigns SET state = ?, approved_by = ? WHERE id = ?", [.text(next.rawValue), .text(approver), .text(id)])
                if let emergency, alone {
                    let due = now + emergency.window
                    try db.run("UPDATE campaigns SET second_approval_due = ? WHERE id = ?", [.int(due), .text(id)])
                    try audit(approver, "approve", campaign: id, "drafted by \(record.draftedBy); file sha256 \(sha256); emergency policy: "
                              + "sent on this approval, a second approver confirms by \(Timestamp(seconds: due).iso8601())")
                } else {
                    try audit(approver, "approve", campaign: id, "drafted by \(record.draftedBy); file sha256 \(sha256)")
                }
            }
        }
        return try campaignRecord(id)!
    }

    /// An approver sends a draft back with the reason (audited); the drafter may submit it again.
    public func rejectCampaign(_ id: String, by approver: String, reason: String) throws -> CampaignRecord {
        let reason = NFC.normalize(reason).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw StoreError(.input, "a rejection needs its reason (--reason)") }
        try db.transaction {
            try lockCampaign(id)
            guard let record = try campaignRecord(id) else { throw StoreError(.campaign, "no campaign \(id)") }
            if (try? PersonName(record.draftedBy)) == (try? PersonName(approver)) {
                throw StoreError(.campaign, "\(id): \(approver) drafted it; a second person rejects it (the drafter cancels: loa campaign control cancel \(id))")
            }
            switch record.state.after("reject") {
            case .failure(let e): throw StoreError(.campaign, "\(id): \(e.description)")
            case .success(let next):
                try db.run("UPDATE campaigns SET state = ? WHERE id = ?", [.text(next.rawValue), .text(id)])
                try audit(approver, "reject", campaign: id, "drafted by \(record.draftedBy): \(reason)")
            }
        }
        return try campaignRecord(id)!
    }

    /// start, pause, resume, complete, cancel.
    public func transitionCampaign(_ id: String, _ action: String, by actor: String) throws -> CampaignRecord {
        try db.transaction {
            try lockCampaign(id)
            guard let record = try campaignRecord(id) else { throw StoreError(.campaign, "no campaign \(id)") }
            switch record.state.after(action) {
            case .failure(let e): throw StoreError(.campaign, "\(id): \(e.description)")
            case .success(let next):
                try db.run("UPDATE campaigns SET state = ? WHERE id = ?", [.text(next.rawValue), .text(id)])
                if next == .cancelled {
                    // The lanes' marks first (claims take them first too), then past every message.
                    try holdMarks(campaign: id)
                    try db.run("UPDATE messages SET state = 'rejected', reason = 'campaign cancelled', batch = 0, updated_at = ? WHERE campaign = ? AND state IN \(MessageState.sql(from: [.planned], to: .rejected))",
                               [.int(Self.nowSeconds()), .text(id)])
                    try passMarks(campaign: id)
                }
                try audit(actor, action, campaign: id)
            }
        }
        return try campaignRecord(id)!
    }

    /// Writes a campaign's messages once (idempotent per campaign/carrier/subscriber) and marks the
    /// campaign planned. A routine or urgent message to a subscriber who already has `capPerDay`
    /// messages planned that local day, across campaigns, is recorded as rejected with the reason.
    public func planMessages(campaign: String, priority: Campaign.Priority, day: Int, capPerDay: Int,
                             _ messages: [PlannedMessage]) throws -> (planned: Int, capped: Int) {
        try db.transaction {
            let written = try planChunk(campaign: campaign, priority: priority, day: day, capPerDay: capPerDay, messages)
            try recordPlanned(campaign: campaign, written: written)
            return written
        }
    }

    /// Plans a part of a campaign in its own transaction: a national audience goes in parts, so
    /// that it never has to sit in memory whole. `finishPlanning` marks the campaign planned once
    /// every part is in; a part repeated after a crash adds nothing.
    public func planMessages(campaign: String, priority: Campaign.Priority, day: Int, capPerDay: Int,
                             part messages: [PlannedMessage]) throws -> (planned: Int, capped: Int) {
        try db.transaction { try planChunk(campaign: campaign, priority: priority, day: day, capPerDay: capPerDay, messages) }
    }

    /// The campaign is planned: what the store holds for it (all parts, earlier attempts included)
    /// goes into the audit trail.
    public func finishPlanning(campaign: String, written: (planned: Int, capped: Int)) throws {
        try db.transaction { try recordPlanned(campaign: campaign, written: written) }
    }

    func recordPlanned(campaign: String, written: (planned: Int, capped: Int)) throws {
        // What planning recorded as it wrote (migration 16), not a count of the campaign's messages.
        let total = Int(try db.scalarInt("SELECT messages FROM campaigns WHERE id = ?", [.text(campaign)]) ?? 0)
        let capped = Int(try db.scalarInt("SELECT count(*) FROM messages WHERE campaign = ? AND reason LIKE 'per-subscriber cap:%'", [.text(campaign)]) ?? 0)
        try db.run("UPDATE campaigns SET planned_at = ? WHERE id = ?", [.int(Self.nowSeconds()), .text(campaign)])
        try audit("loa", "plan", campaign: campaign, "\(total - capped) messages planned, \(capped) over the per-subscriber cap"
                  + (written.planned + written.capped < total ? " (\(total - written.planned - written.capped) of them before this run)" : ""))
    }

    func planChunk(campaign: String, priority: Campaign.Priority, day: Int, capPerDay: Int,
                   _ messages: [PlannedMessage]) throws -> (planned: Int, capped: Int) {
        var planned = 0, capped = 0
        var first = Int64.max, last = Int64.min
        // Per carrier, the ids planned now and how many: its lane's range widens to them.
        var plannedRange: [String: (first: Int64, last: Int64, count: Int)] = [:]
        // Planners on other nodes wait: the cap counts what every campaign planned before.
        if db.dialect == .postgres { try db.run("SELECT pg_advisory_xact_lock(\(StoreLocks.planning))") }
        let now = Self.nowSeconds()
        let capReason = "per-subscriber cap: \(capPerDay) a day across campaigns"
        // SQLite: 256 messages per statement. PostgreSQL: 5,000 per COPY into a scratch table,
        // moved by one INSERT … SELECT (a round trip and a parse per chunk, not per 256 rows).
        let postgres: PostgresDatabase?
        if case .postgres(let pg) = engine { postgres = pg } else { postgres = nil }
        if postgres != nil { try db.run(Self.planningScratch) }
        let chunkSize = postgres == nil ? 256 : 5000
        var from = 0
        while from < messages.count {
            let chunk = messages[from..<min(from + chunkSize, messages.count)]
            from = chunk.endIndex
            var counts: [String: Int] = [:]
            if priority != .emergency {
                let subscribers = Array(Set(chunk.map(\.subscriber)))
                let rows = try db.query("""
                    SELECT subscriber, count(*) FROM messages WHERE day = ? AND state != 'rejected'
                    AND subscriber IN (\(Array(repeating: "?", count: subscribers.count).joined(separator: ", "))) GROUP BY subscriber
                    """, [.int(Int64(day))] + subscribers.map { .text($0) }) { ($0.text(0), $0.int(1)) }
                for (subscriber, n) in rows { counts[subscriber] = n }
            }
            let states = chunk.map { m -> String in
                guard priority != .emergency else { return "planned" }
                if counts[m.subscriber, default: 0] >= capPerDay { return "rejected" }
                counts[m.subscriber, default: 0] += 1
                return "planned"
            }
            // Planning again adds nothing: only rows written now come back and are counted.
            let written: [(id: Int64, state: String, carrier: String)]
            if let postgres {
                try postgres.copyIn("COPY planning_in FROM STDIN") { send in
                    var buffer: [UInt8] = []
                    buffer.reserveCapacity(chunk.count * 200)
                    for (k, m) in chunk.enumerated() {
                        PlanningCopy.row([String(k), campaign, m.carrier.rawValue, m.subscriber, m.language, m.commune.map(String.init), String(day), m.text,
                                          m.isCall ? OutboundMessage.voiceEncoding : m.encoding.rawValue, String(m.segments), states[k],
                                          states[k] == "planned" ? nil : capReason, String(now)], into: &buffer)
                    }
                    try buffer.withUnsafeBytes { try send($0) }
                }
                written = try db.query("""
                    INSERT INTO messages (campaign, carrier, subscriber, language, commune, day, text, encoding, segments, state, reason, updated_at, batch)
                    SELECT campaign, carrier, subscriber, language, commune, day, text, encoding, segments, state, reason, updated_at,
                        CASE WHEN state = 'planned' THEN NULL ELSE 0 END
                    FROM planning_in ORDER BY seq ON CONFLICT DO NOTHING RETURNING id, state, carrier
                    """, []) { ($0.int64(0), $0.text(1), $0.text(2)) }
                try db.run("TRUNCATE planning_in")
            } else {
                var values: [SQLValue] = []
                values.reserveCapacity(chunk.count * 13)
                for (k, m) in chunk.enumerated() {
                    values += [.text(campaign), .text(m.carrier.rawValue), .text(m.subscriber), .text(m.language), m.commune.map { .int(Int64($0)) } ?? .null,
                               .int(Int64(day)), .text(m.text), .text(m.isCall ? OutboundMessage.voiceEncoding : m.encoding.rawValue), .int(Int64(m.segments)), .text(states[k]),
                               states[k] == "planned" ? .null : .text(capReason), .int(now), states[k] == "planned" ? .null : .int(0)]
                }
                written = try db.query("""
                    INSERT INTO messages (campaign, carrier, subscriber, language, commune, day, text, encoding, segments, state, reason, updated_at, batch)
                    VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", "))
                    ON CONFLICT DO NOTHING RETURNING id, state, carrier
                    """, values) { ($0.int64(0), $0.text(1), $0.text(2)) }
            }
            for row in written {
                first = min(first, row.id)
                last = max(last, row.id)
                if row.state == "planned" {
                    let r = plannedRange[row.carrier] ?? (row.id, row.id, 0)
                    plannedRange[row.carrier] = (min(r.first, row.id), max(r.last, row.id), r.count + 1)
                }
            }
            let newlyPlanned = written.filter { $0.state == "planned" }.count
            planned += newlyPlanned
            capped += written.count - newlyPlanned
        }
        for (carrier, r) in plannedRange.sorted(by: { $0.key < $1.key }) { try widenLane(carrier, campaign, r.first, r.last, adding: r.count) }
        // Where the campaign's messages lie, for reports (see migration 16).
        if planned + capped > 0 {
            try db.run("""
                UPDATE campaigns SET first_message = CASE WHEN first_message IS NULL OR first_message > ? THEN ? ELSE first_message END,
                    last_message = CASE WHEN last_message IS NULL OR last_message < ? THEN ? ELSE last_message END,
                    messages = messages + ? WHERE id = ?
                """, [.int(first), .int(first), .int(last), .int(last), .int(Int64(planned + capped)), .text(campaign)])
        }
        return (planned, capped)
    }

    /// PostgreSQL: the session's scratch table for planned messages on their way in (emptied at
    /// every commit, and after each chunk).
    static let planningScratch = """
        CREATE TEMP TABLE IF NOT EXISTS planning_in (seq integer, campaign text, carrier text, subscriber text, language text, commune integer,
            day integer, text text, encoding text, segments integer, state text, reason text, updated_at bigint) ON COMMIT DELETE ROWS
        """

    /// Batches that were uploading or waiting to retry when the process stopped, due at `now`.
    /// They go again with the same idempotency key, so the carrier sees each message once.
    /// Only batches of `allowed` campaigns (those that may send now), when given.
    public func openBatches(carrier: Carrier, dueAt now: Double, allowed: Set<String>? = nil, excluding: Set<Int64> = [], limit: Int = .max) throws -> [Batch] {
        let due = try db.query("SELECT id, campaign FROM batches WHERE carrier = ? AND state = '\(BatchState.retryAt.rawValue)' AND retry_at <= ? ORDER BY retry_at, id",
                               [.text(carrier.rawValue), .double(now.isFinite ? now : Double(Int64.max))]) { ($0.int64(0), $0.text(1)) }
        return try due.filter { (allowed?.contains($0.1) ?? true) && !excluding.contains($0.0) }.prefix(limit).map(\.0).compactMap(batch)
    }

    /// Batches left `uploading` by a stopped or crashed process are due again at once (with their
    /// keys). Call before any worker starts, or on taking over a carrier's lease (only its
    /// holder uploads to the carrier, so whatever is still uploading there was interrupted).
    public func reopenInterruptedBatches(carrier: Carrier? = nil, channel: Campaign.Channel? = nil) throws -> Int {
        if let carrier {
            return try db.run("UPDATE batches SET state = '\(BatchState.retryAt.rawValue)', retry_at = 0, reason = 'interrupted' WHERE state = '\(BatchState.uploading.rawValue)' AND carrier = ?\(Self.batchChannelFilter(channel, "batches"))", [.text(carrier.rawValue)])
        }
        return try db.run("UPDATE batches SET state = '\(BatchState.retryAt.rawValue)', retry_at = 0, reason = 'interrupted' WHERE state = '\(BatchState.uploading.rawValue)'")
    }

    public func nextRetryTime(carrier: Carrier, channel: Campaign.Channel? = nil) throws -> Double? {
        try db.query("SELECT min(retry_at) FROM batches b WHERE carrier = ? AND state = '\(BatchState.retryAt.rawValue)'\(Self.batchChannelFilter(channel, "b"))",
                     [.text(carrier.rawValue)]) { $0.isNull(0) ? nil : $0.double(0) }.first ?? nil
    }

    func batch(_ id: Int64) throws -> Batch? {
        guard let head = try db.query("SELECT idempotency_key, attempts, carrier, campaign, first_message, last_message FROM batches WHERE id = ?", [.int(id)], row: {
                  ($0.text(2), $0.text(0), $0.int(1), $0.text(3), members: Self.members(id, $0, from: 2))
              }).first,
              let carrier = Carrier(rawValue: head.0) else { return nil }
        let messages = try db.query("""
            SELECT id, campaign, subscriber, text, encoding, segments FROM messages WHERE \(Self.inBatch) ORDER BY id
            """, head.members) { OutboundMessage(id: $0.int64(0), campaign: $0.text(1), subscriber: $0.text(2), text: $0.text(3), encoding: $0.text(4), segments: $0.int(5)) }
        let current = head.1.hasPrefix("loa-\(identity.hex)-")
        return Batch(id: id, carrier: carrier, campaign: head.3, idempotencyKey: head.1, attempts: head.2, messages: messages, wireIdentity: current ? identity : nil)
    }

    /// Takes up to `limit` planned messages for a carrier into a new batch: highest priority
    /// first, equal priorities in turn (the campaign that waited longest goes first).
    public func claimBatch(carrier: Carrier, limit: Int, allowed: Set<String>? = nil) throws -> Batch? {
        let id: Int64? = try db.transaction {
            // PostgreSQL: plans made for the given values (a prepared statement's first five) read
            // the lane's whole remaining range into a bitmap and sort it before taking the lowest
            // ids (0.36 s with 100k waiting, seconds on a national lane): the statistics cannot
            // know that the waiting messages come first from the mark on. The generic plan reads
            // the lane index in order and stops at the limit.
            if db.dialect == .postgres { try db.run("SET LOCAL plan_cache_mode = force_generic_plan") }
            let campaigns = try db.query("""
                SELECT c.id, c.priority, (SELECT max(b.id) FROM batches b WHERE b.carrier = ? AND b.campaign = c.id) AS last
                FROM campaigns c WHERE \(Self.sendable) AND \(Self.anyWaiting(in: "c.id"))
                """, [.text(carrier.rawValue), .int(Self.nowSeconds())] + Array(repeating: .text(carrier.rawValue), count: 3)) {
                ($0.text(0), Campaign.Priority(rawValue: $0.text(1)) ?? .routine, $0.isNull(2) ? -1 : $0.int64(2))
            }
            guard let pick = campaigns.filter({ allowed?.contains($0.0) ?? true }).sorted(by: { a, b in a.1 != b.1 ? a.1 > b.1 : a.2 < b.2 }).first else { return nil }
            let lane: [SQLValue] = [.text(carrier.rawValue), .text(pick.0)]
            // The lane's mark, held: other claims of the lane wait for this one (a claim rewrites no
            // index entry, so it is short). Its messages are the lowest ids waiting from the mark on.
            let mark = try holdMark(carrier.rawValue, pick.0)
            precondition(MessageState.planned.canMove(to: .submitted))
            let taken = try db.query("""
                SELECT min(id), max(id) FROM (SELECT id FROM messages WHERE carrier = ? AND campaign = ? AND id BETWEEN ? AND ? AND batch IS NULL AND state = 'planned' ORDER BY id LIMIT ?) t
                """, lane + [.int(mark.below), .int(mark.upto), .int(Int64(limit))]) { $0.isNull(0) ? nil : (first: $0.int64(0), last: $0.int64(1)) }.first ?? nil
            guard let taken else {
                try passMarks(campaign: pick.0, carrier: carrier.rawValue)
                return nil
            }
            let now = Self.nowSeconds()
            // A placeholder key of its own: a shared one would make concurrent claims wait on the unique index.
            let batchID = try db.insertReturningID("""
                INSERT INTO batches (carrier, campaign, idempotency_key, state, size, created_at, updated_at, first_message, last_message)
                VALUES (?, ?, ?, '\(BatchState.uploading.rawValue)', 0, ?, ?, ?, ?)
                """, lane + [.text("claiming-\(UUID().uuidString)"), .int(now), .int(now), .int(taken.first), .int(taken.last)])
            try db.run("UPDATE batches SET idempotency_key = ? WHERE id = ?", [.text(identity.idempotencyKey(carrier: carrier, batch: batchID)), .int(batchID)])
            // Every message waiting in that range is this batch's (the mark is held).
            let size = try db.run("""
                UPDATE messages SET state = 'submitted', batch = ?, updated_at = ?
                WHERE carrier = ? AND campaign = ? AND id BETWEEN ? AND ? AND batch IS NULL AND state = 'planned'
                """, [.int(batchID), .int(now)] + lane + [.int(taken.first), .int(taken.last)])
            try db.run("UPDATE claim_marks SET below = ?, waiting = CASE WHEN waiting > ? THEN waiting - ? ELSE 0 END WHERE carrier = ? AND campaign = ?",
                       [.int(taken.last + 1), .int(Int64(size)), .int(Int64(size))] + lane)
            if size == 0 {
                try db.run("DELETE FROM batches WHERE id = ?", [.int(batchID)])
                return nil
            }
            try db.run("UPDATE batches SET size = ? WHERE id = ?", [.int(Int64(size)), .int(batchID)])
            return batchID
        }
        return try id.flatMap(batch)
    }

    // MARK: Lanes (migration 20)
    //
    // A lane is a carrier's messages of one campaign. Its mark keeps one promise: every message
    // of the lane waiting for a batch has an id from `below` to `upto`. A claim takes the lowest
    // ids waiting in that range and moves `below` past them; whatever makes messages wait again
    // (a batch given back, a 413, planning) widens the range to them. A batch's messages are
    // those of its lane in the range of ids it took that carry its id (`inBatch`). Both bounds
    // are given to the database: PostgreSQL would otherwise read a spent lane's successors. The
    // mark also counts the lane's waiting messages (`waiting`), for progress: counting them in
    // the lane took half a second per 300,000; whether any wait is always read from the lane.

    /// Whether a message of carrier `?` in `campaign` (an SQL expression) waits for a batch, read
    /// in its lane's range (all of it, should a lane have no mark); binds the carrier three times.
    /// A scalar subquery in id order: PostgreSQL would make an EXISTS a join that reads every
    /// message of the carrier, and a bitmap of the whole lane before its first row.
    static func anyWaiting(in campaign: String) -> String {
        let mark = "FROM claim_marks k WHERE k.carrier = ? AND k.campaign = \(campaign)"
        return """
        (SELECT 1 FROM messages m WHERE m.carrier = ? AND m.campaign = \(campaign) \
        AND m.id BETWEEN coalesce((SELECT k.below \(mark)), 0) AND coalesce((SELECT k.upto \(mark)), \(Int64.max)) \
        AND m.batch IS NULL AND m.state = 'planned' ORDER BY m.id LIMIT 1) IS NOT NULL
        """
    }

    /// A batch's messages (columns of `messages` unqualified); bind `members(of:)`.
    static let inBatch = "carrier = ? AND campaign = ? AND id BETWEEN ? AND ? AND batch = ?"

    /// The values `inBatch` binds for `batch` (none match when there is no such batch).
    func members(of batch: Int64) throws -> [SQLValue] {
        try db.query("SELECT carrier, campaign, first_message, last_message FROM batches WHERE id = ?", [.int(batch)]) { Self.members(batch, $0) }.first
            ?? [.null, .null, .null, .null, .int(batch)]
    }

    /// The values `inBatch` binds, from a batch's row read from `carrier` on (carrier, campaign, first and last message).
    static func members(_ batch: Int64, _ row: any SQLRow, from column: Int32 = 0) -> [SQLValue] {
        let (first, last) = (column + 2, column + 3)
        return [.text(row.text(column)), .text(row.text(column + 1)), row.isNull(first) ? .null : .int(row.int64(first)),
                row.isNull(last) ? .null : .int(row.int64(last)), .int(batch)]
    }

    /// The batch's messages still `submitted` move to `state` (with `reason`, when given); to
    /// `planned` they leave the batch and wait again (`returnToWaiting`). Returns how many.
    @discardableResult
    func moveSubmitted(_ batch: Int64, to state: MessageState, reason: String? = nil, at now: Int64, members: [SQLValue]? = nil) throws -> Int {
        let set = (state == .planned ? ", batch = NULL" : "") + (reason == nil ? "" : ", reason = ?")
        return try db.run("UPDATE messages SET state = '\(state.rawValue)'\(set), updated_at = ? WHERE \(Self.inBatch) AND state IN \(MessageState.sql(from: [.submitted], to: state))",
                          (reason.map { [.text($0)] } ?? []) + [.int(now)] + (try members ?? self.members(of: batch)))
    }

    /// Takes the lane's mark until the transaction ends (claims of the lane wait) and returns it.
    /// Every lane with messages waiting has one (planning, migration 20); were one missing, the
    /// lane would be read whole.
    func holdMark(_ carrier: String, _ campaign: String) throws -> (below: Int64, upto: Int64) {
        let lane: [SQLValue] = [.text(carrier), .text(campaign)]
        if let mark = try db.query("UPDATE claim_marks SET below = below WHERE carrier = ? AND campaign = ? RETURNING below, upto", lane, row: { ($0.int64(0), $0.int64(1)) }).first {
            return mark
        }
        return try db.query("""
            INSERT INTO claim_marks (carrier, campaign, below, upto, waiting) VALUES (?, ?, 0, ?, 0)
            ON CONFLICT (carrier, campaign) DO UPDATE SET below = claim_marks.below RETURNING below, upto
            """, lane + [.int(.max)]) { ($0.int64(0), $0.int64(1)) }.first ?? (0, .max)
    }

    /// Takes the marks of a campaign's lanes (of one carrier, when given) until the transaction ends.
    func holdMarks(campaign: String, carrier: String? = nil) throws {
        try db.run("UPDATE claim_marks SET below = below WHERE campaign = ?" + (carrier == nil ? "" : " AND carrier = ?"), [.text(campaign)] + (carrier.map { [.text($0)] } ?? []))
    }

    /// With the marks held and nothing of those lanes waiting any more: past their ranges.
    func passMarks(campaign: String, carrier: String? = nil) throws {
        try db.run("UPDATE claim_marks SET below = upto + 1, waiting = 0 WHERE upto < ? AND campaign = ?" + (carrier == nil ? "" : " AND carrier = ?"),
                   [.int(.max), .text(campaign)] + (carrier.map { [.text($0)] } ?? []))
    }

    /// `count` messages from `first` to `last` of the lane wait for a batch (planned, or given
    /// back): the lane's range widens to them.
    func widenLane(_ carrier: String, _ campaign: String, _ first: Int64, _ last: Int64, adding count: Int) throws {
        try db.run("""
            INSERT INTO claim_marks (carrier, campaign, below, upto, waiting) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (carrier, campaign) DO UPDATE SET
                below = CASE WHEN excluded.below < claim_marks.below THEN excluded.below ELSE claim_marks.below END,
                upto = CASE WHEN excluded.upto > claim_marks.upto THEN excluded.upto ELSE claim_marks.upto END,
                waiting = claim_marks.waiting + excluded.waiting
            """, [.text(carrier), .text(campaign), .int(first), .int(last), .int(Int64(count))])
    }

    /// Messages of `batch` go back to waiting, and its lane's range widens to them. Returns how many.
    @discardableResult
    func returnToWaiting(_ batch: Int64, at now: Int64) throws -> Int {
        let members = try members(of: batch)
        let n = try moveSubmitted(batch, to: .planned, at: now, members: members)
        if n > 0, case .text(let carrier) = members[0], case .text(let campaign) = members[1], case .int(let first) = members[2], case .int(let last) = members[3] {
            try widenLane(carrier, campaign, first, last, adding: n)
        }
        return n
    }

    /// A batch claimed but never uploaded (the dispatcher stopped first): its messages go back to
    /// planned and the batch, whose key the carrier never saw, is removed.
    public func releaseUnsent(batch: Int64) throws {
        try db.transaction {
            try returnToWaiting(batch, at: Self.nowSeconds())
            try db.run("DELETE FROM batches WHERE id = ?", [.int(batch)])
        }
    }

    /// A re-upload that did not go after all (the dispatcher stopped): due again, attempt undone.
    public func batchNotAttempted(_ batch: Int64) throws {
        try db.run("UPDATE batches SET state = '\(BatchState.retryAt.rawValue)', retry_at = 0, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ? WHERE id = ?",
                   [.int(Self.nowSeconds()), .int(batch)])
    }

    public func recordAttempt(batch: Int64) throws {
        try db.run("UPDATE batches SET attempts = attempts + 1, updated_at = ? WHERE id = ?", [.int(Self.nowSeconds()), .int(batch)])
    }

    /// The carrier took the upload and accounted for every message: all accepted but `rejected`
    /// (message id → the carrier's reason).
    public func batchAccepted(_ batch: Int64, status: Int, rejected: [Int64: String]) throws {
        try db.transaction {
            let now = Self.nowSeconds()
            try db.run("UPDATE batches SET state = '\(BatchState.accepted.rawValue)', http_status = ?, updated_at = ? WHERE id = ?", [.int(Int64(status)), .int(now), .int(batch)])
            for (id, reason) in rejected {
                try db.run("UPDATE messages SET state = 'rejected', reason = ?, updated_at = ? WHERE id = ? AND batch = ? AND state IN \(MessageState.sql(from: [.submitted], to: .rejected))",
                           [.text(reason), .int(now), .int(id), .int(batch)])
            }
            // The answer named every other message as accepted: one statement for them all.
            try moveSubmitted(batch, to: .accepted, at: now)
        }
    }

    /// The campaign ended before the carrier accepted this batch: its messages become `expired`
    /// with the reason (never sent again).
    public func batchExpired(_ batch: Int64, reason: String) throws {
        try db.transaction {
            let now = Self.nowSeconds()
            try db.run("UPDATE batches SET state = '\(BatchState.expired.rawValue)', reason = ?, updated_at = ? WHERE id = ?", [.text(reason), .int(now), .int(batch)])
            try moveSubmitted(batch, to: .expired, reason: reason, at: now)
        }
    }

    /// A campaign has ended: what it still has for `carrier` (planned messages, batches waiting to
    /// be uploaded again) becomes `expired` with the reason. Batches being uploaded right now are
    /// left to their answer. Returns the messages expired.
    @discardableResult
    public func expireUnsent(campaign: String, carrier: Carrier, reason: String) throws -> Int {
        try db.transaction {
            let now = Self.nowSeconds()
            try holdMarks(campaign: campaign, carrier: carrier.rawValue)
            var n = try db.run("UPDATE messages SET state = 'expired', reason = ?, batch = 0, updated_at = ? WHERE carrier = ? AND campaign = ? AND state IN \(MessageState.sql(from: [.planned], to: .expired))",
                               [.text(reason), .int(now), .text(carrier.rawValue), .text(campaign)])
            try passMarks(campaign: campaign, carrier: carrier.rawValue)
            let open = try db.query("SELECT id FROM batches WHERE carrier = ? AND campaign = ? AND state = '\(BatchState.retryAt.rawValue)'",
                                    [.text(carrier.rawValue), .text(campaign)]) { $0.int64(0) }
            for id in open {
                try db.run("UPDATE batches SET state = '\(BatchState.expired.rawValue)', reason = ?, updated_at = ? WHERE id = ?", [.text(reason), .int(now), .int(id)])
                n += try moveSubmitted(id, to: .expired, reason: reason, at: now)
            }
            return n
        }
    }

    /// Try again later with the same key (429/503, timeouts, resets, 5xx).
    public func batchRetry(_ batch: Int64, at time: Double, status: Int?, reason: String) throws {
        try db.run("UPDATE batches SET state = '\(BatchState.retryAt.rawValue)', retry_at = ?, http_status = ?, reason = ?, updated_at = ? WHERE id = ?",
                   [.double(time), status.map { .int(Int64($0)) } ?? .null, .text(reason), .int(Self.nowSeconds()), .int(batch)])
    }

    /// Takes a batch waiting to go again for its next upload attempt: false when it is no longer
    /// waiting (another worker took it, or it was settled meanwhile).
    public func batchUploading(_ batch: Int64) throws -> Bool {
        try db.run("UPDATE batches SET state = '\(BatchState.uploading.rawValue)', attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = '\(BatchState.retryAt.rawValue)'",
                   [.int(Self.nowSeconds()), .int(batch)]) == 1
    }

    /// The carrier refused the whole batch for good (4xx other than 413/429, or too many attempts).
    public func batchRejected(_ batch: Int64, status: Int?, reason: String) throws {
        try db.transaction {
            let now = Self.nowSeconds()
            try db.run("UPDATE batches SET state = '\(BatchState.rejected.rawValue)', http_status = ?, reason = ?, updated_at = ? WHERE id = ?",
                       [status.map { .int(Int64($0)) } ?? .null, .text(reason), .int(now), .int(batch)])
            try moveSubmitted(batch, to: .rejected, reason: reason, at: now)
        }
    }

    /// 413: the batch was too large. Its messages go back to planned for smaller batches.
    public func batchTooLarge(_ batch: Int64) throws {
        try db.transaction {
            let now = Self.nowSeconds()
            try db.run("UPDATE batches SET state = '\(BatchState.rejected.rawValue)', http_status = 413, reason = 'too large: split', updated_at = ? WHERE id = ?", [.int(now), .int(batch)])
            try returnToWaiting(batch, at: now)
        }
    }

    /// Applies receipts in order, one outcome each. A receipt of a message of this store is kept
    /// with it; the message moves only where the transition table allows (a final state is never
    /// overwritten; duplicates and intermediate statuses change nothing). A receipt that matches no
    /// message of this store goes to the quarantine with its line and the reason, never dropped.
    /// Each message is decided from its row alone (`ReceiptFold`: state, reason, the time of the
    /// state, the parts so far): receipts are appended, never read back.
    public func recordReceipts(carrier: Carrier, parts mode: ReceiptParts, _ receipts: [ReceiptRecord]) throws -> [ReceiptOutcome] {
        guard !receipts.isEmpty else { return [] }
        var outcomes: [ReceiptOutcome] = []
        outcomes.reserveCapacity(receipts.count)
        try db.transaction {
            let now = Self.nowSeconds()
            // The messages named, read at once (a body of 1,000 receipts is a few statements, not thousands).
            let refs = receipts.map { MessageRef($0.messageRef) }
            var known: [Int64: (currentKey: Bool, segments: Int)] = [:]
            var folds: [Int64: ReceiptFold] = [:]
            // Voice messages: where each call stands (state, outcome, attempts, seconds listened).
            var calls: [Int64: VoiceCall.Standing] = [:]
            // PostgreSQL: the rows are locked as they are read, in id order (two processes recording
            // receipts of the same message one after the other, never both from the same row, and
            // never waiting for each other in a circle). SQLite has one writer at a time already.
            let ids = Set(refs.compactMap { ref in ref.flatMap { $0.store == nil || $0.store == identity ? $0.id : nil } }).sorted()
            let lock = db.dialect == .postgres ? " FOR NO KEY UPDATE OF m" : ""
            // By id: SQLite would read the carrier's whole lane index for `carrier = ?` (a unary + keeps it off).
            let carrierColumn = db.dialect == .sqlite ? "+m.carrier" : "m.carrier"
            for part in ids.chunks(of: 500) {
                let marks = Array(repeating: "?", count: part.count).joined(separator: ", ")
                _ = try db.query("""
                    SELECT m.id, m.state, CASE WHEN b.idempotency_key LIKE ? THEN 1 ELSE 0 END, m.segments, m.encoding, m.reason, m.attempts, m.listened,
                           m.receipt_at, m.receipt_parts
                    FROM messages m LEFT JOIN batches b ON b.id = m.batch
                    WHERE \(carrierColumn) = ? AND m.id IN (\(marks))
                    ORDER BY m.id\(lock)
                    """, [.text("loa-\(identity.hex)-%"), .text(carrier.rawValue)] + part.map { .int($0) }) { (row: any SQLRow) -> Void in
                    guard let state = MessageState(rawValue: row.text(1)) else { return }
                    let id = row.int64(0)
                    let reason = row.isNull(5) ? nil : row.text(5)
                    known[id] = (row.int(2) == 1, row.int(3))
                    if row.text(4) == "voice" {
                        calls[id] = VoiceCall.Standing(state: state, reason: reason, attempts: row.isNull(6) ? 0 : row.int(6), listened: row.isNull(7) ? 0 : row.int(7))
                    } else {
                        folds[id] = ReceiptFold(state: state, reason: reason, stateAt: row.isNull(8) ? nil : Timestamp(seconds: row.int64(8)),
                                                parts: ReceiptFold.parts(row.isNull(9) ? nil : row.text(9)))
                    }
                }
            }
            // Decided in order, in memory; written after.
            let before = folds
            var callMoves: [Int64: VoiceCall.Standing] = [:]
            var rows: [[SQLValue]] = []
            rows.reserveCapacity(receipts.count)
            var quarantine: [(line: String, reason: String)] = []
            for (r, ref) in zip(receipts, refs) {
                let miss: String?
                if let ref {
                    if ref.store != nil && ref.store != identity { miss = "message \(r.messageRef) belongs to another store (this one is \(identity.hex))" }
                    else if let k = known[ref.id], ref.store != nil || !k.currentKey { miss = nil }
                    else { miss = "no message \(r.messageRef) for \(carrier.rawValue) in this store" }
                } else {
                    miss = "message_id \(Escaped(r.messageRef)) is not an id loa gives (m<id>-<store>)"
                }
                if let miss {
                    quarantine.append((r.line ?? Self.receiptLine(r), miss))
                    outcomes.append(.quarantined(reason: miss))
                    continue
                }
                let id = ref!.id
                var conflict: String? = nil
                if let call = calls[id] {
                    // A voice message follows its best call attempt (VoiceCall).
                    if let next = VoiceCall.apply(call, status: r.status, call: r.call, reason: r.reason) {
                        calls[id] = next
                        callMoves[id] = next
                        // Applied when the outcome changed; a count of attempts alone is kept.
                        outcomes.append(next.state != call.state || next.reason != call.reason ? .applied : .kept)
                    } else {
                        outcomes.append(.kept)
                    }
                } else {
                    let step = folds[id]!.apply(r, segments: known[id]!.segments, mode: mode)
                    conflict = step.conflict
                    outcomes.append(step.moved ? .applied : .kept)
                }
                rows.append([.text(carrier.rawValue), .text(r.messageRef), .text(r.status.rawValue), r.at.map { .int($0.seconds) } ?? .null,
                             r.reason.map { .text($0) } ?? .null, .int(now), .int(id), conflict.map { .text($0) } ?? .null,
                             r.part.map { .int(Int64($0)) } ?? .null,
                             r.call.map { .int(Int64($0.attempt)) } ?? .null, r.call?.listened.map { .int(Int64($0)) } ?? .null])
            }
            // The messages whose row changed, in id order: the state (and its time of change) where it
            // moved, the fold's time and parts where only they did. VALUES columns are column1… on
            // both engines.
            var changed: [[SQLValue]] = []
            for (id, fold) in folds.sorted(by: { $0.key < $1.key }) {
                let was = before[id]!
                guard fold != was else { continue }
                let moved = fold.state != was.state || fold.reason != was.reason
                changed.append([.int(id), .text(fold.state.rawValue), fold.reason.map { .text($0) } ?? .null, fold.stateAt.map { .int($0.seconds) } ?? .null,
                                fold.partsText.map { .text($0) } ?? .null, .int(moved ? 1 : 0)])
            }
            let values = "(CAST(? AS BIGINT), ?, ?, CAST(? AS BIGINT), ?, CAST(? AS BIGINT))"
            for part in changed.chunks(of: 150) {
                try db.run("""
                    UPDATE messages SET state = v.column2, reason = v.column3, receipt_at = v.column4, receipt_parts = v.column5,
                        updated_at = CASE WHEN v.column6 = 1 THEN CAST(? AS BIGINT) ELSE messages.updated_at END
                    FROM (VALUES \(Array(repeating: values, count: part.count).joined(separator: ", "))) AS v
                    WHERE messages.id = v.column1
                    """, [.int(now)] + part.flatMap { $0 })
            }
            for (id, call) in callMoves {
                // Billed minutes are a voice message's segments.
                try db.run("UPDATE messages SET state = ?, reason = ?, attempts = ?, listened = ?, segments = ?, updated_at = ? WHERE id = ?",
                           [.text(call.state.rawValue), call.reason.map { .text($0) } ?? .null, .int(Int64(call.attempts)), .int(Int64(call.listened)),
                            .int(Int64(call.billedMinutes)), .int(now), .int(id)])
            }
            let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            for part in rows.chunks(of: 200) {
                try db.run("INSERT INTO receipts (carrier, message_ref, status, at, reason, received_at, message, conflict, part, attempt, listened) VALUES "
                           + Array(repeating: row, count: part.count).joined(separator: ", "), part.flatMap { $0 })
            }
            for q in quarantine {
                try db.run("INSERT INTO receipt_quarantine (carrier, line, reason, received_at) VALUES (?, ?, ?, ?)",
                           [.text(carrier.rawValue), .text(q.line), .text(q.reason), .int(now)])
            }
        }
        return outcomes
    }

    /// Why a receipt line matches no message or cannot be read.
    public struct ReceiptMiss: Error, Equatable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// Why a receipt matches no message of this store for `carrier`; nil when it matches one.
    private func miss(_ carrier: Carrier, _ r: ReceiptRecord) throws -> String? {
        // Only this store's ids match; the old form `m<id>` only a message sent under an old key.
        guard let ref = MessageRef(r.messageRef) else { return "message_id \(Escaped(r.messageRef)) is not an id loa gives (m<id>-<store>)" }
        guard ref.store == nil || ref.store == identity else { return "message \(r.messageRef) belongs to another store (this one is \(identity.hex))" }
        guard let found = try db.query("""
                SELECT CASE WHEN b.idempotency_key LIKE ? THEN 1 ELSE 0 END FROM messages m LEFT JOIN batches b ON b.id = m.batch
                WHERE m.id = ? AND m.carrier = ?
                """, [.text("loa-\(identity.hex)-%"), .int(ref.id), .text(carrier.rawValue)], row: { $0.int(0) == 1 }).first,
              ref.store != nil || !found else {
            return "no message \(r.messageRef) for \(carrier.rawValue) in this store"
        }
        return nil
    }

    /// Messages the carrier accepted before `acceptedBefore` (wall-clock seconds) with no final
    /// receipt since become `no-receipt` (the carrier's validity period has passed); a late receipt
    /// still applies. Returns how many.
    public func reconcileReceipts(carrier: Carrier, acceptedBefore: Int64) throws -> Int {
        try db.transaction {
            try db.run("""
                UPDATE messages SET state = '\(MessageState.noReceipt.rawValue)', reason = 'no final receipt within the carrier''s validity period', updated_at = ?
                WHERE carrier = ? AND state IN \(MessageState.sql(from: [.accepted], to: .noReceipt)) AND updated_at < ?
                """, [.int(Self.nowSeconds()), .text(carrier.rawValue), .int(acceptedBefore)])
        }
    }

    /// Applies the quarantined lines again (after their cause was fixed, e.g. a store restored from
    /// a backup that has their messages): a line read by `parse` that now matches its message is
    /// recorded (with the rules of `recordReceipts`, `parts` per carrier) and leaves the quarantine;
    /// the others stay with their reason brought up to date.
    public func replayQuarantine(carrier: Carrier? = nil, parts: [Carrier: ReceiptParts] = [:],
                                 parse: (String) -> Result<ReceiptRecord, ReceiptMiss>) throws -> (replayed: Int, left: Int) {
        var replayed = 0, left = 0
        for q in try quarantined(carrier: carrier) {
            var reason: String? = "carrier \(q.carrier) is not one loa knows"
            if let c = Carrier(rawValue: q.carrier) {
                switch parse(q.line) {
                case .failure(let why): reason = why.reason
                case .success(let r):
                    reason = try miss(c, r)
                    if reason == nil {
                        _ = try recordReceipts(carrier: c, parts: parts[c] ?? .all, [r])
                        try db.run("UPDATE receipt_quarantine SET replayed_at = ? WHERE id = ?", [.int(Self.nowSeconds()), .int(q.id)])
                        replayed += 1
                        continue
                    }
                }
            }
            try db.run("UPDATE receipt_quarantine SET reason = ? WHERE id = ?", [.text(reason!), .int(q.id)])
            left += 1
        }
        return (replayed, left)
    }

    /// A receipt as an NDJSON line (for a receipt that came without its line, e.g. a Kannel report).
    static func receiptLine(_ r: ReceiptRecord) -> String {
        var o = "{\"message_id\":\(JSONString.quoted(r.messageRef)),\"status\":\"\(r.status.rawValue)\""
        if let at = r.at { o += ",\"at\":\"\(at.iso8601())\"" }
        if let reason = r.reason { o += ",\"reason\":\(JSONString.quoted(reason))" }
        return o + "}"
    }

    /// Keeps receipt lines that could not be read, with the reason.
    public func quarantine(carrier: Carrier, _ lines: [(line: String, reason: String)]) throws {
        guard !lines.isEmpty else { return }
        try db.transaction {
            let now = Self.nowSeconds()
            for l in lines {
                try db.run("INSERT INTO receipt_quarantine (carrier, line, reason, received_at) VALUES (?, ?, ?, ?)",
                           [.text(carrier.rawValue), .text(l.line), .text(l.reason), .int(now)])
            }
        }
    }

    /// A receipt line in the quarantine.
    public struct QuarantinedReceipt: Sendable, Equatable {
        public var id: Int64
        public var carrier: String
        public var line: String
        public var reason: String
        public var receivedAt: Timestamp
    }

    /// The lines waiting in the quarantine (not yet replayed successfully), oldest first.
    public func quarantined(carrier: Carrier? = nil) throws -> [QuarantinedReceipt] {
        var sql = "SELECT id, carrier, line, reason, received_at FROM receipt_quarantine WHERE replayed_at IS NULL"
        var args: [SQLValue] = []
        if let carrier { sql += " AND carrier = ?"; args.append(.text(carrier.rawValue)) }
        return try db.query(sql + " ORDER BY id", args) {
            QuarantinedReceipt(id: $0.int64(0), carrier: $0.text(1), line: $0.text(2), reason: $0.text(3), receivedAt: Timestamp(seconds: $0.int64(4)))
        }
    }

    /// Message counts by state, for a campaign (or all).
    public func messageCounts(campaign: String?) throws -> [String: [MessageState: Int]] {
        var out: [String: [MessageState: Int]] = [:]
        let rows = try db.query("SELECT carrier, state, count(*) FROM messages \(campaign == nil ? "" : "WHERE campaign = ?") GROUP BY carrier, state",
                                campaign.map { [.text($0)] } ?? []) { ($0.text(0), $0.text(1), $0.int(2)) }
        for (carrier, state, n) in rows { if let s = MessageState(rawValue: state) { out[carrier, default: [:]][s] = n } }
        return out
    }

    /// A campaign (alias `c`) whose messages may be sent: sending, and not an emergency approved
    /// alone whose second approval is overdue. Binds one value: now.
    static let sendable = "c.state = 'sending' AND (c.second_approval_due IS NULL OR c.second_approved_by IS NOT NULL OR c.second_approval_due >= ?)"

    public func pendingCount(carrier: Carrier, channel: Campaign.Channel? = nil) throws -> Int {
        // The lanes' counts of waiting messages; then batch by batch (a subquery, so that no engine
        // starts from the carrier's messages).
        Int(try db.scalarInt("SELECT sum(k.waiting) FROM claim_marks k JOIN campaigns c ON c.id = k.campaign WHERE k.carrier = ? AND \(Self.sendable)\(Self.channelFilter(channel, "c"))",
                             [.text(carrier.rawValue), .int(Self.nowSeconds())]) ?? 0)
            + Int(try db.scalarInt("""
                SELECT sum((SELECT count(*) FROM messages m WHERE m.carrier = b.carrier AND m.campaign = b.campaign AND m.id BETWEEN b.first_message AND b.last_message
                    AND m.batch = b.id AND m.state = 'submitted'))
                FROM batches b
                WHERE b.carrier = ? AND b.state IN ('\(BatchState.uploading.rawValue)', '\(BatchState.retryAt.rawValue)')\(Self.batchChannelFilter(channel, "b"))
                """, [.text(carrier.rawValue)]) ?? 0)
    }

    /// Whether anything is left for a carrier (cheaper than counting it).
    public func hasWork(carrier: Carrier, channel: Campaign.Channel? = nil) throws -> Bool {
        try db.scalarInt("""
            SELECT CASE WHEN EXISTS (SELECT 1 FROM campaigns c WHERE \(Self.anyWaiting(in: "c.id")) AND \(Self.sendable)\(Self.channelFilter(channel, "c")))
            OR EXISTS (SELECT 1 FROM batches b WHERE carrier = ? AND state IN ('\(BatchState.uploading.rawValue)', '\(BatchState.retryAt.rawValue)')\(Self.batchChannelFilter(channel, "b"))) THEN 1 ELSE 0 END
            """, Array(repeating: .text(carrier.rawValue), count: 3) + [.int(Self.nowSeconds()), .text(carrier.rawValue)]) == 1
    }

    /// Campaigns of one channel (`c` is the campaigns table); older rows without one are SMS.
    static func channelFilter(_ channel: Campaign.Channel?, _ c: String) -> String {
        guard let channel else { return "" }
        return channel == .voice ? " AND \(c).channel = 'voice'" : " AND coalesce(\(c).channel, 'sms') <> 'voice'"
    }

    /// Batches of campaigns of one channel (`b` is the batches table).
    static func batchChannelFilter(_ channel: Campaign.Channel?, _ b: String) -> String {
        guard let channel else { return "" }
        return " AND \(b).campaign \(channel == .voice ? "IN" : "NOT IN") (SELECT id FROM campaigns WHERE channel = 'voice')"
    }

    public func audioClip(sha256: String) throws -> (wav: [UInt8], durationMs: Int)? {
        try db.query("SELECT wav, duration_ms FROM audio_clips WHERE sha256 = ?", [.text(sha256)]) { ($0.blob(0), $0.int(1)) }.first
    }

    /// Messages sent to a carrier today (restores the daily quota after a restart).
    public func sentToday(carrier: Carrier, day: Int) throws -> Int {
        Int(try db.scalarInt("SELECT count(*) FROM messages WHERE carrier = ? AND day = ? AND state NOT IN ('planned', 'rejected')", [.text(carrier.rawValue), .int(Int64(day))]) ?? 0)
    }

    /// Campaigns still sending with nothing left to do become completed.
    public func completeFinishedCampaigns() throws {
        let done = try db.query("""
            SELECT id FROM campaigns c WHERE state = 'sending' AND NOT EXISTS
            (SELECT 1 FROM messages m WHERE m.campaign = c.id AND m.state IN ('planned', 'submitted'))
            """) { $0.text(0) }
        for id in done {
            // Another dispatcher sharing the store may complete it at the same moment.
            do { _ = try transitionCampaign(id, "complete", by: "loa") } catch {
                if try campaignRecord(id)?.state != .completed { throw error }
            }
        }
    }
}

extension Store: ReceiptSink {
    public func admitSignature(_ signature: String, at: Int64, forgetBefore: Int64) throws -> Bool {
        try db.transaction {
            try db.run("DELETE FROM receipt_signatures WHERE at < ?", [.int(forgetBefore)])
            return try db.run("INSERT INTO receipt_signatures (signature, at) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(signature), .int(at)]) == 1
        }
    }
}

/// Rows in PostgreSQL's COPY text format: tab-separated, `\N` for NULL, backslash escapes.
enum PlanningCopy {
    static func row(_ fields: [String?], into out: inout [UInt8]) {
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(0x09) }
            guard let field else { out.append(0x5C); out.append(0x4E); continue }
            for b in field.utf8 {
                switch b {
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(0x6E)
                case 0x0D: out.append(0x5C); out.append(0x72)
                case 0x09: out.append(0x5C); out.append(0x74)
                default: out.append(b)
                }
            }
        }
        out.append(0x0A)
    }
}
