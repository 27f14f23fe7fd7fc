import Foundation
import HTTPTypes
import Hummingbird
import LoaCarriers
import LoaCore
import LoaCrypto
import NIOCore

/// The voice side of the simulated carrier: clips by their hash, call batches held to the
/// channels and calls per second, and receipts per call attempt as people answer or not.
extension CarrierSimulator {
    /// PUT /audio/{sha256}: the clip must hash to its name and be a WAV in the carrier's format.
    func handleAudio(request: Request, sha: String, body: [UInt8]) throws -> Response {
        guard let voice = options.voice else { return text(.notFound, "this carrier takes no voice calls") }
        if let refused = try refusedSignature(request, body: body, key: request.headers[HTTPField.Name("Idempotency-Key")!] ?? "",
                                              method: "PUT", path: "/audio/\(sha)") { return refused }
        let hash = body.withUnsafeBytes { sha256Hex($0) }
        guard hash == sha else { return text(.badRequest, "the clip's SHA-256 is \(hash), not \(sha)") }
        let wav: WAVAudio
        do { wav = try WAVAudio.read(body) } catch { return text(.unsupportedMediaType, "not a WAV file: \(error)") }
        let codec: WAVCodec = switch voice.audioFormat { case .wav: .pcm; case .alaw: .alaw; case .ulaw: .ulaw }
        guard wav.codec == codec, wav.sampleRate == 8000, wav.channels == 1 else {
            return text(.unsupportedMediaType, "expected 8 kHz mono \(voice.audioFormat.rawValue), found \(wav.codec.rawValue) \(wav.sampleRate) Hz, \(wav.channels) channel(s)")
        }
        let known = withLock { () -> Bool in
            let known = clips[sha] != nil
            clips[sha] = wav.duration
            stats.audioUploads += 1
            return known
        }
        return Response(status: known ? .ok : .created)
    }

    /// POST /calls: one line per call; the batch is refused (429) when its calls would exceed the
    /// calls per second or the free channels; each call's attempts come back as receipts.
    func handleCalls(request: Request, body: [UInt8]) async throws -> Response {
        guard let voice = options.voice else { return text(.notFound, "this carrier takes no voice calls") }
        let arrival = Self.now()
        let key = request.headers[HTTPField.Name("Idempotency-Key")!] ?? ""
        if let refused = try refusedSignature(request, body: body, key: key, method: "POST", path: "/calls") { return refused }
        guard !key.isEmpty else { return text(.badRequest, "Idempotency-Key is required") }
        let (previous, fault, busy) = replayOrFault(key: key)
        if busy { return Response(status: .conflict, headers: [.retryAfter: "1"]) }
        if let previous { return json(previous.status, previous.body) }
        defer { _ = withLock { inProgress.remove(key) } }
        switch fault {
        case .unavailable?: return Response(status: .serviceUnavailable, headers: [.retryAfter: "1"])
        case .serverError?: return text(.internalServerError, "simulated failure")
        default: break
        }
        let lines = body.split(separator: 0x0A).filter { !$0.isEmpty }
        if lines.count > options.maxBatch {
            return Response(status: .contentTooLarge, headers: [HTTPField.Name("X-Max-Batch")!: String(options.maxBatch)])
        }
        let outcome: (status: Int, body: String, receipts: [(delay: Double, line: String)], retryAfter: Int?) = withLock {
            activeCalls.removeAll { $0 <= arrival }
            callWindow.removeAll { $0.time <= arrival - 2 }
            let inSecond = Self.busiest(callWindow, adding: lines.count, at: arrival, span: 1)
            if inSecond > voice.callsPerSecond {
                stats.refused429 += 1
                return (429, "over \(voice.callsPerSecond) calls per second", [], 1)
            }
            if activeCalls.count + lines.count > voice.channels {
                stats.channelRefusals += 1
                return (429, "all \(voice.channels) channels busy", [], 1)
            }
            callWindow.append((arrival, lines.count))
            stats.maxCallsInAnySecond = max(stats.maxCallsInAnySecond, inSecond)
            var results: [String] = [], receipts: [(delay: Double, line: String)] = []
            for line in lines {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let id = o["message_id"] as? String,
                      let audio = o["audio"] as? String else {
                    results.append("{\"message_id\":null,\"status\":\"rejected\",\"reason\":\"malformed line\"}")
                    continue
                }
                guard let seconds = clips[audio] else {
                    stats.unknownAudio += 1
                    results.append("{\"message_id\":\"\(id)\",\"status\":\"rejected\",\"reason\":\"unknown audio \(audio)\"}")
                    continue
                }
                if let refused = refusedAsDuplicate(id) {
                    results.append(refused)
                    continue
                }
                stats.accepted += 1
                stats.calls += 1
                results.append("{\"message_id\":\"\(id)\",\"status\":\"accepted\"}")
                let attempts = (o["attempts"] as? Int) ?? 1
                let spacing = Double((o["spacing"] as? Int) ?? 600) * voice.spacingScale
                var offset = 0.0
                for attempt in 1...max(1, attempts) {
                    let x = rng.unit()
                    let ring = voice.ringSeconds * (0.2 + 0.6 * rng.unit())
                    var hold: Double, status: String, extra = ""
                    if x < voice.answerShare {
                        let complete = rng.unit() < voice.completeShare
                        let listened = complete ? seconds : seconds * rng.unit()
                        hold = ring + listened
                        status = complete ? "completed" : "answered"
                        extra = ",\"listened\":\(Int(listened.rounded()))"
                    } else if x < voice.answerShare + voice.busyShare {
                        hold = 0.5
                        status = "busy"
                    } else {
                        hold = voice.ringSeconds
                        status = "no-answer"
                    }
                    // The first attempt holds a channel now; later ones are placed in spare capacity.
                    if attempt == 1 { activeCalls.append(arrival + hold) }
                    let answered = status == "completed" || status == "answered"
                    let final = !answered && attempt == attempts
                    receipts.append((offset + hold, "{\"message_id\":\"\(id)\",\"status\":\"\(status)\",\"attempt\":\(attempt)\(extra)\(final ? ",\"final\":true" : "")}"))
                    if answered { break }
                    offset += hold + spacing
                }
            }
            stats.maxConcurrentCalls = max(stats.maxConcurrentCalls, activeCalls.count)
            stats.batches += 1
            let answer = "{\"batch_id\":\"\(key)\",\"results\":[\(results.joined(separator: ","))]}"
            answers[key] = (202, answer)
            return (202, answer, receipts, nil)
        }
        if outcome.status == 429 {
            return Response(status: .tooManyRequests, headers: [.retryAfter: String(outcome.retryAfter ?? 1)], body: .init(byteBuffer: ByteBuffer(string: outcome.body)))
        }
        if options.receiptURL != nil { receiptQueue.enqueue(outcome.receipts) }
        return json(outcome.status, outcome.body)
    }
}
