/// Input quoted back in a message (an import's bad line, a wrong value in a file): control and
/// invisible characters are shown as `\u{…}` so that a hostile file cannot move the cursor or
/// recolour a terminal, long values are shortened, and anything that looks like a phone number
/// (7 or more digits in a row, after an optional `+`) is masked like `0912***678`, because a
/// number in a column it does not belong in is still personal data.
public struct Escaped: CustomStringConvertible, Sendable {
    public let raw: String
    public var limit = 80

    public init(_ raw: String, limit: Int = 80) {
        self.raw = raw
        self.limit = limit
    }

    public init(_ raw: Substring) { self.init(String(raw)) }

    public var description: String {
        var out = ""
        var digits = ""
        func flushDigits() {
            if digits.count >= 7 { out += MSISDN.mask(digits) } else { out += digits }
            digits = ""
        }
        var shown = 0
        for scalar in raw.unicodeScalars {
            if shown >= limit { break }
            shown += 1
            if (0x30...0x39).contains(scalar.value) || (scalar == "+" && digits.isEmpty) {
                digits.unicodeScalars.append(scalar)
                continue
            }
            flushDigits()
            if Self.isHidden(scalar) { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
        flushDigits()
        if raw.unicodeScalars.count > limit { out += "…" }
        return out
    }

    /// Control characters, and characters that show nothing but change what text means or how it
    /// looks (zero-width spaces and joiners, direction marks and overrides, the BOM).
    public static func isHidden(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x206F, 0xFEFF, 0x00AD: true
        default: false
        }
    }
}
