import Foundation
import LoaCore
import LoaCrypto

/// The `batch-http` protocol that loa offers carriers (carriers/README.md is the contract).
public enum BatchHTTP {
    public static let contentType = "application/x-ndjson"

    /// One NDJSON line per message: message_id (`m<id>-<store>`, see `MessageRef`), msisdn (a
    /// pseudonym h:… or a number), sender, encoding, text, segments.
    public static func body(_ messages: [OutboundMessage], identity: StoreIdentity?, sender: (String) -> String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(messages.count * 260)
        var senders: [String: String] = [:]
        for m in messages {
            out.append(contentsOf: #"{"message_id":""#.utf8)
            MessageRef(id: m.id, store: identity).append(to: &out)
            out.append(contentsOf: #"","msisdn":"#.utf8)
            JSONString.append(m.subscriber, to: &out)
            out.append(contentsOf: #","sender":"#.utf8)
            if senders[m.campaign] == nil { senders[m.campaign] = sender(m.campaign) }
            JSONString.append(senders[m.campaign]!, to: &out)
            out.append(contentsOf: #","encoding":""#.utf8)
            out.append(contentsOf: m.encoding.utf8)
            out.append(contentsOf: #"","text":"#.utf8)
            JSONString.append(m.text, to: &out)
            out.append(contentsOf: #","segments":"#.utf8)
            out.append(contentsOf: String(m.segments).utf8)
            out.append(contentsOf: "}\n".utf8)
        }
        return out
    }

    /// Voice batches (POST {endpoint}/calls): one NDJSON line per call: message_id, msisdn, caller_id
    /// (the campaign's sender), audio (the SHA-256 of a clip uploaded with `PUT /audio/{sha256}`),
    /// seconds (its length), attempts, spacing (seconds between two calls to the same person),
    /// calling_hours (HH:MM-HH:MM in Vietnam's time), quiet_hours (never then; absent for an
    /// emergency) and not_after (no call after it).
    public static func callsBody(_ messages: [OutboundMessage], identity: StoreIdentity?, sender: (String) -> String,
                                 audio: (String) -> (sha256: String, seconds: Double)?, policy: (String) -> CallPolicy?) -> [UInt8] {
        var out: [UInt8] = []
        for m in messages {
            guard let clip = m.clip.flatMap(audio), let p = policy(m.campaign) else { continue }
            out.append(contentsOf: #"{"message_id":""#.utf8)
            MessageRef(id: m.id, store: identity).append(to: &out)
            out.append(contentsOf: #"","msisdn":"#.utf8)
            JSONString.append(m.subscriber, to: &out)
            out.append(contentsOf: #","caller_id":"#.utf8)
            JSONString.append(sender(m.campaign), to: &out)
            out.append(contentsOf: ",\"audio\":\"\(clip.sha256)\",\"seconds\":\(format1(clip.seconds)),\"attempts\":\(p.attempts),\"spacing\":\(p.spacing)".utf8)
            out.append(contentsOf: ",\"calling_hours\":[\(p.callingHours.map { "\"\($0)\"" }.joined(separator: ","))]".utf8)
            if let q = p.quietHours { out.append(contentsOf: ",\"quiet_hours\":\"\(q)\"".utf8) }
            out.append(contentsOf: ",\"not_after\":\"\(p.notAfter.iso8601())\"}\n".utf8)
        }
        return out
    }

    /// What an upload's signature covers. Version 2 (the default): the method, the path, the
    /// idempotency key, the timestamp and the body's SHA-256, one per line, after `loa-v2`:
    /// a captured signature cannot be moved to another key, path or time. Version 1 (only for a
    /// carrier whose file says `signature_version: 1`): the timestamp and the body's SHA-256.
    public static func signedText(version: Int, method: String = "POST", path: String = "/batches", idempotencyKey: String,
                                  timestamp: String, contentSHA256: String) -> String {
        version == 1 ? "\(timestamp)\n\(contentSHA256)" : "loa-v2\n\(method)\n\(path)\n\(idempotencyKey)\n\(timestamp)\n\(contentSHA256)"
    }

    /// How far a carrier may find loa's timestamp from its own clock before it refuses (401).
    public static let clockTolerance: Int64 = 300

    /// Headers: Idempotency-Key, Content-SHA256, X-Loa-Timestamp, X-Loa-Signature-Version and
    /// X-Loa-Signature = hex HMAC-SHA256(secret, `signedText`).
    /// `method` and `path` (signed in version 2): POST /batches, POST /calls, PUT /audio/{sha256}.
    public static func headers(idempotencyKey: String, body: [UInt8], signer: HMACSigner?, token: String?, now: Int64,
                               signatureVersion: Int = 2, method: String = "POST", path: String = "/batches",
                               contentType type: String = contentType) -> [(String, String)] {
        let hash = body.withUnsafeBytes { sha256Hex($0) }
        var h: [(String, String)] = [("Content-Type", type), ("Idempotency-Key", idempotencyKey), ("Content-SHA256", hash), ("X-Loa-Timestamp", String(now))]
        if let signer {
            let text = signedText(version: signatureVersion, method: method, path: path, idempotencyKey: idempotencyKey, timestamp: String(now), contentSHA256: hash)
            h.append(("X-Loa-Signature-Version", String(signatureVersion)))
            h.append(("X-Loa-Signature", signer.sign(Array(text.utf8))))
        }
        if let token { h.append(("Authorization", "Bearer \(token)")) }
        return h
    }

    /// One line of a receipt body: a receipt, or why it cannot be read.
    public enum ReceiptLine: Sendable, Equatable {
        case receipt(ReceiptRecord)
        case unreadable(line: String, reason: String)
    }

    /// Receipts (POST /receipts/{carrier}): NDJSON lines {"message_id","status","at","reason"}.
    /// Each line stands alone: one that cannot be read is reported (and quarantined) with the
    /// reason, the others apply. Blank lines are skipped; numbers are 1-based lines of the body.
    public static func receiptLines(_ body: [UInt8]) -> [(number: Int, line: ReceiptLine)] {
        var out: [(Int, ReceiptLine)] = []
        for (i, bytes) in body.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
            out.append((i + 1, receiptLine(Array(bytes))))
        }
        return out
    }

    /// One NDJSON receipt line.
    public static func receiptLine(_ bytes: [UInt8]) -> ReceiptLine {
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        // Most lines are a flat object of plain strings: read those directly (several times faster);
        // anything else (escapes, numbers, nesting, odd spacing) goes through the full JSON reader.
        if let flat = flatObject(bytes) { return receipt(fields: flat, line: text) }
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            return .unreadable(line: text, reason: "not a JSON object: expected {\"message_id\": \"…\", \"status\": \"\(ReceiptStatus.words)\"}")
        }
        return receipt(fields: o, line: text)
    }

    /// A JSON object whose values are all plain strings (no escapes) or null, with nothing else on the
    /// line; nil for anything else (the caller then uses the full JSON reader).
    static func flatObject(_ b: [UInt8]) -> [String: Any]? {
        var i = 0
        func skip() { while i < b.count && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D) { i += 1 } }
        func string() -> String? {
            guard i < b.count, b[i] == 0x22 else { return nil }
            let start = i + 1
            var j = start
            while j < b.count && b[j] != 0x22 {
                if b[j] == 0x5C || b[j] < 0x20 { return nil }   // an escape or a control character: the full reader decides
                j += 1
            }
            guard j < b.count, let s = String(validating: b[start..<j], as: UTF8.self) else { return nil }
            i = j + 1
            return s
        }
        var out: [String: Any] = [:]
        skip()
        guard i < b.count, b[i] == 0x7B else { return nil }
        i += 1
        skip()
        if i < b.count, b[i] == 0x7D { i += 1; skip(); return i == b.count ? out : nil }
        while true {
            skip()
            guard let key = string() else { return nil }
            skip()
            guard i < b.count, b[i] == 0x3A else { return nil }
            i += 1
            skip()
            if i + 4 <= b.count, b[i] == 0x6E, b[i + 1] == 0x75, b[i + 2] == 0x6C, b[i + 3] == 0x6C {
                out[key] = NSNull()
                i += 4
            } else {
                guard let value = string() else { return nil }
                out[key] = value
            }
            guard out.count < 64 else { return nil }
            skip()
            guard i < b.count else { return nil }
            if b[i] == 0x2C { i += 1; continue }
            guard b[i] == 0x7D else { return nil }
            i += 1
            skip()
            return i == b.count ? out : nil
        }
    }

    /// A receipt from its fields (an NDJSON object, or a CSV row by its header): message_id, status,
    /// at, reason, error_code, smpp.
    public static func receipt(fields o: [String: Any], line text: String) -> ReceiptLine {
        func bad(_ reason: String) -> ReceiptLine { .unreadable(line: text, reason: reason) }
        guard let ref = o["message_id"] as? String, !ref.isEmpty else { return bad("message_id: missing or not a string") }
        // The SMSC's own receipt text, passed through (SMPP 3.4: "id:… stat:DELIVRD err:000 …").
        var smpp: SMPPReceipt? = nil
        if let text = o["smpp"] as? String, !text.isEmpty {
            guard let parsed = SMPPReceipt.parse(text) else { return bad("smpp: not an SMPP receipt text (id:… stat:… err:…)") }
            smpp = parsed
        }
        let status: ReceiptStatus
        if let word = o["status"] as? String, !word.isEmpty {
            guard let s = ReceiptStatus(rawValue: word.lowercased()) else { return bad("status: \(Escaped(word)) is not a receipt status (\(ReceiptStatus.words))") }
            status = s
        } else if let s = smpp?.status {
            status = s
        } else if let stat = smpp?.stat {
            return bad("smpp: stat:\(Escaped(stat)) is not an SMPP state (DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE)")
        } else {
            return bad("status: missing or not a string (\(ReceiptStatus.words))")
        }
        var at: Timestamp? = nil
        if let value = o["at"], !(value is NSNull), (value as? String) != "" {
            // A time that cannot be read is refused, never dropped: it orders conflicting receipts.
            guard let t = (value as? String).flatMap(Timestamp.parseISO8601) else {
                return bad("at: expected ISO 8601 with an offset (2026-11-24T08:15:00+07:00), found \(Escaped("\(value)"))")
            }
            at = t
        }
        var part: Int? = nil
        if let value = o["part"], !(value is NSNull), "\(value)" != "" {
            guard let n = (value as? Int) ?? Int("\(value)"), (1...255).contains(n) else {
                return bad("part: expected the part's number from 1 to 255, found \(Escaped("\(value)"))")
            }
            part = n
        }
        // Voice: the call attempt (1-based), the seconds listened, and whether no call follows.
        var call: CallAttempt? = nil
        if let value = o["attempt"], !(value is NSNull), "\(value)" != "" {
            guard let n = (value as? Int) ?? Int("\(value)"), (1...20).contains(n) else {
                return bad("attempt: expected the call attempt's number from 1 to 20, found \(Escaped("\(value)"))")
            }
            var listened: Int? = nil
            if let l = o["listened"], !(l is NSNull), "\(l)" != "" {
                guard let seconds = (l as? Int) ?? Int("\(l)") ?? (l as? Double).map({ Int($0.rounded()) }), (0...3600).contains(seconds) else {
                    return bad("listened: expected seconds from 0 to 3600, found \(Escaped("\(l)"))")
                }
                listened = seconds
            }
            let final = o["final"].map { v in (v as? Bool) ?? ["true", "1"].contains("\(v)".lowercased()) } ?? false
            call = CallAttempt(attempt: n, listened: listened, final: final)
        } else if ReceiptStatus.voiceStatuses.contains(status) {
            return bad("attempt: a call's receipt (\(status.rawValue)) says which attempt it reports")
        }
        var reason = (o["reason"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? smpp?.reason
        if let code = o["error_code"].map({ "\($0)" }), !code.isEmpty { reason = (reason.map { $0 + ", " } ?? "") + "error \(code)" }
        return .receipt(.init(messageRef: ref, status: status, at: at ?? smpp?.doneDate, reason: reason, line: text, part: part, call: call))
    }

    /// Headers of a signed receipt request, protocol version 2: X-Loa-Signature = HMAC-SHA256(receipt
    /// secret, "<X-Loa-Timestamp>\n<Content-SHA256>"), so that a captured request cannot be replayed
    /// later (loa refuses a timestamp more than 5 minutes off and an exact signature seen before).
    public static func receiptHeaders(body: [UInt8], signer: HMACSigner, now: Int64) -> [(String, String)] {
        let hash = body.withUnsafeBytes { sha256Hex($0) }
        return [("Content-Type", "application/x-ndjson"), ("Content-SHA256", hash), ("X-Loa-Timestamp", String(now)),
                ("X-Loa-Signature-Version", "2"), ("X-Loa-Signature", signer.sign(Array(receiptSignedText(timestamp: String(now), contentSHA256: hash).utf8)))]
    }

    public static func receiptSignedText(timestamp: String, contentSHA256: String) -> String { "\(timestamp)\n\(contentSHA256)" }
}

