import Foundation
import LoaCore
import LoaStore

/// A campaign's delivery report, by one dimension, in the forms an office needs: a terminal
/// table, CSV for Excel (UTF-8 with a BOM, CRLF), JSON for scripts and the console, and a
/// printable HTML page. Aggregates only: no number and no pseudonym appears in it.
public struct CampaignReport: Sendable {
    public var campaign: Store.CampaignRecord
    public var report: DeliveryReport
    /// Per row key: a name (carrier, commune, language) and, for communes, the province.
    public var labels: [String: (name: String, province: String?)]
    public var currency: String
    public var generatedAt: Timestamp
    public var notes: [String]
    /// A voice campaign's calls per row key (carrier, commune, language; none by day or hour) and in
    /// total; nil for an SMS campaign.
    public var calls: (rows: [String: CallCounts], total: CallCounts)?

    /// Prices per carrier and encoding (per segment), in `currency`.
    public struct Prices: Sendable {
        public var perSegment: [String: [String: Double]]
        public var currency: String
        public var carrierNames: [String: String]
        public init(perSegment: [String: [String: Double]], currency: String = "VND", carrierNames: [String: String] = [:]) {
            self.perSegment = perSegment
            self.currency = currency
            self.carrierNames = carrierNames
        }
    }

    public init(store: Store, campaign id: String, by dimension: ReportDimension, units: AdministrativeUnits, prices: Prices,
                at: Timestamp = Timestamp(seconds: Store.nowSeconds())) throws {
        guard let record = try store.campaignRecord(id) else { throw OperationError(.notReadable, "no campaign \(id) in \(store.location)") }
        campaign = record
        let facts = try store.deliveryFacts(campaign: id)
        report = DeliveryReport(dimension: dimension, facts: facts) { prices.perSegment[$0]?[$1] }
        currency = prices.currency
        generatedAt = at
        var labels: [String: (String, String?)] = [:]
        for row in report.rows {
            switch dimension {
            case .carrier: labels[row.key] = (prices.carrierNames[row.key] ?? row.key, nil)
            case .commune:
                if let code = Int(row.key), case .success(let c) = units.commune(code) {
                    labels[row.key] = (c.name, units.provinces[c.provinceCode]?.name)
                } else {
                    labels[row.key] = (row.key == "none" ? "(no commune: contact lists)" : "(not a 2025 commune)", nil)
                }
            case .language: labels[row.key] = (Languages.info(row.key)?.name ?? row.key, nil)
            case .day, .hour: labels[row.key] = (row.key == DeliveryReport.notSent ? "not sent" : row.key, nil)
            }
        }
        self.labels = labels
        // Calls are counted only where the campaign made some (a second pass over its messages).
        let callFacts = facts.contains { $0.encoding == OutboundMessage.voiceEncoding } ? try store.callFacts(campaign: id) : []
        if !callFacts.isEmpty {
            var rows: [String: CallCounts] = [:], total = CallCounts()
            for f in callFacts {
                let c = CallCounts(called: f.people, reached: f.reached, completed: f.completed, attempts: f.attempts, listened: f.listened)
                total = total + c
                let key: String? = switch dimension {
                case .carrier: f.carrier
                case .commune: f.commune.map(DeliveryReport.communeCode) ?? "none"
                case .language: f.language
                case .day, .hour: nil
                }
                if let key { rows[key, default: CallCounts()] = rows[key, default: CallCounts()] + c }
            }
            calls = (rows, total)
        }
        var notes: [String] = []
        if !report.unpriced.isEmpty {
            notes.append("no price per segment for \(report.unpriced.sorted().joined(separator: ", ")) (prices: in carriers/*.yaml): the cost is left out")
        }
        if !report.total.addsUp { notes.append("the counts do not add up: please report this as a bug") }
        self.notes = notes
    }

    // MARK: Columns

    struct Column {
        var key: String
        var english: String
        var vietnamese: String
        var value: (Cells) -> String
        init(key: String, english: String, vietnamese: String, value: @escaping (DeliveryCounts) -> String) {
            self.key = key; self.english = english; self.vietnamese = vietnamese
            self.value = { value($0.counts) }
        }
        init(key: String, english: String, vietnamese: String, calls: @escaping (CallCounts?) -> String) {
            self.key = key; self.english = english; self.vietnamese = vietnamese
            self.value = { calls($0.calls) }
        }
    }

    /// A row's counts, and its calls for a voice campaign.
    struct Cells {
        var counts: DeliveryCounts
        var calls: CallCounts?
    }

    /// A row's cells (`row` nil: the total).
    func cells(_ row: DeliveryReport.Row?) -> Cells {
        guard let row else { return Cells(counts: report.total, calls: calls?.total) }
        return Cells(counts: row.counts, calls: calls?.rows[row.key])
    }

    static func percent(_ r: Double?) -> String { r.map { String(format: "%.1f", $0 * 100) } ?? "" }
    static func money(_ v: Double?) -> String { v.map { String(format: "%.0f", $0) } ?? "" }

    var columns: [Column] {
        [
            Column(key: "recipients", english: "recipients", vietnamese: "Người nhận") { "\($0.recipients)" } as Column,
            Column(key: "planned", english: "planned", vietnamese: "Chờ gửi") { "\($0.planned)" },
            Column(key: "sent", english: "sent", vietnamese: "Đã gửi") { "\($0.sent)" },
            Column(key: "delivered", english: "delivered", vietnamese: "Đã nhận") { "\($0.delivered)" },
            Column(key: "failed", english: "failed", vietnamese: "Không nhận được") { "\($0.failed)" },
            Column(key: "no_receipt", english: "no receipt", vietnamese: "Không có báo cáo") { "\($0.noReceipt)" },
            Column(key: "pending", english: "pending", vietnamese: "Chờ báo cáo") { "\($0.pending)" },
            Column(key: "unknown", english: "unknown", vietnamese: "Không rõ") { "\($0.unknown)" },
            Column(key: "rejected", english: "rejected", vietnamese: "Bị từ chối") { "\($0.rejected)" },
            Column(key: "expired", english: "expired", vietnamese: "Hết hạn") { "\($0.expired)" },
            Column(key: "delivery_rate_percent", english: "delivered %", vietnamese: "Tỷ lệ nhận (%)") { Self.percent($0.deliveryRate) },
            Column(key: "latency_p50_s", english: "p50 s", vietnamese: "Độ trễ p50 (giây)") { $0.latency(percentile: 0.5).map(String.init) ?? "" },
            Column(key: "latency_p95_s", english: "p95 s", vietnamese: "Độ trễ p95 (giây)") { $0.latency(percentile: 0.95).map(String.init) ?? "" },
        ] + (calls == nil ? [
            Column(key: "segments", english: "segments", vietnamese: "Số tin (đoạn)") { "\($0.segmentsSent)" },
        ] : [
            // Voice: reach and completion; a voice message's segments are its billed call-minutes.
            Column(key: "reached", english: "reached", vietnamese: "Nghe máy", calls: { $0.map { "\($0.reached)" } ?? "" }),
            Column(key: "completed", english: "completed", vietnamese: "Nghe hết", calls: { $0.map { "\($0.completed)" } ?? "" }),
            Column(key: "reach_percent", english: "reach %", vietnamese: "Tỷ lệ nghe máy (%)", calls: { Self.percent($0?.reachRate) }),
            Column(key: "completion_percent", english: "completion %", vietnamese: "Tỷ lệ nghe hết (%)", calls: { Self.percent($0?.completionRate) }),
            Column(key: "attempts_per_person", english: "calls/person", vietnamese: "Số cuộc gọi/người", calls: { $0?.attemptsPerPerson.map { String(format: "%.2f", $0) } ?? "" }),
            Column(key: "call_minutes", english: "call-minutes", vietnamese: "Số phút gọi") { "\($0.segmentsSent)" },
        ]) + [
            Column(key: "cost_\(currency.lowercased())", english: "cost \(currency)", vietnamese: "Chi phí (\(currency))") { Self.money($0.cost) },
        ]
    }

    var keyHeader: (english: String, vietnamese: String) {
        switch report.dimension {
        case .carrier: ("carrier", "Nhà mạng")
        case .commune: ("commune", "Xã/phường")
        case .language: ("language", "Ngôn ngữ")
        case .day: ("day", "Ngày")
        case .hour: ("hour", "Giờ")
        }
    }

    // MARK: CSV

    /// The label columns after a row's key: its name (CSV: for every dimension; table and HTML: not
    /// for days and hours, whose key says it all), and the province for communes.
    func labelCells(_ key: String, namesTimes: Bool) -> [String] {
        let named = namesTimes || (report.dimension != .day && report.dimension != .hour)
        return (named ? [labels[key]?.name ?? key] : []) + (report.dimension == .commune ? [labels[key]?.province ?? ""] : [])
    }

    func labelHeaders(namesTimes: Bool, vietnamese: Bool) -> [String] {
        let named = namesTimes || (report.dimension != .day && report.dimension != .hour)
        return (named ? [vietnamese ? "Tên" : "name"] : []) + (report.dimension == .commune ? [vietnamese ? "Tỉnh/thành phố" : "province"] : [])
    }

    /// UTF-8 with a byte-order mark, CRLF line ends, one header row, the total as the last row.
    public func csv() -> [UInt8] {
        var lines = [[report.dimension.rawValue] + labelHeaders(namesTimes: true, vietnamese: false) + columns.map(\.key)]
        for row in report.rows { lines.append([row.key] + labelCells(row.key, namesTimes: true) + columns.map { $0.value(cells(row)) }) }
        lines.append(["total", "total"] + (report.dimension == .commune ? [""] : []) + columns.map { $0.value(cells(nil)) })
        return CSVLine.document(lines)
    }

    // MARK: JSON

    public func json() -> String {
        func counts(_ row: DeliveryReport.Row?) -> String {
            let c = cells(row).counts
            var o = columns.map { col -> String in
                let v = col.value(cells(row))
                return JSONString.quoted(col.key) + ":" + (v.isEmpty ? "null" : v)
            }
            o.append("\"rejected_by\":" + object(c.rejectedBy))
            o.append("\"failed_by\":" + object(c.failedBy))
            return o.joined(separator: ",")
        }
        func object(_ d: [String: Int]) -> String {
            "{" + d.sorted { $0.key < $1.key }.map { JSONString.quoted($0.key) + ":\($0.value)" }.joined(separator: ",") + "}"
        }
        var out = "{\"campaign\":\(JSONString.quoted(campaign.id)),\"title\":\(JSONString.quoted(campaign.title)),"
        out += "\"state\":\(JSONString.quoted(campaign.state.rawValue)),\"by\":\(JSONString.quoted(report.dimension.rawValue)),"
        out += "\"generated_at\":\(JSONString.quoted(generatedAt.iso8601())),\"currency\":\(JSONString.quoted(currency)),\"rows\":["
        out += report.rows.map { row in
            var head = "{\"key\":\(JSONString.quoted(row.key)),\"name\":\(JSONString.quoted(labels[row.key]?.name ?? row.key))"
            if report.dimension == .commune { head += ",\"province\":" + (labels[row.key]?.province.map(JSONString.quoted) ?? "null") }
            return head + "," + counts(row) + "}"
        }.joined(separator: ",")
        out += "],\"total\":{" + counts(nil) + "},\"notes\":[" + notes.map(JSONString.quoted).joined(separator: ",") + "]}"
        return out + "\n"
    }

    // MARK: Table

    public func table() -> String {
        let heads = [keyHeader.english] + labelHeaders(namesTimes: false, vietnamese: false) + columns.map(\.english)
        var rows: [[String]] = report.rows.map { row in [row.key] + labelCells(row.key, namesTimes: false) + columns.map { $0.value(cells(row)) } }
        rows.append(["total"] + Array(repeating: "", count: heads.count - 1 - columns.count) + columns.map { $0.value(cells(nil)) })
        let widths = heads.indices.map { i in ([heads[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i < heads.count - columns.count ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: max(0, widths[i] - c.count)) + c
            }.joined(separator: "  ")
        }
        var out = "\(campaign.id): \(campaign.title) (\(campaign.state.rawValue)), by \(report.dimension.rawValue), \(generatedAt.iso8601())\n"
        out += line(heads) + "\n" + rows.map(line).joined(separator: "\n") + "\n"
        for (title, reasons) in [("rejected", report.total.rejectedBy), ("failed", report.total.failedBy)] where !reasons.isEmpty {
            out += "\(title) by reason:\n"
            for (reason, n) in reasons.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) { out += "  \(n)  \(reason)\n" }
        }
        for note in notes { out += "note: \(note)\n" }
        return out
    }

    // MARK: HTML

    /// Text as HTML: & < > " and ' escaped (safe in text and in quoted attributes).
    public static func escapeHTML(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    /// A printable page (A4), Vietnamese headings, the office and a signature block.
    public func html(office: String?) -> String {
        let e = Self.escapeHTML
        var h = """
            <!DOCTYPE html>
            <html lang="vi"><head><meta charset="utf-8"><title>Báo cáo kết quả gửi tin: \(e(campaign.id))</title>
            <style>
            @page { size: A4 landscape; margin: 15mm; }
            body { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; }
            h1 { font-size: 14pt; margin: 0 0 4pt; } .meta { margin: 0 0 10pt; color: #333; }
            table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #999; padding: 3pt 5pt; }
            th { background: #eee; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
            tr.total td { font-weight: bold; } .sign { margin-top: 28pt; display: flex; justify-content: space-between; }
            .sign div { width: 40%; text-align: center; } .sign .space { height: 60pt; }
            </style></head><body>
            <p class="meta">\(e(office ?? ""))</p>
            <h1>Báo cáo kết quả gửi tin nhắn: \(e(campaign.title))</h1>
            <p class="meta">Chiến dịch <b>\(e(campaign.id))</b> · trạng thái \(e(campaign.state.rawValue)) · theo \(e(keyHeader.vietnamese.lowercased())) · lập lúc \(e(generatedAt.iso8601()))</p>
            <table><thead><tr><th>\(e(keyHeader.vietnamese))</th>
            """
        h += labelHeaders(namesTimes: false, vietnamese: true).map { "<th>\($0)</th>" }.joined()
        h += columns.map { "<th>\(e($0.vietnamese))</th>" }.joined() + "</tr></thead><tbody>\n"
        func tds(_ row: DeliveryReport.Row?) -> String { columns.map { "<td class=\"n\">\(e($0.value(cells(row))))</td>" }.joined() }
        for row in report.rows {
            h += "<tr><td>\(e(row.key))</td>" + labelCells(row.key, namesTimes: false).map { "<td>\(e($0))</td>" }.joined() + tds(row) + "</tr>\n"
        }
        let span = 1 + labelHeaders(namesTimes: false, vietnamese: true).count
        h += "<tr class=\"total\"><td colspan=\"\(span)\">Tổng cộng</td>" + tds(nil) + "</tr>\n</tbody></table>\n"
        for (title, reasons) in [("Bị từ chối theo lý do", report.total.rejectedBy), ("Không nhận được theo lý do", report.total.failedBy)] where !reasons.isEmpty {
            h += "<h2 style=\"font-size:11pt\">\(title)</h2><ul>" + reasons.sorted { $0.value > $1.value }.map { "<li>\(e($0.key)): \($0.value)</li>" }.joined() + "</ul>\n"
        }
        for note in notes { h += "<p><i>\(e(note))</i></p>\n" }
        h += """
            <div class="sign"><div>NGƯỜI LẬP BÁO CÁO<div class="space"></div>(ký, ghi rõ họ tên)</div>
            <div>THỦ TRƯỞNG ĐƠN VỊ<div class="space"></div>(ký tên, đóng dấu)</div></div>
            </body></html>

            """
        return h
    }
}
