/// `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date. All three date forms a
/// recipient must accept are read: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete
/// RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
public enum RetryAfter {
    /// Seconds to wait from `now` (never negative), or nil when the value is neither form.
    public static func seconds(_ value: String, now: Timestamp) -> Double? {
        let v = value.trimmed
        guard !v.isEmpty else { return nil }
        if v.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            // delay-seconds; an absurd number of digits is a long wait, not an overflow.
            return v.utf8.count > 12 ? 1e12 : Double(v)
        }
        guard let date = httpDate(v) else { return nil }
        return Double(max(0, date.seconds - now.seconds))
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// An HTTP-date in any of its three forms (always GMT).
    public static func httpDate(_ text: String) -> Timestamp? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        func time(_ s: String) -> (Int, Int, Int)? {
            let t = s.split(separator: ":").compactMap { Int($0) }
            guard t.count == 3, t[0] <= 23, t[1] <= 59, t[2] <= 60, s.utf8.count == 8 else { return nil }
            return (t[0], t[1], t[2])
        }
        func month(_ s: String) -> Int? { months.firstIndex(of: s).map { $0 + 1 } }
        var year = 0, mon = 0, day = 0
        var clock: (Int, Int, Int)
        if parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT", let d = Int(parts[1]), let m = month(parts[2]), let y = Int(parts[3]), let t = time(parts[4]) {
            (day, mon, year, clock) = (d, m, y, t)                       // IMF-fixdate
        } else if parts.count == 4, parts[0].hasSuffix(","), parts[3] == "GMT", let t = time(parts[2]) {
            let dmy = parts[1].split(separator: "-").map(String.init)     // RFC 850: 06-Nov-94
            guard dmy.count == 3, let d = Int(dmy[0]), let m = month(dmy[1]), let yy = Int(dmy[2]), dmy[2].utf8.count == 2 else { return nil }
            (day, mon, year, clock) = (d, m, yy < 70 ? 2000 + yy : 1900 + yy, t)
        } else if parts.count == 5, let m = month(parts[1]), let d = Int(parts[2]), let t = time(parts[3]), let y = Int(parts[4]) {
            (day, mon, year, clock) = (d, m, y, t)                       // asctime
        } else {
            return nil
        }
        guard year >= 1970, year <= 9999, day >= 1, day <= Timestamp.daysIn(month: mon, year: year) else { return nil }
        let days = Timestamp.daysFromCivil(year: year, month: mon, day: day)
        return Timestamp(seconds: Int64(days) * 86400 + Int64(clock.0 * 3600 + clock.1 * 60 + clock.2))
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
