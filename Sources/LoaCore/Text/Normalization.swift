/// NFC normalization with a quick check in front.
///
/// Nearly all campaign text is already NFC, so the common case only scans the scalars.
/// Text that may not be NFC (combining marks, singletons, jamo, some Indic vowel signs)
/// goes through the standard library's native normalizer.
public enum NFC {
    /// Returns `text` in Normalization Form C.
    public static func normalize(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        if isQuickCheckStable(text) { return text }
        return String(decoding: text._nfcCodeUnits, as: UTF8.self)
    }

    /// True when every scalar is certainly NFC-stable in any context (the NFC quick check
    /// answers "yes"). A `false` only means "normalize to be sure".
    public static func isQuickCheckStable(_ text: String) -> Bool {
        for scalar in text.unicodeScalars where scalar.value >= 0x300 {
            if !isStable(scalar) { return false }
        }
        return true
    }

    @inline(__always)
    static func isStable(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x300 { return true }
        // Common ranges in loa's languages that are NFC-stable (no marks, no singletons).
        if v >= 0x1E00 && v <= 0x1EFF { return true }      // Latin Extended Additional (Vietnamese)
        if v >= 0x4E00 && v <= 0x9FFF { return true }      // CJK Unified Ideographs
        if v >= 0xAC00 && v <= 0xD7A3 { return true }      // Hangul syllables (a following jamo is caught below)
        if v >= 0x2010 && v <= 0x2027 { return true }      // dashes, quotes, ellipsis
        if scalar.properties.canonicalCombiningClass != .notReordered { return false }
        // Scalars with combining class 0 whose NFC quick check is "no" or "maybe" lie in these
        // blocks (DerivedNormalizationProps.txt); treat the whole block as unsafe.
        switch v {
        case 0x0340...0x0345, 0x0374, 0x037E, 0x0387: return false
        case 0x0900...0x0DFF: return false   // Indic two-part vowels, nukta forms
        case 0x0F00...0x0FFF: return false   // Tibetan
        case 0x1000...0x109F: return false   // Myanmar
        case 0x1100...0x11FF: return false   // Hangul jamo
        case 0x1B00...0x1B7F: return false   // Balinese
        case 0x1F00...0x1FFF: return false   // Greek Extended
        case 0x2000...0x2001, 0x2126, 0x212A...0x212B, 0x2329...0x232A, 0x2ADC: return false
        case 0x3099...0x309A: return false
        case 0xF900...0xFAFF, 0xFB1D...0xFB4F: return false
        case 0x11000...0x11FFF, 0x1D15E...0x1D1C0, 0x2F800...0x2FA1F: return false
        default: return true
        }
    }
}
