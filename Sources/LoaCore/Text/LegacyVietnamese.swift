/// Legacy 8-bit Vietnamese encodings still found in provincial documents, and their conversion
/// to Unicode. Input is text as it arrives in a UTF-8 file: each legacy byte shows up as the
/// Latin-1 character with the same value ("ViÖt Nam" is TCVN3 for "Việt Nam", "Vieät Nam" VNI).
public enum LegacyVietnameseEncoding: String, Sendable, CaseIterable {
    /// TCVN 5712:1993 VN3, the "ABC" fonts (.VnTime): one byte per letter.
    case tcvn3
    /// VNI Windows (VNI-Times): a base letter followed by a byte for its marks.
    case vni
}

public enum LegacyVietnamese {
    /// TCVN 5712 bytes 0xA0–0xFF → Unicode (the glibc TCVN5712-1 table). 0x80–0x9F hold
    /// capitals only in VN1; VN3 documents use them as Windows-1252 punctuation, so they are kept.
    static let tcvnHigh: [UInt32] = [
        0x00A0, 0x0102, 0x00C2, 0x00CA, 0x00D4, 0x01A0, 0x01AF, 0x0110, 0x0103, 0x00E2, 0x00EA, 0x00F4, 0x01A1, 0x01B0, 0x0111, 0x1EB0,
        0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00E0, 0x1EA3, 0x00E3, 0x00E1, 0x1EA1, 0x1EB2, 0x1EB1, 0x1EB3, 0x1EB5, 0x1EAF, 0x1EB4,
        0x1EAE, 0x1EA6, 0x1EA8, 0x1EAA, 0x1EA4, 0x1EC0, 0x1EB7, 0x1EA7, 0x1EA9, 0x1EAB, 0x1EA5, 0x1EAD, 0x00E8, 0x1EC2, 0x1EBB, 0x1EBD,
        0x00E9, 0x1EB9, 0x1EC1, 0x1EC3, 0x1EC5, 0x1EBF, 0x1EC7, 0x00EC, 0x1EC9, 0x1EC4, 0x1EBE, 0x1ED2, 0x0129, 0x00ED, 0x1ECB, 0x00F2,
        0x1ED4, 0x1ECF, 0x00F5, 0x00F3, 0x1ECD, 0x1ED3, 0x1ED5, 0x1ED7, 0x1ED1, 0x1ED9, 0x1EDD, 0x1EDF, 0x1EE1, 0x1EDB, 0x1EE3, 0x00F9,
        0x1ED6, 0x1EE7, 0x0169, 0x00FA, 0x1EE5, 0x1EEB, 0x1EED, 0x1EEF, 0x1EE9, 0x1EF1, 0x1EF3, 0x1EF7, 0x1EF9, 0x00FD, 0x1EF5, 0x1ED0,
    ]

    /// Converts TCVN3 text to NFC Unicode.
    public static func fromTCVN3(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v >= 0xA1 && v <= 0xFF { out.append(Unicode.Scalar(tcvnHigh[Int(v - 0xA0)])!) } else { out.append(scalar) }
        }
        return NFC.normalize(String(out))
    }

    /// VNI mark bytes (as Latin-1 characters) → (shape, tone). Shape: 0 none, 1 circumflex, 2 breve.
    static let vniMarks: [UInt32: (shape: Int, tone: VietnameseTone)] = {
        var map: [UInt32: (Int, VietnameseTone)] = [:]
        let table: [(String, Int, VietnameseTone)] = [
            ("ùÙ", 0, .acute), ("øØ", 0, .grave), ("ûÛ", 0, .hook), ("õÕ", 0, .tilde), ("ïÏ", 0, .dotBelow),
            ("âÂ", 1, .level), ("áÁ", 1, .acute), ("àÀ", 1, .grave), ("åÅ", 1, .hook), ("ãÃ", 1, .tilde), ("äÄ", 1, .dotBelow),
            ("êÊ", 2, .level), ("éÉ", 2, .acute), ("èÈ", 2, .grave), ("úÚ", 2, .hook), ("üÜ", 2, .tilde), ("ëË", 2, .dotBelow),
        ]
        for (chars, shape, tone) in table { for s in chars.unicodeScalars { map[s.value] = (shape, tone) } }
        return map
    }()

    /// VNI characters that stand alone for a Vietnamese letter.
    static let vniStandalone: [UInt32: Unicode.Scalar] = [
        0xF4: "ơ", 0xD4: "Ơ", 0xF6: "ư", 0xD6: "Ư", 0xF1: "đ", 0xD1: "Đ",
        0xE6: "ỉ", 0xC6: "Ỉ", 0xF3: "ĩ", 0xD3: "Ĩ", 0xF2: "ị", 0xD2: "Ị", 0xEE: "ỵ", 0xCE: "Ỵ",
    ]

    /// Converts VNI Windows text to NFC Unicode.
    public static func fromVNI(_ text: String) -> String {
        let input = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < input.count {
            var scalar = input[i]
            if let standalone = vniStandalone[scalar.value] { scalar = standalone }
            if i + 1 < input.count, let vowel = VietnameseLetters.vowel(scalar), vowel.tone == .level,
               let mark = vniMarks[input[i + 1].value], let row = vniRow(base: vowel.row, shape: mark.shape) {
                out.append(VietnameseLetters.scalar(row: row, tone: mark.tone, uppercase: vowel.isUppercase))
                i += 2
                continue
            }
            out.append(scalar)
            i += 1
        }
        return NFC.normalize(String(out))
    }

    private static func vniRow(base: Int, shape: Int) -> Int? {
        typealias L = VietnameseLetters
        switch (base, shape) {
        case (L.rowA, 1): return L.rowACircumflex
        case (L.rowE, 1): return L.rowECircumflex
        case (L.rowO, 1): return L.rowOCircumflex
        case (L.rowA, 2): return L.rowABreve
        case (_, 0) where base != L.rowI: return base
        default: return nil
        }
    }

    public static func convert(_ text: String, from encoding: LegacyVietnameseEncoding) -> String {
        switch encoding {
        case .tcvn3: return fromTCVN3(text)
        case .vni: return fromVNI(text)
        }
    }

    /// What `detect` concluded.
    public enum Detection: Equatable, Sendable {
        /// No byte-range characters a legacy encoding would produce: nothing to convert.
        case plain
        /// The text already is Unicode Vietnamese.
        case unicode
        /// Confidently this encoding; `score` is the share of changed words that became valid syllables.
        case legacy(LegacyVietnameseEncoding, score: Double)
        /// Could not decide; scores of each candidate.
        case unsure(tcvn3: Double, vni: Double)
    }

    /// Guesses the encoding by converting with each candidate and checking how many changed
    /// words become valid Vietnamese syllables.
    public static func detect(_ text: String) -> Detection {
        var latin1 = 0, vietnameseUnicode = 0
        for s in text.unicodeScalars {
            if s.value >= 0xA0 && s.value <= 0xFF { latin1 += 1 }
            if (0x1EA0...0x1EF9).contains(s.value) || [0x0102, 0x0103, 0x0110, 0x0111, 0x01A0, 0x01A1, 0x01AF, 0x01B0, 0x0128, 0x0129, 0x0168, 0x0169].contains(s.value) {
                vietnameseUnicode += 1
            }
        }
        if latin1 == 0 { return vietnameseUnicode > 0 ? .unicode : .plain }
        if vietnameseUnicode > latin1 { return .unicode }
        let tcvn = score(original: text, converted: fromTCVN3(text))
        let vni = score(original: text, converted: fromVNI(text))
        let unicode = score(original: text, converted: text)
        if unicode >= 0.8 && unicode >= max(tcvn, vni) { return .unicode }
        let best = max(tcvn, vni)
        if best >= 0.6 && abs(tcvn - vni) >= 0.2 {
            return tcvn > vni ? .legacy(.tcvn3, score: tcvn) : .legacy(.vni, score: vni)
        }
        return .unsure(tcvn3: tcvn, vni: vni)
    }

    /// Share of the words that contain a non-ASCII letter, in `converted`, that are valid syllables.
    static func score(original: String, converted: String) -> Double {
        var total = 0, valid = 0
        for word in words(converted) where word.unicodeScalars.contains(where: { $0.value >= 0x80 }) {
            total += 1
            if VietnameseSyllable.isValid(word) { valid += 1 }
        }
        return total == 0 ? 0 : Double(valid) / Double(total)
    }

    static func words(_ text: String) -> [Substring] {
        text.split(whereSeparator: { ch in
            ch.unicodeScalars.allSatisfy { s in
                (s.value < 0x80 && !(s.properties.isAlphabetic)) || s.properties.isWhitespace
            }
        })
    }
}

/// A structural check of Vietnamese syllables: onset, vowel nucleus, coda, at most one tone.
public enum VietnameseSyllable {
    static let onsets: Set<String> = [
        "", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh", "nh",
        "p", "ph", "q", "qu", "r", "s", "t", "th", "tr", "v", "x",
    ]
    static let codas: Set<String> = ["", "c", "ch", "k", "m", "n", "ng", "nh", "p", "t"]  // k: place names (Đắk Lắk)
    /// Vowel nuclei (tone removed, shape marks kept), including the glides written as vowels.
    static let nuclei: Set<String> = [
        "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y",
        "ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi", "oo",
        "ôi", "ơi", "ua", "uâ", "uê", "ui", "uô", "uơ", "uy", "ưa", "ưi", "ươ", "ưu", "yê",
        "iêu", "oai", "oay", "oao", "oeo", "uây", "uôi", "uya", "uyê", "uyu", "ươi", "ươu", "yêu",
    ]

    public static func isValid(_ word: Substring) -> Bool {
        var tones = 0
        var letters: [Character] = []   // lowercased, tone removed, shapes kept
        for scalar in word.unicodeScalars {
            if let vowel = VietnameseLetters.vowel(scalar) {
                if vowel.tone != .level { tones += 1 }
                letters.append(Character(VietnameseLetters.lowerRows[vowel.row][0]))
            } else if scalar == "đ" || scalar == "Đ" {
                letters.append("đ")
            } else if scalar.value < 0x80, scalar.properties.isAlphabetic {
                letters.append(Character(Unicode.Scalar(scalar.value | 0x20)!))
            } else {
                return false
            }
        }
        if tones > 1 || letters.isEmpty { return false }
        let isVowel: (Character) -> Bool = { "aăâeêioôơuưy".contains($0) }
        var start = 0
        while start < letters.count, !isVowel(letters[start]) { start += 1 }
        var end = start
        while end < letters.count, isVowel(letters[end]) { end += 1 }
        var onset = String(letters[0..<start])
        var nucleus = letters[start..<end]
        // "gi" and "qu" take their vowel letter into the onset when another vowel follows.
        if (onset == "g" && nucleus.first == "i" || onset == "q" && nucleus.first == "u") && nucleus.count > 1 {
            onset.append(nucleus.removeFirst())
        }
        let coda = String(letters[end...])
        return nuclei.contains(String(nucleus)) && onsets.contains(onset) && codas.contains(coda)
    }
}
