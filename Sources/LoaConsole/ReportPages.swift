import Foundation
import HTTPTypes
import Hummingbird
import LoaCore
import LoaCrypto
import LoaOperations
import LoaStore

extension Console {
    // MARK: A campaign's report

    nonisolated(unsafe) static let reportColumns: [(key: String, vi: String, en: String, value: (DeliveryCounts) -> Int)] = [
        ("recipients", "Người nhận", "Recipients", { $0.recipients }),
        ("sent", "Đã gửi", "Sent", { $0.sent }),
        ("delivered", "Đã nhận", "Delivered", { $0.delivered }),
        ("failed", "Không nhận được", "Failed", { $0.failed }),
        ("no_receipt", "Không có báo cáo", "No receipt", { $0.noReceipt }),
        ("pending", "Chờ báo cáo", "Pending", { $0.pending }),
        ("rejected", "Bị từ chối", "Rejected", { $0.rejected }),
        ("expired", "Hết hạn", "Expired", { $0.expired }),
        ("planned", "Chờ gửi", "Planned", { $0.planned }),
    ]

    func dimensionName(_ d: ReportDimension, _ lang: ConsoleLanguage) -> String {
        switch d {
        case .carrier: lang.t("nhà mạng", "carrier")
        case .commune: lang.t("xã/phường", "commune")
        case .language: lang.t("ngôn ngữ", "language")
        case .day: lang.t("ngày", "day")
        case .hour: lang.t("giờ", "hour")
        }
    }

    func report(_ db: Store, id: String, by: String) throws -> CampaignReport? {
        guard let dimension = ReportDimension(rawValue: by), try db.campaignRecord(id) != nil else { return nil }
        return try CampaignReport(store: db, campaign: id, by: dimension, units: settings.units, prices: settings.prices, at: Timestamp(seconds: now))
    }

    func reportPage(_ v: Visit, _ db: Store, id: String, by: String) throws -> Response {
        let lang = v.lang
        guard let r = try report(db, id: id, by: by) else {
            return html(.notFound, v.layout.page(lang.t("Không tìm thấy", "Not found"), "<p>\(lang.t("Không có chiến dịch hoặc cách chia này", "No such campaign or grouping")): \(e(id)), \(e(by)).</p>"))
        }
        let base = "/campaigns/\(e(percentEncode(id)))"
        var b = "<p class=\"sub\">\(e(r.campaign.title)) · <span class=\"state \(r.campaign.state.rawValue)\">\(e(stateName(r.campaign.state, lang)))</span> · \(lang.t("lập lúc", "as of")) \(e(r.generatedAt.iso8601()))</p>"
        b += "<nav class=\"tabs\" aria-label=\"\(lang.t("Chia theo", "Group by"))\">" + ReportDimension.allCases.map { d in
            "<a href=\"\(base)/report?by=\(d.rawValue)\"\(d == r.report.dimension ? " aria-current=\"page\"" : "")>\(e(dimensionName(d, lang)))</a>"
        }.joined() + "</nav>"
        let rows = r.report.rows
        func label(_ key: String) -> String { r.labels[key]?.name ?? key }
        switch r.report.dimension {
        case .day, .hour:
            let points = rows.filter { $0.key != DeliveryReport.notSent }.map { (label: $0.key, delivered: $0.counts.delivered, sent: $0.counts.sent) }
            b += "<figure>" + SVG.columns(points, id: "chart-time", title: lang.t("Tin nhận được theo thời gian gửi", "Deliveries by time sent"), lang: lang) + "</figure>"
        default:
            let bars = rows.map { SVG.Bar(label: label($0.key), delivered: $0.counts.delivered, sent: $0.counts.sent) }
            b += "<figure>" + SVG.bars(bars, id: "chart-rows", title: "\(lang.t("Đã nhận trên đã gửi, theo", "Delivered of sent, by")) \(dimensionName(r.report.dimension, lang))", lang: lang) + "</figure>"
        }
        b += "<div class=\"scroll\"><table class=\"report\" id=\"report\"><thead><tr><th scope=\"col\">\(e(dimensionName(r.report.dimension, lang).capitalized))</th>"
        b += Self.reportColumns.map { "<th scope=\"col\">\(e(lang.t($0.vi, $0.en)))</th>" }.joined()
        b += "<th scope=\"col\">\(lang.t("Tỷ lệ nhận", "Delivered %"))</th>"
        // A voice campaign: who answered, who listened to the end, calls per person, minutes billed.
        if r.calls != nil {
            b += [lang.t("Nghe máy", "Reached"), lang.t("Nghe hết", "Completed"), lang.t("Tỷ lệ nghe hết", "Completion %"),
                  lang.t("Cuộc gọi/người", "Calls/person"), lang.t("Số phút gọi", "Call-minutes")].map { "<th scope=\"col\">\(e($0))</th>" }.joined()
        }
        b += "<th scope=\"col\">\(lang.t("Chi phí", "Cost")) (\(e(r.currency)))</th></tr></thead><tbody>"
        func cells(_ c: DeliveryCounts, _ calls: CallCounts?) -> String {
            var t = Self.reportColumns.map { "<td class=\"n\" data-k=\"\($0.key)\" data-v=\"\($0.value(c))\">\(n($0.value(c), lang))</td>" }.joined()
                + "<td class=\"n\" data-k=\"delivery_rate\">\(percent(c.deliveryRate, lang))</td>"
            if r.calls != nil {
                t += "<td class=\"n\" data-k=\"reached\">\(calls.map { n($0.reached, lang) } ?? "–")</td><td class=\"n\" data-k=\"completed\">\(calls.map { n($0.completed, lang) } ?? "–")</td>"
                t += "<td class=\"n\" data-k=\"completion_rate\">\(percent(calls?.completionRate, lang))</td>"
                t += "<td class=\"n\" data-k=\"calls_per_person\">\(calls?.attemptsPerPerson.map { String(format: "%.2f", $0) } ?? "–")</td><td class=\"n\" data-k=\"call_minutes\">\(n(c.segmentsSent, lang))</td>"
            }
            return t + "<td class=\"n\" data-k=\"cost\">\(c.cost.map { n(Int($0.rounded()), lang) } ?? "–")</td>"
        }
        for row in rows {
            b += "<tr data-key=\"\(e(row.key))\"><th scope=\"row\">\(e(row.key))\(label(row.key) != row.key ? "<br><span class=\"sub\">\(e(label(row.key)))</span>" : "")</th>" + cells(row.counts, r.calls?.rows[row.key]) + "</tr>"
        }
        b += "</tbody><tfoot><tr data-key=\"total\"><th scope=\"row\">\(lang.t("Tổng cộng", "Total"))</th>" + cells(r.report.total, r.calls?.total) + "</tr></tfoot></table></div>"
        for note in r.notes { b += "<p class=\"hint\">\(e(note))</p>" }
        b += "<p class=\"links\"><a class=\"button\" href=\"\(base)/report.csv?by=\(r.report.dimension.rawValue)\" download>CSV (Excel)</a> "
        b += "<a class=\"button\" href=\"\(base)/report.html?by=\(r.report.dimension.rawValue)\">\(lang.t("Bản in", "Printable"))</a> "
        b += "<a class=\"button\" href=\"\(base)/report.json?by=\(r.report.dimension.rawValue)\">JSON</a> <a href=\"\(base)\">← \(e(id))</a></p>"
        return html(.ok, v.layout.page("\(lang.t("Báo cáo", "Report")): \(id)", b))
    }

    func reportDownload(_ v: Visit, _ db: Store, id: String, by: String, format: String) throws -> Response {
        guard let r = try report(db, id: id, by: by) else { return response(.notFound, type: "text/plain; charset=utf-8", body: Array("no such campaign or grouping\n".utf8)) }
        let name = "\(id)-\(by)".filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        switch format {
        case "csv":
            return response(.ok, type: "text/csv; charset=utf-8", body: r.csv(), extra: [(.contentDisposition, "attachment; filename=\"\(name).csv\"")])
        case "json":
            return response(.ok, type: "application/json", body: Array(r.json().utf8))
        default:
            let office = try db.campaignFile(id).flatMap { try? LoadedCampaign.load($0, units: settings.units).campaign?.office }
            return response(.ok, type: "text/html; charset=utf-8", body: Array(r.html(office: office).utf8))
        }
    }

    // MARK: The annual report

    func year(_ given: Int?) -> Int {
        given ?? Int(Timestamp(seconds: now).iso8601().prefix(4)) ?? 2026
    }

    func annualPage(_ v: Visit, _ db: Store, year given: Int?) throws -> Response {
        let lang = v.lang
        let year = year(given)
        let r = try AnnualReport(store: db, year: year, office: nil, prices: settings.prices, at: Timestamp(seconds: now))
        var b = "<form method=\"get\" action=\"/reports/annual\" class=\"inline\"><label for=\"year\">\(lang.t("Năm", "Year"))</label>"
        b += "<input id=\"year\" name=\"year\" type=\"number\" min=\"2020\" max=\"2100\" value=\"\(year)\"><button type=\"submit\">\(lang.t("Xem", "Show"))</button></form>"
        let bars = r.entries.map { SVG.Bar(label: $0.campaign.id, delivered: $0.counts.delivered, sent: $0.counts.sent) }
        if !bars.isEmpty { b += "<figure>" + SVG.bars(bars, id: "chart-year", title: lang.t("Đã nhận trên đã gửi, theo chiến dịch", "Delivered of sent, by campaign"), lang: lang) + "</figure>" }
        b += "<div class=\"scroll\"><table class=\"report\" id=\"annual\"><thead><tr><th scope=\"col\">\(lang.t("Chiến dịch", "Campaign"))</th><th scope=\"col\">\(lang.t("Mục đích", "Purpose"))</th>"
        b += "<th scope=\"col\">\(lang.t("Ngôn ngữ", "Languages"))</th><th scope=\"col\">\(lang.t("Số xã", "Communes"))</th>"
        b += Self.reportColumns.prefix(3).map { "<th scope=\"col\">\(e(lang.t($0.vi, $0.en)))</th>" }.joined()
        b += "<th scope=\"col\">\(lang.t("Tỷ lệ nhận", "Delivered %"))</th><th scope=\"col\">\(lang.t("Chi phí", "Cost")) (\(e(r.currency)))</th></tr></thead><tbody>"
        for entry in r.entries {
            let c = entry.counts
            b += "<tr data-key=\"\(e(entry.campaign.id))\"><th scope=\"row\"><a href=\"/campaigns/\(e(percentEncode(entry.campaign.id)))\">\(e(entry.campaign.id))</a></th>"
            b += "<td>\(e(entry.campaign.purpose.map { lang == .vi ? $0.vietnamese : $0.rawValue } ?? "–"))</td><td>\(e(entry.languages.sorted().joined(separator: ", ")))</td><td class=\"n\">\(entry.communesReached.count)</td>"
            b += Self.reportColumns.prefix(3).map { "<td class=\"n\" data-k=\"\($0.key)\">\(n($0.value(c), lang))</td>" }.joined()
            b += "<td class=\"n\">\(percent(c.deliveryRate, lang))</td><td class=\"n\">\(c.cost.map { n(Int($0.rounded()), lang) } ?? "–")</td></tr>"
        }
        let t = r.total
        b += "</tbody><tfoot><tr><th scope=\"row\" colspan=\"4\">\(lang.t("Tổng cộng", "Total"))</th>" + Self.reportColumns.prefix(3).map { "<td class=\"n\" data-k=\"\($0.key)\">\(n($0.value(t), lang))</td>" }.joined()
        b += "<td class=\"n\">\(percent(t.deliveryRate, lang))</td><td class=\"n\">\(t.cost.map { n(Int($0.rounded()), lang) } ?? "–")</td></tr></tfoot></table></div>"
        b += "<p class=\"links\"><a class=\"button\" href=\"/reports/annual.csv?year=\(year)\" download>CSV (Excel)</a></p>"
        return html(.ok, v.layout.page("\(lang.t("Báo cáo năm", "Annual report")) \(year)", b))
    }

    func annualDownload(_ db: Store, year given: Int?) throws -> Response {
        let year = year(given)
        let r = try AnnualReport(store: db, year: year, office: nil, prices: settings.prices, at: Timestamp(seconds: now))
        return response(.ok, type: "text/csv; charset=utf-8", body: r.csv(), extra: [(.contentDisposition, "attachment; filename=\"loa-\(year).csv\"")])
    }

    // MARK: The audit trail

    func auditPage(_ v: Visit, _ db: Store) throws -> Response {
        let lang = v.lang
        let verifier = try db.verifyAudit()
        var b = ""
        if let broken = verifier.result {
            b += "<p class=\"problem\" role=\"alert\" id=\"audit-status\" data-ok=\"false\">\(lang.t("Nhật ký bị sửa đổi", "The trail is broken")): \(e(broken.description))</p>"
        } else {
            b += "<p class=\"ok\" id=\"audit-status\" data-ok=\"true\">\(lang.t("Nhật ký nguyên vẹn", "The trail verifies")): \(n(verifier.entries, lang)) \(lang.t("mục, mỗi mục nối với mục trước bằng SHA-256", "entries, each chained to the one before by SHA-256")).</p>"
        }
        if let head = verifier.head {
            b += "<p>\(lang.t("Dấu niêm phong hiện tại (ghi vào sổ giấy)", "The current seal (write it in a paper log)")): <code class=\"hash\">\(e(head.hash))</code> (#\(head.seq))</p>"
        }
        b += "<p class=\"hint\">\(lang.t("Kiểm tra độc lập", "Check independently")): <code>loa audit export | python3 ops/audit-verify.py</code></p>"
        b += "<div class=\"scroll\"><table class=\"trail-table\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">\(lang.t("Thời gian", "Time"))</th><th scope=\"col\">\(lang.t("Người", "Who"))</th>"
        b += "<th scope=\"col\">\(lang.t("Việc", "Action"))</th><th scope=\"col\">\(lang.t("Chiến dịch", "Campaign"))</th><th scope=\"col\">\(lang.t("Chi tiết", "Detail"))</th></tr></thead><tbody>"
        for (_, entry) in try db.auditEntries().reversed().prefix(300) {
            guard let entry else { continue }
            b += "<tr><td class=\"n\">\(entry.seq)</td><td><time>\(e(Timestamp(seconds: entry.at).iso8601()))</time></td><td>\(e(entry.actor))</td><td>\(e(entry.action))</td>"
            b += "<td>\(entry.campaign.map { "<a href=\"/campaigns/\(e(percentEncode($0)))\">\(e($0))</a>" } ?? "")</td><td>\(e(entry.detail))</td></tr>"
        }
        b += "</tbody></table></div>"
        return html(.ok, v.layout.page(lang.t("Nhật ký kiểm tra", "Audit trail"), b))
    }

    // MARK: Metrics

    /// Prometheus text format 0.0.4: counts only (no number, no pseudonym, no campaign text).
    func metrics() throws -> Response {
        let m = try stores.with { try $0.metricsSnapshot() }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        func label(_ s: String) -> String { s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") }
        family("loa_messages", "gauge", "Messages by carrier and state.")
        for carrier in m.messages.keys.sorted() {
            for state in MessageState.allCases { out += "loa_messages{carrier=\"\(label(carrier))\",state=\"\(state.rawValue)\"} \(m.messages[carrier]?[state] ?? 0)\n" }
        }
        family("loa_messages_sent_total", "counter", "Messages the carriers have taken (accepted and every state after it); rate() of it is the sending rate.")
        for carrier in m.messages.keys.sorted() {
            let sent = DeliveryCounts.sentStates.map { m.messages[carrier]?[$0] ?? 0 }.reduce(0, +) + (m.messages[carrier]?[.rejected] ?? 0)
            out += "loa_messages_sent_total{carrier=\"\(label(carrier))\"} \(sent)\n"
        }
        family("loa_queue_depth", "gauge", "Messages waiting to be sent or in an upload (planned and submitted).")
        for carrier in m.messages.keys.sorted() {
            out += "loa_queue_depth{carrier=\"\(label(carrier))\"} \((m.messages[carrier]?[.planned] ?? 0) + (m.messages[carrier]?[.submitted] ?? 0))\n"
        }
        family("loa_receipts_total", "counter", "Delivery receipts recorded.")
        for carrier in m.receipts.keys.sorted() { out += "loa_receipts_total{carrier=\"\(label(carrier))\"} \(m.receipts[carrier]!)\n" }
        family("loa_receipts_quarantined", "gauge", "Receipt lines kept aside (unreadable or matching no message) and not yet replayed.")
        out += "loa_receipts_quarantined \(m.quarantinedOpen)\n"
        family("loa_upload_retries_total", "counter", "Batch uploads that were repeats after a transient failure.")
        for carrier in m.batches.keys.sorted() { out += "loa_upload_retries_total{carrier=\"\(label(carrier))\"} \(m.batches[carrier]!.retries)\n" }
        family("loa_batches_waiting_to_retry", "gauge", "Batches waiting to go again under their key.")
        for carrier in m.batches.keys.sorted() { out += "loa_batches_waiting_to_retry{carrier=\"\(label(carrier))\"} \(m.batches[carrier]!.waitingToRetry)\n" }
        family("loa_campaigns", "gauge", "Campaigns by state.")
        for state in CampaignState.allCases { out += "loa_campaigns{state=\"\(state.rawValue)\"} \(m.campaigns[state] ?? 0)\n" }
        family("loa_audit_entries", "gauge", "Entries in the audit trail.")
        out += "loa_audit_entries \(m.auditEntries)\n"
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: out)))
    }
}
