import Foundation
import LoaCore

extension Store {
    /// Starts an import record, or reports that this exact file was imported already.
    /// - Parameter hash: the file's SHA-256, or nil when the caller hashes while streaming.
    func beginImport(kind: String, carrier: Carrier?, path: String, force: Bool, hash: String? = nil) throws -> (id: Int64?, report: ImportReport) {
        var report = ImportReport(kind: kind, file: path)
        let hash = try hash ?? fileSHA256(path)
        if !force, let previous = try previousImport(kind: kind, carrier: carrier, hash: hash) {
            report.alreadyImported = true
            report.notes.append("this file was imported before (import #\(previous), same SHA-256); nothing done (use --force to import it again)")
            return (nil, report)
        }
        let id = try db.insertReturningID("INSERT INTO imports (kind, carrier, file, sha256, started_at) VALUES (?, ?, ?, ?, ?)",
                                          [.text(kind), carrier.map { .text($0.rawValue) } ?? .null, .text(path), .text(hash), .int(Self.nowSeconds())])
        return (id, report)
    }

    func previousImport(kind: String, carrier: Carrier?, hash: String) throws -> Int64? {
        try db.scalarInt("SELECT id FROM imports WHERE sha256 = ? AND kind = ? AND completed = 1 AND coalesce(carrier, '') = ?",
                         [.text(hash), .text(kind), .text(carrier?.rawValue ?? "")])
    }

    func finishImport(_ id: Int64, _ report: ImportReport, extra: String = "", _ bindings: [SQLValue] = []) throws {
        try db.run("UPDATE imports SET completed = 1, rows_ok = ?, rows_bad = ?\(extra) WHERE id = ?",
                   [.int(Int64(report.rowsOK)), .int(Int64(report.rowsBad))] + bindings + [.int(id)])
    }

    /// A CSV import whose rows go through `writer`, in one transaction with its import record (an
    /// error leaves nothing behind): `row` turns line `n` into one row's values, or nil for a line
    /// that is skipped (a header, a blank) or bad (noted in `report` with the reason).
    func importRows(kind: String, carrier: Carrier?, path: String, force: Bool, into writer: BulkWriter,
                    progress: ((ImportProgress) -> Void)?, before: () throws -> Void = {},
                    _ row: (Int, UnsafeBufferPointer<UInt8>, inout ImportReport) throws -> [SQLValue]?) throws -> ImportReport {
        let t0 = monotonicSeconds()
        return try db.transaction {
            var (id, report) = try beginImport(kind: kind, carrier: carrier, path: path, force: force)
            guard let id else { return report }
            try before()
            let ticker = ImportTicker(path: path, started: t0, progress: progress)
            _ = try LineReader(path: path).forEachLine(progress: ticker.read) { n, bytes in
                guard let values = try row(n, bytes, &report) else { return }
                try writer.add(values)
                report.rowsOK += 1
                ticker.row(report.rowsOK)
            }
            try writer.flush()
            try finishImport(id, report)
            report.seconds = monotonicSeconds() - t0
            return report
        }
    }

    // MARK: Cells: cgi,lat,lon,commune_code

    public func importCells(path: String, units: AdministrativeUnits, force: Bool = false,
                            progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let upsert = BulkWriter(db, "INSERT INTO cells (cgi, lat, lon, commune)", columns: 4,
                                tail: "ON CONFLICT(cgi) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, commune = excluded.commune") { [$0[0]] }
        return try importRows(kind: "cells", carrier: nil, path: path, force: force, into: upsert, progress: progress) { n, bytes, report in
            let line = String(decoding: bytes, as: UTF8.self)
            if line.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
            if n == 1 && line.lowercased().hasPrefix("cgi") { return nil }
            let f: [String]
            do { f = try CSVLine.split(Substring(line)).map { $0.trimmingCharacters(in: .whitespaces) } }
            catch { report.bad(n, "\(error)"); return nil }
            guard f.count == 4 else { report.bad(n, "expected 4 fields cgi,lat,lon,commune_code, found \(f.count)"); return nil }
            guard let cgi = CellGlobalIdentity(f[0]) else { report.bad(n, "cgi: '\(f[0])' is not MCC-MNC-LAC-CI (e.g. 452-04-12345-678)"); return nil }
            guard let lat = Double(f[1]), (-90...90).contains(lat) else { report.bad(n, "lat: expected degrees -90..90, found '\(f[1])'"); return nil }
            guard let lon = Double(f[2]), (-180...180).contains(lon) else { report.bad(n, "lon: expected degrees -180..180, found '\(f[2])'"); return nil }
            guard let commune = Int(f[3]) else { report.bad(n, "commune_code: expected a number, found '\(f[3])'"); return nil }
            if case .failure(let e) = units.commune(commune) { report.bad(n, "commune_code: \(e.description)"); return nil }
            return [.text(cgi.description), .double(lat), .double(lon), .int(Int64(commune))]
        }
    }

    // MARK: Presence: subscriber,cgi,seen_at

    /// A parsed block of presence rows on its way to SQLite.
    final class PresenceBatch {
        var keys: [UInt8] = []
        var cells: [Int32] = []
        var seen: [Int64] = []
        var count: Int { cells.count }
        init(capacity: Int) {
            keys.reserveCapacity(capacity * 32)
            cells.reserveCapacity(capacity)
            seen.reserveCapacity(capacity)
        }
    }

    /// Streams a carrier's presence snapshot into the store. MSISDNs are pseudonymized with the
    /// carrier's key as they are read; `h:<hex>` pseudonyms are taken as they are. The carrier
    /// that supplied the file is the subscriber's carrier (this handles ported numbers).
    public func importPresence(path: String, carrier: Carrier, key: KeyedPseudonymizer?, force: Bool = false,
                               progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let t0 = monotonicSeconds()
        let fileHash = SHA256Stream()
        let cellIDs = try cellIDsByPackedCGI()
        if cellIDs.isEmpty { throw StoreError.input("no cells in the store: import the carrier's cell list first (loa import cells FILE)") }
        let totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let carrierIndex = Int64(Self.carrierIndex[carrier]!)
        let queue = BatchQueue<PresenceBatch>(capacity: 6)
        let batchSize = 8192

        // Parsing thread: lines → validated rows → batches.
        final class ParseState: @unchecked Sendable {
            var report: ImportReport
            var error: (any Error)?
            var bytesRead = 0
            var sawClearNumbers = false
            init(_ r: ImportReport) { report = r }
        }
        let state = ParseState(ImportReport(kind: "presence", file: path))
        let parser = Thread {
            var batch = PresenceBatch(capacity: batchSize)
            var fields: [Range<Int>] = []
            fields.reserveCapacity(4)
            var e164 = [UInt8](repeating: 0, count: 12)
            e164[0] = 0x2B; e164[1] = 0x38; e164[2] = 0x34
            do {
                _ = try LineReader(path: path).forEachLine(progress: { state.bytesRead = $0 }, chunk: { fileHash.update($0) }) { n, line in
                    if line.isEmpty { return }
                    splitFields(line, into: &fields, max: 3)
                    if n == 1, fields.count >= 1, line.count >= 10, line[0] == 0x73 || line[0] == 0x53 {
                        return   // header: subscriber,cgi,seen_at
                    }
                    guard fields.count == 3 else {
                        state.report.bad(n, "expected 3 fields subscriber,cgi,seen_at, found \(fields.count > 3 ? "more" : String(fields.count))")
                        return
                    }
                    let subscriberField = UnsafeBufferPointer(rebasing: line[fields[0]])
                    let pseudonym: Pseudonym
                    if subscriberField.count == 66 && subscriberField[1] == 0x3A {
                        guard let p = Pseudonym(hexBytes: subscriberField) else { state.report.bad(n, "subscriber: malformed pseudonym (expected h: and 64 hex digits)"); return }
                        pseudonym = p
                    } else {
                        switch VietnamNumberingPlan.parse(utf8: subscriberField) {
                        case .failure(let r):
                            state.report.bad(n, "subscriber: \(r.description)")
                            return
                        case .success(let parsed):
                            guard let key else {
                                state.report.bad(n, "subscriber: a clear number, but no pseudonym key is configured for \(carrier.rawValue)")
                                return
                            }
                            state.sawClearNumbers = true
                            var k = 3
                            for u in parsed.msisdn.nationalSignificantNumber.utf8 { e164[k] = u; k += 1 }
                            pseudonym = e164.withUnsafeBytes { key.pseudonym(e164: UnsafeRawBufferPointer(rebasing: $0[0..<k])) }
                        }
                    }
                    guard let packed = CellGlobalIdentity.packed(utf8: UnsafeBufferPointer(rebasing: line[fields[1]])) else {
                        state.report.bad(n, "cgi: '\(String(decoding: UnsafeBufferPointer(rebasing: line[fields[1]]), as: UTF8.self))' is not MCC-MNC-LAC-CI")
                        return
                    }
                    guard let cell = cellIDs[packed] else {
                        state.report.bad(n, "cgi: \(String(decoding: UnsafeBufferPointer(rebasing: line[fields[1]]), as: UTF8.self)) is not in the cell list (import it with loa import cells)")
                        return
                    }
                    guard let seen = Timestamp.parse(UnsafeBufferPointer(rebasing: line[fields[2]])) else {
                        state.report.bad(n, "seen_at: expected ISO 8601 with an offset (2026-11-24T08:15:00+07:00), found '\(String(decoding: UnsafeBufferPointer(rebasing: line[fields[2]]), as: UTF8.self))'")
                        return
                    }
                    withUnsafeBytes(of: pseudonym.w0.bigEndian) { batch.keys.append(contentsOf: $0) }
                    withUnsafeBytes(of: pseudonym.w1.bigEndian) { batch.keys.append(contentsOf: $0) }
                    withUnsafeBytes(of: pseudonym.w2.bigEndian) { batch.keys.append(contentsOf: $0) }
                    withUnsafeBytes(of: pseudonym.w3.bigEndian) { batch.keys.append(contentsOf: $0) }
                    batch.cells.append(cell)
                    batch.seen.append(seen.seconds)
                    if batch.count == batchSize {
                        queue.put(batch)
                        batch = PresenceBatch(capacity: batchSize)
                    }
                }
                if batch.count > 0 { queue.put(batch) }
            } catch {
                state.error = error
            }
            queue.close()
        }
        parser.stackSize = 1 << 22
        parser.start()

        // Writing thread (this one): everything in one transaction, the import record included, so
        // that a crash or an error leaves nothing behind. The file is hashed as it streams; a
        // repeat of an earlier file is rolled back at the end.
        struct Repeat: Error { var previous: Int64 }
        var written = PresenceWritten()
        var report: ImportReport
        do {
            report = try db.transaction {
                let (optionalID, _) = try beginImport(kind: "presence", carrier: carrier, path: path, force: true, hash: "pending")
                let importID = optionalID!
                let onBatch: (PresenceBatch) -> Void = { batch in
                    for t in batch.seen { if t < written.minSeen { written.minSeen = t }; if t > written.maxSeen { written.maxSeen = t } }
                    written.rows += batch.count
                    if let progress, written.rows - written.lastProgress >= 500_000 {
                        written.lastProgress = written.rows
                        progress(ImportProgress(rows: written.rows, bytesRead: state.bytesRead, totalBytes: totalBytes, seconds: monotonicSeconds() - t0))
                    }
                }
                switch engine {
                case .sqlite(let file):
                    let rowIDs = try insertPresence(file, queue: queue, carrier: carrierIndex, importID: importID, onBatch: onBatch)
                    (written.firstRowID, written.lastRowID) = (rowIDs.first, rowIDs.last)
                case .postgres(let pg): try copyPresence(pg, queue: queue, carrier: Int32(carrierIndex), importID: importID, onBatch: onBatch)
                }
                while !parser.isFinished { usleep(1000) }
                if let error = state.error { throw error }
                let hash = fileHash.hex()
                if !force, let previous = try previousImport(kind: "presence", carrier: carrier, hash: hash) { throw Repeat(previous: previous) }
                try db.run("UPDATE imports SET sha256 = ? WHERE id = ?", [.text(hash), .int(importID)])
                var report = state.report
                report.rowsOK = written.rows
                try finishImport(importID, report, extra: ", first_rowid = ?, last_rowid = ?, min_seen = ?, max_seen = ?",
                                 written.rows > 0 ? [written.firstRowID.map { .int($0) } ?? .null, written.lastRowID.map { .int($0) } ?? .null,
                                                     .int(written.minSeen), .int(written.maxSeen)] : [.null, .null, .null, .null])
                return report
            }
        } catch let repeated as Repeat {
            while !parser.isFinished { usleep(1000) }
            var skipped = ImportReport(kind: "presence", file: path)
            skipped.alreadyImported = true
            skipped.notes.append("this file was imported before (import #\(repeated.previous), same SHA-256); nothing kept (use --force to import it again)")
            return skipped
        } catch {
            queue.close()
            while !parser.isFinished { usleep(1000) }
            throw error
        }
        if case .sqlite(let file) = engine {
            // Move the new pages from the WAL into the database file: later scans read them directly.
            try file.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        if state.sawClearNumbers { report.notes.append("clear numbers were pseudonymized with \(carrier.rawValue)'s key; none were stored") }
        report.seconds = monotonicSeconds() - t0
        progress?(ImportProgress(rows: written.rows, bytesRead: totalBytes, totalBytes: totalBytes, seconds: report.seconds))
        return report
    }

    struct PresenceWritten {
        var rows = 0
        var lastProgress = 0
        var firstRowID: Int64? = nil
        var lastRowID: Int64? = nil
        var minSeen = Int64.max
        var maxSeen = Int64.min
    }

    /// SQLite: multi-row INSERTs of bound blobs; the rows of one import are contiguous in rowid.
    func insertPresence(_ file: SQLiteDatabase, queue: BatchQueue<PresenceBatch>, carrier: Int64, importID: Int64,
                        onBatch: (PresenceBatch) -> Void) throws -> (first: Int64?, last: Int64?) {
        var firstRowID: Int64? = nil, lastRowID: Int64? = nil
        let rowsPerStatement = 128
        let placeholders = Array(repeating: "(?,?,?,?,\(importID))", count: rowsPerStatement).joined(separator: ",")
        let multi = try file.prepare("INSERT INTO presence (carrier, subscriber, cell, seen_at, import_id) VALUES " + placeholders)
        let single = try file.prepare("INSERT INTO presence (carrier, subscriber, cell, seen_at, import_id) VALUES (?,?,?,?,\(importID))")
        while let batch = queue.take() {
            try batch.keys.withUnsafeBytes { keys in
                var i = 0
                while i + rowsPerStatement <= batch.count {
                    multi.reset()
                    for r in 0..<rowsPerStatement {
                        let base = Int32(r * 4)
                        multi.bindInt(carrier, at: base + 1)
                        multi.bindBlob(keys.baseAddress! + (i + r) * 32, count: 32, at: base + 2)
                        multi.bindInt(Int64(batch.cells[i + r]), at: base + 3)
                        multi.bindInt(batch.seen[i + r], at: base + 4)
                    }
                    try multi.step()
                    if firstRowID == nil { firstRowID = file.lastInsertRowID - Int64(rowsPerStatement) + 1 }
                    i += rowsPerStatement
                }
                while i < batch.count {
                    single.reset()
                    single.bindInt(carrier, at: 1)
                    single.bindBlob(keys.baseAddress! + i * 32, count: 32, at: 2)
                    single.bindInt(Int64(batch.cells[i]), at: 3)
                    single.bindInt(batch.seen[i], at: 4)
                    try single.step()
                    if firstRowID == nil { firstRowID = file.lastInsertRowID }
                    i += 1
                }
            }
            lastRowID = file.lastInsertRowID
            onBatch(batch)
        }
        return (firstRowID, lastRowID)
    }

    /// PostgreSQL: one binary COPY stream per import.
    func copyPresence(_ pg: PostgresDatabase, queue: BatchQueue<PresenceBatch>, carrier: Int32, importID: Int64,
                      onBatch: (PresenceBatch) -> Void) throws {
        try pg.copyIn(PresenceCopy.insertSQL) { send in
            try PresenceCopy.header().withUnsafeBytes { try send($0) }
            var buffer: [UInt8] = []
            while let batch = queue.take() {
                buffer.removeAll(keepingCapacity: true)
                batch.keys.withUnsafeBytes { keys in
                    PresenceCopy.encode(carrier: carrier, keys: keys, cells: batch.cells, seen: batch.seen, importID: importID, into: &buffer)
                }
                try buffer.withUnsafeBytes { try send($0) }
                onBatch(batch)
            }
            try PresenceCopy.trailer.withUnsafeBytes { try send($0) }
        }
    }

    // MARK: Preferences: subscriber,language

    public func importPreferences(path: String, carrier: Carrier, key: KeyedPseudonymizer?, knownLanguage: (String) -> Bool,
                                  force: Bool = false, progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let upsert = BulkWriter(db, "INSERT INTO preferences (carrier, subscriber, language)", columns: 3,
                                tail: "ON CONFLICT (carrier, subscriber) DO UPDATE SET language = excluded.language") { [$0[0], $0[1]] }
        let carrierIndex = Int64(Self.carrierIndex[carrier]!)
        return try importRows(kind: "preferences", carrier: carrier, path: path, force: force, into: upsert, progress: progress) { n, bytes, report in
            let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if line.isEmpty || (n == 1 && line.lowercased().hasPrefix("subscriber")) { return nil }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 2 else { report.bad(n, "expected 2 fields subscriber,language, found \(f.count)"); return nil }
            let pseudonym: Pseudonym
            if let p = Pseudonym(f[0]) { pseudonym = p }
            else {
                switch VietnamNumberingPlan.parse(f[0]) {
                case .failure(let r): report.bad(n, "subscriber: \(r.description)"); return nil
                case .success(let parsed):
                    guard let key else { report.bad(n, "subscriber: a clear number, but no pseudonym key is configured for \(carrier.rawValue)"); return nil }
                    pseudonym = key.pseudonym(for: parsed.msisdn)
                }
            }
            let language = f[1]
            guard knownLanguage(language) else { report.bad(n, "language: unknown tag '\(language)'"); return nil }
            return [.int(carrierIndex), .blob(pseudonym.bytes), .text(language)]
        }
    }

    // MARK: Do-not-call: msisdn

    public func importDoNotCall(path: String, force: Bool = false, progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let insert = BulkWriter(db, "INSERT INTO do_not_call (msisdn)", columns: 1, tail: "ON CONFLICT DO NOTHING", rowsPerStatement: 1024) { $0 }
        return try importRows(kind: "do-not-call", carrier: nil, path: path, force: force, into: insert, progress: progress) { n, bytes, report in
            let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if line.isEmpty || (n == 1 && line.lowercased().hasPrefix("msisdn")) { return nil }
            let field = String(line.split(separator: ",", omittingEmptySubsequences: false)[0])
            switch VietnamNumberingPlan.parse(field) {
            case .failure(let r): report.bad(n, "msisdn: \(r.description)"); return nil
            case .success(let parsed): return [.text(parsed.msisdn.national)]
            }
        }
    }

    // MARK: Contact lists: msisdn,name,language,commune_code

    public func importContacts(path: String, list: String, units: AdministrativeUnits, routing: CarrierRouting,
                               knownLanguage: (String) -> Bool, replace: Bool = true, force: Bool = false,
                               progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let insert = BulkWriter(db, "INSERT INTO contacts (list, msisdn, carrier, name, language, commune)", columns: 6,
                                tail: "ON CONFLICT(list, msisdn) DO UPDATE SET name = excluded.name, language = excluded.language, commune = excluded.commune, carrier = excluded.carrier") { [$0[0], $0[1]] }
        return try importRows(kind: "contacts:\(list)", carrier: nil, path: path, force: force, into: insert, progress: progress,
                              before: { if replace { try self.db.run("DELETE FROM contacts WHERE list = ?", [.text(list)]) } }) { n, bytes, report in
            let line = NFC.normalize(String(decoding: bytes, as: UTF8.self))
            if line.trimmingCharacters(in: .whitespaces).isEmpty || (n == 1 && line.lowercased().hasPrefix("msisdn")) { return nil }
            let f: [String]
            do { f = try CSVLine.split(Substring(line)).map { $0.trimmingCharacters(in: .whitespaces) } }
            catch { report.bad(n, "\(error)"); return nil }
            guard f.count == 4 else { report.bad(n, "expected 4 fields msisdn,name,language,commune_code, found \(f.count)"); return nil }
            guard case .success(let parsed) = VietnamNumberingPlan.parse(f[0]) else {
                if case .failure(let r) = VietnamNumberingPlan.parse(f[0]) { report.bad(n, "msisdn: \(r.description)") }
                return nil
            }
            guard !f[1].isEmpty else { report.bad(n, "name: must not be empty"); return nil }
            if !f[2].isEmpty && !knownLanguage(f[2]) { report.bad(n, "language: unknown tag '\(f[2])'"); return nil }
            var commune: Int? = nil
            if !f[3].isEmpty {
                guard let c = Int(f[3]) else { report.bad(n, "commune_code: expected a number, found '\(f[3])'"); return nil }
                if case .failure(let e) = units.commune(c) { report.bad(n, "commune_code: \(e.description)"); return nil }
                commune = c
            }
            return [.text(list), .text(parsed.msisdn.national), .text(routing.carrier(for: parsed).rawValue), .text(f[1]),
                    f[2].isEmpty ? .null : .text(f[2]), commune.map { .int(Int64($0)) } ?? .null]
        }
    }
}
