/// The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1).
public enum GSM7Alphabet {
    /// The escape septet that introduces an extension-table character.
    public static let escape: UInt8 = 0x1B

    /// The default alphabet: septet value → Unicode scalar. 0x1B (escape) maps to U+00A0 as a
    /// placeholder and is never produced by `code(for:)`.
    public static let basic: [Unicode.Scalar] = [
        "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
        "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "\u{A0}", "Æ", "æ", "ß", "É",
        " ", "!", "\"", "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
        "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
        "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
        "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
        "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
    ]

    /// The extension table: septet (after escape) → Unicode scalar.
    public static let extensionTable: [(septet: UInt8, scalar: Unicode.Scalar)] = [
        (0x0A, "\u{0C}"), (0x14, "^"), (0x28, "{"), (0x29, "}"), (0x2F, "\\"),
        (0x3C, "["), (0x3D, "~"), (0x3E, "]"), (0x40, "|"), (0x65, "€"),
    ]

    /// A character's place in the alphabet.
    public enum Code: Equatable, Sendable {
        case basic(UInt8)
        case extended(UInt8)

        /// Septets this character costs: 1, or 2 for escape + extension septet.
        public var septets: Int {
            if case .extended = self { return 2 }
            return 1
        }
    }

    /// Packed lookup for ASCII: bit 8 set = extension; 0xFFFF = not in the alphabet.
    static let asciiTable: [UInt16] = {
        var table = [UInt16](repeating: 0xFFFF, count: 128)
        for (septet, scalar) in basic.enumerated() where scalar.value < 0x80 && septet != 0x1B {
            table[Int(scalar.value)] = UInt16(septet)
        }
        for entry in extensionTable where entry.scalar.value < 0x80 {
            table[Int(entry.scalar.value)] = 0x100 | UInt16(entry.septet)
        }
        return table
    }()

    /// The alphabet position of `scalar`, or nil when it needs UCS-2.
    @inline(__always)
    public static func code(for scalar: Unicode.Scalar) -> Code? {
        let v = scalar.value
        if v < 0x80 {
            let entry = asciiTable[Int(v)]
            if entry == 0xFFFF { return nil }
            return entry & 0x100 != 0 ? .extended(UInt8(entry & 0x7F)) : .basic(UInt8(entry))
        }
        return nonASCIICode(v)
    }

    static func nonASCIICode(_ v: UInt32) -> Code? {
        switch v {
        case 0xA3: return .basic(0x01)   // £
        case 0xA5: return .basic(0x03)   // ¥
        case 0xE8: return .basic(0x04)   // è
        case 0xE9: return .basic(0x05)   // é
        case 0xF9: return .basic(0x06)   // ù
        case 0xEC: return .basic(0x07)   // ì
        case 0xF2: return .basic(0x08)   // ò
        case 0xC7: return .basic(0x09)   // Ç
        case 0xD8: return .basic(0x0B)   // Ø
        case 0xF8: return .basic(0x0C)   // ø
        case 0xC5: return .basic(0x0E)   // Å
        case 0xE5: return .basic(0x0F)   // å
        case 0x394: return .basic(0x10)  // Δ
        case 0x3A6: return .basic(0x12)  // Φ
        case 0x393: return .basic(0x13)  // Γ
        case 0x39B: return .basic(0x14)  // Λ
        case 0x3A9: return .basic(0x15)  // Ω
        case 0x3A0: return .basic(0x16)  // Π
        case 0x3A8: return .basic(0x17)  // Ψ
        case 0x3A3: return .basic(0x18)  // Σ
        case 0x398: return .basic(0x19)  // Θ
        case 0x39E: return .basic(0x1A)  // Ξ
        case 0xC6: return .basic(0x1C)   // Æ
        case 0xE6: return .basic(0x1D)   // æ
        case 0xDF: return .basic(0x1E)   // ß
        case 0xC9: return .basic(0x1F)   // É
        case 0xA4: return .basic(0x24)   // ¤
        case 0xA1: return .basic(0x40)   // ¡
        case 0xC4: return .basic(0x5B)   // Ä
        case 0xD6: return .basic(0x5C)   // Ö
        case 0xD1: return .basic(0x5D)   // Ñ
        case 0xDC: return .basic(0x5E)   // Ü
        case 0xA7: return .basic(0x5F)   // §
        case 0xBF: return .basic(0x60)   // ¿
        case 0xE4: return .basic(0x7B)   // ä
        case 0xF6: return .basic(0x7C)   // ö
        case 0xF1: return .basic(0x7D)   // ñ
        case 0xFC: return .basic(0x7E)   // ü
        case 0xE0: return .basic(0x7F)   // à
        case 0x20AC: return .extended(0x65) // €
        default: return nil
        }
    }
}
