import Foundation
import LoaCarriers
import LoaCore
import LoaStore

/// `loa receipts import FILE --carrier X`: receipts a carrier sends as a file, CSV (a header with
/// message_id, status, at, reason, error_code, smpp: the same fields as the HTTP lines) or NDJSON,
/// read as a stream and applied with the same rules as receipts over HTTP, in parts: a line that
/// cannot be read or matches nothing goes to the quarantine with the reason.
public struct ReceiptImport {
    public struct Report: Sendable, Equatable {
        public var lines = 0
        public var applied = 0
        public var kept = 0
        public var quarantined = 0
        public var format = ""
        /// The same file (by SHA-256) was imported for this carrier before, as this import number: nothing was done.
        public var alreadyImported: Int64? = nil

        public init(lines: Int = 0, applied: Int = 0, kept: Int = 0, quarantined: Int = 0, format: String = "", alreadyImported: Int64? = nil) {
            self.lines = lines
            self.applied = applied
            self.kept = kept
            self.quarantined = quarantined
            self.format = format
            self.alreadyImported = alreadyImported
        }
    }

    public static let partSize = 5_000

    /// Reads `path` and records its receipts for `carrier` in `store`; `progress` gets (lines, bytes read, file size).
    /// A file imported completely before (same SHA-256, same carrier) is not read again unless `force`:
    /// its duplicates would change nothing, but its unreadable lines would be quarantined twice.
    /// `actor`: who imports it, recorded in the audit trail with the file's SHA-256 and the counts.
    public static func run(path: String, carrier: Carrier, parts: ReceiptParts = .all, store: Store, force: Bool = false, actor: String? = nil,
                           progress: ((Int, Int, Int) -> Void)? = nil) throws -> Report {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let sha256 = try store.fileSHA256(path)
        var report = Report()
        if !force, let earlier = try store.receiptFileImported(carrier: carrier, sha256: sha256) {
            report.format = try Self.format(of: path)
            report.alreadyImported = earlier
            return report
        }
        var header: [String]? = nil
        var isCSV: Bool? = nil
        var receipts: [ReceiptRecord] = []
        var unreadable: [(line: String, reason: String)] = []
        func flush() throws {
            try store.quarantine(carrier: carrier, unreadable)
            for outcome in try store.recordReceipts(carrier: carrier, parts: parts, receipts) {
                switch outcome {
                case .applied: report.applied += 1
                case .kept: report.kept += 1
                case .quarantined: report.quarantined += 1
                }
            }
            report.quarantined += unreadable.count
            receipts.removeAll(keepingCapacity: true)
            unreadable.removeAll(keepingCapacity: true)
        }
        var fields: [CSVLine.Field] = []
        var bytesRead = 0
        _ = try LineReader(path: path).forEachLine(progress: { bytesRead = $0; progress?(report.lines, $0, size) }, overlong: { n in
            report.lines += 1
            unreadable.append(("(a line of more than \(LineReader.maxLineLength / 1024) KiB)", "\(path):\(n): longer than \(LineReader.maxLineLength / 1024) KiB"))
        }) { n, bytes in
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            if isCSV == nil { isCSV = bytes.first != 0x7B; report.format = isCSV! ? "CSV" : "NDJSON" }
            if isCSV! {
                do { try CSVLine.split(bytes, into: &fields) } catch {
                    report.lines += 1
                    unreadable.append((String(decoding: bytes, as: UTF8.self), "\(path):\(n): \(error)"))
                    return
                }
                let values = fields.map { CSVLine.text($0, in: bytes) }
                guard let names = header else {
                    header = values.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                    guard header!.contains("message_id") && (header!.contains("status") || header!.contains("smpp")) else {
                        throw OperationError(.notReadable, "\(path):\(n): expected a header with message_id and status (and at, reason, error_code, smpp), found '\(Escaped(values.joined(separator: ",")))'")
                    }
                    return
                }
                report.lines += 1
                let line = String(decoding: bytes, as: UTF8.self)
                guard values.count == names.count else {
                    unreadable.append((line, "\(path):\(n): expected \(names.count) fields (\(names.joined(separator: ","))), found \(values.count)"))
                    return
                }
                switch BatchHTTP.receipt(fields: Dictionary(uniqueKeysWithValues: zip(names, values.map { $0 as Any })), line: line) {
                case .receipt(let r): receipts.append(r)
                case .unreadable(_, let reason): unreadable.append((line, "\(path):\(n): \(reason)"))
                }
            } else {
                report.lines += 1
                switch BatchHTTP.receiptLine(Array(bytes)) {
                case .receipt(let r): receipts.append(r)
                case .unreadable(let line, let reason): unreadable.append((line, "\(path):\(n): \(reason)"))
                }
            }
            if receipts.count + unreadable.count >= partSize { try flush() }
        }
        try flush()
        try store.recordReceiptFile(carrier: carrier, path: path, sha256: sha256, lines: report.lines, quarantined: report.quarantined)
        if let actor {
            try store.audit(actor, "receipts-import", campaign: nil, "\(path) sha256 \(sha256) for \(carrier.rawValue): \(report.lines) lines, "
                            + "\(report.applied) applied, \(report.kept) kept, \(report.quarantined) quarantined")
        }
        progress?(report.lines, max(bytesRead, size), size)
        return report
    }

    /// CSV or NDJSON, by the first non-blank character of the file.
    static func format(of path: String) throws -> String {
        var found = "CSV"
        do {
            _ = try LineReader(path: path).forEachLine(progress: { _ in }, overlong: { _ in }) { _, bytes in
                if let first = bytes.first(where: { $0 != 0x20 && $0 != 0x09 }) { found = first == 0x7B ? "NDJSON" : "CSV"; throw StopReading() }
            }
        } catch is StopReading {}
        return found
    }
    struct StopReading: Error {}
}
