import Testing
@testable import LoaCore

@Suite("Voice in the core: G.711, WAV, recordings, call attempts, channels, call policy")
struct VoiceCoreTests {
    @Test("G.711 A-law and µ-law: every code decodes to a value that encodes back to it; every sample within the codec's step")
    func g711RoundTrip() {
        for code in 0...255 {
            let a = G711.alawToLinear(UInt8(code)), u = G711.ulawToLinear(UInt8(code))
            #expect(G711.alawToLinear(G711.linearToAlaw(a)) == a, "A-law code \(code)")
            #expect(G711.ulawToLinear(G711.linearToUlaw(u)) == u, "µ-law code \(code)")
        }
        var worstA = 0, worstU = 0
        for x in Int(Int16.min)...Int(Int16.max) {
            let s = Int16(x)
            // The step doubles with each segment: an error of at most 1/16 of the value (or 16 near zero).
            let bound = max(16, abs(x) / 16)
            let ea = abs(Int(G711.alawToLinear(G711.linearToAlaw(s))) - x)
            let eu = abs(Int(G711.ulawToLinear(G711.linearToUlaw(s))) - x)
            if ea > bound { worstA = max(worstA, ea) }
            if eu > bound && abs(x) <= 32124 { worstU = max(worstU, eu) }   // µ-law's largest value is 32,124
        }
        #expect(worstA == 0)
        #expect(worstU == 0)
        #expect(G711.linearToAlaw(0) == 0xD5)
        #expect(G711.linearToUlaw(0) == 0xFF)
        #expect(G711.linearToUlaw(32767) == 0x80)
        #expect(G711.ulawToLinear(0x80) == 32124)
    }

    @Test("WAV: written at 8 kHz mono in each format and read back exactly; other files are named")
    func wavRoundTrip() throws {
        let audio = TelephoneAudio(samples: [0, 1000, -1000, 32767, -32768, 12345])
        let pcm = audio.wavFile(.wav)
        #expect(pcm.count == 44 + 12)
        #expect(Array(pcm[4..<8]) == [UInt8(pcm.count - 8), 0, 0, 0])
        let back = try WAVAudio.read(pcm)
        #expect(back.codec == .pcm && back.sampleRate == 8000 && back.channels == 1 && back.bitsPerSample == 16)
        #expect(TelephoneAudio(back) == audio)
        for format in [TelephoneAudio.Format.alaw, .ulaw] {
            let file = audio.wavFile(format)
            let read = try WAVAudio.read(file)
            #expect(read.codec == (format == .alaw ? .alaw : .ulaw))
            #expect(read.frames == 6)
            let expected = audio.samples.map { format == .alaw ? G711.alawToLinear(G711.linearToAlaw($0)) : G711.ulawToLinear(G711.linearToUlaw($0)) }
            #expect(TelephoneAudio(read)?.samples == expected)
        }
        #expect(throws: AudioError("a MP3 file, not WAV")) { try WAVAudio.read(Array("ID3\u{3}\0\0\0\0\0\0".utf8)) }
        #expect(throws: AudioError("not a WAV file (no RIFF/WAVE header)")) { try WAVAudio.read(Array("hello".utf8)) }
        #expect(AudioContainer.detect(Array("OggS\0\u{2}".utf8)) == .ogg)
        // Found by fuzzing: a float file holding NaN is refused, not read (it crashed the conversion).
        var nan = Array(TelephoneAudio(samples: [0, 0]).wavFile(.wav).prefix(44))
        nan[20] = 3; nan[34] = 32; nan[32] = 4; nan[28] = 0; nan[29] = 0x7D; nan[30] = 0; nan[31] = 0
        nan[40] = 4; nan[41] = 0
        nan += [0x00, 0x00, 0xC0, 0x7F]
        #expect(throws: AudioError("WAV float sample 1 is not a number (NaN or infinite): the file is damaged")) { try WAVAudio.read(nan) }
        #expect(AudioContainer.detect(Array("\0\0\0\u{20}ftypM4A ".utf8)) == .m4a)
    }

    /// A tone of `seconds` at `amplitude` (0…1) between `silence` seconds of silence at each end.
    func tone(seconds: Double, amplitude: Double, silence: Double = 0) -> [Int16] {
        let quiet = [Int16](repeating: 0, count: Int(silence * 8000))
        let n = Int(seconds * 8000)
        let sound = (0..<n).map { i -> Int16 in
            let phase = Double(i % 20) / 20   // 400 Hz triangle
            return Int16((phase < 0.5 ? 4 * phase - 1 : 3 - 4 * phase) * amplitude * 32767)
        }
        return quiet + sound + quiet
    }

    @Test("recordings: silence trimmed to 100 ms, the level brought to −20 dBFS, silent and clipped recordings refused")
    func recordings() throws {
        let prepared = try #require(Recording.prepare(TelephoneAudio(samples: tone(seconds: 2, amplitude: 0.05, silence: 0.5))))
        #expect(prepared.trimmedStart == 0.4)
        #expect(prepared.trimmedEnd == 0.4)
        #expect(prepared.audio.duration == 2.2)
        #expect(format1(prepared.level) == "−20.0")
        #expect(prepared.gain > 0)
        // A loud recording is brought down, never above the −1 dBFS ceiling.
        let loud = try #require(Recording.prepare(TelephoneAudio(samples: tone(seconds: 1, amplitude: 0.95))))
        #expect(loud.peak <= -1.0 + 1e-9)
        #expect(Recording.prepare(TelephoneAudio(samples: [Int16](repeating: 0, count: 8000))) == nil)

        let silent = WAVAudio(codec: .pcm, sampleRate: 44100, channels: 2, bitsPerSample: 16, samples: [Float](repeating: 0, count: 88200))
        #expect(Recording.check(silent).1 == ["silent: no sound above −45.0 dBFS (the loudest 20 ms reach −∞ dBFS)"])
        var square = [Float](repeating: 0, count: 16000)
        for i in 0..<16000 { square[i] = (i / 40) % 2 == 0 ? 1 : -1 }
        let (findings, problems) = Recording.check(WAVAudio(codec: .pcm, sampleRate: 16000, channels: 1, bitsPerSample: 16, samples: square))
        #expect(findings.clippedShare == 1)
        #expect(problems == ["clipped: 100.0% of samples sit at full scale (at most 0.1%): record it again at a lower level"])
        let low = WAVAudio(codec: .pcm, sampleRate: 6000, channels: 1, bitsPerSample: 16, samples: tone(seconds: 1, amplitude: 0.3).map { Float($0) / 32768 })
        #expect(Recording.check(low).1 == ["recorded at 6000 Hz: a telephone needs at least 8000 Hz"])
        #expect(Recording.lengthProblems(61.2, maximum: 60) == ["61.2 s long: more than voice.max_seconds = 60"])
        #expect(Recording.lengthProblems(0.3, maximum: 60) == ["too short: 0.3 s of sound (at least 0.5 s)"])
    }

    @Test("a voice message follows its best attempt, whatever order the receipts come in")
    func bestAttempt() {
        typealias S = VoiceCall.Standing
        var m = S(state: .accepted, reason: nil, attempts: 0, listened: 0)
        func apply(_ status: ReceiptStatus, _ attempt: Int, listened: Int? = nil, final: Bool = false) -> S? {
            VoiceCall.apply(m, status: status, call: CallAttempt(attempt: attempt, listened: listened, final: final), reason: nil)
        }
        m = apply(.noAnswer, 1)!
        #expect(m == S(state: .accepted, reason: nil, attempts: 1, listened: 0))
        m = apply(.busy, 2)!
        #expect(m == S(state: .accepted, reason: nil, attempts: 2, listened: 0))
        m = apply(.answered, 3, listened: 25)!
        #expect(m == S(state: .delivered, reason: "answered", attempts: 3, listened: 25))
        #expect(m.billedMinutes == 1)
        #expect(apply(.noAnswer, 1, final: true) == nil, "a late unanswered attempt changes nothing")
        m = apply(.completed, 3, listened: 70)!
        #expect(m == S(state: .delivered, reason: "completed", attempts: 3, listened: 70))
        #expect(m.billedMinutes == 2)
        #expect(apply(.answered, 3, listened: 10) == nil, "a shorter listen never replaces a longer one")

        // Unanswered to the last attempt: failed; an answered attempt reported after that still counts.
        var n = S(state: .accepted, reason: nil, attempts: 0, listened: 0)
        n = VoiceCall.apply(n, status: .noAnswer, call: CallAttempt(attempt: 3, listened: nil, final: true), reason: nil)!
        #expect(n == S(state: .failed, reason: "no-answer after 3 attempts", attempts: 3, listened: 0))
        #expect(n.billedMinutes == 0)
        n = VoiceCall.apply(n, status: .answered, call: CallAttempt(attempt: 2, listened: 5, final: false), reason: nil)!
        #expect(n == S(state: .delivered, reason: "answered", attempts: 3, listened: 5))

        let fresh = S(state: .accepted, reason: nil, attempts: 0, listened: 0)
        #expect(VoiceCall.apply(fresh, status: .rejected, call: nil, reason: "invalid number") == S(state: .rejected, reason: "invalid number", attempts: 1, listened: 0))
        #expect(VoiceCall.apply(fresh, status: .delivered, call: nil, reason: nil) == nil)
        #expect(VoiceCall.apply(fresh, status: .failed, call: CallAttempt(attempt: 1, listened: nil, final: false), reason: "network") == S(state: .accepted, reason: nil, attempts: 1, listened: 0))
    }

    @Test("channels: a call holds one until its ring time and clip have passed; new calls wait for a free one (simulated time)")
    func channelsHeld() {
        var lane = LaneState(.init(tps: 10, maxBatch: 5, dailyQuota: 1000, retry: RetryPolicy(), channels: 2))
        #expect(lane.pacedSize == 1)
        #expect(lane.admit(1, at: 0, hold: 5) == .admitted(at: 0))
        #expect(lane.admit(1, at: 0.2, hold: 5) == .admitted(at: 0.2))
        #expect(lane.channelsInUse(at: 0.4) == 2)
        #expect(lane.admit(1, at: 0.4, hold: 5) == .wait(until: 5))
        #expect(lane.admit(1, at: 5, hold: 5) == .admitted(at: 5))
        #expect(lane.channelsInUse(at: 5.1) == 2)
        #expect(lane.admit(1, at: 5.1, hold: 5) == .wait(until: 5.2))
        // A batch the carrier did not take gives its channels back.
        var rng = SplitMix64(seed: 1)
        _ = lane.settle(.throttled(retryAfter: 1), size: 1, attempt: 1, isRetry: false, campaignEnd: nil, admittedAt: 5, wall: 0, now: 5.1, random: &rng)
        #expect(lane.channelsInUse(at: 5.1) == 1)
    }

    @Test("a call policy: only inside the campaign's windows, outside quiet hours unless an emergency, never after the end")
    func callPolicy() {
        let end = Timestamp.parseISO8601("2026-12-12T19:00:00+07:00")!
        let p = CallPolicy(attempts: 3, spacing: 600, callingHours: [DailyWindow("08:00-11:00")!, DailyWindow("14:00-22:00")!],
                           quietHours: DailyWindow("21:00-07:00")!, notAfter: end)
        #expect(p.allows(Timestamp.parseISO8601("2026-12-10T09:00:00+07:00")!))
        #expect(!p.allows(Timestamp.parseISO8601("2026-12-10T12:00:00+07:00")!))
        #expect(!p.allows(Timestamp.parseISO8601("2026-12-10T21:30:00+07:00")!), "quiet hours")
        #expect(!p.allows(Timestamp.parseISO8601("2026-12-12T19:30:00+07:00")!), "after the end")
    }

    @Test("a script's estimated length: syllables at the speaking rate, numbers read out, pauses at punctuation")
    func estimate() {
        // 8 syllables, 2 sentence ends: 0.3 + 8 × 0.26 + 2 × 0.45.
        #expect(format1(Speech.estimatedSeconds("Xin chào. Đây là tin nhắn thử nghiệm.", language: "vi")) == "3.3")
        // "2026" is about 7 syllables: 0.3 + (1 + 7) × 0.26.
        #expect(format1(Speech.estimatedSeconds("năm 2026", language: "vi")) == "2.4")
        #expect(Speech.voice(for: "vi") == "vi")
        #expect(Speech.voice(for: "sed") == nil)
    }
}
