import Foundation
import LoaCore
import LoaOperations

/// The console's language: Vietnamese by default, English on request (a cookie).
public enum ConsoleLanguage: String, Sendable {
    case vi, en

    /// The Vietnamese text, or the English one.
    func t(_ vietnamese: String, _ english: String) -> String { self == .vi ? vietnamese : english }
}

/// Text as HTML: every value that reaches a page goes through it.
func e(_ s: String) -> String { CampaignReport.escapeHTML(s) }

/// A number with thin groups, as Vietnamese offices write it (1.234.567) or English (1,234,567).
func n(_ value: Int, _ lang: ConsoleLanguage) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(lang == .vi ? "." : ",") }
        out.append(ch)
    }
    return (value < 0 ? "-" : "") + out
}

func percent(_ r: Double?, _ lang: ConsoleLanguage) -> String {
    guard let r else { return "–" }
    let tenths = Int((r * 1000).rounded())
    return "\(tenths / 10)\(lang == .vi ? "," : ".")\(tenths % 10) %"
}

/// What every page shares: the header with navigation, who is signed in, the language switch.
struct Layout {
    var lang: ConsoleLanguage
    var user: (name: String, role: Role)?
    var csrf: String?
    var path: String

    func page(_ title: String, _ body: String) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="\(lang.rawValue)"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title)) · loa</title>
            <link rel="icon" href="/static/icon.svg" type="image/svg+xml">
            <link rel="stylesheet" href="/static/console.css">
            <script src="/static/console.js" defer></script>
            </head><body>
            <a class="skip" href="#main">\(lang.t("Bỏ qua đến nội dung", "Skip to content"))</a>
            <header><a class="brand" href="/">loa</a>
            """
        if let user {
            h += "<nav aria-label=\"\(lang.t("Chính", "Main"))\">"
            h += link("/", lang.t("Chiến dịch", "Campaigns"))
            if user.role.permits(.draft) { h += link("/campaigns/new", lang.t("Tạo chiến dịch", "New campaign")) }
            h += link("/reports/annual", lang.t("Báo cáo năm", "Annual report"))
            if user.role.permits(.audit) { h += link("/audit", lang.t("Nhật ký kiểm tra", "Audit trail")) }
            h += "</nav><div class=\"who\"><span>\(e(user.name)) · \(e(roleName(user.role)))</span>"
            h += languageSwitch()
            h += "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"\(e(csrf ?? ""))\">"
            h += "<button type=\"submit\" class=\"link\">\(lang.t("Đăng xuất", "Sign out"))</button></form></div>"
        } else {
            h += "<div class=\"who\">\(languageSwitch())</div>"
        }
        h += "</header>\n<main id=\"main\">\n<h1>\(e(title))</h1>\n\(body)\n</main></body></html>\n"
        return h
    }

    func link(_ href: String, _ text: String) -> String {
        let current = href == "/" ? path == "/" : path.hasPrefix(href)
        return "<a href=\"\(e(href))\"\(current ? " aria-current=\"page\"" : "")>\(e(text))</a>"
    }

    func languageSwitch() -> String {
        let other: ConsoleLanguage = lang == .vi ? .en : .vi
        let back = path.isEmpty ? "/" : path
        return "<a class=\"lang\" lang=\"\(other.rawValue)\" href=\"/lang?to=\(other.rawValue)&amp;back=\(e(percentEncode(back)))\">\(other == .en ? "English" : "Tiếng Việt")</a>"
    }

    func roleName(_ role: Role) -> String {
        switch role {
        case .drafter: lang.t("soạn thảo", "drafter")
        case .approver: lang.t("phê duyệt", "approver")
        case .operator: lang.t("vận hành", "operator")
        case .auditor: lang.t("kiểm tra", "auditor")
        case .admin: lang.t("quản trị", "admin")
        }
    }
}

/// A campaign state in the reader's language.
func stateName(_ s: CampaignState, _ lang: ConsoleLanguage) -> String {
    switch s {
    case .draft: lang.t("chờ duyệt", "awaiting approval")
    case .approved: lang.t("đã duyệt", "approved")
    case .sending: lang.t("đang gửi", "sending")
    case .paused: lang.t("tạm dừng", "paused")
    case .completed: lang.t("hoàn thành", "completed")
    case .cancelled: lang.t("đã hủy", "cancelled")
    case .rejected: lang.t("bị trả lại", "rejected")
    }
}

func priorityName(_ p: Campaign.Priority, _ lang: ConsoleLanguage) -> String {
    switch p {
    case .emergency: lang.t("khẩn cấp", "emergency")
    case .urgent: lang.t("cấp bách", "urgent")
    case .routine: lang.t("thường", "routine")
    }
}

/// Percent-encoding for a query value (RFC 3986 unreserved characters kept).
func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = String(b, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" : "") + hex
        }
    }
    return out
}

/// An application/x-www-form-urlencoded body or query: names to values (the last one wins),
/// text NFC-normalized. Bytes that are not UTF-8 become U+FFFD.
struct FormData {
    var values: [String: String] = [:]

    init(_ bytes: some Sequence<UInt8>) {
        for pair in Array(bytes).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            values[name] = parts.count > 1 ? Self.decode(parts[1]) : ""
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    /// The value with spaces at both ends removed; nil when empty.
    func trimmed(_ name: String) -> String? {
        guard let v = values[name] else { return nil }
        let t = v.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "+") { out.append(0x20) }
            else if b == UInt8(ascii: "%"), i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else { out.append(b) }
            i += 1
        }
        return NFC.normalize(String(decoding: out, as: UTF8.self))
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
