import Testing
import LoaCore

@Suite("Vietnamese mobile numbers")
struct NumberingPlanTests {
    func parsed(_ raw: String) -> VietnamNumberingPlan.Parsed? {
        if case .success(let p) = VietnamNumberingPlan.parse(raw) { return p }
        return nil
    }

    func rejection(_ raw: String) -> VietnamNumberingPlan.Rejection? {
        if case .failure(let r) = VietnamNumberingPlan.parse(raw) { return r }
        return nil
    }

    @Test("common written forms", arguments: [
        "0912 345 678", "+84912345678", "84912345678", "0912.345.678", "0912-345-678",
        "(+84) 912 345 678", "+84 (0) 912 345 678", "0084 912 345 678", " 0912345678 ", "091 234 5678",
    ])
    func forms(raw: String) {
        let p = parsed(raw)
        #expect(p?.msisdn.e164 == "+84912345678")
        #expect(p?.carrierOfOrigin == .vinaphone)
        #expect(p?.restoredLeadingZero == false)
    }

    @Test func leadingZeroLostInASpreadsheet() {
        let p = parsed("912345678")
        #expect(p?.msisdn.national == "0912345678")
        #expect(p?.restoredLeadingZero == true)
    }

    @Test("every 2018 migration rule", arguments: [
        ("0162", "032", Carrier.viettel), ("0163", "033", .viettel), ("0164", "034", .viettel), ("0165", "035", .viettel),
        ("0166", "036", .viettel), ("0167", "037", .viettel), ("0168", "038", .viettel), ("0169", "039", .viettel),
        ("0123", "083", .vinaphone), ("0124", "084", .vinaphone), ("0125", "085", .vinaphone), ("0127", "081", .vinaphone),
        ("0129", "082", .vinaphone),
        ("0120", "070", .mobifone), ("0121", "079", .mobifone), ("0122", "077", .mobifone), ("0126", "076", .mobifone),
        ("0128", "078", .mobifone),
        ("0186", "056", .vietnamobile), ("0188", "058", .vietnamobile), ("0199", "059", .gmobile),
    ])
    func migration(old: String, new: String, carrier: Carrier) {
        let p = parsed(old + "3456789")
        #expect(p?.msisdn.national == new + "3456789")
        #expect(p?.carrierOfOrigin == carrier)
        #expect(p?.migratedFrom == old + "3456789")
        #expect(parsed("+84" + old.dropFirst() + "3456789")?.msisdn.national == new + "3456789")
    }

    @Test("every current prefix", arguments: Array(VietnamNumberingPlan.mobilePrefixes.keys).sorted())
    func prefix(p: String) {
        let parsed = parsed("0" + p + "1234567")
        #expect(parsed?.msisdn.e164 == "+84" + p + "1234567")
        #expect(parsed?.carrierOfOrigin == VietnamNumberingPlan.mobilePrefixes[p])
    }

    @Test func carrierPrefixesSpotCheck() {
        #expect(parsed("0961234567")?.carrierOfOrigin == .viettel)
        #expect(parsed("0886123456")?.carrierOfOrigin == .vinaphone)
        #expect(parsed("0901234567")?.carrierOfOrigin == .mobifone)
        #expect(parsed("0921234567")?.carrierOfOrigin == .vietnamobile)
        #expect(parsed("0991234567")?.carrierOfOrigin == .gmobile)
        #expect(parsed("0871234567")?.carrierOfOrigin == .itelecom)
        #expect(parsed("0551234567")?.carrierOfOrigin == .reddi)
    }

    @Test func rejections() {
        #expect(rejection("") == .empty)
        #expect(rejection("  - ") == .empty)
        #expect(rejection("0912 345 67x") == .invalidCharacter("x"))
        #expect(rejection("+1 415 555 0100") == .foreign(countryCode: "1"))
        #expect(rejection("+856 20 5555 1234") == .foreign(countryCode: "856"))
        #expect(rejection("0066812345678") == .foreign(countryCode: "66"))
        #expect(rejection("024 3825 1234") == .landline(areaCode: "24"))
        #expect(rejection("028 3829 1234") == .landline(areaCode: "28"))
        #expect(rejection("0260 3862 123") == .landline(areaCode: "260"))
        #expect(rejection("1900 1234") == .serviceNumber("1900"))
        #expect(rejection("1800 599 920") == .serviceNumber("1800"))
        #expect(rejection("113") == .shortCode("113"))
        #expect(rejection("9029") == .shortCode("9029"))
        #expect(rejection("0112345678") == .unknownPrefix("11"))
        #expect(rejection("01993456789")?.code == nil)   // 0199 is valid (Gmobile)
        #expect(rejection("01303456789") == .unassignedOldPrefix("130"))
        #expect(rejection("091234567") == .wrongLength(digits: 9))
        #expect(rejection("09123456789") == .wrongLength(digits: 11))
        #expect(rejection("+84+912345678") == .invalidCharacter("+"))
    }

    @Test func masking() {
        let p = parsed("0912345678")!
        #expect(p.msisdn.masked == "0912***678")
        #expect("\(p.msisdn)" == "0912***678")
        #expect(MSISDN.mask("01623456789") == "0162***789")
    }

    @Test func routingListOverridesThePrefix() {
        let p = parsed("0912345678")!
        var routing = CarrierRouting()
        #expect(routing.carrier(for: p) == .vinaphone)
        routing.record(p.msisdn, servedBy: .viettel)
        #expect(routing.carrier(for: p) == .viettel)
        #expect(routing.isPorted(p))
        #expect(Carrier(name: "VinaPhone") == .vinaphone)
        #expect(Carrier(name: "Wintel") == .reddi)
        #expect(Carrier(name: "Acme") == nil)
    }
}
