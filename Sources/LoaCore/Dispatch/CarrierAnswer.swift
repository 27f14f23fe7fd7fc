/// What came back from one upload of a batch.
public enum CarrierResponse: Sendable, Equatable {
    /// An HTTP answer. Header names are lower case.
    case answer(status: Int, headers: [String: String], body: [UInt8])
    /// No answer: could not connect, timed out, the connection was cut.
    case noAnswer(reason: String, mayHaveReachedCarrier: Bool)
}

/// What loa makes of an upload's outcome. The one rule behind every case: a message becomes
/// final only on an answer loa understands completely; anything else keeps it open under its
/// batch's idempotency key (carriers/README.md, "Answers").
public enum UploadVerdict: Sendable, Equatable {
    /// The carrier took the batch and accounted for every message: all accepted but these
    /// (message id → the carrier's reason).
    case taken(rejected: [Int64: String])
    /// 413: too many messages in one upload; the carrier's maximum when it said (`X-Max-Batch`).
    case tooLarge(carrierMaximum: Int?)
    /// 429: over the carrier's rate. Nothing was taken; not a sign of an outage.
    case throttled(retryAfter: Double?)
    /// 503, other 5xx, 408, 409, no answer: try again later under the same key.
    case transient(reason: String, retryAfter: Double?, mayHaveReachedCarrier: Bool)
    /// 401, 403, 404, 405, 407, 415: loa and the carrier disagree on credentials or address. Every
    /// batch would meet the same answer: stop sending to this carrier, keep the messages planned,
    /// tell the operator.
    case configurationFault(reason: String)
    /// A 2xx answer loa does not understand (not JSON, an unknown status word, a message missing
    /// or foreign, another batch's id). The carrier may have the batch: it stays open under its
    /// key and nothing is made final; sending to this carrier stops until an operator looks.
    case notUnderstood(reason: String)
    /// Any other 4xx: the carrier refused this batch for good.
    case refused(status: Int, reason: String)

    /// A short label for progress lines and summaries.
    public var label: String {
        switch self {
        case .taken: "taken"
        case .tooLarge: "too large"
        case .throttled: "throttled"
        case .transient: "transient"
        case .configurationFault: "configuration fault"
        case .notUnderstood: "answer not understood"
        case .refused: "refused"
        }
    }
}

/// The `batch-http` answer, judged (carriers/README.md is the contract).
public enum CarrierAnswer {
    /// The result vocabulary, compared without regard to case.
    public static let accepted = "accepted", rejected = "rejected"

    /// Judges one upload's outcome for a batch whose messages went out as `refs`, under `key`.
    public static func judge(_ response: CarrierResponse, key: String, refs: [MessageRef], now: Timestamp) -> UploadVerdict {
        switch response {
        case .noAnswer(let reason, let reached):
            return .transient(reason: reason, retryAfter: nil, mayHaveReachedCarrier: reached)
        case .answer(let status, let headers, let body):
            let retryAfter = headers["retry-after"].flatMap { RetryAfter.seconds($0, now: now) }
            let excerpt = Self.excerpt(body)
            switch status {
            case 200...299:
                switch results(body, key: key, refs: refs) {
                case .success(let rejected): return .taken(rejected: rejected)
                case .failure(let problem): return .notUnderstood(reason: "HTTP \(status) but \(problem): \(excerpt)")
                }
            case 413:
                return .tooLarge(carrierMaximum: headers["x-max-batch"].flatMap { Int($0.trimmed) }.flatMap { $0 > 0 ? $0 : nil })
            case 429:
                return .throttled(retryAfter: retryAfter)
            case 401, 403, 404, 405, 407, 415:
                return .configurationFault(reason: "HTTP \(status)\(excerpt.isEmpty ? "" : ": \(excerpt)")")
            case 408, 409, 500...599:
                return .transient(reason: "HTTP \(status)", retryAfter: retryAfter, mayHaveReachedCarrier: status != 503 && status != 409)
            case 400...499:
                return .refused(status: status, reason: "HTTP \(status)\(excerpt.isEmpty ? "" : ": \(excerpt)")")
            default:
                // 1xx/3xx as a final answer: curl follows no redirects; an address that redirects is misconfigured.
                return .configurationFault(reason: "HTTP \(status) (unexpected for an upload)")
            }
        }
    }

    /// The 2xx body: `{"batch_id": KEY, "results": [{"message_id", "status", "reason"?, "code"?}, …]}`
    /// with exactly one result per message of the batch. Returns the rejections.
    public static func results(_ body: [UInt8], key: String, refs: [MessageRef]) -> Result<[Int64: String], AnswerProblem> {
        let root: JSONValue
        do { root = try JSONValue.parse(body) } catch { return .failure(AnswerProblem("the body is not JSON (\(error.description))")) }
        guard case .object = root else { return .failure(AnswerProblem("the body is not a JSON object")) }
        if let id = root["batch_id"], !id.isNull {
            guard id.stringValue == key else { return .failure(AnswerProblem("it answers batch \(Self.quote(id)), not \(key)")) }
        }
        guard let list = root["results"]?.arrayValue else { return .failure(AnswerProblem("it has no \"results\" list")) }
        var expected = [String: Int64](minimumCapacity: refs.count)
        for r in refs { expected[r.description] = r.id }
        var seen = Set<Int64>()
        seen.reserveCapacity(refs.count)
        var rejected: [Int64: String] = [:]
        for (n, item) in list.enumerated() {
            guard case .object = item, let ref = item["message_id"]?.stringValue else {
                return .failure(AnswerProblem("result \(n + 1) has no message_id string"))
            }
            guard let id = expected[ref] else { return .failure(AnswerProblem("result \(n + 1) names \(Self.quote(.string(ref))), which is not in this batch")) }
            guard seen.insert(id).inserted else { return .failure(AnswerProblem("message \(ref) has two results")) }
            guard let word = item["status"]?.stringValue else { return .failure(AnswerProblem("result for \(ref) has no status string")) }
            switch word.lowercased() {
            case Self.accepted: continue
            case Self.rejected:
                var reason = item["reason"]?.stringValue ?? "rejected by the carrier (no reason given)"
                if let code = item["code"], !code.isNull { reason += " [code \(Self.quote(code))]" }
                rejected[id] = reason
            default:
                return .failure(AnswerProblem("result for \(ref) has status \(Self.quote(.string(word))) (expected accepted or rejected)"))
            }
        }
        guard seen.count == refs.count else {
            let missing = refs.first { !seen.contains($0.id) }!
            return .failure(AnswerProblem("\(refs.count - seen.count) of \(refs.count) messages have no result (first: \(missing))"))
        }
        return .success(rejected)
    }

    public struct AnswerProblem: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    static func quote(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return JSONString.quoted(String(s.prefix(60)))
        case .number(let n): return n
        case .bool(let b): return String(b)
        case .null: return "null"
        case .array: return "[…]"
        case .object: return "{…}"
        }
    }

    /// The start of a body for messages: at most 200 bytes, control characters escaped.
    public static func excerpt(_ body: [UInt8]) -> String {
        let head = String(decoding: body.prefix(200), as: UTF8.self)
        var out = ""
        for s in head.unicodeScalars {
            if s.value < 0x20 || s.value == 0x7F || (0x80..<0xA0).contains(s.value) { out += s.value == 0x0A ? "⏎" : "\\u{\(String(s.value, radix: 16))}" }
            else { out.unicodeScalars.append(s) }
        }
        return (body.count > 200 ? out + "…" : out).trimmed
    }
}
