/// Whether a recording is fit to be a voice message, and how it is made ready: silence trimmed at
/// both ends, loudness brought to one level for every language, so a listener in one commune does
/// not hear a whisper and another a shout.
///
/// The rules (README "Voice"): 20-ms frames; a frame is sound when its RMS is above −45 dBFS;
/// the level is the RMS over the sound frames (a simplified ITU-T P.56 active level), brought to
/// −20 dBFS unless the peak would then pass −1 dBFS (the gain stops there); 100 ms of silence
/// is kept before the first and after the last sound frame. A recording is refused when it has no
/// sound frame (silent), when more than 0.1% of its samples sit at full scale in runs of 3 or more
/// (clipped), when its sample rate is below 8 kHz, and when its sound lasts under 0.5 s or more
/// than the campaign's maximum.
public enum Recording {
    public static let frameSeconds = 0.02
    public static let silenceThreshold = -45.0
    public static let targetLevel = -20.0
    public static let peakCeiling = -1.0
    public static let margin = 0.1
    public static let minimumSeconds = 0.5
    public static let clippedShareLimit = 0.001

    /// What was found in a recording before it was made ready.
    public struct Findings: Sendable, Equatable {
        public var sampleRate: Int
        public var channels: Int
        public var duration: Double
        /// Samples at full scale in runs of 3 or more, as a share of all samples.
        public var clippedShare: Double
        /// The loudest 20-ms frame, dBFS.
        public var loudestFrame: Double
    }

    /// Checks a decoded recording at its own rate and channels; the problems, worst first (empty: fit).
    public static func check(_ wav: WAVAudio) -> (Findings, [String]) {
        let ch = max(1, wav.channels)
        var clipped = 0
        for c in 0..<ch {
            var run = 0
            var k = c
            while k < wav.samples.count {
                if abs(wav.samples[k]) >= 0.999 { run += 1 } else {
                    if run >= 3 { clipped += run }
                    run = 0
                }
                k += ch
            }
            if run >= 3 { clipped += run }
        }
        let frame = max(1, Int(Double(wav.sampleRate) * frameSeconds)) * ch
        var loudest = -Double.infinity
        var start = 0
        while start < wav.samples.count {
            let end = min(wav.samples.count, start + frame)
            var sum = 0.0
            for k in start..<end { sum += Double(wav.samples[k]) * Double(wav.samples[k]) }
            loudest = max(loudest, decibels((sum / Double(end - start)).squareRoot()))
            start = end
        }
        let share = wav.samples.isEmpty ? 0 : Double(clipped) / Double(wav.samples.count)
        let findings = Findings(sampleRate: wav.sampleRate, channels: wav.channels, duration: wav.duration, clippedShare: share, loudestFrame: loudest)
        var problems: [String] = []
        if wav.samples.isEmpty { problems.append("empty: no samples") }
        else if loudest <= silenceThreshold {
            problems.append("silent: no sound above \(format1(silenceThreshold)) dBFS (the loudest 20 ms reach \(loudest.isFinite ? format1(loudest) : "−∞") dBFS)")
        }
        if share > clippedShareLimit {
            problems.append("clipped: \(format1(share * 100))% of samples sit at full scale (at most \(format1(clippedShareLimit * 100))%): record it again at a lower level")
        }
        if wav.sampleRate < TelephoneAudio.sampleRate {
            problems.append("recorded at \(wav.sampleRate) Hz: a telephone needs at least \(TelephoneAudio.sampleRate) Hz")
        }
        return (findings, problems)
    }

    /// What preparing did.
    public struct Prepared: Sendable, Equatable {
        public var audio: TelephoneAudio
        public var trimmedStart: Double
        public var trimmedEnd: Double
        /// The gain applied, dB.
        public var gain: Double
        /// The active level after the gain, dBFS.
        public var level: Double
        public var peak: Double
    }

    /// Trims silence at both ends and sets the level; nil when there is no sound at all.
    public static func prepare(_ audio: TelephoneAudio) -> Prepared? {
        let s = audio.samples
        let frame = Int(Double(TelephoneAudio.sampleRate) * frameSeconds)
        var levels: [Double] = []
        var start = 0
        while start < s.count {
            let end = min(s.count, start + frame)
            var sum = 0.0
            for k in start..<end { let x = Double(s[k]) / 32768; sum += x * x }
            levels.append(decibels((sum / Double(end - start)).squareRoot()))
            start = end
        }
        guard let first = levels.firstIndex(where: { $0 > silenceThreshold }), let last = levels.lastIndex(where: { $0 > silenceThreshold }) else { return nil }
        let keep = Int(margin * Double(TelephoneAudio.sampleRate))
        let from = max(0, first * frame - keep), to = min(s.count, (last + 1) * frame + keep)
        var sum = 0.0, n = 0, peak = 0.0
        for f in first...last where levels[f] > silenceThreshold {
            for k in (f * frame)..<min(s.count, (f + 1) * frame) { let x = Double(s[k]) / 32768; sum += x * x; n += 1 }
        }
        for k in from..<to { peak = max(peak, abs(Double(s[k])) / 32768) }
        let active = decibels((sum / Double(max(1, n))).squareRoot())
        var gain = targetLevel - active
        let peakDB = decibels(peak)
        if peakDB + gain > peakCeiling { gain = peakCeiling - peakDB }
        let factor = pow10(gain / 20)
        let out = s[from..<to].map { Int16(clamping: Int((Double($0) * factor).rounded())) }
        return Prepared(audio: TelephoneAudio(samples: out), trimmedStart: Double(from) / Double(TelephoneAudio.sampleRate),
                        trimmedEnd: Double(s.count - to) / Double(TelephoneAudio.sampleRate), gain: gain, level: active + gain, peak: peakDB + gain)
    }

    /// The problems of a prepared recording's length against the campaign's maximum.
    public static func lengthProblems(_ seconds: Double, maximum: Int) -> [String] {
        if seconds < minimumSeconds { return ["too short: \(format1(seconds)) s of sound (at least \(format1(minimumSeconds)) s)"] }
        if seconds > Double(maximum) { return ["\(format1(seconds)) s long: more than voice.max_seconds = \(maximum)"] }
        return []
    }

    public static func decibels(_ amplitude: Double) -> Double { amplitude > 0 ? 20 * log10(amplitude) : -.infinity }
}

/// One decimal, without Foundation.
public func format1(_ x: Double) -> String {
    let tenths = Int((abs(x) * 10).rounded())
    return (x < 0 && tenths > 0 ? "−" : "") + "\(tenths / 10).\(tenths % 10)"
}

/// log10 and 10^x without Foundation (the core has none): by the natural logarithm's series.
func log10(_ x: Double) -> Double { naturalLog(x) / 2.302585092994046 }

func naturalLog(_ x: Double) -> Double {
    guard x > 0 else { return -.infinity }
    // x = m · 2^e with m in [1, 2): ln x = e·ln 2 + ln m, ln m = 2·atanh((m−1)/(m+1)).
    var m = x, e = 0.0
    while m >= 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    let y = (m - 1) / (m + 1), y2 = y * y
    var term = y, sum = 0.0, k = 1.0
    while abs(term / k) > 1e-17 { sum += term / k; term *= y2; k += 2 }
    return e * 0.6931471805599453 + 2 * sum
}

func pow10(_ x: Double) -> Double { exponential(x * 2.302585092994046) }

func exponential(_ x: Double) -> Double {
    // e^x = (e^(x/2^k))^(2^k), with the series for a small argument.
    var k = 0, r = x
    while abs(r) > 0.5 { r /= 2; k += 1 }
    var term = 1.0, sum = 1.0, n = 1.0
    while abs(term) > 1e-17 { term *= r / n; sum += term; n += 1 }
    for _ in 0..<k { sum *= sum }
    return sum
}
