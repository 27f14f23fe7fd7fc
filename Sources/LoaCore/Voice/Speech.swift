/// Speech synthesis as a campaign sees it: which languages loa can speak (espeak-ng voices), at
/// what speed, and how long a script will last before it is synthesised.
public enum Speech {
    /// espeak-ng's voice for each campaign language it speaks. Every other language needs a
    /// recording (`audio:`): espeak-ng has no voice for Bahnar, Jarai, Xơ Đăng, H'Mông, Tày,
    /// Nùng, Thái, Khmer or Lao.
    public static let voices: [String: String] = ["vi": "vi", "en": "en-us", "zh": "cmn"]

    /// Words per minute given to espeak-ng (`-s`): slower than its default of 175, for listeners on
    /// a poor line who may not speak the language every day.
    public static let wordsPerMinute = 150

    public static func voice(for language: String) -> String? { voices[language] ?? voices[String(language.prefix { $0 != "-" })] }

    /// Seconds the script will last when synthesised: syllables (Vietnamese words, Chinese
    /// characters, digits read out) at the speaking rate, plus pauses at punctuation. Measured
    /// against espeak-ng 1.51 at 150 wpm: within 20% for Vietnamese, English and Chinese sentences (the test holds it to 25%).
    public static func estimatedSeconds(_ script: String, language: String) -> Double {
        var units = 0.0, sentenceEnds = 0, commas = 0
        var inWord = false, digits = 0
        func endNumber() {
            // "2026" is read "hai nghìn không trăm hai mươi sáu": about two syllables per digit.
            if digits > 0 { units += digits == 1 ? 1 : Double(2 * digits - 1) }
            digits = 0
        }
        for ch in script.unicodeScalars {
            let v = ch.value
            if (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) {
                endNumber(); units += 1; inWord = false
            } else if ch.properties.numericType != nil && v < 0x80 {
                if inWord && digits == 0 { inWord = false }
                digits += 1
            } else if ch.properties.isAlphabetic {
                endNumber()
                if !inWord { units += 1; inWord = true }
            } else {
                endNumber()
                inWord = false
                if ".!?。！？:;".unicodeScalars.contains(ch) { sentenceEnds += 1 }
                if ",，、".unicodeScalars.contains(ch) { commas += 1 }
            }
        }
        endNumber()
        // espeak-ng's rate is in English words; a Vietnamese syllable takes less, a Chinese character more.
        let factor = language.hasPrefix("zh") ? 1.35 : language.hasPrefix("en") ? 0.8 : 0.65
        let perUnit = 60.0 / Double(wordsPerMinute) * factor
        return 0.3 + units * perUnit + 0.45 * Double(sentenceEnds) + 0.2 * Double(commas)
    }
}
