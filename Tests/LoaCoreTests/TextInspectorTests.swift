import Testing
import LoaCore

/// The inspector reads bytes and cuts characters without the standard library where that is
/// exact; every answer must be the standard library's.
@Suite("Text inspection from bytes")
struct TextInspectorTests {
    /// The inspector's characters outside GSM-7, or its refusal.
    private func inspected(_ inspector: inout TextInspector, _ text: String) -> (TextInspector.Refusal?, [String]) {
        var bytes = Array(text.utf8)
        let refusal = bytes.withUnsafeMutableBufferPointer { inspector.inspect(UnsafeBufferPointer($0)) }
        if refusal != nil { return (refusal, []) }
        return (nil, inspector.characters.map { String(decoding: bytes[$0], as: UTF8.self) })
    }

    private func expectSameAsStandardLibrary(_ inspector: inout TextInspector, _ text: String, _ note: String) -> Bool {
        let (refusal, characters) = inspected(&inspector, text)
        // The inspector's quick check is the one `NFC` uses (texts here have no control character).
        #expect((refusal == .mayNeedNormalization) == !NFC.isQuickCheckStable(text), "\(note): \(text.unicodeScalars.map { String($0.value, radix: 16) })")
        guard refusal == nil else { return false }
        let expected = SMSEncoder.measure(text)
        #expect(inspector.measure == expected, "\(note): \(text.unicodeScalars.map { String($0.value, radix: 16) })")
        let reference = expected.encoding == .ucs2 ? Diacritics.nonGSM7CharactersByStandardLibrary(text).map { String($0) } : []
        #expect(characters == reference, "\(note): \(text.unicodeScalars.map { String($0.value, radix: 16) })")
        return true
    }

    @Test("random texts of marks, joiners, emoji, flags, Hangul, Indic conjuncts, Thai, Lao, CJK: the standard library's characters")
    func randomTexts() {
        let palette: [UInt32] = [
            0x61, 0x20, 0x0A, 0x0D, 0x22, 0x60, 0xE9, 0x20AC, 0xA9, 0xAD, 0x1B0, 0x1EA3, 0x1EC7, 0x111,
            0x0301, 0x0323, 0x0309, 0xFE0F, 0xFE0E, 0x200D, 0x200C, 0x1F327, 0x26A0, 0x1F469, 0x1F466, 0x1F3FD, 0x1F44D,
            0x1F1FB, 0x1F1F3, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x0600, 0x0915, 0x094D, 0x0937, 0x093F, 0x0903,
            0x0E01, 0x0E33, 0x0E31, 0x0E48, 0x0E40, 0x0E81, 0x0EB3, 0x0EB4, 0x0EC9, 0x0EC0, 0x0EB5, 0x4E00, 0x3002,
            0x302A, 0x3030, 0xFF71, 0xFF9E, 0x2028, 0x2026, 0x1F600, 0xE0061, 0xE007F, 0x1F3F4,
            0x5B, 0x7B, 0x7E, 0x5C, 0x7C, 0x5E, 0x61, 0x62, 0x63, 0x64, 0x65,   // GSM-7 extension characters, more plain letters
        ]
        var rng = SplitMix64(seed: 2026)
        var inspector = TextInspector()
        var compared = 0
        for round in 0..<30_000 {
            // Short texts for the characters; every tenth long, for the part splits of both encodings.
            let count = round % 10 == 0 ? 100 + Int(rng.next() % 400) : 1 + Int(rng.next() % 12)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<count { scalars.append(Unicode.Scalar(palette[Int(rng.next() % UInt64(palette.count))])!) }
            let text = NFC.normalize(String(scalars))
            if expectSameAsStandardLibrary(&inspector, text, "round \(round)") { compared += 1 }
        }
        #expect(compared > 10_000)   // a third at least are inspected, not refused (the NFC quick check is cautious with jamo and marks)
    }

    @Test("long texts: units and parts of both encodings, escape pairs and surrogate pairs at the part ends")
    func longTexts() {
        let gsmPalette: [UInt32] = [0x61, 0x20, 0x2E, 0x5B, 0x7B, 0x20AC, 0xE9, 0x0A, 0x5C, 0x394]
        let ucsPalette: [UInt32] = gsmPalette + [0x1EC7, 0x1B0, 0x1F327, 0x1F44D, 0x4E00, 0x0E81, 0x0EB4, 0xFE0F]
        var rng = SplitMix64(seed: 91)
        var inspector = TextInspector()
        var compared = 0
        for round in 0..<2_000 {
            let palette = round % 2 == 0 ? gsmPalette : ucsPalette
            var scalars = String.UnicodeScalarView()
            for _ in 0..<(100 + Int(rng.next() % 900)) { scalars.append(Unicode.Scalar(palette[Int(rng.next() % UInt64(palette.count))])!) }
            if expectSameAsStandardLibrary(&inspector, String(scalars), "long \(round)") { compared += 1 }
        }
        #expect(compared == 2_000)
    }

    @Test("every scalar taken as a character of its own, and every mark taken as joining it, agrees with the standard library")
    func claimedRangesAgree() {
        var inspector = TextInspector()
        let ranges: [ClosedRange<UInt32>] = [0x20...0x2FF, 0x0E01...0x0E5B, 0x0E81...0x0EDF, 0x1E00...0x1EFF, 0x2010...0x205E,
                                             0x2190...0x23FF, 0x2600...0x27BF, 0x3000...0x303F, 0x4E00...0x9FFF, 0xFE00...0xFE0F,
                                             0xFF00...0xFFEF, 0x1F300...0x1F6FF, 0x1F900...0x1F9FF]
        var compared = 0
        for range in ranges {
            for v in range {
                guard let s = Unicode.Scalar(v), s.properties.generalCategory != .unassigned, v != 0x7F, !(0x80...0x9F).contains(v) else { continue }
                let c = String(Character(s))
                for text in ["ư" + c + "ư", "ư" + c + "\u{0301}ư", c + "\u{FE0F}a", "\u{0E81}" + c + "\u{0EC9}", "🌧" + c + "\u{1F3FD}", c + "\u{200D}🌧", "a\n" + c] {
                    if expectSameAsStandardLibrary(&inspector, NFC.normalize(text), "U+\(String(v, radix: 16))") { compared += 1 }
                }
            }
        }
        #expect(compared > 140_000)
    }

    @Test("bytes refused: invalid UTF-8, control characters, text that may change under NFC")
    func refusals() {
        var inspector = TextInspector()
        func refusal(_ bytes: [UInt8]) -> TextInspector.Refusal? { bytes.withUnsafeBufferPointer { inspector.inspect($0) } }
        #expect(refusal([0x61, 0xFF]) == .notUTF8)
        #expect(refusal([0xC0, 0x80]) == .notUTF8)                 // overlong NUL
        #expect(refusal([0xE0, 0x80, 0x80]) == .notUTF8)           // overlong
        #expect(refusal([0xED, 0xA0, 0x80]) == .notUTF8)           // a surrogate
        #expect(refusal([0xF4, 0x90, 0x80, 0x80]) == .notUTF8)     // above U+10FFFF
        #expect(refusal([0xE1, 0xBB]) == .notUTF8)                 // cut short
        #expect(refusal([0x61, 0x1B, 0x62]) == .controlCharacter)
        #expect(refusal([0x7F]) == .controlCharacter)
        #expect(refusal([0xC2, 0x85]) == .controlCharacter)        // NEL
        #expect(refusal(Array("e\u{0301}".utf8)) == .mayNeedNormalization)
        #expect(refusal(Array("dường 1\r\ndường 2".utf8)) == nil)
        #expect(inspector.measure == TextMeasure(encoding: .ucs2, units: 16, segments: 1, characters: 16))
        #expect(refusal([0xF0, 0x9F, 0x98, 0x80]) == nil)          // 😀
        #expect(inspector.characters == [0..<4])
    }

    @Test("JSON string escapes decoded as the strict reader decodes them, refused where it refuses")
    func unescape() throws {
        var out: [UInt8] = []
        func decoded(_ inside: String) -> String? {
            var bytes = Array(inside.utf8)
            let ok = bytes.withUnsafeMutableBufferPointer { JSONString.unescape(UnsafeBufferPointer($0), into: &out) }
            return ok ? String(decoding: out, as: UTF8.self) : nil
        }
        for inside in [#"a\"b"#, #"c:\\tmp\/x"#, #"\b\f\n\r\t"#, #"\u00e9\u1EC7"#, #"\ud83d\ude00 ok"#, #"\u0000"#, "Thông báo"] {
            let strict = try JSONValue.parse(Array(("\"" + inside + "\"").utf8)).stringValue
            #expect(decoded(inside) == strict, "\(inside)")
        }
        for refused in [#"\x"#, #"\u12"#, #"\ud83d"#, #"\ude00"#, #"\ud83d\u0041"#, "a\"b", "tab\there", #"end\"#] {
            #expect(decoded(refused) == nil, "\(refused)")
        }
    }
}
