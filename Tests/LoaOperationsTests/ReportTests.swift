import Foundation
import Testing
import LoaCore
import LoaOperations
import LoaReference
import LoaStore
import LoaTestSupport

/// Campaign reports against counts worked out by hand, on both engines.
@Suite("Campaign reports (SQLite and PostgreSQL)")
struct ReportTests {
    /// Ten messages: Viettel 6 in Bờ Y (4 vi, 2 xdg; UCS-2, 1 segment), MobiFone 4 in another
    /// commune (vi; GSM-7, 2 segments). Viettel: 5 sent, 1 of them rejected by the carrier, 3
    /// delivered, 1 failed, 1 still planned. MobiFone: 4 sent, 2 delivered, 2 pending.
    func fixture(_ engine: StoreEngine) throws -> (Store, Int) {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "c", title: "Lũ quét", priority: .emergency)
        let other = units.communes.keys.filter { $0 != 23377 }.min()!
        var planned: [PlannedMessage] = []
        for i in 0..<6 {
            planned.append(PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: UInt64(i), w1: 1, w2: 1, w3: 1).description,
                                          language: i < 4 ? "vi" : "xdg", commune: 23377, text: "Xã Bờ Y", encoding: .ucs2, segments: 1))
        }
        for i in 0..<4 {
            planned.append(PlannedMessage(carrier: .mobifone, subscriber: Pseudonym(w0: UInt64(i), w1: 2, w2: 2, w3: 2).description,
                                          language: "vi", commune: other, text: "Xa", encoding: .gsm7, segments: 2))
        }
        _ = try store.planMessages(campaign: "c", priority: .emergency, day: 1, capPerDay: 1, planned)
        let v = try #require(try store.claimBatch(carrier: .viettel, limit: 5))
        let vRefs = v.messages.map(\.id)
        try store.batchAccepted(v.id, status: 202, rejected: [vRefs[4]: "invalid number"])
        let vRef = v.refs.map(\.description)
        _ = try store.recordReceipts(carrier: .viettel, [
            ReceiptRecord(messageRef: vRef[0], status: .delivered, at: nil, reason: nil),
            ReceiptRecord(messageRef: vRef[1], status: .delivered, at: nil, reason: nil),
            ReceiptRecord(messageRef: vRef[2], status: .delivered, at: nil, reason: nil),
            ReceiptRecord(messageRef: vRef[3], status: .failed, at: nil, reason: "absent subscriber"),
        ])
        let m = try #require(try store.claimBatch(carrier: .mobifone, limit: 10))
        try store.batchAccepted(m.id, status: 202, rejected: [:])
        _ = try store.recordReceipts(carrier: .mobifone, m.refs.prefix(2).map { ReceiptRecord(messageRef: $0.description, status: .delivered, at: nil, reason: nil) })
        return (store, other)
    }

    let prices = CampaignReport.Prices(perSegment: ["viettel": ["ucs2": 350, "gsm7": 350], "mobifone": ["gsm7": 300]], currency: "VND",
                                       carrierNames: ["viettel": "Viettel", "mobifone": "MobiFone"])

    @Test("totals and rows match the hand count; every dimension's rows add up to the total", arguments: StoreEngine.available)
    func handCounted(engine: StoreEngine) throws {
        let (store, other) = try fixture(engine)
        let byCarrier = try CampaignReport(store: store, campaign: "c", by: .carrier, units: units, prices: prices)
        let t = byCarrier.report.total
        let totals: [Int] = [t.recipients, t.planned, t.sent, t.delivered, t.failed, t.noReceipt, t.pending, t.unknown, t.rejected, t.expired]
        #expect(totals == [10, 1, 8, 5, 1, 0, 2, 0, 1, 0])
        #expect(t.rejectedBy == ["invalid number": 1])
        #expect(t.failedBy == ["absent subscriber": 1])
        #expect(t.segmentsSent == 12)
        #expect(t.cost == Double(4 * 350 + 8 * 300))
        #expect(t.deliveryRate == 5.0 / 8.0)
        #expect(byCarrier.report.rows.map(\.key) == ["mobifone", "viettel"])
        let viettel = byCarrier.report.rows[1].counts
        let v: [Int] = [viettel.recipients, viettel.planned, viettel.sent, viettel.delivered, viettel.failed, viettel.rejected]
        #expect(v == [6, 1, 4, 3, 1, 1])
        let mobifone = byCarrier.report.rows[0].counts
        let m: [Int] = [mobifone.recipients, mobifone.sent, mobifone.delivered, mobifone.pending]
        #expect(m == [4, 4, 2, 2])
        #expect(byCarrier.labels["viettel"]?.name == "Viettel")

        for dimension in ReportDimension.allCases {
            let r = try CampaignReport(store: store, campaign: "c", by: dimension, units: units, prices: prices).report
            let sum = r.rows.map(\.counts).reduce(DeliveryCounts(), +)
            #expect(sum == r.total, "\(dimension)")
            #expect(r.total.addsUp && r.rows.allSatisfy { $0.counts.addsUp }, "\(dimension)")
        }
        // Read in two halves at once (as large campaigns are), the same facts.
        func sorted(_ f: [DeliveryFact]) -> [String] { f.map { "\($0.carrier) \($0.commune ?? -1) \($0.language) \($0.state) \($0.reason ?? "") \($0.encoding) \($0.sentAt ?? -1) \($0.latency ?? -1) \($0.count) \($0.segments)" }.sorted() }
        #expect(sorted(try store.deliveryFacts(campaign: "c", splitAbove: 0)) == sorted(try store.deliveryFacts(campaign: "c")))
        #expect(try store.deliveryFacts(campaign: "c", splitAbove: 0).reduce(0) { $0 + $1.count } == 10)
        let byLanguage = try CampaignReport(store: store, campaign: "c", by: .language, units: units, prices: prices)
        #expect(byLanguage.report.rows.map { "\($0.key) \($0.counts.recipients)" } == ["vi 8", "xdg 2"])
        let byCommune = try CampaignReport(store: store, campaign: "c", by: .commune, units: units, prices: prices)
        #expect(byCommune.report.rows.map(\.key) == [DeliveryReport.communeCode(other), "23377"].sorted())
        let boY = try units.commune(23377).get()
        #expect(byCommune.labels["23377"]?.name == boY.name)
        #expect(byCommune.labels["23377"]?.province == units.provinces[boY.provinceCode]?.name)
        let byDay = try CampaignReport(store: store, campaign: "c", by: .day, units: units, prices: prices)
        #expect(byDay.report.rows.map(\.key) == [String(Timestamp(seconds: Store.nowSeconds()).iso8601().prefix(10)), "not sent"])
        // Only the one still planned was never answered by a carrier; the one it rejected counts on the day of the answer.
        #expect(byDay.report.rows.last?.counts.recipients == 1)
    }

    @Test("CSV: UTF-8 with a BOM and CRLF, read back by Python's csv module with the diacritics intact", arguments: StoreEngine.available)
    func csvForExcel(engine: StoreEngine) throws {
        let (store, _) = try fixture(engine)
        let report = try CampaignReport(store: store, campaign: "c", by: .commune, units: units, prices: prices)
        let bytes = report.csv()
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        #expect(text.hasSuffix("\r\n") && !text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/r.csv"))
        let script = """
            import csv, json, sys
            with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
            print(json.dumps([[r["commune"], r["name"], r["province"], r["recipients"], r["delivered"], r["cost_vnd"]] for r in rows], ensure_ascii=False))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, "\(dir)/r.csv"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String]])
        let boY = try units.commune(23377).get()
        #expect(rows.count == 3)
        #expect(rows.first { $0[0] == "23377" } == ["23377", boY.name, units.provinces[boY.provinceCode]!.name, "6", "3", "1400"])
        #expect(rows.last == ["total", "total", "", "10", "5", "3800"])
    }

    @Test("JSON and HTML carry the same totals; HTML is a printable page with Vietnamese headings and a signature block")
    func jsonAndHTML() throws {
        let (store, _) = try fixture(.sqlite)
        let report = try CampaignReport(store: store, campaign: "c", by: .carrier, units: units, prices: prices)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        let total = try #require(json["total"] as? [String: Any])
        #expect(total["recipients"] as? Int == 10 && total["delivered"] as? Int == 5 && total["cost_vnd"] as? Int == 3800)
        #expect((total["rejected_by"] as? [String: Int]) == ["invalid number": 1])
        #expect(json["title"] as? String == "Lũ quét")
        let html = report.html(office: "Sở Văn hóa, Thể thao và Du lịch tỉnh Quảng Ngãi")
        #expect(html.contains("<html lang=\"vi\">") && html.contains("@page { size: A4"))
        #expect(html.contains("Báo cáo kết quả gửi tin nhắn: Lũ quét"))
        #expect(html.contains("Sở Văn hóa, Thể thao và Du lịch tỉnh Quảng Ngãi"))
        #expect(html.contains("<td colspan=\"2\">Tổng cộng</td><td class=\"n\">10</td>"))
        #expect(html.contains("THỦ TRƯỞNG ĐƠN VỊ"))
    }

    @Test("the annual report: campaigns of the year by purpose and priority, totals, emergency speed; other years and offices left out",
          arguments: StoreEngine.available)
    func annual(engine: StoreEngine) throws {
        let (store, _) = try fixture(engine)
        let c = campaign(id: "nam-cu")
        _ = try store.submitCampaign(c, file: "nam-cu.yaml", sha256: "x", by: "Lan")
        let year = Int(Timestamp(seconds: Store.nowSeconds()).iso8601().prefix(4))!
        // A campaign of last year.
        try rawConnection(to: store.givenLocation).run("UPDATE campaigns SET created_at = created_at - 400 * 86400 WHERE id = 'nam-cu'")
        let report = try AnnualReport(store: store, year: year, office: nil, prices: prices)
        #expect(report.entries.map(\.campaign.id) == ["c"])
        #expect(report.total == (try CampaignReport(store: store, campaign: "c", by: .carrier, units: units, prices: prices)).report.total)
        #expect(report.byPurposeAndPriority == [.other: [.emergency: 1]])
        let speed = try #require(report.entries.first?.toFirstDelivery)
        #expect(speed >= 0 && speed < 60)
        // 90% of the 8 sent is 8 delivered: only 5 were.
        #expect(report.entries.first?.toNinetyPercent == nil)
        #expect(report.entries.first?.communesReached.count == 2)
        let lastYear = try AnnualReport(store: store, year: year - 1, office: "Sở", prices: prices)
        #expect(lastYear.entries.map { "\($0.campaign.id) \($0.campaign.purpose?.rawValue ?? "?")" } == ["nam-cu disaster"])
        #expect(try AnnualReport(store: store, year: year - 1, office: "Another office", prices: prices).entries.isEmpty)
        let html = report.html()
        #expect(html.contains("Báo cáo kết quả thông tin qua tin nhắn năm \(year)") && html.contains("Khẩn cấp"))
    }
}
