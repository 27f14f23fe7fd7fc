import Foundation
import LoaCore
import LoaCrypto

/// What an import did: counts, the first bad lines with their reasons, and how long it took.
public struct ImportReport: Sendable {
    public var kind: String
    public var file: String
    public var rowsOK = 0
    public var rowsBad = 0
    /// The first bad lines (at most `ImportReport.keptProblems`): line number and reason.
    public var problems: [(line: Int, reason: String)] = []
    public var seconds = 0.0
    /// The same file (by SHA-256) was imported before; nothing was done.
    public var alreadyImported = false
    /// The file's SHA-256, as the import read it.
    public var sha256: String?
    /// A contact list import found no good row and left the list as it was.
    public var listKept = false
    public var notes: [String] = []

    /// Every bad line counted by its kind (the reason with numbers and quoted values left out),
    /// so that a report shows all of them, not only the first lines.
    public var problemKinds: [String: Int] = [:]

    public static let keptProblems = 20

    mutating func bad(_ line: Int, _ reason: String) {
        rowsBad += 1
        if problems.count < Self.keptProblems { problems.append((line, reason)) }
        // Kinds are capped: an endless variety of reasons must not grow the report without bound.
        let kind = Self.kind(of: reason)
        if problemKinds[kind] != nil || problemKinds.count < 100 { problemKinds[kind, default: 0] += 1 }
        else { problemKinds["(other)", default: 0] += 1 }
    }

    /// The reason without the line's own values: quoted values and value-like words outside
    /// parentheses (numbers, codes, times) become `…`:
    /// `cgi: 452-04-65000-1 is not in the cell list` → `cgi: … is not in the cell list`.
    public static func kind(of reason: String) -> String {
        var unquoted = ""
        var inQuote = false
        for ch in reason {
            if ch == "'" {
                if !inQuote { unquoted += "'…'" }
                inQuote.toggle()
            } else if !inQuote {
                unquoted.append(ch)
            }
        }
        var depth = 0
        return unquoted.split(separator: " ", omittingEmptySubsequences: false).map { token -> String in
            let opens = token.filter { $0 == "(" }.count, closes = token.filter { $0 == ")" }.count
            defer { depth = max(0, depth + opens - closes) }
            let valueLike = depth == 0 && opens == 0 && token.contains(where: \.isNumber)
                && (token.count >= 5 || token.contains(where: { "-:/.+".contains($0) }))
            guard valueLike else { return String(token) }
            let trailing = String(token.reversed().prefix { ",;".contains($0) }.reversed())
            return "…" + trailing
        }.joined(separator: " ")
    }

    /// The kinds of bad lines, most frequent first.
    public var problemsByKind: [(kind: String, count: Int)] {
        problemKinds.map { (kind: $0.key, count: $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.kind < $1.kind }
    }

    public var summary: String {
        var s = "\(file): \(kind): \(rowsOK) rows imported"
        if rowsBad > 0 { s += ", \(rowsBad) bad line\(rowsBad == 1 ? "" : "s") skipped" }
        if seconds > 0 { s += " in \(String(format: "%.2f", seconds)) s (\(Int(Double(rowsOK + rowsBad) / max(seconds, 1e-9))) rows/s)" }
        return s
    }
}

/// Progress of a long import, reported every few hundred thousand rows.
public struct ImportProgress: Sendable {
    public var rows: Int
    public var bytesRead: Int
    public var totalBytes: Int
    public var seconds: Double
}

/// Reports an import's progress every `every` good rows (and how far through the file it is).
final class ImportTicker {
    let progress: ((ImportProgress) -> Void)?
    let totalBytes: Int
    let started: Double
    let every: Int
    var bytesRead = 0

    init(path: String, started: Double, every: Int = 100_000, progress: ((ImportProgress) -> Void)?) {
        self.progress = progress
        self.started = started
        self.every = every
        totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    func read(_ bytes: Int) { bytesRead = bytes }

    func row(_ rows: Int) {
        guard let progress, rows % every == 0 else { return }
        progress(ImportProgress(rows: rows, bytesRead: bytesRead, totalBytes: totalBytes, seconds: monotonicSeconds() - started))
    }
}

/// Reads a file in large chunks and hands out its lines as byte buffers (no String per line).
/// A line longer than `maxLineLength` is not handed out: `overlong(lineNumber)` is called for it
/// and reading goes on after its end (a file with no line end at all costs one pass, not a
/// growing buffer copied again for every chunk).
package struct LineReader {
    let path: String
    let chunkSize = 4 << 20
    package static let maxLineLength = 64 << 10

    package init(path: String) { self.path = path }

    /// Calls `body(lineNumber, bytes)` for each line, without the line ending; `progress` gets the
    /// bytes consumed so far every few thousand lines. Returns total bytes.
    package func forEachLine(progress: ((Int) -> Void)? = nil, chunk: ((UnsafeRawBufferPointer) -> Void)? = nil,
                     overlong: (Int) -> Void = { _ in },
                     _ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                throw StoreError.input(isDir.boolValue ? "\(path): is a directory, expected a CSV file" : "\(path): cannot read (permission denied?)")
            }
            throw StoreError(.noSuchFile, "\(path): no such file")
        }
        defer { try? handle.close() }
        var carry: [UInt8] = []
        var lineNumber = 0
        var total = 0
        var first = true
        // Inside a line already longer than the limit: skip to its end.
        var skipping = false
        while true {
            let data = try handle.read(upToCount: chunkSize) ?? Data()
            if data.isEmpty { break }
            total += data.count
            if let chunk { data.withUnsafeBytes(chunk) }
            var buffer = carry
            buffer.append(contentsOf: data)
            carry.removeAll(keepingCapacity: true)
            let base = total - buffer.count   // file offset of buffer[0]
            try buffer.withUnsafeBufferPointer { all in
                var start = 0
                if first, all.count >= 3, all[0] == 0xEF, all[1] == 0xBB, all[2] == 0xBF { start = 3 }   // UTF-8 BOM
                first = false
                var i = start
                while i < all.count {
                    if all[i] == 0x0A {
                        lineNumber += 1
                        if skipping || i - start > Self.maxLineLength {
                            skipping = false
                            overlong(lineNumber)
                        } else {
                            var end = i
                            if end > start && all[end - 1] == 0x0D { end -= 1 }
                            try body(lineNumber, UnsafeBufferPointer(rebasing: all[start..<end]))
                        }
                        start = i + 1
                        if lineNumber & 4095 == 0 { progress?(base + start) }
                    }
                    i += 1
                }
                if start < all.count {
                    if skipping || all.count - start > Self.maxLineLength { skipping = true }
                    else { carry.append(contentsOf: all[start...]) }
                }
            }
            progress?(total)
        }
        if skipping {
            overlong(lineNumber + 1)
        } else if !carry.isEmpty {
            lineNumber += 1
            var end = carry.count
            if carry[end - 1] == 0x0D { end -= 1 }
            try carry.withUnsafeBufferPointer { try body(lineNumber, UnsafeBufferPointer(rebasing: $0[0..<end])) }
        }
        return total
    }
}

/// SHA-256 of a file, read in chunks.
func fileSHA256(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw StoreError(.noSuchFile, "\(path): no such file") }
    defer { try? handle.close() }
    let hash = SHA256Stream()
    while let data = try handle.read(upToCount: 4 << 20), !data.isEmpty { data.withUnsafeBytes { hash.update($0) } }
    return hash.hex()
}

func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// A bounded queue between the parsing thread and the inserting thread.
final class HandOffQueue<T>: @unchecked Sendable {
    private var items: [T] = []
    private var closed = false
    private let condition = NSCondition()
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func put(_ item: T) {
        condition.lock()
        while items.count >= capacity && !closed { condition.wait() }
        if !closed { items.append(item) }
        condition.broadcast()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, or nil once closed and drained.
    func take() -> T? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }
}

/// A streaming import's two halves: `start` parses the file on its own thread into `queue`
/// (hashing it on the way: a repeat is recognised without a second read), while the caller's
/// thread writes what arrives (`Store.pipelinedImport`).
final class ImportPipeline<Batch>: @unchecked Sendable {
    let queue: HandOffQueue<Batch>
    let fileHash = SHA256Stream()
    var report: ImportReport
    var bytesRead = 0
    /// Said in the report once the import is kept.
    var notes: [String] = []
    private var error: (any Error)?
    private var thread: Thread?
    private var parse: ((ImportPipeline<Batch>) throws -> Void)?

    /// `capacity`: batches the parser may run ahead of the writer.
    init(_ report: ImportReport, capacity: Int = 6) {
        self.report = report
        queue = HandOffQueue(capacity: capacity)
    }

    func start(_ parse: @escaping (ImportPipeline<Batch>) throws -> Void) {
        // The parser owns what it captures until it ends; the writer reads only the queue.
        self.parse = parse
        let thread = Thread {
            do { try self.parse?(self) } catch { self.error = error }
            self.parse = nil
            self.queue.close()
        }
        thread.stackSize = 1 << 22
        self.thread = thread
        thread.start()
    }

    /// Waits for the parser to end; its error, if any, is thrown here.
    func finish() throws {
        while let thread, !thread.isFinished { usleep(1000) }
        if let error { throw error }
    }

    /// Stops the parser (the writer failed) and waits for it.
    func abandon() {
        queue.close()
        while let thread, !thread.isFinished { usleep(1000) }
    }
}

extension Store {
    /// The writing half of a streaming import, in one transaction with its import record, so that
    /// a crash or an error leaves nothing behind. `write` takes the parser's batches and returns
    /// the rows written and any extra columns for the import record; a file imported before
    /// (same SHA-256, found once it has streamed past) is rolled back whole, unless `force`.
    func pipelinedImport<Batch>(kind: String, carrier: Carrier?, path: String, force: Bool, pipeline: ImportPipeline<Batch>,
                                write: (_ importID: Int64) throws -> (rows: Int, extra: String, bindings: [SQLValue])) throws -> ImportReport {
        do {
            return try db.transaction {
                let (optionalID, _) = try beginImport(kind: kind, carrier: carrier, path: path, force: true, hash: "pending")
                let importID = optionalID!
                let written = try write(importID)
                try pipeline.finish()
                let hash = pipeline.fileHash.hex()
                if !force, let previous = try previousImport(kind: kind, carrier: carrier, hash: hash) { throw RepeatedImport(previous: previous) }
                try db.run("UPDATE imports SET sha256 = ? WHERE id = ?", [.text(hash), .int(importID)])
                var report = pipeline.report
                report.rowsOK = written.rows
                report.sha256 = hash
                report.notes += pipeline.notes
                try finishImport(importID, report, extra: written.extra, written.bindings)
                return report
            }
        } catch let repeated as RepeatedImport {
            var skipped = ImportReport(kind: kind, file: path)
            skipped.alreadyImported = true
            skipped.sha256 = pipeline.fileHash.hex()
            skipped.notes.append("this file was imported before (import #\(repeated.previous), same SHA-256); nothing kept (use --force to import it again)")
            return skipped
        } catch {
            pipeline.abandon()
            throw error
        }
    }
}

/// A file found, once it streamed past, to be one imported before: its transaction is rolled back.
struct RepeatedImport: Error { var previous: Int64 }
