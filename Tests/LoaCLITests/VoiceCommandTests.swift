import Foundation
import Testing

@Suite("loa voice, and voice campaigns at the command line (end to end)")
struct VoiceCommandTests {
    let root = CLI.packageRoot.path
    let example = "campaigns/kontum-loa-goi-chay-rung-2026.yaml"

    /// The fmt chunk of a plain WAV file: coding, channels, rate, bits.
    func format(_ path: String) throws -> [Int] {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        return [u16(20), u16(22), u16(24) | u16(26) << 16, u16(34)]
    }

    @Test func checkSaysWhatEachLanguageWillSound() throws {
        let r = try CLI.run(["campaign", "check", example], directory: root)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("  vi   script spoken by espeak-ng vi, about 16.2 s (estimated; loa voice render measures it)"), "\(r.stdout)")
        #expect(r.stdout.contains("  sed  recording audio/kontum-xodang-cho-ghi-am.wav, 5.6 s  [needs native review]"))
        #expect(r.stdout.contains("  calls: at most 60 s each, 3 attempts per person 15m apart"))
        #expect(r.stderr.contains("warning: variants.sed: recording not yet checked by a native speaker (review: needs-native-review)"))
    }

    @Test func renderWritesWhatAReviewerHears() throws {
        let out = try CLI.temporaryDirectory()
        let r = try CLI.run(["voice", "render", example, "--out", out], directory: root)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("\(out)/kontum-loa-goi-chay-rung-2026-sed.wav: sed, 5.6 s, recording audio/kontum-xodang-cho-ghi-am.wav; level −20.0 dBFS"))
        #expect(lines[0].hasSuffix("[needs native review]"))
        #expect(lines[1].hasPrefix("\(out)/kontum-loa-goi-chay-rung-2026-vi.wav: vi, "))
        #expect(lines[1].contains("(estimated 16.2 s), espeak-ng vi at 150 wpm; level −20.0 dBFS"))
        #expect(try format("\(out)/kontum-loa-goi-chay-rung-2026-vi.wav") == [1, 1, 8000, 16])
        let mu = try CLI.run(["voice", "render", example, "--out", out, "--format", "ulaw"], directory: root)
        #expect(mu.status == 0, "\(mu.stderr)")
        #expect(try format("\(out)/kontum-loa-goi-chay-rung-2026-sed.ulaw.wav") == [7, 1, 8000, 8])
        let sms = try CLI.run(["voice", "render", "campaigns/langson-cua-khau-2026.yaml", "--out", out], directory: root)
        #expect(sms.status == 1)
        #expect(sms.stderr.contains("is an SMS campaign (channel: sms): nothing to render"))
    }

    @Test func inspectRefusesAClippedRecording() throws {
        let dir = try CLI.temporaryDirectory()
        let sox = Process()
        sox.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sox.arguments = ["sox", "-D", "-n", "-r", "44100", "-c", "2", "-b", "16", "\(dir)/loud.wav", "synth", "2", "sine", "440", "gain", "20"]
        sox.standardError = FileHandle.nullDevice
        try sox.run()
        sox.waitUntilExit()
        let r = try CLI.run(["voice", "inspect", "\(dir)/loud.wav"])
        #expect(r.status == 1)
        #expect(r.stdout.hasPrefix("\(dir)/loud.wav: pcm 16-bit, 44100 Hz, 2 channels, 2.0 s"))
        #expect(r.stderr.contains("\(dir)/loud.wav: clipped: "))
        let ok = try CLI.run(["voice", "inspect", "\(root)/campaigns/audio/kontum-xodang-cho-ghi-am.wav"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("fit to send: 5.6 s at 8 kHz after trimming, level −20.0 dBFS"))
    }

    @Test func kannelCarriesNoVoice() throws {
        let dir = try CLI.temporaryDirectory()
        try Data("""
            serialization_version: 1
            name: itelecom
            protocol: kannel
            endpoint: http://127.0.0.1:13013/cgi-bin/sendsms
            tps: 10
            max_batch: 10
            credentials:
              username_env: KU
              password_env: KP
            voice:
              channels: 4
              calls_per_second: 1
              audio_format: mp3
            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/itelecom.yaml"))
        let r = try CLI.run(["campaign", "check", example, "--carriers", dir], directory: root)
        // The carrier file is refused; the campaign check says why and goes on without it.
        let check = try CLI.run(["carrier-sim", "--carrier", "\(dir)/itelecom.yaml"])
        #expect(check.status != 0)
        #expect(check.stderr.contains("itelecom.yaml:11:3: error: voice: Kannel carries no voice calls: remove voice: (voice campaigns need a batch-http gateway)"), "\(check.stderr)")
        #expect(check.stderr.contains("itelecom.yaml:13:17: error: voice.audio_format: expected wav (8 kHz 16-bit PCM), alaw or ulaw (G.711), found 'mp3'"))
        #expect(r.status == 0)
    }
}
