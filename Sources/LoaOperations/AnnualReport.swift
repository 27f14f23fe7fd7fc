import Foundation
import LoaCore
import LoaStore

/// The yearly summary a provincial plan asks the department for: campaigns by purpose and
/// priority, languages, communes and carriers reached, messages, delivery, cost, and how fast
/// emergencies went out (approval → first delivery, → 90% of those sent delivered).
public struct AnnualReport: Sendable {
    public struct Entry: Sendable {
        public var campaign: Store.CampaignSummary
        public var counts: DeliveryCounts
        public var languages: Set<String>
        public var communesReached: Set<Int>
        public var carriers: Set<String>
        /// Seconds from approval to the first delivery, and to 90% of the sent delivered (emergencies).
        public var toFirstDelivery: Int64?
        public var toNinetyPercent: Int64?
    }

    public var year: Int
    public var office: String?
    public var entries: [Entry]
    public var currency: String
    public var generatedAt: Timestamp

    public init(store: Store, year: Int, office: String?, prices: CampaignReport.Prices, at: Timestamp = Timestamp(seconds: Store.nowSeconds())) throws {
        guard (2000...2100).contains(year) else { throw OperationError(.notReadable, "--year: expected a year such as 2026, found \(year)") }
        self.year = year
        self.office = office
        currency = prices.currency
        generatedAt = at
        let from = Self.startOfYear(year), to = Self.startOfYear(year + 1)
        var entries: [Entry] = []
        for c in try store.campaigns(submittedFrom: from, to: to) {
            if let office, c.office.map({ NFC.normalize($0).lowercased() }) != NFC.normalize(office).lowercased() { continue }
            let facts = try store.deliveryFacts(campaign: c.id)
            let report = DeliveryReport(dimension: .carrier, facts: facts) { prices.perSegment[$0]?[$1] }
            var e = Entry(campaign: c, counts: report.total, languages: Set(facts.map(\.language)),
                          communesReached: Set(facts.filter { $0.state == .delivered }.compactMap(\.commune)),
                          carriers: Set(facts.filter { $0.state == .delivered }.map(\.carrier)))
            if c.priority == .emergency, let approved = c.approvedAt, report.total.sent > 0 {
                let rank = Int((Double(report.total.sent) * 0.9).rounded(.up))
                let times = try store.deliveryTimes(campaign: c.id, ranks: [1, rank])
                e.toFirstDelivery = times[0].map { $0 - approved }
                e.toNinetyPercent = times[1].map { $0 - approved }
            }
            entries.append(e)
        }
        self.entries = entries
    }

    /// 1 January 00:00 in Vietnam (UTC+7), as Unix seconds.
    static func startOfYear(_ year: Int) -> Int64 {
        Timestamp.parseISO8601(String(format: "%04d-01-01T00:00:00+07:00", year))!.seconds
    }

    public var total: DeliveryCounts { entries.map(\.counts).reduce(DeliveryCounts(), +) }

    /// Campaigns per purpose and priority (`[purpose: [priority: n]]`), "other" for unrecorded purposes.
    public var byPurposeAndPriority: [Campaign.Purpose: [Campaign.Priority: Int]] {
        var out: [Campaign.Purpose: [Campaign.Priority: Int]] = [:]
        for e in entries { out[e.campaign.purpose ?? .other, default: [:]][e.campaign.priority, default: 0] += 1 }
        return out
    }

    static func duration(_ s: Int64?) -> String {
        guard let s else { return "—" }
        if s < 120 { return "\(s) s" }
        if s < 7200 { return "\(s / 60) min" }
        return String(format: "%.1f h", Double(s) / 3600)
    }

    static func rate(_ c: DeliveryCounts) -> String { c.deliveryRate.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }

    // MARK: Forms

    public func table() -> String {
        let t = total
        var out = "Annual report \(year)" + (office.map { " — \($0)" } ?? "") + ", \(generatedAt.iso8601())\n"
        out += "campaigns: \(entries.count); messages: \(t.recipients) recipients, \(t.sent) sent, \(t.delivered) delivered (\(Self.rate(t))); "
        out += "cost \(CampaignReport.money(t.cost).isEmpty ? "—" : CampaignReport.money(t.cost)) \(currency)\n"
        out += "languages: \(Set(entries.flatMap(\.languages)).sorted().joined(separator: ", ")); "
        out += "communes reached: \(Set(entries.flatMap(\.communesReached)).count); carriers: \(Set(entries.flatMap(\.carriers)).sorted().joined(separator: ", "))\n"
        out += "by purpose and priority:\n"
        for (purpose, counts) in byPurposeAndPriority.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            out += "  \(purpose.rawValue): " + Campaign.Priority.allCases.compactMap { p in counts[p].map { "\($0) \(p.rawValue)" } }.joined(separator: ", ") + "\n"
        }
        out += "campaigns:\n"
        for e in entries {
            out += "  \(e.campaign.id)  \(e.campaign.priority.rawValue)  \(e.campaign.state.rawValue)  \(e.counts.recipients) recipients  \(e.counts.delivered) delivered (\(Self.rate(e.counts)))"
            if e.campaign.priority == .emergency { out += "  approval → first delivery \(Self.duration(e.toFirstDelivery)), → 90% \(Self.duration(e.toNinetyPercent))" }
            out += "\n"
        }
        return out
    }

    /// One row per campaign, then the total: UTF-8 with a BOM, CRLF.
    public func csv() -> [UInt8] {
        var lines = [["campaign", "title", "purpose", "priority", "state", "office", "submitted", "recipients", "sent", "delivered", "failed",
                      "rejected", "expired", "delivery_rate_percent", "languages", "communes_reached", "cost_\(currency.lowercased())",
                      "approval_to_first_delivery_s", "approval_to_90_percent_s"]]
        for e in entries {
            let c = e.counts
            lines.append([e.campaign.id, e.campaign.title, (e.campaign.purpose ?? .other).rawValue, e.campaign.priority.rawValue, e.campaign.state.rawValue,
                          e.campaign.office ?? "", Timestamp(seconds: e.campaign.submittedAt).iso8601(), "\(c.recipients)", "\(c.sent)", "\(c.delivered)",
                          "\(c.failed)", "\(c.rejected)", "\(c.expired)", CampaignReport.percent(c.deliveryRate), e.languages.sorted().joined(separator: " "),
                          "\(e.communesReached.count)", CampaignReport.money(c.cost), e.toFirstDelivery.map(String.init) ?? "", e.toNinetyPercent.map(String.init) ?? ""])
        }
        let t = total
        lines.append(["total", "", "", "", "", "", "", "\(t.recipients)", "\(t.sent)", "\(t.delivered)", "\(t.failed)", "\(t.rejected)", "\(t.expired)",
                      CampaignReport.percent(t.deliveryRate), Set(entries.flatMap(\.languages)).sorted().joined(separator: " "),
                      "\(Set(entries.flatMap(\.communesReached)).count)", CampaignReport.money(t.cost), "", ""])
        return CSVLine.document(lines)
    }

    public func json() -> String {
        func q(_ s: String) -> String { JSONString.quoted(s) }
        func n(_ v: Int64?) -> String { v.map(String.init) ?? "null" }
        let t = total
        var out = "{\"year\":\(year),\"office\":\(office.map(q) ?? "null"),\"generated_at\":\(q(generatedAt.iso8601())),\"currency\":\(q(currency)),"
        out += "\"campaigns\":\(entries.count),\"recipients\":\(t.recipients),\"sent\":\(t.sent),\"delivered\":\(t.delivered),\"failed\":\(t.failed),"
        out += "\"cost\":\(CampaignReport.money(t.cost).isEmpty ? "null" : CampaignReport.money(t.cost)),"
        out += "\"languages\":[\(Set(entries.flatMap(\.languages)).sorted().map(q).joined(separator: ","))],"
        out += "\"communes_reached\":\(Set(entries.flatMap(\.communesReached)).count),\"carriers\":[\(Set(entries.flatMap(\.carriers)).sorted().map(q).joined(separator: ","))],"
        out += "\"by_purpose\":{" + byPurposeAndPriority.sorted { $0.key.rawValue < $1.key.rawValue }.map { purpose, counts in
            q(purpose.rawValue) + ":{" + counts.sorted { $0.key.rank < $1.key.rank }.map { q($0.key.rawValue) + ":\($0.value)" }.joined(separator: ",") + "}"
        }.joined(separator: ",") + "},\"entries\":["
        out += entries.map { e in
            "{\"campaign\":\(q(e.campaign.id)),\"title\":\(q(e.campaign.title)),\"purpose\":\(q((e.campaign.purpose ?? .other).rawValue)),"
                + "\"priority\":\(q(e.campaign.priority.rawValue)),\"state\":\(q(e.campaign.state.rawValue)),\"recipients\":\(e.counts.recipients),"
                + "\"sent\":\(e.counts.sent),\"delivered\":\(e.counts.delivered),\"approval_to_first_delivery_s\":\(n(e.toFirstDelivery)),"
                + "\"approval_to_90_percent_s\":\(n(e.toNinetyPercent))}"
        }.joined(separator: ",")
        return out + "]}\n"
    }

    /// A printable A4 page in Vietnamese with the office and a signature block.
    public func html() -> String {
        let e = CampaignReport.escapeHTML
        let t = total
        let priorities: [(Campaign.Priority, String)] = [(.emergency, "Khẩn cấp"), (.urgent, "Khẩn"), (.routine, "Thường")]
        var h = """
            <!DOCTYPE html>
            <html lang="vi"><head><meta charset="utf-8"><title>Báo cáo năm \(year)</title>
            <style>
            @page { size: A4; margin: 18mm; } body { font-family: "Noto Serif", "DejaVu Serif", "Times New Roman", serif; font-size: 11pt; }
            h1 { font-size: 14pt; text-align: center; text-transform: uppercase; } table { border-collapse: collapse; width: 100%; margin: 6pt 0 12pt; }
            th, td { border: 1px solid #888; padding: 3pt 5pt; } th { background: #eee; } td.n { text-align: right; }
            .head { display: flex; justify-content: space-between; } .sign { margin-top: 30pt; display: flex; justify-content: flex-end; }
            .sign div { width: 45%; text-align: center; } .space { height: 64pt; }
            </style></head><body>
            <div class="head"><div>\(e(office ?? ""))</div><div><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>Độc lập - Tự do - Hạnh phúc</div></div>
            <h1>Báo cáo kết quả thông tin qua tin nhắn năm \(year)</h1>
            <p>Số chiến dịch: <b>\(entries.count)</b>. Số người nhận: <b>\(t.recipients)</b>; đã gửi: <b>\(t.sent)</b>; đã nhận: <b>\(t.delivered)</b> (\(Self.rate(t))). \
            Chi phí: <b>\(CampaignReport.money(t.cost).isEmpty ? "—" : CampaignReport.money(t.cost)) \(e(currency))</b>. \
            Số xã, phường đã nhận tin: <b>\(Set(entries.flatMap(\.communesReached)).count)</b>. \
            Ngôn ngữ: \(e(Set(entries.flatMap(\.languages)).sorted().map { Languages.info($0)?.name ?? $0 }.joined(separator: ", "))). \
            Nhà mạng: \(e(Set(entries.flatMap(\.carriers)).sorted().joined(separator: ", "))).</p>
            <h2 style="font-size:12pt">1. Chiến dịch theo mục đích và mức độ</h2>
            <table><tr><th>Mục đích</th>\(priorities.map { "<th>\($0.1)</th>" }.joined())</tr>

            """
        for (purpose, counts) in byPurposeAndPriority.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            h += "<tr><td>\(e(purpose.vietnamese))</td>" + priorities.map { "<td class=\"n\">\(counts[$0.0] ?? 0)</td>" }.joined() + "</tr>\n"
        }
        h += "</table>\n<h2 style=\"font-size:12pt\">2. Kết quả từng chiến dịch</h2>\n<table><tr><th>Chiến dịch</th><th>Mức độ</th><th>Người nhận</th><th>Đã gửi</th><th>Đã nhận</th><th>Tỷ lệ</th><th>Phê duyệt → tin đầu tiên</th><th>Phê duyệt → 90%</th></tr>\n"
        for x in entries {
            let p = priorities.first { $0.0 == x.campaign.priority }?.1 ?? x.campaign.priority.rawValue
            h += "<tr><td>\(e(x.campaign.title))<br><small>\(e(x.campaign.id))</small></td><td>\(p)</td><td class=\"n\">\(x.counts.recipients)</td><td class=\"n\">\(x.counts.sent)</td>"
            h += "<td class=\"n\">\(x.counts.delivered)</td><td class=\"n\">\(Self.rate(x.counts))</td><td class=\"n\">\(Self.duration(x.toFirstDelivery))</td><td class=\"n\">\(Self.duration(x.toNinetyPercent))</td></tr>\n"
        }
        h += """
            </table>
            <div class="sign"><div>\(e(generatedAt.vietnameseDate()))<br><b>THỦ TRƯỞNG ĐƠN VỊ</b><div class="space"></div>(ký tên, đóng dấu)</div></div>
            </body></html>

            """
        return h
    }
}
