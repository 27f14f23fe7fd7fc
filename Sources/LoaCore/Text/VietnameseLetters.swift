/// Vietnamese vowels with their tones, the table behind diacritic stripping, legacy-encoding
/// conversion and syllable checks.
public enum VietnameseTone: Int, Sendable, CaseIterable {
    case level = 0      // ngang
    case grave = 1      // huyền
    case acute = 2      // sắc
    case hook = 3       // hỏi
    case tilde = 4      // ngã
    case dotBelow = 5   // nặng
}

public enum VietnameseLetters {
    /// Rows: a vowel letter (with its shape marks) followed by its five toned forms, in
    /// `VietnameseTone` order.
    static let lowerRows: [[Unicode.Scalar]] = [
        "aàáảãạ", "ăằắẳẵặ", "âầấẩẫậ", "eèéẻẽẹ", "êềếểễệ", "iìíỉĩị",
        "oòóỏõọ", "ôồốổỗộ", "ơờớởỡợ", "uùúủũụ", "ưừứửữự", "yỳýỷỹỵ",
    ].map { Array($0.unicodeScalars) }
    static let upperRows: [[Unicode.Scalar]] = [
        "AÀÁẢÃẠ", "ĂẰẮẲẴẶ", "ÂẦẤẨẪẬ", "EÈÉẺẼẸ", "ÊỀẾỂỄỆ", "IÌÍỈĨỊ",
        "OÒÓỎÕỌ", "ÔỒỐỔỖỘ", "ƠỜỚỞỠỢ", "UÙÚỦŨỤ", "ƯỪỨỬỮỰ", "YỲÝỶỸỴ",
    ].map { Array($0.unicodeScalars) }
    /// Plain ASCII base of each row.
    static let rowBase: [Unicode.Scalar] = ["a", "a", "a", "e", "e", "i", "o", "o", "o", "u", "u", "y"]

    /// A vowel's place in the table.
    public struct Vowel: Equatable, Sendable {
        public var row: Int
        public var tone: VietnameseTone
        public var isUppercase: Bool
    }

    static let index: [UInt32: Vowel] = {
        var map: [UInt32: Vowel] = [:]
        for (row, scalars) in lowerRows.enumerated() {
            for (tone, s) in scalars.enumerated() { map[s.value] = Vowel(row: row, tone: VietnameseTone(rawValue: tone)!, isUppercase: false) }
        }
        for (row, scalars) in upperRows.enumerated() {
            for (tone, s) in scalars.enumerated() { map[s.value] = Vowel(row: row, tone: VietnameseTone(rawValue: tone)!, isUppercase: true) }
        }
        return map
    }()

    public static func vowel(_ scalar: Unicode.Scalar) -> Vowel? { index[scalar.value] }

    /// The scalar for a row, tone and case.
    public static func scalar(row: Int, tone: VietnameseTone, uppercase: Bool) -> Unicode.Scalar {
        (uppercase ? upperRows : lowerRows)[row][tone.rawValue]
    }

    /// Row numbers for the letters VNI composes from.
    static let rowA = 0, rowABreve = 1, rowACircumflex = 2, rowE = 3, rowECircumflex = 4, rowI = 5
    static let rowO = 6, rowOCircumflex = 7, rowOHorn = 8, rowU = 9, rowUHorn = 10, rowY = 11
}

/// Removing diacritics ("không dấu") so that text fits the GSM 7-bit alphabet.
public enum Diacritics {
    /// Strips diacritics from Latin letters (Vietnamese tones and shapes, Đ/đ → D/d, the breves
    /// and other marks of ethnic-language orthographies) and drops combining marks. Other
    /// characters are kept.
    public static func strip(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in NFC.normalize(text).unicodeScalars {
            if scalar.value < 0x80 { out.append(scalar); continue }
            if let vowel = VietnameseLetters.vowel(scalar) {
                let base = VietnameseLetters.rowBase[vowel.row]
                out.append(vowel.isUppercase ? Unicode.Scalar(base.value - 0x20)! : base)
                continue
            }
            if scalar.properties.canonicalCombiningClass != .notReordered || isCombiningMark(scalar) { continue }
            if let base = latinBase(scalar) { out.append(base); continue }
            out.append(scalar)
        }
        return String(out)
    }

    /// Replaces typographic punctuation that forces UCS-2 by its ASCII look-alike:
    /// curly quotes, dashes, ellipsis, non-breaking and other spaces.
    public static func plainPunctuation(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0x00B4: out.append("'")
            case 0x201C, 0x201D, 0x201E, 0x201F, 0x2033, 0x00AB, 0x00BB: out.append("\"")
            case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212: out.append("-")
            case 0x2026: out.append(contentsOf: "...".unicodeScalars)
            case 0x00A0, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: out.append(" ")
            case 0x200B, 0xFEFF: continue
            case 0x2022, 0x00B7: out.append("-")
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// The characters of `text` (after NFC) that are not in the GSM 7-bit alphabet, each once,
    /// in order of first appearance.
    /// The same for text already NFC: characters of one GSM-7 scalar are passed over without
    /// building a `Character` (most of a Vietnamese text).
    public static func nonGSM7Characters(nfc text: String) -> [Character] {
        var seen: Set<UInt32> = []
        var out: [Character] = []
        var scalars = text.unicodeScalars.makeIterator()
        // Only when every scalar is GSM-7 or a letter of one scalar per character is the quick
        // scan exact; anything that may join scalars into one character goes the general way.
        while let s = scalars.next() {
            if GSM7Alphabet.code(for: s) != nil { continue }
            // When every scalar is simple (`TextInspector.isSimple`), each is a character of its
            // own. A mark, a joiner or anything else: the general way.
            guard TextInspector.isSimple(s.value) else { return nonGSM7CharactersSlow(text) }
            if seen.insert(s.value).inserted { out.append(Character(s)) }
        }
        return out
    }

    static func nonGSM7CharactersSlow(_ text: String) -> [Character] { nonGSM7CharactersByStandardLibrary(text) }

    /// Character by character (the standard library's grapheme breaking: exact for every script);
    /// in NFC text two characters are the same exactly when their scalars are, so no
    /// `Set<Character>` (which normalizes every character it hashes) is needed.
    public static func nonGSM7CharactersByStandardLibrary(_ text: String) -> [Character] {
        var single: Set<UInt32> = []
        var out: [Character] = []
        for ch in text {
            let scalars = ch.unicodeScalars
            var it = scalars.makeIterator()
            guard let first = it.next() else { continue }
            if it.next() == nil {
                if GSM7Alphabet.code(for: first) == nil, single.insert(first.value).inserted { out.append(ch) }
            } else if scalars.contains(where: { GSM7Alphabet.code(for: $0) == nil }), !out.contains(where: { $0.unicodeScalars.elementsEqual(scalars) }) {
                out.append(ch)
            }
        }
        return out
    }

    public static func nonGSM7Characters(_ text: String) -> [Character] {
        var seen: Set<Character> = []
        var out: [Character] = []
        for ch in NFC.normalize(text) where ch.unicodeScalars.contains(where: { GSM7Alphabet.code(for: $0) == nil }) {
            if seen.insert(ch).inserted { out.append(ch) }
        }
        return out
    }

    private static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark: return (0x300...0x36F).contains(scalar.value) || (0x1AB0...0x1AFF).contains(scalar.value) || (0x1DC0...0x1DFF).contains(scalar.value) || (0x20D0...0x20FF).contains(scalar.value)
        default: return false
        }
    }

    /// Base letter of a precomposed Latin letter, from its Unicode name
    /// ("LATIN SMALL LETTER O WITH BREVE" → "o", "LATIN CAPITAL LETTER D WITH STROKE" → "D").
    private static func latinBase(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        guard let name = scalar.properties.name, name.hasPrefix("LATIN "), name.contains(" WITH ") else { return nil }
        let words = name.split(separator: " ")
        guard words.count >= 5, words[2] == "LETTER", words[3].count == 1, let letter = words[3].unicodeScalars.first,
              letter.value >= 0x41, letter.value <= 0x5A else { return nil }
        return words[1] == "SMALL" ? Unicode.Scalar(letter.value + 0x20)! : letter
    }
}
