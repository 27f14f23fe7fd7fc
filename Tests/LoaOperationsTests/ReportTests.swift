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

    @Test("campaigns planned in interleaved parts, and parts planned again: each report reads exactly its own messages",
          arguments: StoreEngine.available)
    func interleavedParts(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "a", priority: .emergency)
        try addSendingCampaign(store, id: "b", priority: .emergency)
        try addSendingCampaign(store, id: "empty", priority: .emergency)
        func part(_ from: Int, _ count: Int, language: String) -> [PlannedMessage] {
            (from..<(from + count)).map {
                PlannedMessage(carrier: $0 % 2 == 0 ? .viettel : .mobifone, subscriber: Pseudonym(w0: UInt64($0), w1: 9, w2: 9, w3: 9).description,
                               language: language, commune: 23377, text: "t", encoding: .gsm7, segments: 1)
            }
        }
        // a: 0..<300, b: 0..<50 between a's parts (a's ids are not contiguous), then a's first part again.
        _ = try store.planMessages(campaign: "a", priority: .emergency, day: 1, capPerDay: 1, part: part(0, 200, language: "vi"))
        _ = try store.planMessages(campaign: "b", priority: .emergency, day: 1, capPerDay: 1, part: part(0, 50, language: "xdg"))
        _ = try store.planMessages(campaign: "a", priority: .emergency, day: 1, capPerDay: 1, part: part(200, 100, language: "vi"))
        #expect(try store.planMessages(campaign: "a", priority: .emergency, day: 1, capPerDay: 1, part: part(0, 200, language: "vi")) == (0, 0))
        for split in [0, 200_000] {
            let a = try store.deliveryFacts(campaign: "a", splitAbove: split)
            #expect(a.reduce(0) { $0 + $1.count } == 300, "split above \(split)")
            #expect(Set(a.map(\.language)) == ["vi"])
            let b = try store.deliveryFacts(campaign: "b", splitAbove: split)
            #expect(b.reduce(0) { $0 + $1.count } == 50, "split above \(split)")
            #expect(Set(b.map(\.language)) == ["xdg"])
            #expect(try store.deliveryFacts(campaign: "empty", splitAbove: split).isEmpty)
            #expect(try store.deliveryFacts(campaign: "absent", splitAbove: split).isEmpty)
        }
    }

    @Test("reasons that differ only in their middle, many distinct reasons and texts of every length are told apart",
          arguments: StoreEngine.available)
    func manyReasons(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        try addSendingCampaign(store, id: "r", priority: .emergency)
        // Languages of 2 to 20 characters; reasons of the same length whose first and last 8 bytes agree.
        let languages = ["vi", "xdg", "jrai", "bahnar", "giatrieng", "language-of-sixteen", "l12345678901234567"]
        let messages = (0..<120).map {
            PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: UInt64($0), w1: 7, w2: 7, w3: 7).description,
                           language: languages[$0 % languages.count], commune: 23377, text: "t", encoding: .gsm7, segments: 1)
        }
        _ = try store.planMessages(campaign: "r", priority: .emergency, day: 1, capPerDay: 1, messages)
        let batch = try #require(try store.claimBatch(carrier: .viettel, limit: 120))
        var rejected: [Int64: String] = [:]
        for (k, id) in batch.messages.map(\.id).enumerated() where k < 100 {
            rejected[id] = "smsc said: error \(String(format: "%03d", k % 40)) for this number"
        }
        try store.batchAccepted(batch.id, status: 202, rejected: rejected)
        for split in [0, 200_000] {
            let facts = try store.deliveryFacts(campaign: "r", splitAbove: split)
            var byReason: [String: Int] = [:], byLanguage: [String: Int] = [:]
            for f in facts {
                byReason[f.reason ?? "none", default: 0] += f.count
                byLanguage[f.language, default: 0] += f.count
            }
            #expect(byReason.count == 41, "split above \(split)")
            #expect(byReason["none"] == 20)
            #expect(byReason["smsc said: error 000 for this number"] == 3)
            #expect(byReason["smsc said: error 039 for this number"] == 2)
            #expect(byLanguage == Dictionary(uniqueKeysWithValues: languages.enumerated().map { i, l in (l, (0..<120).filter { $0 % languages.count == i }.count) }))
        }
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
