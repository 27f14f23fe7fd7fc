/// The SMPP 3.4 delivery receipt text (Appendix B) that SMSCs put in a receipt's short message and
/// gateways pass through (Kannel's `%A`, a carrier's `smpp` field):
/// `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:…`.
/// Fields may be missing or in another case; dates are in the SMSC's local time (Vietnam: +07:00).
public struct SMPPReceipt: Sendable, Equatable {
    public var id: String?
    public var stat: String?
    public var err: String?
    public var submitDate: Timestamp?
    public var doneDate: Timestamp?
    public var submitted: Int?
    public var delivered: Int?

    /// The receipt status for `stat`: DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD,
    /// ENROUTE (and a few gateways' long forms); nil when missing or not one of these.
    public var status: ReceiptStatus? {
        switch stat?.uppercased() {
        case "DELIVRD", "DELIVERED": .delivered
        case "EXPIRED": .expired
        case "DELETED", "UNDELIV", "UNDELIVERABLE", "FAILED": .failed
        case "ACCEPTD", "ACCEPTED": .accepted
        case "UNKNOWN": .unknown
        case "REJECTD", "REJECTED": .rejected
        case "ENROUTE": .enroute
        default: nil
        }
    }

    /// A reason for an operator: the state word and the network error code (err: 000 says none).
    public var reason: String? {
        var parts: [String] = []
        if let stat, status != .delivered { parts.append("SMSC: \(stat)") }
        if let err, !err.allSatisfy({ $0 == "0" }) { parts.append("error \(err)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// Reads the receipt text; nil when it has no `stat:` and no `id:` (not a receipt text at all).
    public static func parse(_ text: String, utcOffsetSeconds: Int64 = Timestamp.vietnamOffset) -> SMPPReceipt? {
        // Keys as they appear; "submit date" and "done date" have a space. `text:` runs to the end.
        let bytes = Array(text.utf8)
        let lower = bytes.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
        let keys = ["id:", "sub:", "dlvrd:", "submit date:", "done date:", "stat:", "err:", "text:"]
        var found: [(key: String, start: Int, valueStart: Int)] = []
        for key in keys {
            let k = Array(key.utf8)
            var i = 0
            while i + k.count <= lower.count {
                // A key starts the text or follows a space (so "id:" inside another word never counts).
                if (i == 0 || lower[i - 1] == 0x20) && Array(lower[i..<(i + k.count)]) == k {
                    found.append((key, i, i + k.count))
                    break
                }
                i += 1
            }
        }
        found.sort { $0.start < $1.start }
        // Whatever follows `text:` is the message's own text, keys included.
        if let t = found.firstIndex(where: { $0.key == "text:" }) { found.removeSubrange((t + 1)...) }
        var values: [String: String] = [:]
        for (i, f) in found.enumerated() {
            var end = f.key == "text:" ? bytes.count : (i + 1 < found.count ? found[i + 1].start : bytes.count)
            var start = f.valueStart
            while start < end && bytes[start] == 0x20 { start += 1 }
            while end > start && bytes[end - 1] == 0x20 { end -= 1 }
            values[f.key] = String(decoding: bytes[start..<end], as: UTF8.self)
        }
        guard values["stat:"] != nil || values["id:"] != nil else { return nil }
        func date(_ s: String?) -> Timestamp? {
            guard let s, s.count == 10 || s.count == 12, s.allSatisfy(\.isASCIIDigit) else { return nil }
            let d = Array(s.utf8).map { Int64($0 - 0x30) }
            func n(_ i: Int) -> Int64 { d[i] * 10 + d[i + 1] }
            let (y, mo, da, h, mi, se) = (2000 + n(0), n(2), n(4), n(6), n(8), s.count == 12 ? n(10) : 0)
            guard (1...12).contains(mo), (1...31).contains(da), h < 24, mi < 60, se < 60 else { return nil }
            guard da <= Int64(Timestamp.daysIn(month: Int(mo), year: Int(y))) else { return nil }
            return Timestamp(seconds: Int64(Timestamp.daysFromCivil(year: Int(y), month: Int(mo), day: Int(da))) * 86400 + h * 3600 + mi * 60 + se - utcOffsetSeconds)
        }
        return SMPPReceipt(id: values["id:"], stat: values["stat:"], err: values["err:"], submitDate: date(values["submit date:"]),
                           doneDate: date(values["done date:"]), submitted: values["sub:"].flatMap { Int($0) }, delivered: values["dlvrd:"].flatMap { Int($0) })
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
