import Testing
import LoaCore

@Suite("Message templates")
struct TemplateTests {
    @Test func render() throws {
        let t = try MessageTemplate("UBND xã {commune}: từ {date}, {{khẩn}} không ra khơi.")
        #expect(t.placeholders == ["commune", "date"])
        #expect(try t.render(["commune": "Ia Dom", "date": "12/9"]) == "UBND xã Ia Dom: từ 12/9, {khẩn} không ra khơi.")
    }

    @Test func missingValueNamesThePlaceholder() throws {
        let t = try MessageTemplate("Xã {commune}, ngày {date}, {hour}")
        #expect(throws: TemplateError.missingValues(["date", "hour"])) { try t.render(["commune": "Mô Rai"]) }
        #expect(TemplateError.missingValues(["date"]).description == "no value for placeholder {date}")
    }

    @Test func parseErrors() {
        #expect(throws: TemplateError.unclosedPlaceholder(column: 4)) { try MessageTemplate("Xã {commune") }
        #expect(throws: TemplateError.unmatchedClosingBrace(column: 4)) { try MessageTemplate("Xã }") }
        #expect(throws: TemplateError.invalidPlaceholderName("tên xã", column: 1)) { try MessageTemplate("{tên xã}") }
        #expect(throws: TemplateError.invalidPlaceholderName("", column: 3)) { try MessageTemplate("a {}") }
    }

    @Test func worstCase() throws {
        let t = try MessageTemplate("Commune {commune} alert: stay home on {date}.")
        let (text, measure) = try t.worstCase(["commune": ["Ia Dom", "Dak Nhoong"], "date": ["1/9", "30/12"]])
        #expect(text == "Commune Dak Nhoong alert: stay home on 30/12.")
        #expect(measure == TextMeasure(encoding: .gsm7, units: 45, segments: 1, characters: 45))
        // One candidate value needs UCS-2, so the worst case is UCS-2 with each longest value.
        let (text2, measure2) = try t.worstCase(["commune": ["Ia Dom", "Đăk Nhoong"], "date": ["1/9"]])
        #expect(text2 == "Commune Đăk Nhoong alert: stay home on 1/9.")
        #expect(measure2.encoding == .ucs2)
        #expect(throws: TemplateError.missingValues(["date"])) { try t.worstCase(["commune": ["A"], "date": []]) }
    }

    @Test func worstCaseCrossesASegmentBoundary() throws {
        let t = try MessageTemplate(String(repeating: "a", count: 150) + "{x}")
        // 150 + 11 = 161 septets: two parts; 150 + 10 = 160: one.
        #expect(try t.worstCase(["x": ["12345678901", "1"]]).measure.segments == 2)
        #expect(try t.worstCase(["x": ["1234567890", "1"]]).measure.segments == 1)
        // An extension character counts 2 septets in the worst case: 150 + 5×2 = 160, 150 + 6×2 = 162.
        #expect(try t.worstCase(["x": ["€€€€€", "123456789"]]).measure.segments == 1)
        #expect(try t.worstCase(["x": ["€€€€€€", "123456789"]]).measure.segments == 2)
    }
}
