import Foundation
import LoaCore
import LoaCrypto

/// A voice campaign's audio for one language, ready for carriers: 8 kHz mono, silence trimmed,
/// level set (`Recording.prepare`).
public struct VoiceClip: Sendable {
    public var language: String
    /// Where it came from: `espeak-ng vi at 150 wpm` or `recording audio/x.wav`.
    public var source: String
    public var prepared: Recording.Prepared
    /// For a script: its estimated length before synthesis.
    public var estimatedSeconds: Double?
    /// The clip as loa keeps it (WAV, 16-bit PCM) and its SHA-256.
    public var wav: [UInt8]
    public var sha256: String

    public var duration: Double { prepared.audio.duration }

    init(language: String, source: String, prepared: Recording.Prepared, estimatedSeconds: Double?) {
        self.language = language
        self.source = source
        self.prepared = prepared
        self.estimatedSeconds = estimatedSeconds
        wav = prepared.audio.wavFile(.wav)
        sha256 = wav.withUnsafeBytes { sha256Hex($0) }
    }
}

/// Synthesis, decoding and resampling with kept tools: espeak-ng (the program, not the library:
/// no C headers to build against, a synthesiser that hangs or crashes cannot take loa with it,
/// and it runs once per campaign and language, ~30 ms each), sox for resampling and for MP3,
/// OGG and FLAC (with libsox-fmt-all), ffmpeg for anything else (M4A) when it is installed.
/// WAV files already at 8 kHz mono need none of them. Every decision about the audio (fit to
/// send or not, trimming, level) is `Recording`'s, in the core.
public enum VoiceAudio {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// The programs found on PATH.
    public struct Tools: Sendable {
        public var espeak: String?
        public var sox: String?
        public var ffmpeg: String?

        /// Named tools (nil: not installed); `find()` looks them up on PATH.
        public init(espeak: String? = nil, sox: String? = nil, ffmpeg: String? = nil) {
            self.espeak = espeak
            self.sox = sox
            self.ffmpeg = ffmpeg
        }

        public static func find() -> Tools {
            Tools(espeak: which("espeak-ng"), sox: which("sox"), ffmpeg: which("ffmpeg"))
        }

        static func which(_ name: String) -> String? {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            for dir in path.split(separator: ":") {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
            return nil
        }
    }

    /// Every language's clip: scripts synthesised, recordings read and checked. Throws with every
    /// language's problem at once.
    public static func render(_ loaded: LoadedCampaign, tools: Tools = .find()) throws -> [VoiceClip] {
        guard let c = loaded.campaign, c.channel == .voice else { return [] }
        var clips: [VoiceClip] = []
        var problems: [String] = []
        for tag in c.variants.keys.sorted() {
            let v = c.variants[tag]!
            do {
                if let clip = loaded.recordedClips[tag] {
                    clips.append(clip)   // made ready when the file was checked
                } else if let audio = v.audio {
                    clips.append(try recording(loaded.resolve(audio), shownAs: audio, language: tag, maxSeconds: c.voice.maxSeconds, tools: tools))
                } else {
                    let script = c.voiceScript(tag) ?? ""
                    clips.append(try synthesise(script, language: tag, maxSeconds: c.voice.maxSeconds, tools: tools))
                }
            } catch {
                problems.append("variants.\(tag): \(error)")
            }
        }
        if !problems.isEmpty { throw Failure(problems.joined(separator: "\n")) }
        return clips
    }

    /// A script spoken by espeak-ng, made ready; its measured length must fit `maxSeconds`.
    public static func synthesise(_ script: String, language: String, maxSeconds: Int, tools: Tools = .find()) throws -> VoiceClip {
        guard let voice = Speech.voice(for: language) else { throw Failure("loa has no synthesiser for \(language): give a recording (audio:)") }
        guard let espeak = tools.espeak else { throw Failure("synthesis needs espeak-ng, which is not installed (apt-get install espeak-ng)") }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = "\(dir)/speech.wav"
        try run(espeak, ["-v", voice, "-s", String(Speech.wordsPerMinute), "-w", raw, "--stdin"], input: Array(script.utf8), what: "espeak-ng")
        let wav = try readWAV(raw, shownAs: "espeak-ng's output")
        let audio = try telephone(wav, file: raw, shownAs: "espeak-ng's output", tools: tools)
        guard let prepared = Recording.prepare(audio) else { throw Failure("espeak-ng produced silence for this script") }
        let problems = Recording.lengthProblems(prepared.audio.duration, maximum: maxSeconds)
        if !problems.isEmpty { throw Failure("synthesised: " + problems.joined(separator: "; ")) }
        return VoiceClip(language: language, source: "espeak-ng \(voice) at \(Speech.wordsPerMinute) wpm", prepared: prepared,
                         estimatedSeconds: Speech.estimatedSeconds(script, language: language))
    }

    /// A recording read, checked (container, rate, channels, silence, clipping, length) and made ready.
    public static func recording(_ path: String, shownAs name: String? = nil, language: String, maxSeconds: Int, tools: Tools = .find()) throws -> VoiceClip {
        let shown = name ?? path
        let wav = try decode(path, shownAs: shown, tools: tools)
        let (_, problems) = Recording.check(wav)
        if !problems.isEmpty { throw Failure("\(shown): " + problems.joined(separator: "; ")) }
        let audio = try telephone(wav, file: path, shownAs: shown, tools: tools)
        guard let prepared = Recording.prepare(audio) else { throw Failure("\(shown): silent after conversion to 8 kHz") }
        let length = Recording.lengthProblems(prepared.audio.duration, maximum: maxSeconds)
        if !length.isEmpty { throw Failure("\(shown): " + length.joined(separator: "; ")) }
        return VoiceClip(language: language, source: "recording \(shown)", prepared: prepared, estimatedSeconds: nil)
    }

    /// Any audio file as samples at its own rate and channels: WAV directly, the rest through sox
    /// (MP3, OGG, FLAC) or ffmpeg (anything it reads, M4A included).
    public static func decode(_ path: String, shownAs shown: String, tools: Tools = .find()) throws -> WAVAudio {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure("\(shown): cannot be read (no such file, or no permission)") }
        let bytes = [UInt8](data)
        let kind = AudioContainer.detect(bytes)
        if kind == .wav { return try readWAV(bytes, shownAs: shown) }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = "\(dir)/decoded.wav"
        var tried: [String] = []
        if kind != .m4a, let sox = tools.sox {
            do {
                try run(sox, [path, "-t", "wav", "-e", "signed-integer", "-b", "16", out], what: "sox")
                return try readWAV(out, shownAs: shown)
            } catch { tried.append("\(error)") }
        }
        if let ffmpeg = tools.ffmpeg {
            do {
                try run(ffmpeg, ["-nostdin", "-loglevel", "error", "-y", "-i", path, "-f", "wav", "-acodec", "pcm_s16le", out], what: "ffmpeg")
                return try readWAV(out, shownAs: shown)
            } catch { tried.append("\(error)") }
        }
        let what = kind == .unknown ? "not an audio file loa recognises (WAV, MP3, OGG, FLAC, M4A)" : "\(kind.rawValue.uppercased()) audio"
        if tried.isEmpty {
            throw Failure("\(shown): \(what) needs a decoder: install sox with libsox-fmt-all (MP3, OGG, FLAC) or ffmpeg (M4A and more), or give a WAV file")
        }
        throw Failure("\(shown): \(what) could not be decoded: " + tried.joined(separator: "; "))
    }

    /// 8 kHz mono: as it is when it already is, else resampled and mixed down by sox.
    static func telephone(_ wav: WAVAudio, file: String, shownAs shown: String, tools: Tools) throws -> TelephoneAudio {
        if let audio = TelephoneAudio(wav) { return audio }
        guard let sox = tools.sox else {
            throw Failure("\(shown): \(wav.sampleRate) Hz, \(wav.channels) channel(s): converting to 8 kHz mono needs sox (apt-get install sox), or give an 8 kHz mono WAV")
        }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // sox reads the decoded samples again from a WAV of our own (the original may be MP3 etc.).
        let source = "\(dir)/in.wav", out = "\(dir)/8k.wav"
        try Data(TelephoneAudio.floatWAV(wav)).write(to: URL(fileURLWithPath: source))
        try run(sox, ["-G", source, "-t", "wav", "-r", "8000", "-c", "1", "-e", "signed-integer", "-b", "16", out], what: "sox")
        guard let audio = TelephoneAudio(try readWAV(out, shownAs: "sox's output")) else { throw Failure("\(shown): sox did not produce 8 kHz mono") }
        return audio
    }

    static func readWAV(_ path: String, shownAs shown: String) throws -> WAVAudio {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure("\(shown): missing") }
        return try readWAV([UInt8](data), shownAs: shown)
    }

    static func readWAV(_ bytes: [UInt8], shownAs shown: String) throws -> WAVAudio {
        do { return try WAVAudio.read(bytes) } catch { throw Failure("\(shown): \(error)") }
    }

    static func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "loa-voice-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return dir
    }

    /// Runs a tool; its error output becomes the error when it fails. At most 120 s.
    static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil, what: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        let stdin = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(120)
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        while p.isRunning {
            if Date() > deadline { p.terminate(); throw Failure("\(what) took more than 120 s") }
            usleep(5_000)
        }
        guard p.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure("\(what) failed (exit \(p.terminationStatus))" + (text.isEmpty ? "" : ": \(text.split(separator: "\n").prefix(3).joined(separator: " / "))"))
        }
    }
}

extension TelephoneAudio {
    /// Any decoded audio as a 32-bit float WAV (for sox to resample without another loss).
    static func floatWAV(_ wav: WAVAudio) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8 & 0xFF)) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16 & 0xFFFF) }
        let size = wav.samples.count * 4
        out.append(contentsOf: Array("RIFF".utf8)); u32(36 + size)
        out.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16)
        u16(3); u16(wav.channels); u32(wav.sampleRate); u32(wav.sampleRate * wav.channels * 4); u16(wav.channels * 4); u16(32)
        out.append(contentsOf: Array("data".utf8)); u32(size)
        out.reserveCapacity(out.count + size)
        for s in wav.samples { u32(Int(s.bitPattern)) }
        return out
    }
}
