import LoaCore

/// Presence rows in PostgreSQL's binary COPY format: written by the import (no text parsing on
/// the server), read back by audience selection. Columns: carrier int4, subscriber bytea (32),
/// cell int4, seen_at int8 (and import_id int8 on the way in).
enum PresenceCopy {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    static let insertSQL = "COPY presence (carrier, subscriber, cell, seen_at, import_id) FROM STDIN (FORMAT binary)"

    /// The stream's header: signature, flags, header extension length.
    static func header() -> [UInt8] { signature + [0, 0, 0, 0] + [0, 0, 0, 0] }
    static let trailer: [UInt8] = [0xFF, 0xFF]

    /// Appends `count` rows of a parsed batch to `out`.
    static func encode(carrier: Int32, keys: UnsafeRawBufferPointer, cells: [Int32], seen: [Int64], importID: Int64, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + cells.count * 78)
        for i in 0..<cells.count {
            append(Int16(5), &out)
            append(Int32(4), &out); append(carrier, &out)
            append(Int32(32), &out); out.append(contentsOf: UnsafeRawBufferPointer(rebasing: keys[(i * 32)..<(i * 32 + 32)]))
            append(Int32(4), &out); append(cells[i], &out)
            append(Int32(8), &out); append(seen[i], &out)
            append(Int32(8), &out); append(importID, &out)
        }
    }

    @inline(__always)
    static func append<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Reads `COPY (SELECT carrier, subscriber, cell, seen_at …) TO STDOUT (FORMAT binary)`.
    static func read(from pg: PostgresDatabase, sql: String, _ row: (UInt8, Pseudonym, Int32, Int64) -> Void) throws {
        var pending: [UInt8] = []
        var sawHeader = false
        var finished = false
        func parse(_ b: UnsafeRawBufferPointer) throws -> Int {
            var at = 0
            if !sawHeader {
                guard b.count >= 19 else { return 0 }
                guard Array(b[0..<11]) == signature else { throw StoreError.database("COPY presence: not PostgreSQL binary COPY data") }
                let extensionLength = Int(be32(b, 15))
                guard b.count >= 19 + extensionLength else { return 0 }
                at = 19 + extensionLength
                sawHeader = true
            }
            while at + 2 <= b.count {
                let fields = Int16(bitPattern: UInt16(b[at]) << 8 | UInt16(b[at + 1]))
                if fields == -1 { finished = true; return b.count }
                guard fields == 4 else { throw StoreError.database("COPY presence: expected 4 columns, found \(fields)") }
                // 2 + (4+4) + (4+32) + (4+4) + (4+8) bytes
                guard at + 66 <= b.count else { return at }
                guard be32(b, at + 2) == 4, be32(b, at + 10) == 32, be32(b, at + 46) == 4, be32(b, at + 54) == 8 else {
                    throw StoreError.database("COPY presence: unexpected column sizes (is the schema current?)")
                }
                let carrier = UInt8(truncatingIfNeeded: be32(b, at + 6))
                let subscriber = Pseudonym(bytes: UnsafeRawBufferPointer(rebasing: b[(at + 14)..<(at + 46)]))
                let cell = Int32(bitPattern: be32(b, at + 50))
                let seenAt = Int64(bitPattern: UInt64(be32(b, at + 58)) << 32 | UInt64(be32(b, at + 62)))
                row(carrier, subscriber, cell, seenAt)
                at += 66
            }
            return at
        }

        try pg.copyOut(sql) { chunk in
            // Rows normally arrive one per chunk; a partial one waits for the next chunk.
            if pending.isEmpty {
                let used = try parse(chunk)
                if used < chunk.count { pending = Array(chunk[used...]) }
            } else {
                pending.append(contentsOf: chunk)
                let used = try pending.withUnsafeBytes { try parse($0) }
                pending.removeFirst(used)
            }
        }
        if !pending.isEmpty && !finished { throw StoreError.database("COPY presence: \(pending.count) bytes of an incomplete row at the end") }
    }

    @inline(__always)
    static func be32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
}
