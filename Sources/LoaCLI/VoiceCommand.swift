import ArgumentParser
import Foundation
import LoaCore
import LoaOperations

struct VoiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voice",
        abstract: "Voice campaigns: make the audio a reviewer listens to, check a recording.",
        subcommands: [VoiceRender.self, VoiceInspect.self]
    )
}

struct VoiceRender: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Write each language's audio of a voice campaign, as carriers will get it.",
        discussion: """
            Scripts are spoken by espeak-ng (at \(Speech.wordsPerMinute) words per minute); recordings are read, \
            checked (container, sample rate, channels, silence, clipping, length) and converted. Each \
            becomes 8 kHz mono with silence trimmed and the level set to \(Int(Recording.targetLevel)) dBFS \
            (peaks at most \(Int(Recording.peakCeiling)) dBFS). Files: DIR/ID-LANGUAGE.wav (or .alaw.wav, \
            .ulaw.wav with --format). Exit status 1 when a language's audio cannot be made.
            """
    )

    @Argument(help: "A voice campaign file.") var file: String
    @Option(name: .long, help: "Directory for the audio files (created when missing).") var out: String
    @Option(name: .long, help: "wav (16-bit PCM), alaw or ulaw (G.711), as a carrier takes it.") var format = "wav"

    func run() async throws {
        guard let audioFormat = TelephoneAudio.Format(rawValue: format) else { throw ValidationError("--format: expected wav, alaw or ulaw, found '\(format)'") }
        let loaded = try checkedCampaign(file, units: try loadUnits())
        let c = loaded.campaign!
        guard c.channel == .voice else { throw CLIError("\(file): \(c.id) is an SMS campaign (channel: sms): nothing to render") }
        let clips: [VoiceClip]
        do { clips = try VoiceAudio.render(loaded) } catch { throw CLIError("\(file): \(error)") }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for clip in clips {
            let path = (out as NSString).appendingPathComponent("\(c.id)-\(clip.language)\(audioFormat == .wav ? "" : ".\(audioFormat.rawValue)").wav")
            try Data(clip.prepared.audio.wavFile(audioFormat)).write(to: URL(fileURLWithPath: path))
            var line = "\(path): \(clip.language), \(format1(clip.duration)) s"
            if let e = clip.estimatedSeconds { line += " (estimated \(format1(e)) s)" }
            line += ", \(clip.source); level \(format1(clip.prepared.level)) dBFS (gain \(clip.prepared.gain >= 0 ? "+" : "")\(format1(clip.prepared.gain)) dB), peak \(format1(clip.prepared.peak)) dBFS"
            if clip.prepared.trimmedStart + clip.prepared.trimmedEnd >= 0.05 {
                line += ", trimmed \(format1(clip.prepared.trimmedStart)) s + \(format1(clip.prepared.trimmedEnd)) s of silence"
            }
            if let v = c.variants[clip.language], v.review == .needsNativeReview { line += "  [needs native review]" }
            print(line)
        }
    }
}

struct VoiceInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Check a recording: container, rate, channels, length, silence, clipping; exit 1 when unfit.")

    @Argument(help: "An audio file (WAV; MP3, OGG, FLAC with sox; M4A with ffmpeg).") var file: String
    @Option(name: .long, help: "The longest a message may be, in seconds.") var maxSeconds = 60

    func run() async throws {
        let wav: WAVAudio
        do { wav = try VoiceAudio.decode(file, shownAs: file) } catch { throw CLIError("\(error)") }
        let (findings, problems) = Recording.check(wav)
        print("\(file): \(wav.codec.rawValue) \(wav.bitsPerSample)-bit, \(findings.sampleRate) Hz, \(findings.channels) channel\(findings.channels == 1 ? "" : "s"), \(format1(findings.duration)) s, loudest 20 ms \(findings.loudestFrame.isFinite ? format1(findings.loudestFrame) : "−∞") dBFS, \(format1(findings.clippedShare * 100))% clipped")
        if !problems.isEmpty { throw CLIError(problems.map { "\(file): \($0)" }.joined(separator: "\n")) }
        do {
            let clip = try VoiceAudio.recording(file, language: "und", maxSeconds: maxSeconds)
            print("fit to send: \(format1(clip.duration)) s at 8 kHz after trimming, level \(format1(clip.prepared.level)) dBFS")
        } catch { throw CLIError("\(error)") }
    }
}
