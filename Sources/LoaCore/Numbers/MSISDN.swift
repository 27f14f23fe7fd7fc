/// A Vietnamese mobile number: the 9-digit national significant number (NSN) after +84 / 0.
public struct MSISDN: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Nine digits, e.g. "912345678".
    public let nationalSignificantNumber: String

    /// Wraps nine digits that the numbering plan already accepted. Use `VietnamNumberingPlan.parse`.
    init(nsn: String) { nationalSignificantNumber = nsn }

    /// "+84912345678"
    public var e164: String { "+84" + nationalSignificantNumber }
    /// "0912345678"
    public var national: String { "0" + nationalSignificantNumber }
    /// "0912***678": safe for logs and reports.
    public var masked: String { Self.mask(national) }
    /// Masked, so that a stray interpolation in a log never prints the number.
    public var description: String { masked }

    public static func < (a: MSISDN, b: MSISDN) -> Bool { a.nationalSignificantNumber < b.nationalSignificantNumber }

    /// Keeps the first four and last three characters of a number: "0912345678" → "0912***678".
    public static func mask(_ number: String) -> String {
        let chars = Array(number)
        guard chars.count > 7 else { return String(repeating: "*", count: chars.count) }
        return String(chars[0..<4]) + "***" + String(chars[(chars.count - 3)...])
    }
}
