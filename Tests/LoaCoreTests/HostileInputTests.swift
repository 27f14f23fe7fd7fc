import Testing
import LoaCore

@Suite("Hostile and careless input: names, quoting, durations, CSV, CAP")
struct HostileInputTests {
    @Test("names in the audit trail: trimmed, NFC, no hidden characters, compared without case")
    func personNames() throws {
        #expect(try PersonName(" lan.nguyen ").text == "lan.nguyen")
        #expect(try PersonName("Lan.Nguyen") == PersonName("lan.nguyen "))
        #expect(try PersonName("Nguyễn Thị Lan").text == "Nguyễn Thị Lan")
        #expect(try PersonName("Nguye\u{302}\u{303}n") == PersonName("Nguyễn"))   // decomposed = composed
        #expect(throws: PersonName.Problem.empty) { try PersonName("   ") }
        #expect(throws: PersonName.Problem.hidden("\u{200B}")) { try PersonName("lan\u{200B}.nguyen") }
        #expect(throws: PersonName.Problem.hidden("\u{1B}")) { try PersonName("lan\u{1B}[2J") }
        #expect(throws: PersonName.Problem.tooLong(65)) { try PersonName(String(repeating: "a", count: 65)) }
        // The drafter cannot approve under a look-alike name.
        #expect(CampaignState.approve(state: .draft, drafter: "lan.nguyen", approver: "LAN.NGUYEN ", unreviewed: []) == .failure(.selfApproval("LAN.NGUYEN ")))
    }

    @Test("input quoted back is escaped and masked")
    func escaping() {
        #expect(Escaped("vi\u{1B}[31m").description == "vi\\u{1b}[31m")
        #expect(Escaped("call 0912345678 now").description == "call 0912***678 now")
        #expect(Escaped("+84912345678").description == "+849***678")
        #expect(Escaped("23377").description == "23377")
        #expect(Escaped("a\u{202E}b").description == "a\\u{202e}b")
        #expect(Escaped(String(repeating: "x", count: 100), limit: 10).description == "xxxxxxxxxx…")
    }

    @Test("durations cannot overflow: absurd ones are refused, not wrapped")
    func durations() {
        #expect(Duration8601.parseSeconds("1d12h") == 129_600)
        #expect(Duration8601.parseSeconds("20000d") == 1_728_000_000)
        #expect(Duration8601.parseSeconds("50000d") == nil)   // 137 years
        #expect(Duration8601.parseSeconds(String(repeating: "99999999d", count: 1000)) == nil)
        #expect(Duration8601.parseSeconds("36600d1s") == nil)   // over 100 years
        // A campaign's presence window is 1 minute to 30 days.
        var parser = CampaignParser(units: testUnits)
        _ = parser.parse(map([("audience", map([("communes", list([s("23377")])), ("seen_within", s("20000d"))]))]))
        #expect(parser.diagnostics.contains { $0.field == "audience.seen_within" && $0.message.hasPrefix("expected a duration from 1m to 30d") })
    }

    @Test("unknown keys are reported at every level, not only the top")
    func nestedUnknownKeys() {
        var parser = CampaignParser(units: testUnits)
        _ = parser.parse(map([
            ("limits", map([("max_segment", s("2"))])),
            ("schedule", map([("start", s("2026-12-01T07:30:00+07:00")), ("end", s("2026-12-02T07:30:00+07:00")), ("windows", list([s("08:00-10:00")])), ("quiet", s("x"))])),
            ("languages", map([("default", s("vi")), ("by_communes", map([]))])),
            ("variants", map([("vi", map([("text", s("Xin chào")), ("revew", s("verified"))]))])),
        ]))
        let fields = Set(parser.diagnostics.filter { $0.message.hasPrefix("unknown field") }.map(\.field))
        #expect(fields == ["limits.max_segment", "schedule.quiet", "languages.by_communes", "variants.vi.revew"])
    }

    @Test("CSV lines split by one set of rules")
    func csv() throws {
        #expect(try CSVLine.split(" a , \"b, c\" ,\"d \"\"e\"\"\",") == ["a", "b, c", "d \"e\"", ""])
        #expect(throws: CSVLine.Problem.unterminatedQuote) { try CSVLine.split("a,\"b") }
        #expect(throws: CSVLine.Problem.textAfterClosingQuote) { try CSVLine.split("\"a\"b") }
        #expect(throws: CSVLine.Problem.quoteInsideField) { try CSVLine.split("a\"b") }
        // Found by fuzzing: a field with a space or tab at an end is quoted, or a reader trims it.
        #expect(CSVLine.field("\tx ") == "\"\tx \"")
        #expect(try CSVLine.split(Substring(["\t\0C", " y", "z"].map(CSVLine.field).joined(separator: ","))) == ["\t\0C", " y", "z"])
    }

    func alert(status: String = "Actual", language: String = "vi-VN", areaDesc: String = "Xã Bờ Y", urgency: String = "Immediate") -> CAPAlert {
        var a = CAPAlert()
        a.identifier = "VN-TEST-1"
        a.sender = "kttv@example.vn"
        a.sent = "2026-11-24T06:00:00+07:00"
        a.status = status
        a.msgType = "Alert"
        var i = CAPAlert.Info()
        i.language = language
        i.event = "Lũ quét"
        i.urgency = urgency
        i.severity = "Severe"
        i.headline = "Cảnh báo lũ quét"
        i.instruction = "Di chuyển lên vùng cao."
        i.onset = "2026-11-24T07:00:00+07:00"
        i.areas = [CAPAlert.Area(description: areaDesc, geocodes: [("commune", "23377")])]
        a.infos = [i]
        return a
    }

    @Test("a CAP alert's values stay values: line breaks and YAML in them cannot add or change fields")
    func capValuesStayValues() throws {
        let hostile = alert(areaDesc: "Xã Bờ Y\naudience:\n  contact_lists: [all]\n", urgency: "Immediate\npriority: routine")
        let (doc, notes, _) = try hostile.campaignDocument(sender: "CANHBAO", geojsonName: "x.geojson", allowExercise: false)
        guard case .map(let fields) = doc else { Issue.record("not a mapping"); return }
        #expect(fields.map(\.0) == ["serialization_version", "id", "title", "office", "legal_basis", "channel", "sender", "priority",
                                    "audience", "languages", "variants", "schedule", "limits"])
        #expect(fields.first { $0.0 == "audience" }?.1 == .map([("communes", .list([.number(23377)]))]))
        #expect(fields.first { $0.0 == "priority" }?.1 == .text("urgent"))   // "Immediate\npriority: routine" is not Immediate
        #expect(notes.allSatisfy { !$0.contains("\n") && !$0.contains("audience") })
        #expect(throws: CAPAlert.ConversionError.badLanguage("vi\nx: y")) { try self.alert(language: "vi\nx: y").campaignDocument(sender: "C", geojsonName: "x", allowExercise: false) }
    }

    @Test("Exercise and Test alerts are refused unless allowed, and then every text says so")
    func exercises() throws {
        #expect(throws: CAPAlert.ConversionError.notActual("Exercise")) { try self.alert(status: "Exercise").campaignDocument(sender: "C", geojsonName: "x", allowExercise: false) }
        #expect(throws: CAPAlert.ConversionError.notForSending("Draft")) { try self.alert(status: "Draft").campaignDocument(sender: "C", geojsonName: "x", allowExercise: true) }
        let (doc, _, _) = try alert(status: "Exercise").campaignDocument(sender: "C", geojsonName: "x", allowExercise: true)
        guard case .map(let fields) = doc, case .map(let variants)? = fields.first(where: { $0.0 == "variants" })?.1,
              case .map(let vi)? = variants.first?.1, case .text(let text)? = vi.first?.1 else { Issue.record("shape"); return }
        #expect(text == "[DIỄN TẬP – không phải cảnh báo thật] Cảnh báo lũ quét. Di chuyển lên vùng cao.")
        #expect(fields.first { $0.0 == "title" }?.1 == .text("[EXERCISE] Cảnh báo lũ quét"))
    }

    @Test("CAP polygons and circles that are not shapes on Earth are refused")
    func capGeometry() {
        #expect(CAPAlert.parsePolygon("14.6,107.5 14.6,107.7 14.8,107.7 14.6,107.5")?.count == 4)
        #expect(CAPAlert.parsePolygon("14.6,107.5 14.6,107.7 14.8,107.7 14.8,107.5") == nil)   // not closed
        #expect(CAPAlert.parsePolygon("14.6,107.5 14.6,107.5") == nil)                         // too few
        #expect(CAPAlert.parsePolygon("94.6,107.5 14.6,107.7 14.8,107.7 94.6,107.5") == nil)   // latitude off the Earth
        #expect(CAPAlert.parsePolygon("") == nil)
        #expect(CAPAlert.parseCircle("14.7,107.6 5")?.1 == 5)
        #expect(CAPAlert.parseCircle("14.7,107.6 0") == nil)
        #expect(CAPAlert.parseCircle("14.7,107.6 -3") == nil)
        #expect(CAPAlert.parseCircle("14.7,207.6 3") == nil)
        #expect(CAPAlert.parseCircle("14.7,107.6 50000") == nil)
    }
}
