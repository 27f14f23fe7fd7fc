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
        return normalizeWithoutQuickCheck(text)
    }

    /// Normalizes `text` that the quick check already flagged.
    static func normalizeWithoutQuickCheck(_ text: String) -> String {
        String(decoding: text._nfcCodeUnits, as: UTF8.self)
    }

    /// True when the NFC quick check (UAX #15 §9) answers "yes": combining marks are in canonical
    /// order and no scalar is NFC_QC=No/Maybe. A `false` only means "normalize to be sure".
    public static func isQuickCheckStable(_ text: String) -> Bool {
        var state = QuickCheck()
        for scalar in text.unicodeScalars where !state.accept(scalar.value) { return false }
        return true
    }

    /// The quick check's running state: the previous combining class.
    struct QuickCheck {
        var lastClass: UInt8 = 0

        /// Feeds one scalar; false when the text may not be NFC.
        @inline(__always)
        mutating func accept(_ v: UInt32) -> Bool {
            if v < 0x300 { lastClass = 0; return true }
            return acceptSlow(v)
        }

        mutating func acceptSlow(_ v: UInt32) -> Bool {
            // Common ranges with combining class 0 and NFC_QC=Yes.
            if (v >= 0x1E00 && v <= 0x1EFF) || (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0xAC00 && v <= 0xD7A3)
                || (v >= 0x2010 && v <= 0x2027) || (v >= 0x3000 && v <= 0x3029) || (v >= 0x3030 && v <= 0x3098) || (v >= 0xFF00 && v <= 0xFFEF) {
                lastClass = 0
                return true
            }
            if NFC.mayChangeUnderNFC(v) { return false }
            let ccc = NFC.combiningClass(v)
            if ccc != 0 && lastClass > ccc { return false }   // marks out of canonical order
            lastClass = ccc
            return true
        }
    }

    /// Canonical combining class, with the Thai, Lao and Khmer blocks answered from a short list
    /// (their tone marks are frequent in loa's messages).
    @inline(__always)
    static func combiningClass(_ v: UInt32) -> UInt8 {
        switch v {
        case 0x0E00...0x0EFF:
            switch v {
            case 0x0E38...0x0E39: return 103
            case 0x0E3A, 0x0EBA: return 9
            case 0x0E48...0x0E4B: return 107
            case 0x0EB8...0x0EB9: return 118
            case 0x0EC8...0x0ECB: return 122
            default: return 0
            }
        case 0x1780...0x17FF:
            return v == 0x17D2 ? 9 : v == 0x17DD ? 230 : 0
        default:
            return UInt8(Unicode.Scalar(v)!.properties.canonicalCombiningClass.rawValue)
        }
    }

    /// Scalars whose NFC quick check is "no" or "maybe" (DerivedNormalizationProps.txt), by whole
    /// blocks where the list is long: a superset, so a hit only costs a real normalization.
    static func mayChangeUnderNFC(_ v: UInt32) -> Bool {
        switch v {
        case 0x0300...0x036F: return true   // combining diacritics: NFC composes them
        case 0x0374, 0x037E, 0x0387: return true
        case 0x0653...0x0655: return true
        case 0x0900...0x0DFF: return true   // Indic nukta forms and two-part vowels
        case 0x0F00...0x0FFF: return true   // Tibetan
        case 0x1000...0x109F: return true   // Myanmar
        case 0x1100...0x11FF: return true   // Hangul jamo
        case 0x1B00...0x1B7F: return true   // Balinese
        case 0x1F00...0x1FFF: return true   // Greek Extended
        case 0x2000...0x2001, 0x2126, 0x212A...0x212B, 0x2329...0x232A, 0x2ADC: return true
        case 0x3099...0x309A: return true
        case 0xF900...0xFAFF, 0xFB1D...0xFB4F: return true
        case 0x11000...0x11FFF, 0x1D15E...0x1D1C0, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}
