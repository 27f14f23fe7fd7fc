import Testing
import LoaCore

@Suite("Diacritics and legacy encodings")
struct TextToolsTests {
    @Test func stripVietnamese() {
        #expect(Diacritics.strip("Đường Hồ Chí Minh, Việt Nam") == "Duong Ho Chi Minh, Viet Nam")
        #expect(Diacritics.strip("ĂÂÊÔƠƯĐ ăâêôơưđ Ỹ ỵ") == "AAEOOUD aaeooud Y y")
        // Ethnic-language orthographies: breves and other marks on Latin letters.
        #expect(Diacritics.strip("Bơ̆n pơlei Kon Tum ŏ ĕ ĭ ŭ") == "Bon polei Kon Tum o e i u")
        #expect(Diacritics.strip("Vie\u{0302}\u{0323}t") == "Viet")
        #expect(Diacritics.strip("中文 ລາວ") == "中文 ລາວ")
    }

    @Test func strippingCanSaveSegments() {
        let text = "Thông báo: từ 14 giờ ngày 12/9, bão số 3 đổ bộ vào các xã biên giới. Bà con không ra khơi, gia cố nhà cửa."
        let full = SMSEncoder.measure(text)
        let plain = SMSEncoder.measure(Diacritics.strip(text))
        #expect(full == TextMeasure(encoding: .ucs2, units: 106, segments: 2, characters: 106))
        #expect(plain == TextMeasure(encoding: .gsm7, units: 106, segments: 1, characters: 106))
    }

    @Test func punctuation() {
        #expect(Diacritics.plainPunctuation("“Loa” – tin… ‘xã’\u{00A0}ok") == "\"Loa\" - tin... 'xã' ok")
        #expect(Diacritics.nonGSM7Characters("“Việt” ệ") == ["“", "ệ", "”"])
    }

    @Test func tcvn3() {
        #expect(LegacyVietnamese.fromTCVN3("ViÖt Nam lµ mét quèc gia") == "Việt Nam là một quốc gia")
        #expect(LegacyVietnamese.fromTCVN3("B¶o Th¾ng, M\u{AD}êng Kh\u{AD}¬ng") == "Bảo Thắng, Mường Khương")
        #expect(LegacyVietnamese.fromTCVN3("§¾k Gl©y, ®ång bµo") == "Đắk Glây, đồng bào")
        // Windows-1252 punctuation (0x80–0x9F) is kept.
        #expect(LegacyVietnamese.fromTCVN3("“ViÖt”") == "“Việt”")
    }

    @Test func vni() {
        #expect(LegacyVietnamese.fromVNI("Vieät Nam laø moät quoác gia") == "Việt Nam là một quốc gia")
        #expect(LegacyVietnamese.fromVNI("Hoøa Bình, Ñaék Glaây, ñoàng baøo") == "Hòa Bình, Đắk Glây, đồng bào")
        #expect(LegacyVietnamese.fromVNI("Thöôøng xuyeân, ngöôøi daân, tænh") == "Thường xuyên, người dân, tỉnh")
        #expect(LegacyVietnamese.fromVNI("VIEÄT NAM") == "VIỆT NAM")
        #expect(LegacyVietnamese.fromVNI("caêng, thaéng") == "căng, thắng")
    }

    @Test func detection() {
        #expect(LegacyVietnamese.detect("ViÖt Nam lµ mét quèc gia ®éc lËp") == .legacy(.tcvn3, score: 1))
        #expect(LegacyVietnamese.detect("Vieät Nam laø moät quoác gia ñoäc laäp") == .legacy(.vni, score: 1))
        #expect(LegacyVietnamese.detect("Việt Nam là một quốc gia") == .unicode)
        #expect(LegacyVietnamese.detect("plain ASCII text") == .plain)
        // A French phrase is neither: both conversions give non-Vietnamese words.
        guard case .unsure = LegacyVietnamese.detect("Crème brûlée à la française, où êtes-vous") else {
            Issue.record("expected unsure")
            return
        }
    }

    @Test func syllables() {
        for w in ["nghiêng", "khuya", "người", "quốc", "giữa", "tỉnh", "xã", "uống", "Đắk"] {
            #expect(VietnameseSyllable.isValid(Substring(w)), "\(w)")
        }
        for w in ["lauứ", "Hoứa", "ViƯt", "quốcs", "tỉnhđ", "ăàa", "µ"] {
            #expect(!VietnameseSyllable.isValid(Substring(w)), "\(w)")
        }
    }

    @Test func windows1252() {
        #expect(Windows1252.decodeText([0x56, 0x69, 0xD6, 0x74]) == ("ViÖt", false))
        #expect(Windows1252.decodeText([0x93, 0x61, 0x94]).text == "“a”")
        #expect(Windows1252.decodeText([0xEF, 0xBB, 0xBF, 0x61, 0xC3, 0xA0]) == ("aà", true))
    }
}

@Suite("Characters outside GSM-7, found quickly")
struct NonGSM7CharactersTests {
    @Test("the quick scan names the same characters as the standard library, in every script loa meets")
    func sameAsStandardLibrary() {
        let texts = [
            "Thông báo khẩn: bão số 3", "ສະບາຍດີ ການແຈ້ງເຕືອນ ໄຟໄໝ້ປ່າ ກະລຸນາຢ່ານຳໄຟເຂົ້າປ່າ", "น้ำท่วม ทำให้", "⚠️ Lũ quét 🌊 ⛰️ 👍🏽 👨‍👩‍👧 🇻🇳",
            "旱季森林火灾风险很高。", "한국어 텍스트", "हिन्दी क्षेत्र", "e\u{301}\u{323} a\u{30A}", "\r\n€[x]", "\u{301}leading mark", "ឆ្នាំ ខ្មែរ", "မြန်မာ",
        ]
        for t in texts {
            let nfc = NFC.normalize(t)
            let quick = Diacritics.nonGSM7Characters(nfc: nfc).map { Array($0.unicodeScalars) }
            let exact = Diacritics.nonGSM7CharactersByStandardLibrary(nfc).map { Array($0.unicodeScalars) }
            #expect(quick == exact, "\(t)")
        }
        #expect(Diacritics.nonGSM7Characters(nfc: "ສະບາຍດີ ນຳ") == ["ສ", "ະ", "ບ", "າ", "ຍ", "ດີ", "ນຳ"])
    }
}
