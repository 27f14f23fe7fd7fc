import Foundation
import LoaCore
import LoaCrypto

extension Store {
    /// A file's SHA-256 (lowercase hex), read as a stream.
    public func fileSHA256(_ path: String) throws -> String { try LoaStore.fileSHA256(path) }

    /// A receipt file imported completely before for this carrier (same SHA-256): its import number.
    public func receiptFileImported(carrier: Carrier, sha256: String) throws -> Int64? {
        try previousImport(kind: "receipts", carrier: carrier, hash: sha256)
    }

    /// Records a receipt file read to its end (what `receiptFileImported` finds).
    public func recordReceiptFile(carrier: Carrier, path: String, sha256: String, lines: Int, quarantined: Int) throws {
        try db.run("INSERT INTO imports (kind, carrier, file, sha256, started_at, completed, rows_ok, rows_bad) VALUES ('receipts', ?, ?, ?, ?, 1, ?, ?)",
                   [.text(carrier.rawValue), .text(path), .text(sha256), .int(Self.nowSeconds()), .int(Int64(lines - quarantined)), .int(Int64(quarantined))])
    }

    /// Starts an import record, or reports that this exact file was imported already.
    /// - Parameter hash: the file's SHA-256, or nil when the caller hashes while streaming.
    /// - Parameter onlyLatestCounts: a file is a repeat only of the latest import of its kind (a
    ///   contact list: importing an earlier file again restores the list it held).
    func beginImport(kind: String, carrier: Carrier?, path: String, force: Bool, hash: String? = nil, onlyLatestCounts: Bool = false) throws -> (id: Int64?, report: ImportReport) {
        var report = ImportReport(kind: kind, file: path)
        let hash = try hash ?? fileSHA256(path)
        report.sha256 = hash
        if !force, let previous = try previousImport(kind: kind, carrier: carrier, hash: hash, onlyLatest: onlyLatestCounts) {
            report.alreadyImported = true
            report.notes.append("this file was imported before (import #\(previous), same SHA-256); nothing done (use --force to import it again)")
            return (nil, report)
        }
        let id = try db.insertReturningID("INSERT INTO imports (kind, carrier, file, sha256, started_at) VALUES (?, ?, ?, ?, ?)",
                                          [.text(kind), carrier.map { .text($0.rawValue) } ?? .null, .text(path), .text(hash), .int(Self.nowSeconds())])
        return (id, report)
    }

    func previousImport(kind: String, carrier: Carrier?, hash: String, onlyLatest: Bool = false) throws -> Int64? {
        if onlyLatest {
            let latest = try db.query("SELECT id, sha256 FROM imports WHERE kind = ? AND completed = 1 AND coalesce(carrier, '') = ? ORDER BY id DESC LIMIT 1",
                                      [.text(kind), .text(carrier?.rawValue ?? "")]) { ($0.int64(0), $0.text(1)) }.first
            return latest.flatMap { $0.1 == hash ? $0.0 : nil }
        }
        return try db.scalarInt("SELECT id FROM imports WHERE sha256 = ? AND kind = ? AND completed = 1 AND coalesce(carrier, '') = ?",
                                [.text(hash), .text(kind), .text(carrier?.rawValue ?? "")])
    }

    func finishImport(_ id: Int64, _ report: ImportReport, extra: String = "", _ bindings: [SQLValue] = []) throws {
        try db.run("UPDATE imports SET completed = 1, rows_ok = ?, rows_bad = ?\(extra) WHERE id = ?",
                   [.int(Int64(report.rowsOK)), .int(Int64(report.rowsBad))] + bindings + [.int(id)])
    }

    /// A CSV import whose rows go through `writer`, in one transaction with its import record (an
    /// error leaves nothing behind): `row` turns line `n` into one row's values, or nil for a line
    /// that is skipped (a header, a blank) or bad (noted in `report` with the reason).
    func importRows(kind: String, carrier: Carrier?, path: String, force: Bool, onlyLatestCounts: Bool = false, into writer: BulkWriter,
                    progress: ((ImportProgress) -> Void)?, before: () throws -> Void = {}, after: (ImportReport) throws -> Void = { _ in },
                    _ row: (Int, UnsafeBufferPointer<UInt8>, inout ImportReport) throws -> [SQLValue]?) throws -> ImportReport {
        let t0 = monotonicSeconds()
        return try db.transaction {
            var (id, report) = try beginImport(kind: kind, carrier: carrier, path: path, force: force, onlyLatestCounts: onlyLatestCounts)
            guard let id else { return report }
            try before()
            let ticker = ImportTicker(path: path, started: t0, progress: progress)
            _ = try LineReader(path: path).forEachLine(progress: ticker.read, overlong: { report.bad($0, Self.overlongLine) }) { n, bytes in
                guard let values = try row(n, bytes, &report) else { return }
                try writer.add(values)
                report.rowsOK += 1
                ticker.row(report.rowsOK)
            }
            try writer.flush()
            try after(report)
            try finishImport(id, report)
            report.seconds = monotonicSeconds() - t0
            return report
        }
    }

    static let overlongLine = "longer than \(LineReader.maxLineLength / 1024) KiB: not a line of this file's kind (skipped)"

    /// One line of a CSV file as fields, read by the one set of rules every import uses: UTF-8
    /// (a line that is not is bad), NFC, RFC 4180 quoting, no control characters. nil for a blank
    /// line, the header (line 1 starting with `header`), or a bad line (noted in `report`).
    func csvFields(_ n: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ report: inout ImportReport, header: String) throws -> [String]? {
        guard let text = String(validating: bytes, as: UTF8.self) else { report.bad(n, "not UTF-8 text (save the file as UTF-8)"); return nil }
        let line = NFC.normalize(text)
        if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { return nil }
        let fields: [String]
        do { fields = try CSVLine.split(Substring(line)) } catch { report.bad(n, "\(error)"); return nil }
        if n == 1 && fields[0].lowercased() == header { return nil }
        if let bad = fields.first(where: { $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }) {
            report.bad(n, "a control character in '\(Escaped(bad))'")
            return nil
        }
        return fields
    }

    // MARK: Cells: cgi,lat,lon,commune_code

    public func importCells(path: String, units: AdministrativeUnits, force: Bool = false,
                            progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let upsert = BulkWriter(db, "INSERT INTO cells (cgi, lat, lon, commune)", columns: 4,
                                tail: "ON CONFLICT(cgi) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, commune = excluded.commune") { [$0[0]] }
        return try importRows(kind: "cells", carrier: nil, path: path, force: force, into: upsert, progress: progress) { n, bytes, report in
            guard let f = try csvFields(n, bytes, &report, header: "cgi") else { return nil }
            guard f.count == 4 else { report.bad(n, "expected 4 fields cgi,lat,lon,commune_code, found \(f.count)"); return nil }
            guard let cgi = CellGlobalIdentity(f[0]) else { report.bad(n, "cgi: '\(Escaped(f[0]))' is not MCC-MNC-LAC-CI (e.g. 452-04-12345-678)"); return nil }
            guard let lat = Double(f[1]), (-90...90).contains(lat) else { report.bad(n, "lat: expected degrees -90..90, found '\(Escaped(f[1]))'"); return nil }
            guard let lon = Double(f[2]), (-180...180).contains(lon) else { report.bad(n, "lon: expected degrees -180..180, found '\(Escaped(f[2]))'"); return nil }
            guard let commune = Int(f[3]) else { report.bad(n, "commune_code: expected a commune code of up to 5 digits (e.g. 06073), found '\(Escaped(f[3]))'"); return nil }
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
    /// - Parameter notAfter: rows seen after this are refused (a carrier's clock or a date in the
    ///   file is wrong; such rows would never be purged by age). Default: 5 minutes from now.
    /// - Parameter retainedAfter: the retention's cutoff: a file whose rows were all seen before it
    ///   is refused whole (it would be purged at once, leaving nothing).
    public func importPresence(path: String, carrier: Carrier, key: KeyedPseudonymizer?, notAfter: Timestamp? = nil, retainedAfter: Timestamp? = nil,
                               force: Bool = false, progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        let notAfter = notAfter ?? Timestamp(seconds: Self.nowSeconds() + 300)
        let t0 = monotonicSeconds()
        let cellIDs = try cellIDsByPackedCGI()
        if cellIDs.isEmpty { throw StoreError.input("no cells in the store: import the carrier's cell list first (loa import cells FILE)") }
        let totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let carrierIndex = Int64(Self.carrierIndex[carrier]!)
        let batchSize = 8192

        // Parsing thread: lines → validated rows → batches.
        let pipeline = ImportPipeline<PresenceBatch>(ImportReport(kind: "presence", file: path))
        pipeline.start { pipeline in
            var batch = PresenceBatch(capacity: batchSize)
            var csv: [CSVLine.Field] = []
            var fields: [Range<Int>] = []
            fields.reserveCapacity(4)
            csv.reserveCapacity(4)
            var sawClearNumbers = false
            _ = try LineReader(path: path).forEachLine(progress: { pipeline.bytesRead = $0 }, chunk: { pipeline.fileHash.update($0) },
                                                       overlong: { pipeline.report.bad($0, Self.overlongLine) }) { n, line in
                if line.isEmpty { return }
                do { try CSVLine.split(line, into: &csv) } catch { pipeline.report.bad(n, "\(error)"); return }
                fields.removeAll(keepingCapacity: true)
                for f in csv { fields.append(f.range) }
                if n == 1, fields.count >= 1, line.count >= 10, line[0] == 0x73 || line[0] == 0x53 {
                    return   // header: subscriber,cgi,seen_at
                }
                guard fields.count == 3 else {
                    pipeline.report.bad(n, "expected 3 fields subscriber,cgi,seen_at, found \(fields.count)")
                    return
                }
                let subscriberField = UnsafeBufferPointer(rebasing: line[fields[0]])
                let pseudonym: Pseudonym
                if subscriberField.count == 66 && subscriberField[1] == 0x3A {
                    guard let p = Pseudonym(hexBytes: subscriberField) else { pipeline.report.bad(n, "subscriber: malformed pseudonym (expected h: and 64 hex digits)"); return }
                    pseudonym = p
                } else {
                    func hashed(_ nsn: some Collection<UInt8>) throws -> Pseudonym {
                        guard let key else { throw Self.clearNumbersWithoutKey(path, line: n, carrier) }
                        sawClearNumbers = true
                        return key.pseudonym(nationalSignificantNumber: nsn)
                    }
                    if let (nsn, _) = VietnamNumberingPlan.canonical(utf8: subscriberField) {
                        pseudonym = try hashed(subscriberField[nsn])
                    } else {
                        switch VietnamNumberingPlan.parse(utf8: subscriberField) {
                        case .failure(let r):
                            pipeline.report.bad(n, "subscriber: \(r.description)")
                            return
                        case .success(let parsed): pseudonym = try hashed(parsed.msisdn.nationalSignificantNumber.utf8)
                        }
                    }
                }
                func quoted(_ i: Int) -> Escaped { Escaped(String(decoding: UnsafeBufferPointer(rebasing: line[fields[i]]), as: UTF8.self)) }
                guard let packed = CellGlobalIdentity.packed(utf8: UnsafeBufferPointer(rebasing: line[fields[1]])) else {
                    pipeline.report.bad(n, "cgi: '\(quoted(1))' is not MCC-MNC-LAC-CI")
                    return
                }
                guard let cell = cellIDs[packed] else {
                    pipeline.report.bad(n, "cgi: \(quoted(1)) is not in the cell list (import it with loa import cells)")
                    return
                }
                guard let seen = Timestamp.parse(UnsafeBufferPointer(rebasing: line[fields[2]])) else {
                    pipeline.report.bad(n, "seen_at: expected ISO 8601 with an offset (2026-11-24T08:15:00+07:00), found '\(quoted(2))'")
                    return
                }
                guard seen <= notAfter else {
                    pipeline.report.bad(n, "seen_at: \(seen.iso8601()) is after the import (\(notAfter.iso8601()) at the latest): a wrong clock or date in the file")
                    return
                }
                withUnsafeBytes(of: pseudonym.w0.bigEndian) { batch.keys.append(contentsOf: $0) }
                withUnsafeBytes(of: pseudonym.w1.bigEndian) { batch.keys.append(contentsOf: $0) }
                withUnsafeBytes(of: pseudonym.w2.bigEndian) { batch.keys.append(contentsOf: $0) }
                withUnsafeBytes(of: pseudonym.w3.bigEndian) { batch.keys.append(contentsOf: $0) }
                batch.cells.append(cell)
                batch.seen.append(seen.seconds)
                if batch.count == batchSize {
                    pipeline.queue.put(batch)
                    batch = PresenceBatch(capacity: batchSize)
                }
            }
            if batch.count > 0 { pipeline.queue.put(batch) }
            if sawClearNumbers { pipeline.notes.append("clear numbers were pseudonymized with \(carrier.rawValue)'s key; none were stored") }
        }

        // Writing thread (this one): everything in one transaction with the import record.
        var report = try pipelinedImport(kind: "presence", carrier: carrier, path: path, force: force, pipeline: pipeline) { importID in
            var written = PresenceWritten()
            let onBatch: (PresenceBatch) -> Void = { batch in
                for t in batch.seen { if t < written.minSeen { written.minSeen = t }; if t > written.maxSeen { written.maxSeen = t } }
                written.rows += batch.count
                if let progress, written.rows - written.lastProgress >= 500_000 {
                    written.lastProgress = written.rows
                    progress(ImportProgress(rows: written.rows, bytesRead: pipeline.bytesRead, totalBytes: totalBytes, seconds: monotonicSeconds() - t0))
                }
            }
            switch engine {
            case .sqlite(let file):
                let rowIDs = try insertPresence(file, queue: pipeline.queue, carrier: carrierIndex, importID: importID, onBatch: onBatch)
                (written.firstRowID, written.lastRowID) = (rowIDs.first, rowIDs.last)
            case .postgres(let pg): try copyPresence(pg, queue: pipeline.queue, carrier: Int32(carrierIndex), importID: importID, onBatch: onBatch)
            }
            try pipeline.finish()
            if let retainedAfter, written.rows > 0, written.maxSeen < retainedAfter.seconds {
                throw StoreError.input("\(path): all \(formatCount(written.rows)) rows were seen before \(retainedAfter.iso8601()) (the latest at "
                                       + "\(Timestamp(seconds: written.maxSeen).iso8601())), outside the retention: nothing was imported "
                                       + "(an older snapshot needs a longer --retention)")
            }
            return (written.rows, ", first_rowid = ?, last_rowid = ?, min_seen = ?, max_seen = ?",
                    written.rows > 0 ? [written.firstRowID.map { .int($0) } ?? .null, written.lastRowID.map { .int($0) } ?? .null,
                                        .int(written.minSeen), .int(written.maxSeen)] : [.null, .null, .null, .null])
        }
        if report.alreadyImported { return report }
        if case .sqlite(let file) = engine {
            // Move the new pages from the WAL into the database file: later scans read them directly.
            try file.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        report.seconds = monotonicSeconds() - t0
        progress?(ImportProgress(rows: report.rowsOK, bytesRead: totalBytes, totalBytes: totalBytes, seconds: report.seconds))
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
    func insertPresence(_ file: SQLiteDatabase, queue: HandOffQueue<PresenceBatch>, carrier: Int64, importID: Int64,
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
    func copyPresence(_ pg: PostgresDatabase, queue: HandOffQueue<PresenceBatch>, carrier: Int32, importID: Int64,
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

    /// A file of clear numbers cannot be imported without the carrier's key: every line would be
    /// lost. The whole import stops, leaving nothing behind.
    static func clearNumbersWithoutKey(_ path: String, line: Int, _ carrier: Carrier) -> StoreError {
        StoreError(.missingPseudonymKey, "\(path):\(line): subscriber: a clear number, but no pseudonym key is configured for \(carrier.rawValue): nothing was imported "
               + "(clear numbers are pseudonymized with the carrier's key on the way in; set the key, or import pseudonyms h:…)")
    }

    // MARK: Do-not-call: msisdn

    /// Adds numbers to the do-not-call list, each sealed under the contact key (never stored clear).
    public func importDoNotCall(path: String, vault: ContactVault, force: Bool = false, progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        try checkVault(vault)
        let insert = BulkWriter(db, "INSERT INTO opt_outs (subscriber, sealed, added_at)", columns: 3, tail: "ON CONFLICT DO NOTHING", rowsPerStatement: 512) { [$0[0]] }
        let now = Self.nowSeconds()
        return try importRows(kind: "do-not-call", carrier: nil, path: path, force: force, into: insert, progress: progress) { n, bytes, report in
            guard let fields = try csvFields(n, bytes, &report, header: "msisdn") else { return nil }
            switch VietnamNumberingPlan.parse(fields[0]) {
            case .failure(let r): report.bad(n, "msisdn: \(r.description)"); return nil
            case .success(let parsed): return [.blob(vault.pseudonym(for: parsed.msisdn).bytes), .blob(try vault.seal(parsed.msisdn)), .int(now)]
            }
        }
    }

    // MARK: Contact lists: msisdn,name,language,commune_code

    /// Imports a named contact list; numbers are sealed under the contact key. The list is replaced
    /// as a whole, but only by a file with at least one good row: an empty file or one with the
    /// wrong columns leaves the list as it was (unless `replaceEvenIfEmpty`).
    public func importContacts(path: String, list: String, units: AdministrativeUnits, routing: CarrierRouting,
                               vault: ContactVault, replaceEvenIfEmpty: Bool = false, force: Bool = false,
                               progress: ((ImportProgress) -> Void)? = nil) throws -> ImportReport {
        try checkVault(vault)
        let insert = BulkWriter(db, "INSERT INTO contact_entries (list, subscriber, sealed, carrier, name, language, commune)", columns: 7,
                                tail: "ON CONFLICT (list, subscriber) DO UPDATE SET sealed = excluded.sealed, name = excluded.name, language = excluded.language, commune = excluded.commune, carrier = excluded.carrier") { [$0[0], $0[1]] }
        struct NothingImported: Error { var report: ImportReport }
        do {
            return try importRows(kind: "contacts:\(list)", carrier: nil, path: path, force: force, onlyLatestCounts: true, into: insert, progress: progress,
                                  before: { try self.db.run("DELETE FROM contact_entries WHERE list = ?", [.text(list)]) },
                                  after: { report in if report.rowsOK == 0 && !replaceEvenIfEmpty { throw NothingImported(report: report) } }) { n, bytes, report in
                guard let f = try csvFields(n, bytes, &report, header: "msisdn") else { return nil }
                guard f.count == 4 else { report.bad(n, "expected 4 fields msisdn,name,language,commune_code, found \(f.count)"); return nil }
                let parsed: VietnamNumberingPlan.Parsed
                switch VietnamNumberingPlan.parse(f[0]) {
                case .failure(let r): report.bad(n, "msisdn: \(r.description)"); return nil
                case .success(let p): parsed = p
                }
                guard !f[1].isEmpty else { report.bad(n, "name: must not be empty"); return nil }
                if !f[2].isEmpty, case .failure(let problem) = Languages.check(f[2]) { report.bad(n, "language: \(problem)"); return nil }
                var commune: Int? = nil
                if !f[3].isEmpty {
                    guard let c = Int(f[3]) else { report.bad(n, "commune_code: expected a commune code of up to 5 digits (e.g. 06073), found '\(Escaped(f[3]))'"); return nil }
                    if case .failure(let e) = units.commune(c) { report.bad(n, "commune_code: \(e.description)"); return nil }
                    commune = c
                }
                return [.text(list), .blob(vault.pseudonym(for: parsed.msisdn).bytes), .blob(try vault.seal(parsed.msisdn)),
                        .text(routing.carrier(for: parsed).rawValue), .text(f[1]), f[2].isEmpty ? .null : .text(f[2]), commune.map { .int(Int64($0)) } ?? .null]
            }
        } catch let nothing as NothingImported {
            var report = nothing.report
            report.notes.append("no good rows: the list '\(list)' was left as it was (to empty it, import with --replace)")
            report.listKept = true
            return report
        }
    }
}
