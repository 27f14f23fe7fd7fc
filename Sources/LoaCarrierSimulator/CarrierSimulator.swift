import Foundation
import HTTPTypes
import Hummingbird
import LoaCore
import LoaCrypto
import LoaCarriers
import NIOCore

/// The carrier side of `batch-http`, for demos and tests: enforces TPS with 429, dedupes
/// idempotency keys (a repeated key gets the original answer), injects faults, and posts signed
/// receipts back after realistic delays, with duplicates and reordering. It records every
/// message it accepted so that tests can prove exactly-once.
public final class CarrierSimulator: @unchecked Sendable {
    public struct Options: Sendable {
        public var carrier: Carrier
        public var tps: Int
        public var maxBatch: Int
        public var signingSecret: [UInt8]?
        /// Where to post receipts (loa's /receipts/{carrier}); nil: no receipts.
        public var receiptURL: String?
        public var receiptSecret: [UInt8]?
        /// Share of uploads that meet a fault (0…1), spread over the kinds below.
        public var faultRate: Double = 0
        public var faults: [Fault] = Fault.allCases
        /// How long a "lost answer" or "timeout" fault holds the connection.
        public var stallSeconds: Double = 6
        public var receiptDelay: ClosedRange<Double> = 0.2...2.0
        /// Outcome mix of receipts: delivered, failed, expired, unknown (weights).
        public var outcomes: [(ReceiptStatus, Double)] = [(.delivered, 0.94), (.failed, 0.03), (.expired, 0.02), (.unknown, 0.01)]
        public var duplicateReceiptRate: Double = 0.02
        public var recordPath: String?
        public var seed: UInt64 = 42
        /// Seconds after start during which every upload gets 503 with `outageRetryAfter` (a carrier outage).
        public var outage: Range<Double>?
        /// The outage's Retry-After: seconds ("1") or an HTTP-date.
        public var outageRetryAfter = "1"
        /// A carrier that answers outside the contract (to test that loa never takes it as acceptance).
        public var misbehaviour: Misbehaviour?
        /// The upload signature version this carrier checks (carriers/README.md).
        public var signatureVersion = 2
        /// Voice calls (PUT /audio/{sha256}, POST /calls); nil: the carrier takes no calls (404).
        public var voice: Voice?

        public init(carrier: Carrier, tps: Int, maxBatch: Int) {
            self.carrier = carrier
            self.tps = tps
            self.maxBatch = maxBatch
        }
    }

    /// A carrier's voice platform: channels (concurrent calls, refused with 429 beyond them), calls
    /// per second, how long a phone rings, the audio format it takes, and how people answer.
    public struct Voice: Sendable {
        public var channels: Int
        public var callsPerSecond: Int
        public var ringSeconds: Double
        public var audioFormat: TelephoneAudio.Format
        /// Per attempt: answered (then listened to the end with `completeShare`, else part of it), busy, else no answer.
        public var answerShare = 0.6
        public var completeShare = 0.6
        public var busyShare = 0.1
        /// Seconds between attempts are the policy's spacing times this (tests shrink it).
        public var spacingScale = 1.0
        public init(channels: Int, callsPerSecond: Int, ringSeconds: Double = 30, audioFormat: TelephoneAudio.Format = .wav) {
            self.channels = channels
            self.callsPerSecond = callsPerSecond
            self.ringSeconds = ringSeconds
            self.audioFormat = audioFormat
        }
    }

    public enum Fault: String, CaseIterable, Sendable {
        /// 503 with Retry-After: 1, nothing accepted.
        case unavailable
        /// 500 after processing nothing.
        case serverError
        /// The batch is accepted, but the answer never arrives (the client times out): the
        /// dangerous case for exactly-once.
        case lostAnswer
        /// A slow but successful answer.
        case slow
        /// The batch is accepted, then the connection is cut in the middle of the answer: the
        /// client sees a network error at once, not knowing whether the carrier has the batch.
        case reset
    }

    /// Answers a carrier should not give; loa must not take any of them as acceptance.
    public enum Misbehaviour: Sendable, Equatable {
        /// Every message's status is this word instead of "accepted".
        case statusWord(String)
        /// 202 with a body that is not the JSON answer.
        case notJSON
        /// 202 without the results list.
        case noResults
        /// 202 with one more result, for a message that was not in the batch.
        case foreignMessage
        /// 202 without the result for the batch's last message.
        case missingMessage
    }

    struct ConnectionCut: Error {}

    public struct Stats: Sendable, Codable {
        public var batches = 0
        public var accepted = 0
        public var duplicateMessages = 0
        public var replays = 0
        public var refused429 = 0
        public var faults = 0
        public var maxInAnySecond = 0
        /// Messages in the busiest 100 ms at arrival: pacing inside the second.
        public var maxIn100ms = 0
        /// The first and the last accepted upload's arrival (microseconds on the simulator's
        /// monotonic clock; whole numbers like every other figure): a run's mean rate is what
        /// arrived over that span.
        public var firstArrivalMicroseconds = 0
        public var lastArrivalMicroseconds = 0
        public var receiptsSent = 0
        public var badSignatures = 0
        /// Uploads answered 503 because of the outage window.
        public var outageRefusals = 0
        /// Repeats of a key whose first request was still being processed (answered 409).
        public var inProgressRepeats = 0
        /// Voice: clips received, calls taken, the most calls at once and in any second, batches
        /// refused because every channel was busy, calls for a clip never uploaded.
        public var audioUploads = 0
        public var calls = 0
        public var maxConcurrentCalls = 0
        public var maxCallsInAnySecond = 0
        public var channelRefusals = 0
        public var unknownAudio = 0
    }

    let options: Options
    private let lock = NSLock()
    var stats = Stats()
    var answers: [String: (status: Int, body: String)] = [:]
    /// Keys whose first request is still being processed: a repeat gets 409, never a second run.
    var inProgress = Set<String>()
    var acceptedIDs = Set<String>()
    var window: [(time: Double, count: Int)] = []
    var window100: [(time: Double, count: Int)] = []
    var rng: SplitMix64
    let receiptQueue = ReceiptSender()
    let recorder: FileHandle?
    private let started = CarrierSimulator.now()
    /// Voice: clips by SHA-256 (their length), calls holding a channel until, call arrivals.
    var clips: [String: Double] = [:]
    var activeCalls: [Double] = []
    var callWindow: [(time: Double, count: Int)] = []

    public init(_ options: Options) throws {
        self.options = options
        rng = SplitMix64(seed: options.seed)
        if let path = options.recordPath {
            FileManager.default.createFile(atPath: path, contents: nil)
            recorder = FileHandle(forWritingAtPath: path)
        } else {
            recorder = nil
        }
        if let url = options.receiptURL { receiptQueue.start(url: url, secret: try options.receiptSecret.map { try HMACSigner(secret: $0) }) }
    }

    public func currentStats() -> Stats {
        var s = withLock { stats }
        s.receiptsSent = receiptQueue.sent
        return s
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// The router: POST /batches, GET /stats.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("batches") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let bytes = Array(body.readableBytesView)
            return try await self.handle(request: request, body: bytes)
        }
        router.put("audio/:sha") { request, context -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            return try self.handleAudio(request: request, sha: context.parameters.get("sha") ?? "", body: Array(body.readableBytesView))
        }
        router.post("calls") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            return try await self.handleCalls(request: request, body: Array(body.readableBytesView))
        }
        router.get("stats") { _, _ -> Response in
            let data = try JSONEncoder().encode(self.currentStats())
            _ = data.count
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        return router
    }

    /// The signature check of every request (carriers/README.md): nil when it passes.
    func refusedSignature(_ request: Request, body: [UInt8], key: String, method: String, path: String) throws -> Response? {
        guard let secret = options.signingSecret else { return nil }
        let signer = try HMACSigner(secret: secret)
        let hash = body.withUnsafeBytes { sha256Hex($0) }
        let ts = request.headers[HTTPField.Name("X-Loa-Timestamp")!] ?? ""
        let sig = request.headers[HTTPField.Name("X-Loa-Signature")!] ?? ""
        let version = Int(request.headers[HTTPField.Name("X-Loa-Signature-Version")!] ?? "1") ?? 0
        let signed = BatchHTTP.signedText(version: version, method: method, path: path, idempotencyKey: key, timestamp: ts, contentSHA256: hash)
        if version != options.signatureVersion || request.headers[HTTPField.Name("Content-SHA256")!] != hash || !signer.verify(Array(signed.utf8), signature: sig) {
            withLock { stats.badSignatures += 1 }
            return text(.unauthorized, "bad signature or content hash")
        }
        // A signed request from outside the clock tolerance is stale (or replayed): refused.
        guard let t = Int64(ts), abs(t - Int64(Date().timeIntervalSince1970)) <= BatchHTTP.clockTolerance else {
            withLock { stats.badSignatures += 1 }
            return text(.unauthorized, "stale timestamp: more than \(BatchHTTP.clockTolerance) s from the carrier's clock")
        }
        return nil
    }

    func handle(request: Request, body: [UInt8]) async throws -> Response {
        // The rate is counted at arrival, as a carrier's gateway counts it (a slow answer is slow after that).
        let arrival = Self.now()
        let key = request.headers[HTTPField.Name("Idempotency-Key")!] ?? ""
        if let refused = try refusedSignature(request, body: body, key: key, method: "POST", path: "/batches") { return refused }
        guard !key.isEmpty else { return text(.badRequest, "Idempotency-Key is required") }
        if let outage = options.outage, outage.contains(Self.now() - started) {
            withLock { stats.outageRefusals += 1 }
            return Response(status: .serviceUnavailable, headers: [.retryAfter: options.outageRetryAfter], body: .init(byteBuffer: ByteBuffer(string: "down for maintenance")))
        }
        // A repeated key gets the original answer and changes nothing; a repeat while the first is
        // still being processed gets 409 (carriers/README.md): it must never be processed twice.
        let (previous, fault, busy) = replayOrFault(key: key)
        if busy {
            return Response(status: .conflict, headers: [.retryAfter: "1"], body: .init(byteBuffer: ByteBuffer(string: "a request with this Idempotency-Key is being processed")))
        }
        if let previous { return json(previous.status, previous.body) }
        defer { _ = withLock { inProgress.remove(key) } }
        switch fault {
        case .unavailable?:
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "1"], body: .init(byteBuffer: ByteBuffer(string: "try later")))
        case .serverError?:
            return text(.internalServerError, "simulated failure")
        case .slow?:
            try await Task.sleep(for: .milliseconds(800))
        default:
            break
        }
        let lines = body.split(separator: 0x0A).filter { !$0.isEmpty }
        if lines.count > options.maxBatch {
            return Response(status: .contentTooLarge, headers: [HTTPField.Name("X-Max-Batch")!: String(options.maxBatch)],
                            body: .init(byteBuffer: ByteBuffer(string: "at most \(options.maxBatch) messages per batch")))
        }
        switch accept(lines: lines, key: key, arrival: arrival) {
        case .tooMany(let wait):
            return Response(status: .tooManyRequests, headers: [.retryAfter: String(wait)], body: .init(byteBuffer: ByteBuffer(string: "over \(options.tps) messages per second")))
        case .accepted(let answer, let ids, let receipts):
            if let recorder, !ids.isEmpty { recorder.write(Data((ids.joined(separator: "\n") + "\n").utf8)) }
            if options.receiptURL != nil { receiptQueue.enqueue(receipts) }
            if fault == .lostAnswer {
                // Accepted and remembered, but the client never hears back.
                try await Task.sleep(for: .seconds(options.stallSeconds))
            }
            if fault == .reset {
                // A promised length, a first piece, then the connection goes.
                let bytes = Array(answer.utf8)
                return Response(status: .accepted, headers: [.contentType: "application/json"],
                                body: ResponseBody(contentLength: bytes.count) { writer in
                                    try await writer.write(ByteBuffer(bytes: bytes.prefix(bytes.count / 2)))
                                    throw ConnectionCut()
                                })
            }
            return json(202, answer)
        }
    }

    /// The most messages in any window of `span` seconds that holds `count` more at `time`.
    static func busiest(_ arrivals: [(time: Double, count: Int)], adding count: Int, at time: Double, span: Double) -> Int {
        var most = 0
        for end in [time] + arrivals.lazy.filter({ $0.time > time && $0.time < time + span }).map(\.time) {
            let inside = arrivals.reduce(0) { $1.time > end - span && $1.time <= end ? $0 + $1.count : $0 }
            most = max(most, inside + count)
        }
        return most
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func replayOrFault(key: String) -> ((status: Int, body: String)?, Fault?, busy: Bool) {
        withLock {
            if let previous = answers[key] {
                stats.replays += 1
                return (previous, nil, false)
            }
            guard inProgress.insert(key).inserted else {
                stats.inProgressRepeats += 1
                return (nil, nil, true)
            }
            let fault: Fault? = rng.unit() < options.faultRate && !options.faults.isEmpty ? options.faults[rng.below(options.faults.count)] : nil
            if fault != nil { stats.faults += 1 }
            return (nil, fault, false)
        }
    }

    enum Acceptance {
        case tooMany(wait: Int)
        case accepted(answer: String, ids: [String], receipts: [(delay: Double, line: String)])
    }

    private func accept(lines: [ArraySlice<UInt8>], key: String, arrival now: Double) -> Acceptance {
        withLock {
            // TPS over any 1-second window, measured at arrival.
            // (A request that waited before being counted may arrive earlier than ones already counted:
            // every window that holds its arrival is checked.)
            window.removeAll { $0.time <= now - 2 }
            let inWindow = Self.busiest(window, adding: lines.count, at: now, span: 1)
            if inWindow > options.tps {
                stats.refused429 += 1
                return .tooMany(wait: max(1, Int(((window.first?.time ?? now) + 1 - now).rounded(.up))))
            }
            window.append((now, lines.count))
            stats.maxInAnySecond = max(stats.maxInAnySecond, inWindow)
            window100.removeAll { $0.time <= now - 0.2 }
            stats.maxIn100ms = max(stats.maxIn100ms, Self.busiest(window100, adding: lines.count, at: now, span: 0.1))
            window100.append((now, lines.count))
            let micros = Int(now * 1e6)
            if stats.firstArrivalMicroseconds == 0 || micros < stats.firstArrivalMicroseconds { stats.firstArrivalMicroseconds = micros }
            stats.lastArrivalMicroseconds = max(stats.lastArrivalMicroseconds, micros)
            stats.batches += 1
            var results: [String] = []
            var accepted: [String] = []
            for line in lines {
                // Fast path for plain fields; a full JSON parse when a field has escapes.
                var fields: (id: String, msisdn: String, text: String)? = nil
                if let id = Self.stringField(Self.messageIDField, in: line), let msisdn = Self.stringField(Self.msisdnField, in: line),
                   Self.end(of: Self.textField, in: line) != nil, line.last == 0x7D {
                    fields = (id, msisdn, "text")
                } else if let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let id = o["message_id"] as? String,
                          let msisdn = o["msisdn"] as? String, let text = o["text"] as? String {
                    fields = (id, msisdn, text)
                }
                guard let (id, msisdn, text) = fields, !text.isEmpty else {
                    results.append("{\"message_id\":null,\"status\":\"rejected\",\"reason\":\"malformed line\"}")
                    continue
                }
                if let refused = refusedAsDuplicate(id, accept: false) {
                    results.append(refused)
                    continue
                }
                if !msisdn.hasPrefix("h:") && !msisdn.hasPrefix("+84") && !msisdn.hasPrefix("0") {
                    results.append("{\"message_id\":\"\(id)\",\"status\":\"rejected\",\"reason\":\"unknown subscriber\"}")
                    continue
                }
                acceptedIDs.insert(id)
                accepted.append(id)
                stats.accepted += 1
                results.append("{\"message_id\":\"\(id)\",\"status\":\"accepted\"}")
            }
            var answer = "{\"batch_id\":\"\(key)\",\"results\":[\(results.joined(separator: ","))]}"
            switch options.misbehaviour {
            case .statusWord(let word)?: answer = answer.replacingOccurrences(of: "\"status\":\"accepted\"", with: "\"status\":\"\(word)\"")
            case .notJSON?: answer = "OK"
            case .noResults?: answer = "{\"batch_id\":\"\(key)\"}"
            case .foreignMessage?: answer = "{\"batch_id\":\"\(key)\",\"results\":[\((results + ["{\"message_id\":\"m999999999\",\"status\":\"accepted\"}"]).joined(separator: ","))]}"
            case .missingMessage?: answer = "{\"batch_id\":\"\(key)\",\"results\":[\(results.dropLast().joined(separator: ","))]}"
            case nil: break
            }
            answers[key] = (202, answer)
            var receipts: [(delay: Double, line: String)] = []
            for id in accepted {
                var x = rng.unit(), status = ReceiptStatus.delivered
                for (s, w) in options.outcomes { if x < w { status = s; break }; x -= w }
                let delay = options.receiptDelay.lowerBound + rng.unit() * (options.receiptDelay.upperBound - options.receiptDelay.lowerBound)
                let line = "{\"message_id\":\"\(id)\",\"status\":\"\(status.rawValue)\"\(status == .failed ? ",\"reason\":\"absent subscriber\"" : "")}"
                receipts.append((delay, line))
                if rng.unit() < options.duplicateReceiptRate { receipts.append((delay + 0.5, line)) }
            }
            return .accepted(answer: answer, ids: accepted, receipts: receipts)
        }
    }

    /// A message id already accepted is refused (counted as a duplicate); `accept`: a new one is
    /// remembered at once. Call under the lock.
    func refusedAsDuplicate(_ id: String, accept: Bool = true) -> String? {
        if acceptedIDs.contains(id) {
            stats.duplicateMessages += 1
            return "{\"message_id\":\"\(id)\",\"status\":\"rejected\",\"reason\":\"duplicate message_id\"}"
        }
        if accept { acceptedIDs.insert(id) }
        return nil
    }

    static let messageIDField = Array(#""message_id":""#.utf8), msisdnField = Array(#""msisdn":""#.utf8), textField = Array(#""text":""#.utf8)

    /// The index just after the first `pattern` in `line` (memchr for its first byte, then memcmp).
    static func end(of pattern: [UInt8], in line: ArraySlice<UInt8>) -> Int? {
        line.withUnsafeBufferPointer { b -> Int? in
            guard let base = b.baseAddress, let first = pattern.first, pattern.count <= b.count else { return nil }
            let last = b.count - pattern.count
            var i = 0
            while i <= last {
                guard let hit = memchr(base + i, Int32(first), last - i + 1) else { return nil }
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(base + at, pattern, pattern.count) == 0 { return line.startIndex + at + pattern.count }
                i = at + 1
            }
            return nil
        }
    }

    /// Reads a string field from one NDJSON line without a full JSON parse (the simulator's hot
    /// path); nil when the field is missing or holds an escape (the caller then parses fully).
    static func stringField(_ pattern: [UInt8], in line: ArraySlice<UInt8>) -> String? {
        guard let start = end(of: pattern, in: line) else { return nil }
        var i = start
        while i < line.endIndex {
            if line[i] == 0x5C { return nil }
            if line[i] == 0x22 { return String(decoding: line[start..<i], as: UTF8.self) }
            i += 1
        }
        return nil
    }

    func text(_ status: HTTPResponse.Status, _ s: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    func json(_ status: Int, _ s: String) -> Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    /// Counts receipts sent so far.
    public var receiptsSent: Int { receiptQueue.sent }

    /// Waits until every scheduled receipt went out (or `timeout` passed).
    public func drainReceipts(timeout: Double) { receiptQueue.drain(timeout: timeout) }
}

/// Posts receipts in the background, each after its delay: order follows the delays, not the
/// acceptance order (reordering), and some are sent twice (duplicates).
final class ReceiptSender: @unchecked Sendable {
    private let lock = NSCondition()
    var queue: [(due: Double, line: String)] = []
    private(set) var sent = 0
    var url = ""
    var signer: HMACSigner?

    func start(url: String, secret: HMACSigner?) {
        self.url = url
        signer = secret
        let t = Thread { self.loop() }
        t.start()
    }

    func enqueue(_ items: [(delay: Double, line: String)]) {
        let now = CarrierSimulator.now()
        lock.lock()
        queue.append(contentsOf: items.map { (now + $0.delay, $0.line) })
        lock.signal()
        lock.unlock()
    }

    func drain(timeout: Double) {
        let deadline = CarrierSimulator.now() + timeout
        while CarrierSimulator.now() < deadline {
            lock.lock(); let empty = queue.isEmpty; lock.unlock()
            if empty { return }
            usleep(50_000)
        }
    }

    private func loop() {
        let client = CurlClient(.init(timeout: 10))
        while true {
            lock.lock()
            while queue.isEmpty { lock.wait() }
            let now = CarrierSimulator.now()
            queue.sort { $0.due < $1.due }
            let ready = queue.prefix { $0.due <= now }.prefix(500)
            let due = Array(ready)
            queue.removeFirst(due.count)
            lock.unlock()
            if due.isEmpty { usleep(50_000); continue }
            let body = Array((due.map(\.line).joined(separator: "\n") + "\n").utf8)
            for attempt in 1...5 {
                // Signed afresh for each attempt (protocol version 2): loa refuses a signature it already accepted.
                let headers = signer.map { BatchHTTP.receiptHeaders(body: body, signer: $0, now: Int64(Date().timeIntervalSince1970)) }
                    ?? [("Content-Type", "application/x-ndjson")]
                if let answer = try? client.post(url, headers: headers, body: body), answer.status < 300 {
                    lock.lock(); sent += due.count; lock.unlock()
                    break
                }
                usleep(useconds_t(200_000 * attempt))
            }
        }
    }
}
