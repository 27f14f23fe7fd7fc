/// Instants as Unix seconds, parsed from and written as ISO 8601 with an offset. loa works in
/// Asia/Ho_Chi_Minh, UTC+07:00 all year (no daylight saving since 1975).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    public init(seconds: Int64) { self.seconds = seconds }

    public static let vietnamOffset: Int64 = 7 * 3600
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }
    public static func + (t: Timestamp, d: Int64) -> Timestamp { Timestamp(seconds: t.seconds + d) }
    public static func - (t: Timestamp, d: Int64) -> Timestamp { Timestamp(seconds: t.seconds - d) }

    /// Parses `2026-11-24T14:05:00+07:00`, `…Z`, `…+0700`, with optional fractional seconds and a
    /// space instead of `T`. An offset is required: a time without one is ambiguous.
    public static func parseISO8601(_ text: Substring) -> Timestamp? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        bytes.append(contentsOf: text.utf8)
        return bytes.withUnsafeBufferPointer { parse($0) }
    }

    public static func parseISO8601(_ text: String) -> Timestamp? { parseISO8601(Substring(text)) }

    /// Byte-level parser for bulk imports.
    public static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        let n = b.count
        guard n >= 20 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var v = 0
            for i in at..<(at + count) {
                let d = Int(b[i]) - 48
                guard d >= 0 && d <= 9 else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard let year = digits(0, 4), b[4] == 0x2D, let month = digits(5, 2), b[7] == 0x2D, let day = digits(8, 2),
              b[10] == 0x54 || b[10] == 0x20 || b[10] == 0x74, let hour = digits(11, 2), b[13] == 0x3A,
              let minute = digits(14, 2), b[16] == 0x3A, let second = digits(17, 2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 60 else { return nil }
        var i = 19
        if i < n && (b[i] == 0x2E || b[i] == 0x2C) {
            i += 1
            let start = i
            while i < n && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard i > start else { return nil }
        }
        guard i < n else { return nil }
        var offset = 0
        if b[i] == 0x5A || b[i] == 0x7A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            let sign = b[i] == 0x2D ? -1 : 1
            i += 1
            guard i + 2 <= n, let oh = digits(i, 2) else { return nil }
            i += 2
            var om = 0
            if i < n && b[i] == 0x3A { i += 1 }
            if i + 2 <= n, let m = digits(i, 2) { om = m; i += 2 }
            guard oh <= 14, om <= 59 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == n else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Timestamp(seconds: Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Local civil time at UTC+offset.
    public func local(offset: Int64 = Timestamp.vietnamOffset) -> (year: Int, month: Int, day: Int, minuteOfDay: Int) {
        let local = seconds + offset
        let days = Int((local - ((local % 86400) + 86400) % 86400) / 86400)
        let secondOfDay = Int(((local % 86400) + 86400) % 86400)
        let (y, m, d) = Self.civil(fromDays: days)
        return (y, m, d, secondOfDay / 60)
    }

    /// `2026-11-24T14:05:00+07:00`
    public func iso8601(offset: Int64 = Timestamp.vietnamOffset) -> String {
        let local = seconds + offset
        let secondOfDay = Int(((local % 86400) + 86400) % 86400)
        let (y, m, d, _) = self.local(offset: offset)
        let sign = offset < 0 ? "-" : "+"
        let oh = Int(abs(offset) / 3600), om = Int(abs(offset) % 3600 / 60)
        let zone = offset == 0 ? "Z" : "\(sign)\(pad(oh)):\(pad(om))"
        return "\(pad(y, 4))-\(pad(m))-\(pad(d))T\(pad(secondOfDay / 3600)):\(pad(secondOfDay % 3600 / 60)):\(pad(secondOfDay % 60))\(zone)"
    }

    /// `24/11/2026`, the Vietnamese date form.
    public func vietnameseDate() -> String {
        let (y, m, d, _) = local()
        return "\(pad(d))/\(pad(m))/\(y)"
    }

    public var description: String { iso8601() }
}

func pad(_ v: Int, _ width: Int = 2) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// Durations written as `72h`, `7d`, `90m`, `45s`, or combined `1d12h`.
public enum Duration8601 {
    public static let maxSeconds: Int64 = 100 * 366 * 86400

    /// Seconds, or nil when the text is not a duration or exceeds 100 years (a duration that
    /// long is a mistake, and the arithmetic stays far from overflowing).
    public static func parseSeconds(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number: Int64 = 0
        var sawDigit = false
        var sawUnit = false
        guard text.utf8.count <= 64 else { return nil }
        for ch in text.lowercased() where ch != " " {
            if let d = ch.wholeNumberValue, ch.isASCII {
                number = number * 10 + Int64(d)
                sawDigit = true
                guard number < 100_000_000 else { return nil }
                continue
            }
            guard sawDigit else { return nil }
            switch ch {
            case "d": total += number * 86400
            case "h": total += number * 3600
            case "m": total += number * 60
            case "s": total += number
            default: return nil
            }
            guard total <= maxSeconds else { return nil }
            number = 0
            sawDigit = false
            sawUnit = true
        }
        guard sawUnit, !sawDigit else { return nil }
        return total
    }

    public static func format(_ seconds: Int64) -> String {
        if seconds % 86400 == 0 { return "\(seconds / 86400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
