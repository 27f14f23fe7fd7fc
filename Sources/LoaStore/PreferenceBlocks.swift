import Foundation
import LoaCore

/// Stated languages as the store keeps them: blocks of statements, appended by each import and
/// read back whole (selection loads every statement into `LanguagePreferences`; nothing looks a
/// single subscriber up). A row per subscriber in a B-tree cost about 1 µs a row to insert, more
/// than parsing the line and hashing its number together; a block costs a copy of its bytes.
///
/// A block (`preference_blocks`) holds `entries` statements of `entryBytes` bytes in `data`: the
/// carrier's index (`Store.carriers`, 1 byte), the language's index in the block's `languages`
/// (tags separated by spaces; 2 bytes, big-endian), the subscriber's pseudonym (32 bytes).
/// Within a block, statements are sorted by carrier and pseudonym, each key once (loading then
/// fills `LanguagePreferences` from one end to the other). Blocks apply in id order: a later
/// statement for a subscriber replaces an earlier one.
///
/// Re-imports only append, so the blocks are compacted (every key once, the last statement kept)
/// as soon as what was appended since the last compaction outnumbers the compacted base: the
/// blocks then never hold more than about twice the statements in force plus one import, and each
/// statement is rewritten a bounded number of times.
enum PreferenceBlocks {
    /// The language of a withdrawn statement (`-` in a preferences file): the subscriber has no
    /// stated language from then on; a compaction removes the subscriber's statements altogether.
    static let withdrawal = "-"
    static let entryBytes = 35
    /// Statements per block (9 MiB): a block is read and written whole.
    static let maxEntries = 1 << 18
    /// Statements sorted at a time when compacting (each pass keeps the keys of one range).
    static let compactionPass = 8 << 20

    struct Block {
        var entries: Int
        var languages: [String]
        var data: [UInt8]

        /// Each statement in order: carrier index, language index (into `languages`), subscriber.
        func forEachEntry(_ body: (UInt8, Int, Pseudonym) throws -> Void) rethrows {
            try data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                let n = min(entries, raw.count / entryBytes)
                for i in 0..<n {
                    let p = base + i * entryBytes
                    let language = Int(p.load(fromByteOffset: 1, as: UInt8.self)) << 8 | Int(p.load(fromByteOffset: 2, as: UInt8.self))
                    func word(_ k: Int) -> UInt64 { UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 3 + 8 * k, as: UInt64.self)) }
                    try body(p.load(as: UInt8.self), language, Pseudonym(w0: word(0), w1: word(1), w2: word(2), w3: word(3)))
                }
            }
        }
    }

    /// Statements held in all blocks (repeats across blocks counted each time).
    static func entries(_ db: any SQLDatabase) throws -> Int {
        Int(try db.scalarInt("SELECT coalesce(sum(entries), 0) FROM preference_blocks") ?? 0)
    }

    /// Every block in the order its statements apply, one in memory at a time.
    static func forEach(_ db: any SQLDatabase, through last: Int64 = .max, _ body: (Block) throws -> Void) throws {
        let ids = try db.query("SELECT id FROM preference_blocks WHERE id <= ? ORDER BY id", [.int(last)]) { $0.int64(0) }
        for id in ids {
            let blocks = try db.query("SELECT entries, languages, data FROM preference_blocks WHERE id = ?", [.int(id)]) {
                Block(entries: $0.int(0), languages: $0.text(1).split(separator: " ", omittingEmptySubsequences: false).map(String.init), data: $0.blob(2))
            }
            for block in blocks { try body(block) }
        }
    }

    /// Appends `rows` (sorted by key, each key once) as blocks; `languages` names their language indexes.
    static func append(_ rows: ArraySlice<PreferenceRow>, languages: [String], compacted: Bool, to db: any SQLDatabase) throws {
        guard languages.count <= 0x10000 else {
            throw StoreError.database("stated languages: more than 65,536 distinct language tags in one import")
        }
        let names = languages.joined(separator: " ")
        var start = rows.startIndex
        while start < rows.endIndex {
            let end = min(rows.endIndex, start + maxEntries)
            let data = [UInt8](unsafeUninitializedCapacity: (end - start) * entryBytes) { buffer, count in
                let base = UnsafeMutableRawPointer(buffer.baseAddress!)
                for i in start..<end {
                    let row = rows[i], p = base + (i - start) * entryBytes
                    p.storeBytes(of: row.carrier, as: UInt8.self)
                    p.storeBytes(of: UInt8(truncatingIfNeeded: row.language >> 8), toByteOffset: 1, as: UInt8.self)
                    p.storeBytes(of: UInt8(truncatingIfNeeded: row.language), toByteOffset: 2, as: UInt8.self)
                    p.storeBytes(of: row.w0.bigEndian, toByteOffset: 3, as: UInt64.self)
                    p.storeBytes(of: row.w1.bigEndian, toByteOffset: 11, as: UInt64.self)
                    p.storeBytes(of: row.w2.bigEndian, toByteOffset: 19, as: UInt64.self)
                    p.storeBytes(of: row.w3.bigEndian, toByteOffset: 27, as: UInt64.self)
                }
                count = (end - start) * entryBytes
            }
            try db.run("INSERT INTO preference_blocks (compacted, entries, languages, data) VALUES (?, ?, ?, ?)",
                       [.int(compacted ? 1 : 0), .int(Int64(end - start)), .text(names), .blob(data)])
            start = end
        }
    }

    /// After an import (in its transaction): the first import becomes the base; later ones are
    /// folded into it once they outnumber it. An import that withdrew statements is folded in at
    /// once, so that the statements withdrawn leave the store with it.
    static func compactIfDue(_ db: any SQLDatabase, withdrawals: Bool) throws {
        if withdrawals { return try compact(db) }
        let sums = try db.query("""
            SELECT coalesce(sum(CASE WHEN compacted = 1 THEN entries ELSE 0 END), 0), coalesce(sum(CASE WHEN compacted = 0 THEN entries ELSE 0 END), 0)
            FROM preference_blocks
            """, []) { ($0.int(0), $0.int(1)) }
        guard let (base, appended) = sums.first, appended > 0 else { return }
        if base == 0 {
            try db.run("UPDATE preference_blocks SET compacted = 1", [])
        } else if appended > base {
            try compact(db)
        }
    }

    /// Rewrites every block as compacted blocks holding each key once, with its last statement
    /// (none for a key whose last statement was a withdrawal).
    /// Keys are split into ranges by their first bits (uniform: HMAC outputs), one range sorted at
    /// a time, so memory stays near `compactionPass` statements however large the store.
    static func compact(_ db: any SQLDatabase, passSize: Int = compactionPass) throws {
        guard let last = try db.scalarInt("SELECT max(id) FROM preference_blocks") else { return }
        let total = try entries(db)
        var passes = 1
        while total / passes > passSize && passes < 256 { passes *= 2 }
        let shift = UInt64(64 - passes.trailingZeroBitCount)
        var languages = LanguageNames()
        for pass in 0..<passes {
            var rows: [PreferenceRow] = []
            rows.reserveCapacity(min(total, total / passes + total / (passes * 8) + 1024))
            var order: UInt32 = 0
            try forEach(db, through: Int64(last)) { block in
                let indexes = block.languages.map { languages.index($0) }
                block.forEachEntry { carrier, language, subscriber in
                    order &+= 1
                    guard language < indexes.count, passes == 1 || Int(subscriber.w0 >> shift) == pass else { return }
                    rows.append(PreferenceRow(subscriber, order: order, carrier: carrier, language: indexes[language]))
                }
            }
            var kept = PreferenceChunk.sortedLastOfEachKey(rows)
            if let withdrawn = languages.existing(withdrawal) { kept.removeAll { $0.language == withdrawn } }
            try append(kept[...], languages: languages.names, compacted: true, to: db)
        }
        try db.run("DELETE FROM preference_blocks WHERE id <= ?", [.int(Int64(last))])
    }

    /// Migration 18: the former table of one row per subscriber, as compacted blocks. Its key
    /// order, each key once (its primary key), is already a block's order. Blocks are written as
    /// the rows stream past (SQLite lets a connection write while it steps through another table).
    static func fromTable(_ db: any SQLDatabase) throws {
        var rows: [PreferenceRow] = []
        var languages = LanguageNames()
        _ = try db.query("SELECT carrier, subscriber, language FROM preferences ORDER BY carrier, subscriber", []) { row -> Void in
            let carrier = row.int(0)
            guard carrier >= 0, carrier < Store.carriers.count, let subscriber = row.pseudonym(1) else { return }
            rows.append(PreferenceRow(subscriber, order: 0, carrier: UInt8(carrier), language: languages.index(row.text(2))))
            if rows.count == maxEntries {
                try append(rows[...], languages: languages.names, compacted: true, to: db)
                rows.removeAll(keepingCapacity: true)
            }
        }
        try append(rows[...], languages: languages.names, compacted: true, to: db)
        try db.execute("DROP TABLE preferences")
    }

    /// Language names by index, each once (what a block's `languages` lists).
    struct LanguageNames {
        private(set) var names: [String] = []
        private var indexes: [String: UInt32] = [:]

        /// `name`'s index, added when new.
        mutating func index(_ name: String) -> UInt32 {
            if let i = indexes[name] { return i }
            names.append(name)
            indexes[name] = UInt32(names.count - 1)
            return UInt32(names.count - 1)
        }

        func existing(_ name: String) -> UInt32? { indexes[name] }
    }
}
