import Testing
import LoaCore

@Suite("SMS encoding and segmentation")
struct SMSEncoderTests {
    @Test("GSM-7 single/concatenated boundaries", arguments: [
        (159, 1), (160, 1), (161, 2), (305, 2), (306, 2), (307, 3), (459, 3), (460, 4),
    ])
    func gsm7Boundaries(septets: Int, segments: Int) {
        let m = SMSEncoder.measure(String(repeating: "a", count: septets))
        #expect(m == TextMeasure(encoding: .gsm7, units: septets, segments: segments, characters: septets))
    }

    @Test("part sizes around 152/153/154 septets")
    func partSizes() {
        for (length, expected) in [(152 + 153, [153, 152]), (153 + 153, [153, 153]), (154 + 153, [153, 153, 1])] {
            let parts = SMSEncoder.encode(String(repeating: "x", count: length)).parts
            #expect(parts.map(\.units) == expected, "length \(length)")
        }
    }

    @Test("extension characters cost two septets")
    func extensionCharacters() {
        #expect(SMSEncoder.measure(String(repeating: "€", count: 80)) == TextMeasure(encoding: .gsm7, units: 160, segments: 1, characters: 80))
        let over = SMSEncoder.encode(String(repeating: "€", count: 81))
        #expect(over.units == 162)
        // 76 pairs fill 152 septets: the 77th pair would straddle the 153rd septet.
        #expect(over.parts.map(\.units) == [152, 10])
        #expect(SMSEncoder.measure("{}[]~|^\\\u{0C}").units == 18)
    }

    @Test("an escape pair is never split across parts")
    func escapeAtBoundary() {
        let text = String(repeating: "a", count: 152) + "€" + String(repeating: "b", count: 10)
        let message = SMSEncoder.encode(text)
        #expect(message.units == 164)
        #expect(message.parts.map(\.units) == [152, 12])
        #expect(message.parts[1].text.hasPrefix("€"))
        // One septet earlier the pair fits exactly at the end of part 1.
        let fits = SMSEncoder.encode(String(repeating: "a", count: 151) + "€" + String(repeating: "b", count: 11))
        #expect(fits.parts.map(\.units) == [153, 11])
    }

    @Test("UCS-2 boundaries", arguments: [(69, 1), (70, 1), (71, 2), (133, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
    func ucs2Boundaries(units: Int, segments: Int) {
        let m = SMSEncoder.measure(String(repeating: "ệ", count: units))
        #expect(m == TextMeasure(encoding: .ucs2, units: units, segments: segments, characters: units))
    }

    @Test("a surrogate pair is never split across parts")
    func surrogateAtBoundary() {
        let text = String(repeating: "ệ", count: 66) + "😀" + String(repeating: "ệ", count: 10)
        let message = SMSEncoder.encode(text)
        #expect(message.encoding == .ucs2)
        #expect(message.units == 78)
        #expect(message.parts.map(\.units) == [66, 12])
        #expect(message.parts[1].text.hasPrefix("😀"))
        #expect(SMSEncoder.measure(String(repeating: "ệ", count: 68) + "😀") == TextMeasure(encoding: .ucs2, units: 70, segments: 1, characters: 69))
    }

    @Test("one character outside GSM-7 makes the whole message UCS-2")
    func mixed() {
        #expect(SMSEncoder.measure("Mua bao hiem o dau?").encoding == .gsm7)
        #expect(SMSEncoder.measure("café à la mode") == TextMeasure(encoding: .gsm7, units: 14, segments: 1, characters: 14))
        #expect(SMSEncoder.measure("Backtick ` is not GSM").encoding == .ucs2)
        let vi = SMSEncoder.measure("Thông báo khẩn: mưa lũ")
        #expect(vi == TextMeasure(encoding: .ucs2, units: 22, segments: 1, characters: 22))
    }

    @Test("decomposed (NFD) input is normalized before counting")
    func nfd() {
        let nfd = "Vie\u{0302}\u{0323}t Nam"
        #expect(nfd.unicodeScalars.count == 10)
        let encoded = SMSEncoder.encode(nfd)
        #expect(encoded.normalizationChanged)
        #expect(Array(encoded.text.unicodeScalars) == Array("Vi\u{1EC7}t Nam".unicodeScalars))
        #expect(encoded.units == 8)
        // 70 NFC characters are one part; their NFD form would be 140 units.
        let long = String(repeating: "e\u{0302}\u{0323}", count: 70)
        #expect(SMSEncoder.measure(long) == TextMeasure(encoding: .ucs2, units: 70, segments: 1, characters: 70))
        #expect(!SMSEncoder.encode("Việt Nam").normalizationChanged)
    }

    @Test("empty text is zero segments")
    func empty() {
        #expect(SMSEncoder.measure("") == TextMeasure(encoding: .gsm7, units: 0, segments: 0, characters: 0))
        #expect(SMSEncoder.encode("").parts.isEmpty)
    }

    @Test("GSM-7 packing: the 23.038 example")
    func packing() {
        let septets = "hellohello".unicodeScalars.map { scalar -> UInt8 in
            guard case .basic(let s) = GSM7Alphabet.code(for: scalar)! else { return 0 }
            return s
        }
        let packed = SMSEncoder.encode("hellohello").parts[0].payload
        #expect(packed == [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37])
        #expect(GSM7Packing.unpack(packed, count: 10) == septets)
        #expect(SMSEncoder.encode(String(repeating: "a", count: 160)).parts[0].payload.count == 140)
    }

    @Test("concatenated parts carry a UDH and a fill bit")
    func udhAndFill() {
        let text = String(repeating: "a", count: 160) + "€b"
        let message = SMSEncoder.encode(text, reference: 0x2A)
        #expect(message.parts.map(\.units) == [153, 10])
        guard message.parts.count == 2 else { return }
        #expect(message.parts[0].udh == [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01])
        #expect(message.parts[1].udh == [0x05, 0x00, 0x03, 0x2A, 0x02, 0x02])
        // 'a' = 0x61 shifted past one fill bit.
        #expect(message.parts[0].payload[0] == 0xC2)
        #expect(message.parts[0].userData.count == 140)
        let second = GSM7Packing.unpack(message.parts[1].payload, count: 10, fillBits: 1)
        #expect(second == [0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x1B, 0x65, 0x62])
        #expect(GSM7Packing.decode(second) == "aaaaaaa€b")
        for part in message.parts { #expect(part.userData.count <= 140) }
    }

    @Test("UCS-2 payload is UTF-16 big-endian")
    func ucs2Payload() {
        let message = SMSEncoder.encode("Việt😀")
        #expect(message.parts[0].payload == [0x00, 0x56, 0x00, 0x69, 0x1E, 0xC7, 0x00, 0x74, 0xD8, 0x3D, 0xDE, 0x00])
        let long = SMSEncoder.encode(String(repeating: "ư", count: 140), reference: 7)
        #expect(long.parts.map(\.units) == [67, 67, 6])
        #expect(long.parts.allSatisfy { $0.userData.count <= 140 })
        #expect(long.parts.map(\.text).joined() == String(repeating: "ư", count: 140))
    }

    @Test("every character of the default alphabet round-trips")
    func alphabetRoundTrip() {
        var text = ""
        for (septet, scalar) in GSM7Alphabet.basic.enumerated() where septet != 0x1B { text.unicodeScalars.append(scalar) }
        for entry in GSM7Alphabet.extensionTable { text.unicodeScalars.append(entry.scalar) }
        let message = SMSEncoder.encode(text)
        #expect(message.encoding == .gsm7)
        #expect(message.units == 127 + 20)
        let decoded = message.parts.map { part in
            GSM7Packing.decode(GSM7Packing.unpack(part.payload, count: part.units, fillBits: part.udh.isEmpty ? 0 : 1))
        }.joined()
        #expect(decoded == text)
    }
}
