import Foundation

/// Versioned schema migrations, applied in order when a store is opened. The schema is written
/// once; `{pk}`, `{int}`, `{real}`, `{blob}` and `{without_rowid}` become each engine's types,
/// `{string_agg}` its text-joining aggregate (x, separator).
/// Never edit an applied migration: add a new one.
enum Migrations {
    static let all: [(version: Int, name: String, sql: String, postgresOnly: String)] = [
        (1, "subscribers and presence", """
            CREATE TABLE cells (
                id {pk},
                cgi TEXT NOT NULL UNIQUE,
                lat {real} NOT NULL,
                lon {real} NOT NULL,
                commune INTEGER NOT NULL
            );
            CREATE TABLE imports (
                id {pk},
                kind TEXT NOT NULL,
                carrier TEXT,
                file TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                started_at {int} NOT NULL,
                completed INTEGER NOT NULL DEFAULT 0,
                rows_ok {int} NOT NULL DEFAULT 0,
                rows_bad {int} NOT NULL DEFAULT 0,
                first_rowid {int},
                last_rowid {int},
                min_seen {int},
                max_seen {int},
                purged_at {int}
            );
            -- Presence: pseudonym (32-byte HMAC-SHA256 under the carrier's key), never a clear number.
            CREATE TABLE presence (
                carrier INTEGER NOT NULL,
                subscriber {blob} NOT NULL,
                cell INTEGER NOT NULL,
                seen_at {int} NOT NULL,
                import_id {int} NOT NULL
            );
            CREATE TABLE preferences (
                carrier INTEGER NOT NULL,
                subscriber {blob} NOT NULL,
                language TEXT NOT NULL,
                PRIMARY KEY (carrier, subscriber)
            ) {without_rowid};
            -- Do-not-call: clear numbers with nothing else attached.
            CREATE TABLE do_not_call (msisdn TEXT PRIMARY KEY) {without_rowid};
            -- Contact lists: people who agreed to receive messages; no location.
            CREATE TABLE contacts (
                list TEXT NOT NULL,
                msisdn TEXT NOT NULL,
                carrier TEXT NOT NULL,
                name TEXT NOT NULL,
                language TEXT,
                commune INTEGER,
                PRIMARY KEY (list, msisdn)
            );
            """, "CREATE INDEX presence_import ON presence (import_id);"),
        (2, "dispatch", """
            CREATE TABLE campaigns (
                id TEXT PRIMARY KEY,
                file TEXT NOT NULL,
                file_sha256 TEXT NOT NULL,
                title TEXT NOT NULL,
                priority TEXT NOT NULL,
                state TEXT NOT NULL,
                drafted_by TEXT NOT NULL,
                approved_by TEXT,
                created_at {int} NOT NULL,
                planned_at {int}
            );
            -- Who did what, in order; never updated or deleted.
            CREATE TABLE audit (
                id {pk},
                at {int} NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                campaign TEXT,
                detail TEXT NOT NULL DEFAULT ''
            );
            -- One row per recipient and campaign. subscriber is a pseudonym (h:…); commune is kept
            -- for reports by commune.
            CREATE TABLE messages (
                id {pk},
                campaign TEXT NOT NULL REFERENCES campaigns(id),
                carrier TEXT NOT NULL,
                subscriber TEXT NOT NULL,
                language TEXT NOT NULL,
                commune INTEGER,
                day INTEGER NOT NULL,
                text TEXT NOT NULL,
                encoding TEXT NOT NULL,
                segments INTEGER NOT NULL,
                state TEXT NOT NULL,
                batch {int},
                reason TEXT,
                updated_at {int} NOT NULL,
                UNIQUE (campaign, carrier, subscriber)
            );
            CREATE INDEX messages_pending ON messages (carrier, state, campaign);
            CREATE INDEX messages_subscriber_day ON messages (subscriber, day);
            CREATE INDEX messages_batch ON messages (batch);
            CREATE TABLE batches (
                id {pk},
                carrier TEXT NOT NULL,
                campaign TEXT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL,
                size INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                retry_at {real},
                http_status INTEGER,
                reason TEXT,
                created_at {int} NOT NULL,
                updated_at {int} NOT NULL
            );
            CREATE INDEX batches_open ON batches (carrier, state);
            CREATE INDEX batches_campaign ON batches (carrier, campaign);
            -- Every receipt as received, matched or not: nothing is dropped.
            CREATE TABLE receipts (
                id {pk},
                carrier TEXT NOT NULL,
                message_ref TEXT NOT NULL,
                status TEXT NOT NULL,
                at {int},
                reason TEXT,
                received_at {int} NOT NULL,
                message {int}
            );
            """, ""),
        // Claiming takes the lowest ids among a carrier's planned messages of a campaign: with id
        // in the index that is an index range, not a sort of every planned message (PostgreSQL;
        // SQLite's indexes end with the rowid already).
        (3, "claim order", """
            DROP INDEX messages_pending;
            CREATE INDEX messages_pending ON messages (carrier, state, campaign, id);
            """, ""),
        // Only planned messages are looked up by carrier and campaign: a partial index gets no new
        // entry when a message moves on (submitted, accepted, delivered…), two fewer per message.
        (4, "pending index holds planned messages only", """
            DROP INDEX messages_pending;
            CREATE INDEX messages_planned ON messages (carrier, campaign, id) WHERE state = 'planned';
            """, ""),
        // A random identity per store, chosen once (Store.init writes it): idempotency keys and
        // message ids on the wire carry it, so that two stores never present the same ones.
        (5, "store identity", """
            CREATE TABLE store_identity (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                id TEXT NOT NULL,
                created_at {int} NOT NULL
            );
            """, ""),
        // Law 91/2025: no clear number beside a location. Opt-outs and contact lists keep each number
        // sealed (AES-256-GCM) under the operator's contact key, found by its keyed pseudonym. The
        // clear tables of versions 1–5 stay until a command with the key seals their rows into
        // these and drops them (Store.sealClearNumbers).
        (6, "sealed opt-outs and contact lists", """
            CREATE TABLE opt_outs (
                subscriber {blob} PRIMARY KEY,
                sealed {blob} NOT NULL,
                added_at {int} NOT NULL
            ) {without_rowid};
            CREATE TABLE contact_entries (
                list TEXT NOT NULL,
                subscriber {blob} NOT NULL,
                sealed {blob} NOT NULL,
                carrier TEXT NOT NULL,
                name TEXT NOT NULL,
                language TEXT,
                commune INTEGER,
                PRIMARY KEY (list, subscriber)
            );
            CREATE TABLE vault (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                fingerprint TEXT NOT NULL
            );
            """, ""),
        // Receipt lines nothing matched or nothing could read: kept with the reason until replayed.
        (7, "receipt quarantine", """
            CREATE TABLE receipt_quarantine (
                id {pk},
                carrier TEXT NOT NULL,
                line TEXT NOT NULL,
                reason TEXT NOT NULL,
                received_at {int} NOT NULL,
                replayed_at {int}
            );
            CREATE INDEX receipt_quarantine_open ON receipt_quarantine (replayed_at, id);
            """, ""),
        // Two different final receipts for one message: what conflicted, on the receipt that came second.
        (8, "receipt conflicts", """
            ALTER TABLE receipts ADD COLUMN conflict TEXT;
            CREATE INDEX receipts_message ON receipts (message);
            """, ""),
        // Receipts for one part of a long message.
        (9, "receipt parts", """
            ALTER TABLE receipts ADD COLUMN part INTEGER;
            """, ""),
        // The audit trail becomes a hash chain (AuditEntry): rows before this version are chained
        // once, in order, by the first process that opens the store (Store.chainLegacyAudit);
        // a row without a hash after that was written around loa.
        (10, "audit hash chain", """
            ALTER TABLE audit ADD COLUMN seq {int};
            ALTER TABLE audit ADD COLUMN prev_hash TEXT;
            ALTER TABLE audit ADD COLUMN hash TEXT;
            CREATE UNIQUE INDEX audit_seq ON audit (seq);
            CREATE UNIQUE INDEX audit_prev ON audit (prev_hash);
            CREATE INDEX audit_campaign ON audit (campaign, id);
            CREATE TABLE audit_legacy (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                last_id {int},
                chained INTEGER NOT NULL DEFAULT 0
            );
            INSERT INTO audit_legacy (singleton, last_id) SELECT 1, max(id) FROM audit;
            """, ""),
        // loa users: a role each, a token kept only as its SHA-256, an optional operating-system
        // account for single-operator installs; failed sign-ins, to slow guessing.
        (11, "users and roles", """
            CREATE TABLE users (
                folded TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                token_sha256 TEXT,
                os_user TEXT UNIQUE,
                disabled_at {int},
                created_at {int} NOT NULL
            );
            CREATE TABLE auth_failures (
                id {pk},
                folded TEXT NOT NULL,
                at {int} NOT NULL
            );
            CREATE INDEX auth_failures_user ON auth_failures (folded, at);
            """, ""),
        // What the annual report groups campaigns by (older rows: unknown).
        (12, "campaign office, purpose and channel", """
            ALTER TABLE campaigns ADD COLUMN office TEXT;
            ALTER TABLE campaigns ADD COLUMN purpose TEXT;
            ALTER TABLE campaigns ADD COLUMN channel TEXT;
            """, ""),
        // An emergency approved alone under the province's policy: when the second approval is due, and by whom it came.
        (13, "emergency second approval", """
            ALTER TABLE campaigns ADD COLUMN second_approval_due {int};
            ALTER TABLE campaigns ADD COLUMN second_approved_by TEXT;
            """, ""),
        // Receipt request signatures seen in the last minutes, shared by every `loa serve` on the
        // store: a captured request replayed to another process is refused too.
        (14, "receipt signatures", """
            CREATE TABLE receipt_signatures (
                signature TEXT PRIMARY KEY,
                at {int} NOT NULL
            );
            CREATE INDEX receipt_signatures_at ON receipt_signatures (at);
            """, ""),
        // Voice campaigns: each language's audio kept once (8 kHz 16-bit WAV, by its SHA-256), the
        // campaign's clip per language; per message the calls made and the seconds listened; per
        // receipt the call attempt it reports.
        (15, "voice", """
            CREATE TABLE audio_clips (
                sha256 TEXT PRIMARY KEY,
                duration_ms {int} NOT NULL,
                wav {blob} NOT NULL,
                created_at {int} NOT NULL
            );
            CREATE TABLE campaign_audio (
                campaign TEXT NOT NULL,
                language TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                source TEXT NOT NULL,
                PRIMARY KEY (campaign, language)
            );
            ALTER TABLE messages ADD COLUMN attempts INTEGER;
            ALTER TABLE messages ADD COLUMN listened INTEGER;
            ALTER TABLE receipts ADD COLUMN attempt INTEGER;
            ALTER TABLE receipts ADD COLUMN listened INTEGER;
            """, ""),
        // Where a campaign's messages lie in the messages table (the lowest and highest id, and how
        // many), kept by planning, so that a report finds them without counting them first.
        (16, "campaign message extents", """
            ALTER TABLE campaigns ADD COLUMN first_message {int};
            ALTER TABLE campaigns ADD COLUMN last_message {int};
            ALTER TABLE campaigns ADD COLUMN messages {int} NOT NULL DEFAULT 0;
            UPDATE campaigns SET first_message = (SELECT min(m.id) FROM messages m WHERE m.campaign = campaigns.id),
                last_message = (SELECT max(m.id) FROM messages m WHERE m.campaign = campaigns.id),
                messages = (SELECT count(*) FROM messages m WHERE m.campaign = campaigns.id);
            """, ""),
        // What a message's receipts have told so far lives on its row (ReceiptFold): the time of
        // the receipts that set its state, and the latest status of each part of a long message. A
        // receipt is decided from the row alone, so receipts need no index by message: appending a
        // receipt no longer rewrites a page of an index at random.
        (17, "receipts folded onto the message", """
            ALTER TABLE messages ADD COLUMN receipt_at {int};
            ALTER TABLE messages ADD COLUMN receipt_parts TEXT;
            UPDATE messages SET receipt_at = (SELECT max(r.at) FROM receipts r WHERE r.message = messages.id AND r.status = messages.state)
                WHERE id IN (SELECT message FROM receipts WHERE message IS NOT NULL);
            UPDATE messages SET receipt_parts = (
                SELECT {string_agg}(CAST(p.part AS TEXT) || ':' || p.status, ' ') FROM receipts p
                WHERE p.message = messages.id AND p.part IS NOT NULL AND p.id = (
                    SELECT coalesce(max(CASE WHEN q.status IN ('delivered', 'failed', 'expired', 'rejected') THEN q.id END), max(q.id))
                    FROM receipts q WHERE q.message = p.message AND q.part = p.part))
                WHERE segments > 1 AND id IN (SELECT message FROM receipts WHERE part IS NOT NULL);
            DROP INDEX receipts_message;
            """, ""),
        // Stated languages as blocks of statements (PreferenceBlocks): an import appends a few
        // blocks instead of inserting a B-tree row per subscriber. The rows of the former table
        // are moved into blocks by `program(18)`, which then drops it.
        (18, "stated languages in blocks", """
            CREATE TABLE preference_blocks (
                id {pk},
                compacted INTEGER NOT NULL,
                entries {int} NOT NULL,
                languages TEXT NOT NULL,
                data {blob} NOT NULL
            );
            """, ""),
        // Planned messages are found by `batch IS NULL` instead of by their state: a message that
        // leaves `planned` without a batch (over the cap at planning, cancelled, expired unsent)
        // gets batch 0. An index no longer names `state`, so on PostgreSQL a change of state
        // alone (accepted, then each receipt) can stay on its page without new index entries (a
        // HOT update), for which the table's pages keep a fifth free.
        (19, "planned messages indexed by their missing batch", """
            UPDATE messages SET batch = 0 WHERE batch IS NULL AND state <> 'planned';
            DROP INDEX messages_planned;
            CREATE INDEX messages_planned ON messages (carrier, campaign, id) WHERE batch IS NULL;
            """, "ALTER TABLE messages SET (fillfactor = 80);"),
        // Claims by lane marks: a claim no longer changes an indexed column, so it rewrites no
        // index entry (on PostgreSQL, a HOT update in the page it is on). Waiting messages are
        // found from their lane's mark in a static index of (carrier, campaign, id): every message
        // of a lane without a batch has an id from `claim_marks.below` to `upto` (DispatchStore
        // keeps this true: a claim moves the mark past what it took; whatever gives messages back
        // to planned, or plans new ones, widens the range to them). The mark also counts the
        // messages waiting (what progress shows; whether any wait is always read from the lane). A batch's messages are found by the range of ids
        // it took in its lane (`first_message`, `last_message`) and its id. PostgreSQL pages keep
        // half free, so that a claim and then the acceptance fit beside the rows they rewrite.
        (20, "claims by lane marks, batches by id range", """
            ALTER TABLE batches ADD COLUMN first_message {int};
            ALTER TABLE batches ADD COLUMN last_message {int};
            UPDATE batches SET first_message = (SELECT min(m.id) FROM messages m WHERE m.batch = batches.id),
                last_message = (SELECT max(m.id) FROM messages m WHERE m.batch = batches.id);
            CREATE TABLE claim_marks (
                carrier TEXT NOT NULL,
                campaign TEXT NOT NULL,
                below {int} NOT NULL,
                upto {int} NOT NULL,
                waiting {int} NOT NULL,
                PRIMARY KEY (carrier, campaign)
            );
            INSERT INTO claim_marks (carrier, campaign, below, upto, waiting)
                SELECT carrier, campaign, coalesce(min(CASE WHEN batch IS NULL THEN id END), max(id) + 1), max(id), sum(CASE WHEN batch IS NULL THEN 1 ELSE 0 END)
                FROM messages GROUP BY carrier, campaign;
            CREATE INDEX messages_lane ON messages (carrier, campaign, id);
            DROP INDEX messages_planned;
            DROP INDEX messages_batch;
            """, "ALTER TABLE messages SET (fillfactor = 50);"),
    ]

    /// What a migration does beyond its SQL, in the same transaction, right after it.
    static func program(_ version: Int, on db: any SQLDatabase) throws {
        switch version {
        case 18: try PreferenceBlocks.fromTable(db)
        default: break
        }
    }

    static func sql(_ template: String, for dialect: SQLDialect) -> String {
        let types: [(String, String)] = switch dialect {
        case .sqlite: [("{pk}", "INTEGER PRIMARY KEY"), ("{int}", "INTEGER"), ("{real}", "REAL"), ("{blob}", "BLOB"), ("{without_rowid}", "WITHOUT ROWID"),
                       ("{string_agg}", "group_concat")]
        case .postgres: [("{pk}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"), ("{int}", "BIGINT"), ("{real}", "DOUBLE PRECISION"),
                         ("{blob}", "BYTEA"), ("{without_rowid}", ""), ("{string_agg}", "string_agg")]
        }
        return types.reduce(template) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    /// Applies what is missing, in one transaction that holds the write lock (SQLite) or an
    /// advisory lock (PostgreSQL), so that processes starting together apply each migration once.
    static func run(on db: any SQLDatabase, through last: Int = .max) throws {
        try db.transaction {
            if db.dialect == .postgres { try db.run("SELECT pg_advisory_xact_lock(\(StoreLocks.migrations))") }
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at \(sql("{int}", for: db.dialect)) NOT NULL)")
            let applied = Set(try db.query("SELECT version FROM schema_migrations") { $0.int(0) })
            for m in all where !applied.contains(m.version) && m.version <= last {
                try db.execute(sql(m.sql, for: db.dialect))
                if db.dialect == .postgres && !m.postgresOnly.isEmpty { try db.execute(m.postgresOnly) }
                try program(m.version, on: db)
                try db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                           [.int(Int64(m.version)), .text(m.name), .int(Int64(Date().timeIntervalSince1970))])
            }
        }
    }

    static var latestVersion: Int { all.map(\.version).max() ?? 0 }
}

extension Store {
    /// The schema through `version` on a bare database: tests make the stores older versions left.
    package static func migrate(_ db: any SQLDatabase, through version: Int) throws { try Migrations.run(on: db, through: version) }
}

/// Advisory lock keys (PostgreSQL) shared by every loa process on one database.
enum StoreLocks {
    /// Schema migrations.
    static let migrations: Int64 = 0x6C6F_6101
    /// Planning messages (the per-subscriber cap counts across campaigns).
    static let planning: Int64 = 0x6C6F_6102
    /// Appending to the audit chain (one head at a time).
    static let audit: Int64 = 0x6C6F_6103
    /// Two-key locks `(class, n)`: dispatcher nodes and carrier leases.
    static let nodeClass: Int32 = 0x6C6F_61
    static let carrierClass: Int32 = 0x6C6F_62
}
