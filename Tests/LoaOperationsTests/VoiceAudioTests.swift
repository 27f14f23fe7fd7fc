import Foundation
import Testing
import LoaCore
import LoaCrypto
import LoaOperations
import LoaReference
import LoaStore
import LoaTestSupport

/// Runs a tool the test needs (sox, espeak-ng: `ops/test.sh` installs them); fails the test when it fails.
@discardableResult
func tool(_ name: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [name] + args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw StoreError.input("\(name) \(args.joined(separator: " ")): \(text)") }
    return text
}

func scratchDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-voice-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite("Voice audio: synthesis, real recordings converted and checked, G.711 as sox writes it, voice campaign files")
struct VoiceAudioTests {
    @Test("espeak-ng synthesis gives 8 kHz audio whose length is within 25% of the estimate (Vietnamese, English, Chinese)")
    func synthesis() throws {
        for (language, script) in [
            ("vi", "Đây là thông báo của Ủy ban nhân dân xã. Mùa khô năm nay, nguy cơ cháy rừng rất cao. Bà con không đốt nương, không mang lửa vào rừng."),
            ("vi", "Bão số 3 sẽ đổ bộ vào ngày 12 tháng 12, gió mạnh cấp 10. Người dân cần sơ tán khỏi vùng trũng thấp."),
            ("en", "The forest fire risk is very high this dry season. Do not burn fields or bring fire into the forest."),
            ("zh", "旱季森林火灾风险很高。请不要烧田，不要把火带进森林。"),
        ] {
            let clip = try VoiceAudio.synthesise(script, language: language, maxSeconds: 60)
            let wav = try WAVAudio.read(clip.wav)
            #expect(wav.sampleRate == 8000 && wav.channels == 1 && wav.bitsPerSample == 16 && wav.codec == .pcm)
            let estimate = try #require(clip.estimatedSeconds)
            #expect(abs(clip.duration - estimate) <= 0.25 * clip.duration, "\(language): \(clip.duration) s measured, \(estimate) s estimated")
            #expect(format1(clip.prepared.level) == "−20.0" || clip.prepared.peak >= -1.0 - 1e-9, "\(language): level \(clip.prepared.level)")
        }
        #expect(throws: (any Error).self) { try VoiceAudio.synthesise("Hello", language: "sed", maxSeconds: 60) }
        // The measured length is held to the maximum too.
        let long = String(repeating: "Người dân các xã biên giới cần chằng chống nhà cửa. ", count: 12)
        #expect { try VoiceAudio.synthesise(long, language: "vi", maxSeconds: 20) } throws: { "\($0)".contains("more than voice.max_seconds = 20") }
    }

    @Test("recordings as people make them: 44.1 kHz stereo WAV, MP3 and OGG converted to 8 kHz mono; clipped, silent and too long refused")
    func conversions() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 2 s of a voice-like tone between 0.5 s of silence each side.
        try tool("sox", ["-D", "-n", "-r", "44100", "-c", "2", "-b", "16", "\(dir)/stereo.wav", "synth", "2", "sine", "300-900", "vol", "0.3", "pad", "0.5", "0.5"])
        let stereo = try VoiceAudio.recording("\(dir)/stereo.wav", shownAs: "stereo.wav", language: "sed", maxSeconds: 60)
        let wav = try WAVAudio.read(stereo.wav)
        #expect(wav.sampleRate == 8000 && wav.channels == 1)
        #expect(abs(stereo.duration - 2.2) < 0.06, "\(stereo.duration) s: 2 s of sound and 0.1 s kept each side")
        #expect(format1(stereo.prepared.level) == "−20.0")
        for format in ["mp3", "ogg", "flac"] {
            try tool("sox", ["\(dir)/stereo.wav", "\(dir)/voice.\(format)"])
            let clip = try VoiceAudio.recording("\(dir)/voice.\(format)", shownAs: "voice.\(format)", language: "sed", maxSeconds: 60)
            #expect(abs(clip.duration - 2.2) < 0.15, "\(format): \(clip.duration) s")
        }
        try tool("sox", ["-D", "-n", "-r", "44100", "-c", "2", "-b", "16", "\(dir)/clipped.wav", "synth", "2", "sine", "440", "gain", "20"])
        #expect { try VoiceAudio.recording("\(dir)/clipped.wav", shownAs: "clipped.wav", language: "sed", maxSeconds: 60) } throws: {
            "\($0)".hasPrefix("clipped.wav: clipped: ") && "\($0)".contains("record it again at a lower level")
        }
        try tool("sox", ["-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "\(dir)/silent.wav", "trim", "0", "3"])
        #expect { try VoiceAudio.recording("\(dir)/silent.wav", shownAs: "silent.wav", language: "sed", maxSeconds: 60) } throws: {
            "\($0)" == "silent.wav: silent: no sound above −45.0 dBFS (the loudest 20 ms reach −∞ dBFS)"
        }
        try tool("sox", ["-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "\(dir)/long.wav", "synth", "70", "sine", "440", "vol", "0.3"])
        #expect { try VoiceAudio.recording("\(dir)/long.wav", shownAs: "long.wav", language: "sed", maxSeconds: 60) } throws: {
            "\($0)" == "long.wav: 70.0 s long: more than voice.max_seconds = 60"
        }
        // Without a decoder an MP3 is refused with what to install.
        #expect { try VoiceAudio.recording("\(dir)/voice.mp3", shownAs: "voice.mp3", language: "sed", maxSeconds: 60, tools: .init()) } throws: {
            "\($0)" == "voice.mp3: MP3 audio needs a decoder: install sox with libsox-fmt-all (MP3, OGG, FLAC) or ffmpeg (M4A and more), or give a WAV file"
        }
        #expect { try VoiceAudio.recording("\(dir)/stereo.wav", shownAs: "stereo.wav", language: "sed", maxSeconds: 60, tools: .init()) } throws: {
            "\($0)" == "stereo.wav: 44100 Hz, 2 channel(s): converting to 8 kHz mono needs sox (apt-get install sox), or give an 8 kHz mono WAV"
        }
        #expect { try VoiceAudio.recording("\(dir)/none.wav", shownAs: "none.wav", language: "sed", maxSeconds: 60) } throws: {
            "\($0)" == "none.wav: cannot be read (no such file, or no permission)"
        }
    }

    @Test("G.711: sox reads loa's A-law and µ-law files to exactly loa's samples; loa's coding is within one step of sox's own")
    func g711AsSoxReadsIt() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tool("sox", ["-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "\(dir)/pcm.wav", "synth", "1", "sine", "100-3000", "vol", "0.9"])
        let pcm = try #require(TelephoneAudio(try WAVAudio.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/pcm.wav"))))))
        for (format, encoding) in [(TelephoneAudio.Format.alaw, "a-law"), (.ulaw, "u-law")] {
            func decode(_ code: UInt8) -> Int16 { format == .alaw ? G711.alawToLinear(code) : G711.ulawToLinear(code) }
            let file = pcm.wavFile(format)
            try Data(file).write(to: URL(fileURLWithPath: "\(dir)/ours.wav"))
            // sox decodes loa's file (container and codes) to exactly the samples loa's decoder gives.
            try tool("sox", ["\(dir)/ours.wav", "-t", "raw", "-e", "signed-integer", "-b", "16", "\(dir)/decoded.raw"])
            let decoded = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/decoded.raw")))
            var soxSamples: [Int16] = []
            var k = 0
            while k + 1 < decoded.count {
                let bits = UInt16(decoded[k]) | UInt16(decoded[k + 1]) << 8
                soxSamples.append(Int16(bitPattern: bits))
                k += 2
            }
            let ours = Array(file[(file.count - pcm.samples.count)...])
            let ourSamples: [Int16] = ours.map { decode($0) }
            #expect(soxSamples == ourSamples, "\(encoding)")
            // sox's own coder rounds where the reference coder truncates: the same code, or the next one.
            try tool("sox", ["\(dir)/pcm.wav", "-t", "raw", "-e", encoding, "-b", "8", "\(dir)/sox.raw"])
            let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/sox.raw")))
            #expect(theirs.count == ours.count)
            let different = zip(ours, theirs).filter { $0 != $1 }
            #expect(Double(different.count) < 0.05 * Double(ours.count), "\(encoding): \(different.count) codes differ")
            let levels: [Int16] = Set((0...255).map { decode(UInt8($0)) }).sorted()
            for (a, b) in different {
                let i = levels.firstIndex(of: decode(a)) ?? 0, j = levels.firstIndex(of: decode(b)) ?? 1000
                #expect(abs(i - j) == 1, "\(encoding): \(decode(a)) vs \(decode(b)) are not neighbouring levels")
            }
        }
    }

    func voiceCampaign(_ variants: String, extra: String = "", channel: String = "voice") -> String {
        """
        id: goi-thu
        title: Cuộc gọi thử
        office: Sở
        legal_basis: "1/KH"
        channel: \(channel)
        sender: "02603862345"
        priority: urgent
        audience:
          communes: [23377]
        languages:
          default: vi
          by_commune:
            23377: sed
        variants:
        \(variants)
        \(extra)
        schedule:
          start: 2026-12-05T08:00:00+07:00
          end: 2026-12-12T19:00:00+07:00
          windows: ["08:00-11:00"]
        """
    }

    @Test("voice campaign files: every problem beside its field, recordings checked, and a recording replaced after approval changes the pin")
    func campaignFiles() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let units = try ReferenceData.administrativeUnits()
        func errors(_ text: String) throws -> [String] {
            try LoadedCampaign.parse(text, path: "\(dir)/c.yaml", units: units).errors.map { "\($0.position.line):\($0.field): \($0.message)" }
        }
        let bad = try errors(voiceCampaign("""
              vi:
                script: "UBND {commune} thông báo"
              sed:
                script: "Chưa dịch"
                review: needs-native-review
              en:
                script: "x"
                audio: a.wav
            """, extra: "voice:\n  attempts: 9\n  colour: red"))
        #expect(bad == [
            "15:variants.sed: missing: sed is the language of commune 23377",
            "16:variants.vi.script: a voice script is synthesised once per language, so {commune} cannot change from person to person: write the name, or send an SMS campaign",
            "18:variants.sed.script: loa has no synthesiser for Sedang (Xơ Đăng) (espeak-ng speaks en, vi, zh): give a recording with audio: FILE",
            "21:variants.en: give script: (synthesised) or audio: (a recording), not both",
            "24:voice.attempts: expected 1 to 5 calls per person, found 9",
            "25:voice.colour: unknown field (expected one of: max_seconds, attempts, spacing)",
        ], "\(bad)")
        let smsWithVoice = try errors(voiceCampaign("  vi: \"Xin chào\"\n  sed:\n    text: \"x\"\n    review: needs-native-review", extra: "voice:\n  max_seconds: 30", channel: "sms"))
        #expect(smsWithVoice == ["20:voice: only a voice campaign (channel: voice) has voice: settings"], "\(smsWithVoice)")
        let long = String(repeating: "Người dân các xã biên giới cần chằng chống nhà cửa. ", count: 12)
        let tooLong = try errors(voiceCampaign("  vi: \"\(long)\"\n  sed:\n    audio: sed.wav\n    review: needs-native-review", extra: "voice:\n  max_seconds: 20"))
        #expect(tooLong == ["15:variants.vi.script: about 40.0 s when spoken (estimated): more than voice.max_seconds = 20; shorten it",
                "17:variants.sed.audio: sed.wav: no such recording (looked for \(dir)/sed.wav)"], "\(tooLong)")

        // A fit recording: no error; the pin covers it.
        try tool("sox", ["-D", "-n", "-r", "16000", "-c", "1", "-b", "16", "\(dir)/sed.wav", "synth", "2", "sine", "300-900", "vol", "0.3"])
        let file = "\(dir)/c.yaml"
        try voiceCampaign("  vi: \"Xin chào bà con\"\n  sed:\n    audio: sed.wav\n    review: needs-native-review").write(toFile: file, atomically: true, encoding: .utf8)
        let first = try LoadedCampaign.load(file, units: units)
        #expect(first.errors.isEmpty, "\(first.errors)")
        #expect(first.recordings == ["sed": "\(dir)/sed.wav"])
        #expect(first.previews.first { $0.language == "sed" }?.measuredSeconds.map(format1) == "2.0")
        #expect(first.previews.first { $0.language == "vi" }?.estimatedSeconds != nil)
        #expect(try LoadedCampaign.load(file, units: units).sha256 == first.sha256)
        try tool("sox", ["-D", "-n", "-r", "16000", "-c", "1", "-b", "16", "\(dir)/sed.wav", "synth", "2.5", "sine", "300-900", "vol", "0.3"])
        #expect(try LoadedCampaign.load(file, units: units).sha256 != first.sha256, "a replaced recording is a changed campaign")
    }

    @Test("the audio is made once and kept in the store with an audit entry; a second dispatch uses what is kept", arguments: StoreEngine.available)
    func audioKeptOnce(engine: StoreEngine) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tool("sox", ["-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "\(dir)/sed.wav", "synth", "1.5", "sine", "300-900", "vol", "0.3"])
        try voiceCampaign("  vi: \"Xin chào bà con\"\n  sed:\n    audio: sed.wav\n    review: verified\n    reviewed_by: Y Blơng").write(toFile: "\(dir)/c.yaml", atomically: true, encoding: .utf8)
        let loaded = try LoadedCampaign.load("\(dir)/c.yaml", units: try ReferenceData.administrativeUnits())
        let store = try Store(location: try engine.scratchLocation())
        _ = try store.submitCampaign(loaded.campaign!, file: "\(dir)/c.yaml", sha256: loaded.sha256, by: "lan")
        let dispatch = CampaignDispatch(store: store, actor: "minh")
        let clips = try dispatch.prepareAudio(loaded)
        #expect(clips.map(\.language) == ["sed", "vi"])
        #expect(clips.map(\.source) == ["recording sed.wav", "espeak-ng vi at 150 wpm"])
        #expect(clips[0].durationMs == 1500)
        // Kept: made again with no tool at all, the same clips come back.
        #expect(try dispatch.prepareAudio(loaded, tools: .init()) == clips)
        let wav = try #require(try store.audioClip(sha256: clips[1].sha256))
        #expect(wav.wav.withUnsafeBytes { sha256Hex($0) } == clips[1].sha256)
        let entry = try #require(try store.auditTrail(campaign: "goi-thu").last)
        #expect(entry.action == "voice-audio")
        #expect(entry.detail == "sed 1.5 s recording sed.wav sha256 \(clips[0].sha256); vi \(format1(Double(clips[1].durationMs) / 1000)) s espeak-ng vi at 150 wpm sha256 \(clips[1].sha256)")
    }
}
