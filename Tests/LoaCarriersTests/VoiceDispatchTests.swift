import Foundation
import Hummingbird
import Testing
import LoaCore
import LoaCrypto
import LoaStore
@testable import LoaCarriers
import LoaCarrierSimulator
import LoaOperations
import LoaReference
import LoaServer
import LoaTestSupport

/// A clip of `seconds` of tone, as loa keeps clips (8 kHz, 16-bit, level set).
func toneClip(seconds: Double, hertz: Double = 440) -> TelephoneAudio {
    let n = Int(seconds * 8000)
    var samples = [Int16](repeating: 0, count: n)
    // A square-ish tone without Foundation's sin in the value: a triangle wave is enough for a carrier.
    let period = 8000 / hertz
    for i in 0..<n {
        let phase = Double(i).truncatingRemainder(dividingBy: period) / period
        samples[i] = Int16((phase < 0.5 ? 4 * phase - 1 : 3 - 4 * phase) * 8000)
    }
    return Recording.prepare(TelephoneAudio(samples: samples))!.audio
}

/// A sending voice campaign with `count` calls to `carrier`, its clip kept in the store.
func storeWithVoiceCampaign(_ path: String, carrier: Carrier, count: Int, clipSeconds: Double, id: String = "voice-campaign") throws -> String {
    let store = try Store(location: path)
    _ = try store.submitCampaign(id: id, title: "Cuộc gọi thử", priority: .urgent, file: "\(id).yaml", sha256: "abc", by: "lan", channel: .voice)
    _ = try store.approveCampaign(id, sha256: "abc", by: "minh", unreviewed: [])
    _ = try store.transitionCampaign(id, "start", by: "minh")
    let wav = toneClip(seconds: clipSeconds).wavFile()
    let sha = wav.withUnsafeBytes { sha256Hex($0) }
    _ = try store.saveCampaignAudio(campaign: id, language: "vi", wav: wav, sha256: sha, durationMs: Int(clipSeconds * 1000), source: "test tone")
    let calls = (0..<count).map { i in
        PlannedMessage.call(carrier: carrier, subscriber: Pseudonym(w0: UInt64(i), w1: 7, w2: 7, w3: 7).description, language: "vi", commune: 23377, clip: sha)
    }
    _ = try store.planMessages(campaign: id, priority: .urgent, day: 20_000, capPerDay: 1, calls)
    return sha
}

/// Voice end to end: held at the carrier's side (concurrent calls, calls per second), so it runs
/// with the timing tests, alone (its name ends in DispatchTimingTests for `ops/test.sh`'s filter).
@Suite("Voice dispatch: channels and calls per second held at the carrier, receipts per attempt (run alone)", .serialized)
struct VoiceDispatchTimingTests {
    @Test("a voice campaign end to end: one clip upload, every call once, channels and calls/s held, best attempts recorded, the report adds up",
          arguments: StoreEngine.available)
    func voiceEndToEnd(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        let sha = try storeWithVoiceCampaign(path, carrier: .viettel, count: 12, clipSeconds: 1.2)
        let endpoint = try ReceiptEndpoint(sink: Store(location: path, create: false), secrets: [.viettel: receiptSecret])
        let receiptRouter = Router()
        endpoint.addRoutes(to: receiptRouter)
        let receiptServer = BackgroundServer()
        let receiptPort = try await receiptServer.start(receiptRouter)
        let (sim, server, port) = try await startSimulator(.viettel, tps: 400, maxBatch: 100) { o in
            o.receiptURL = "http://127.0.0.1:\(receiptPort)/receipts/viettel"
            o.receiptSecret = receiptSecret
            var voice = CarrierSimulator.Voice(channels: 3, callsPerSecond: 2, ringSeconds: 1, audioFormat: .alaw)
            voice.spacingScale = 0.001
            o.voice = voice
        }
        var g = gateway(.viettel, port: port, tps: 400)
        g.voice = CarrierGateway.Voice(channels: 3, callsPerSecond: 2, ringSeconds: 1, audioFormat: .alaw)
        var campaigns = policies(["voice-campaign"])
        campaigns.channels["voice-campaign"] = .voice
        let end = Timestamp(seconds: Int64(Date().timeIntervalSince1970) + 86400)
        campaigns.calls["voice-campaign"] = CallPolicy(attempts: 3, spacing: 600, callingHours: [DailyWindow(startMinute: 0, endMinute: 1440)], quietHours: nil, notAfter: end)
        let started = Date()
        try await runDispatcher(try dispatcher(path, gateways: [g], campaigns: campaigns))
        let elapsed = Date().timeIntervalSince(started)
        let stats = sim.currentStats()
        #expect(stats.calls == 12)
        #expect(stats.duplicateMessages == 0)
        #expect(stats.audioUploads == 1)
        #expect(stats.unknownAudio == 0)
        #expect(stats.channelRefusals == 0)
        #expect(stats.refused429 == 0)
        #expect(stats.maxConcurrentCalls <= 3, "\(stats.maxConcurrentCalls) calls at once")
        #expect(stats.maxConcurrentCalls >= 2, "the channels were used: \(stats.maxConcurrentCalls)")
        #expect(stats.maxCallsInAnySecond <= 2, "\(stats.maxCallsInAnySecond) calls in one second")
        // 12 calls, 3 channels held 1 s ring + 1.2 s clip each: at least 3 rounds after the first.
        #expect(elapsed >= 3 * 2.2 - 0.5, "\(elapsed) s")
        sim.drainReceipts(timeout: 15)
        try await Task.sleep(for: .milliseconds(500))
        let store = try Store(location: path)
        let counts = try store.messageCounts(campaign: "voice-campaign")["viettel"] ?? [:]
        let finals = (counts[.delivered] ?? 0) + (counts[.failed] ?? 0)
        #expect(finals == 12, "\(counts)")
        #expect((counts[.delivered] ?? 0) > 0, "\(counts)")
        // The clip went in the carrier's format (A-law) and the calls named it.
        #expect(try store.campaignAudio("voice-campaign").map(\.sha256) == [sha])
        #expect(endpoint.totals.unmatched == 0)
        // The report: reached = delivered, completed ≤ reached, calls/person from the receipts, minutes billed.
        let report = try CampaignReport(store: store, campaign: "voice-campaign", by: .carrier, units: ReferenceData.administrativeUnits(),
                                        prices: .init(perSegment: ["viettel": ["voice": 1000]]))
        let calls = try #require(report.calls)
        #expect(calls.total.called == 12)
        #expect(calls.total.reached == counts[.delivered] ?? 0)
        #expect(calls.total.completed <= calls.total.reached)
        #expect(calls.total.attempts >= 12)
        #expect(report.report.total.segmentsSent == calls.total.reached, "every answered call of ≤ 60 s is one billed minute")
        #expect(report.report.total.cost == Double(calls.total.reached) * 1000)
        #expect(report.report.total.addsUp)
        #expect(try store.campaignRecord("voice-campaign")?.state == .completed)
        await receiptServer.stop()
        await server.stop()
    }

    @Test("a carrier that refuses the clip (another audio format): the voice lane stops, no call is made final or sent", arguments: [StoreEngine.sqlite])
    func clipRefused(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        _ = try storeWithVoiceCampaign(path, carrier: .viettel, count: 4, clipSeconds: 1)
        // The carrier takes µ-law; loa's carrier file says 16-bit WAV: the clip gets 415.
        let (sim, server, port) = try await startSimulator(.viettel, tps: 400, maxBatch: 100) { o in
            o.voice = CarrierSimulator.Voice(channels: 3, callsPerSecond: 2, ringSeconds: 1, audioFormat: .ulaw)
        }
        var g = gateway(.viettel, port: port, tps: 400)
        g.voice = CarrierGateway.Voice(channels: 3, callsPerSecond: 2, ringSeconds: 1, audioFormat: .wav)
        var campaigns = policies(["voice-campaign"])
        campaigns.channels["voice-campaign"] = .voice
        campaigns.calls["voice-campaign"] = CallPolicy(attempts: 1, spacing: 600, callingHours: [DailyWindow(startMinute: 0, endMinute: 1440)], quietHours: nil,
                                                       notAfter: Timestamp(seconds: Int64(Date().timeIntervalSince1970) + 86400))
        let (gateways, voiceCampaigns) = ([g], campaigns)
        let lanes = try await onThread { try dispatcher(path, gateways: gateways, campaigns: voiceCampaigns).run(untilDrained: true) }
        let voice = try #require(lanes.first { $0.channel == .voice })
        #expect(voice.fault == "the carrier refused the audio clip (PUT /audio/" + (voice.fault?.dropFirst(47).prefix(64) ?? "") + "): HTTP 415 expected 8 kHz mono ulaw, found pcm 8000 Hz, 1 channel(s); check voice.audio_format in the carrier file", "\(String(describing: voice.fault))")
        #expect(sim.currentStats().calls == 0)
        let counts = try Store(location: path).messageCounts(campaign: "voice-campaign")["viettel"] ?? [:]
        #expect(counts[.planned] == 4, "nothing made final: \(counts)")
        #expect(counts[.rejected] == nil && counts[.accepted] == nil)
        await server.stop()
    }
}
