import Testing
import LoaCore

/// Builders for campaign source trees, so the core is tested without a YAML library.
func s(_ v: String) -> SourceNode { .scalar(v, SourcePosition(line: 1, column: 1)) }
func list(_ items: [SourceNode]) -> SourceNode { .sequence(items, SourcePosition(line: 1, column: 1)) }
func map(_ pairs: [(String, SourceNode)]) -> SourceNode {
    .mapping(pairs.map { (key: $0.0, keyPosition: SourcePosition(line: 1, column: 1), value: $0.1) }, SourcePosition(line: 1, column: 1))
}

/// A small reference list: two communes of Quảng Ngãi (former Kon Tum) and one of Thanh Hóa.
let testUnits = AdministrativeUnits(
    provinces: [Province(code: 51, name: "Quảng Ngãi", codename: "quang_ngai", divisionType: "tỉnh"),
                Province(code: 38, name: "Thanh Hóa", codename: "thanh_hoa", divisionType: "tỉnh")],
    communes: [Commune(code: 23377, name: "Xã Bờ Y", codename: "xa_bo_y", divisionType: "xã", provinceCode: 51),
               Commune(code: 23392, name: "Xã Sa Loong", codename: "xa_sa_loong", divisionType: "xã", provinceCode: 51),
               Commune(code: 14845, name: "Xã Mường Lát", codename: "xa_muong_lat", divisionType: "xã", provinceCode: 38)],
    preReform: [(oldCode: 62, name: "Kon Tum", newCode: 51)])

func testCampaign(extraAudience: [(String, SourceNode)] = [], respectDNC: Bool = true, variants: [(String, SourceNode)]? = nil) -> Campaign {
    var parser = CampaignParser(units: testUnits)
    let root = map([
        ("id", s("test-1")), ("title", s("Thử")), ("office", s("Sở")), ("legal_basis", s("220/KH-UBND")),
        ("channel", s("sms")), ("sender", s("QUANGNGAI")), ("priority", s(respectDNC ? "urgent" : "emergency")),
        ("audience", map([("communes", list([s("23377")]))] + extraAudience)),
        ("languages", map([("default", s("vi")), ("by_commune", map([("23392", s("sed"))]))])),
        ("variants", variants.map(map) ?? map([("vi", s("Xã {commune}: cảnh báo")), ("en", s("Warning")),
                                              ("sed", map([("text", s("[chờ dịch] cảnh báo")), ("review", s("needs-native-review"))]))])),
        ("schedule", map([("start", s("2026-12-01T07:30:00+07:00")), ("end", s("2026-12-02T20:00:00+07:00")), ("windows", list([s("07:30-11:00")]))])),
        ("limits", map([("respect_dnc", s(respectDNC ? "true" : "false"))])),
    ])
    let campaign = parser.parse(root)
    #expect(parser.diagnostics.filter { $0.severity == .error } == [])
    return campaign!
}

func pseudonym(_ n: UInt64) -> Pseudonym { Pseudonym(w0: n, w1: n &* 31, w2: 7, w3: 9) }

@Suite("Targeting rules")
struct TargetingTests {
    let cells = [
        Cell(id: 1, cgi: "452-04-100-1", latitude: 14.72, longitude: 107.56, commune: 23377),   // Bờ Y
        Cell(id: 2, cgi: "452-04-100-2", latitude: 14.73, longitude: 107.57, commune: 23377),
        Cell(id: 3, cgi: "452-04-200-1", latitude: 14.62, longitude: 107.80, commune: 23392),   // Sa Loong
        Cell(id: 4, cgi: "452-04-300-1", latitude: 20.53, longitude: 104.62, commune: 14845),   // Mường Lát
    ]

    @Test("rule 1: communes, listed cells, border belt, polygons, exclusions")
    func audienceCells() {
        let byCommune = AudienceArea(communes: [23377])
        #expect(cells.filter(byCommune.includes).map(\.id) == [1, 2])
        let plusCell = AudienceArea(communes: [23377], cells: ["452-04-300-1"])
        #expect(cells.filter(plusCell.includes).map(\.id) == [1, 2, 4])
        // A border line along longitude 107.60: cells 1 and 2 lie 4.30 and 3.23 km away, cell 3 21.52 km.
        let line = [GeoPoint(latitude: 14.0, longitude: 107.60), GeoPoint(latitude: 15.5, longitude: 107.60)]
        #expect(cells.filter(AudienceArea(borders: [(lines: [line], withinKm: 5)]).includes).map(\.id) == [1, 2])
        #expect(cells.filter(AudienceArea(borders: [(lines: [line], withinKm: 4)]).includes).map(\.id) == [2])
        #expect(cells.filter(AudienceArea(borders: [(lines: [line], withinKm: 25)]).includes).map(\.id) == [1, 2, 3])
        let square = [[GeoPoint(latitude: 14.5, longitude: 107.7), GeoPoint(latitude: 14.5, longitude: 107.9),
                       GeoPoint(latitude: 14.7, longitude: 107.9), GeoPoint(latitude: 14.7, longitude: 107.7)]]
        #expect(cells.filter(AudienceArea(polygons: [square]).includes).map(\.id) == [3])
        // Excluded communes win over listed cells and belts.
        let excluded = AudienceArea(cells: ["452-04-100-1"], borders: [(lines: [line], withinKm: 25)], excludedCommunes: [23377])
        #expect(cells.filter(excluded.includes).map(\.id) == [3])
    }

    @Test func distances() {
        let d = Geometry.distanceKm(from: GeoPoint(latitude: 15.0, longitude: 107.5),
                                    toLine: [GeoPoint(latitude: 14.0, longitude: 107.6), GeoPoint(latitude: 16.0, longitude: 107.6)])
        #expect(abs(d - 10.7406) < 0.001)
        let hanoiToHCMC = Geometry.distanceKm(GeoPoint(latitude: 21.0285, longitude: 105.8542), GeoPoint(latitude: 10.7769, longitude: 106.7009))
        #expect(abs(hanoiToHCMC - 1143.506) < 0.01)
    }

    @Test("rule 2: the most recent presence in the window decides")
    func latestPresence() {
        var table = LatestPresenceTable(expected: 4)
        let run: Int64 = 1_000_000
        // Subscriber 1: inside yesterday, then moved out today → not targeted.
        table.offer(carrier: 0, subscriber: pseudonym(1), cell: 1, seenAt: run - 86400)
        table.offer(carrier: 0, subscriber: pseudonym(1), cell: 4, seenAt: run - 3600)
        // Subscriber 2: out earlier, in now (rows arrive in any order).
        table.offer(carrier: 0, subscriber: pseudonym(2), cell: 3, seenAt: run - 60)
        table.offer(carrier: 0, subscriber: pseudonym(2), cell: 4, seenAt: run - 7200)
        // The same pseudonym on another carrier is another subscriber.
        table.offer(carrier: 1, subscriber: pseudonym(1), cell: 2, seenAt: run - 10)
        // A tie on time goes to the higher cell id, whatever the order.
        table.offer(carrier: 0, subscriber: pseudonym(3), cell: 2, seenAt: run - 5)
        table.offer(carrier: 0, subscriber: pseudonym(3), cell: 1, seenAt: run - 5)
        var result: [String: Int32] = [:]
        table.forEach { c, p, cell, _ in result["\(c)/\(p.w0)"] = cell }
        #expect(result == ["0/1": 4, "0/2": 3, "1/1": 2, "0/3": 2])
        #expect(table.count == 4)
    }

    @Test func latestPresenceGrowsPastItsPlan() {
        var table = LatestPresenceTable(expected: 2)
        for i in 0..<10_000 { table.offer(carrier: UInt8(i % 3), subscriber: pseudonym(UInt64(i)), cell: Int32(i % 7), seenAt: Int64(i)) }
        for i in 0..<10_000 { table.offer(carrier: UInt8(i % 3), subscriber: pseudonym(UInt64(i)), cell: 99, seenAt: Int64(i) + 1) }
        var n = 0, moved = 0
        table.forEach { _, _, cell, _ in n += 1; if cell == 99 { moved += 1 } }
        #expect(n == 10_000)
        #expect(moved == 10_000)
    }

    @Test("rules 3–5: opt-outs, languages, contact lists once")
    func selection() throws {
        let campaign = testCampaign(extraAudience: [("communes", list([s("23377"), s("23392")]))])
        let area = AudienceArea(communes: [23377, 23392])
        var table = LatestPresenceTable(expected: 8)
        let run: Int64 = 2_000_000
        table.offer(carrier: 0, subscriber: pseudonym(1), cell: 1, seenAt: run - 10)     // Bờ Y, default vi
        table.offer(carrier: 0, subscriber: pseudonym(2), cell: 3, seenAt: run - 10)     // Sa Loong → sed
        table.offer(carrier: 0, subscriber: pseudonym(3), cell: 3, seenAt: run - 10)     // Sa Loong, prefers en
        table.offer(carrier: 0, subscriber: pseudonym(4), cell: 1, seenAt: run - 10)     // prefers lo: no lo variant → vi
        table.offer(carrier: 0, subscriber: pseudonym(5), cell: 2, seenAt: run - 10)     // on the do-not-call list
        table.offer(carrier: 0, subscriber: pseudonym(6), cell: 4, seenAt: run - 10)     // Mường Lát: outside
        table.offer(carrier: 1, subscriber: pseudonym(7), cell: 2, seenAt: run - 10)     // VinaPhone, also a contact
        let prefs: [CarrierPseudonym: String] = [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(3)): "en",
                                                 CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(4)): "lo"]
        let optOuts: Set = [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(5))]
        var selector = RecipientSelector(campaign: campaign, units: testUnits, carriers: Carrier.allCases, cells: cells,
                                         audienceCells: area.cellMask(cells), optOuts: optOuts, preferences: prefs)
        guard case .success(let a) = VietnamNumberingPlan.parse("0912345678"), case .success(let b) = VietnamNumberingPlan.parse("0961234567") else {
            Issue.record("numbers"); return
        }
        let inArea = Contact(list: "uy-tin", msisdn: a.msisdn, carrier: .vinaphone, name: "A", language: nil, commune: 23377)
        let listOnly = Contact(list: "uy-tin", msisdn: b.msisdn, carrier: .viettel, name: "B", language: "sed", commune: 23377)
        let listOnlyAgain = Contact(list: "can-bo-xa", msisdn: b.msisdn, carrier: .viettel, name: "B", language: "sed", commune: 23377)
        let contacts = [
            ContactKeys(contact: inArea, pseudonyms: [CarrierPseudonym(carrier: .vinaphone, subscriber: pseudonym(7)), CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(70))])!,
            ContactKeys(contact: listOnly, pseudonyms: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(8)), CarrierPseudonym(carrier: .vinaphone, subscriber: pseudonym(80))])!,
            ContactKeys(contact: listOnlyAgain, pseudonyms: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(8)), CarrierPseudonym(carrier: .vinaphone, subscriber: pseudonym(80))])!,
        ]
        var got: [String: String] = [:]
        let summary = selector.select(latest: table, contacts: contacts) { r in got["\(r.carrier.rawValue)/\(r.subscriber.w0)"] = r.language }
        #expect(got == ["viettel/1": "vi", "viettel/2": "sed", "viettel/3": "en", "viettel/4": "vi", "vinaphone/7": "vi", "viettel/8": "sed"])
        #expect(summary.recipients == 6)
        #expect(summary.optedOut == 1)
        #expect(summary.seenElsewhere == 1)
        #expect(summary.contactsAlsoInArea == 1)
        #expect(summary.fromContactLists == 1)
        #expect(summary.byCommune == [23377: 4, 23392: 2])
        #expect(summary.byLanguage == ["vi": 3, "sed": 2, "en": 1])
        // "Xã {commune}: cảnh báo" rendered for Bờ Y is one UCS-2 segment.
        #expect(summary.segments == 6)
    }

    @Test("a contact on the do-not-call list is not messaged (routine or urgent), whichever way the opt-out is known")
    func contactListsDoNotOverrideOptOuts() {
        var table = LatestPresenceTable(expected: 2)
        table.offer(carrier: 0, subscriber: pseudonym(1), cell: 1, seenAt: 10)
        guard case .success(let a) = VietnamNumberingPlan.parse("0912345678"), case .success(let b) = VietnamNumberingPlan.parse("0961234567"),
              case .success(let c) = VietnamNumberingPlan.parse("0971234567") else { Issue.record("numbers"); return }
        let optedOutByList = Contact(list: "uy-tin", msisdn: a.msisdn, carrier: .vinaphone, name: "A", language: nil, commune: 23377, optedOut: true)
        let optedOutByKey = Contact(list: "uy-tin", msisdn: b.msisdn, carrier: .viettel, name: "B", language: nil, commune: 23377)
        let stillIn = Contact(list: "uy-tin", msisdn: c.msisdn, carrier: .viettel, name: "C", language: nil, commune: 23377)
        let contacts = [
            ContactKeys(contact: optedOutByList, pseudonyms: [CarrierPseudonym(carrier: .vinaphone, subscriber: pseudonym(20))])!,
            ContactKeys(contact: optedOutByKey, pseudonyms: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(21))])!,
            ContactKeys(contact: stillIn, pseudonyms: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(22))])!,
        ]
        #expect(ContactKeys(contact: stillIn, pseudonyms: [CarrierPseudonym(carrier: .mobifone, subscriber: pseudonym(22))]) == nil)
        for priority in [Campaign.Priority.routine, .urgent] {
            var campaign = testCampaign()
            campaign.priority = priority
            var selector = RecipientSelector(campaign: campaign, units: testUnits, carriers: Carrier.allCases, cells: cells,
                                             audienceCells: AudienceArea(communes: [23377]).cellMask(cells),
                                             optOuts: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(21))], preferences: [:])
            var got: [UInt64] = []
            let summary = selector.select(latest: table, contacts: contacts) { got.append($0.subscriber.w0) }
            #expect(got == [1, 22], "\(priority)")
            #expect(summary.optedOut == 2)
        }
        // An emergency that says respect_dnc: false reaches everyone, as it does in the area.
        var selector = RecipientSelector(campaign: testCampaign(respectDNC: false), units: testUnits, carriers: Carrier.allCases, cells: cells,
                                         audienceCells: AudienceArea(communes: [23377]).cellMask(cells),
                                         optOuts: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(21))], preferences: [:])
        #expect(selector.select(latest: table, contacts: contacts) { _ in }.recipients == 4)
    }

    @Test func emergencyMayIgnoreDoNotCall() {
        let campaign = testCampaign(respectDNC: false)
        var table = LatestPresenceTable(expected: 2)
        table.offer(carrier: 0, subscriber: pseudonym(5), cell: 1, seenAt: 10)
        var selector = RecipientSelector(campaign: campaign, units: testUnits, carriers: Carrier.allCases, cells: cells,
                                         audienceCells: AudienceArea(communes: [23377]).cellMask(cells),
                                         optOuts: [CarrierPseudonym(carrier: .viettel, subscriber: pseudonym(5))], preferences: [:])
        #expect(selector.select(latest: table, contacts: []) { _ in }.recipients == 1)
    }

    @Test func pseudonymText() {
        let p = Pseudonym("h:a538549442bc57430465e70b76821563fb756df57c893044d5a3ab49ed5c536e")
        #expect(p?.description == "h:a538549442bc57430465e70b76821563fb756df57c893044d5a3ab49ed5c536e")
        #expect(p?.bytes.first == 0xA5)
        #expect(Pseudonym("h:a5385494") == nil)
        #expect(Pseudonym("x:a538549442bc57430465e70b76821563fb756df57c893044d5a3ab49ed5c536e") == nil)
    }

    @Test func cellIdentity() {
        #expect(CellGlobalIdentity("452-04-12345-678")?.description == "452-04-12345-678")
        #expect(CellGlobalIdentity("452-004-1-2")?.description == "452-004-1-2")
        #expect(CellGlobalIdentity("452-04-70000-1") == nil)   // LAC is 16 bits
        #expect(CellGlobalIdentity("45-04-1-1") == nil)
        #expect(CellGlobalIdentity("452-04-1") == nil)
        let packed = Array("452-04-12345-678".utf8).withUnsafeBufferPointer { CellGlobalIdentity.packed(utf8: $0) }
        #expect(packed == CellGlobalIdentity("452-04-12345-678")?.packed)
    }
}

@Suite("Time and durations")
struct TimeTests {
    @Test func parsing() {
        #expect(Timestamp.parseISO8601("1970-01-01T07:00:00+07:00")?.seconds == 0)
        #expect(Timestamp.parseISO8601("2026-11-24T14:05:00+07:00")?.seconds == 1_795_503_900)
        #expect(Timestamp.parseISO8601("2026-11-24T07:05:00Z")?.seconds == 1_795_503_900)
        #expect(Timestamp.parseISO8601("2026-11-24T07:05:00.250Z")?.seconds == 1_795_503_900)
        #expect(Timestamp.parseISO8601("2026-11-24 14:05:00+0700")?.seconds == 1_795_503_900)
        #expect(Timestamp.parseISO8601("2026-11-24T14:05:00") == nil)          // no offset: ambiguous
        #expect(Timestamp.parseISO8601("2026-02-29T00:00:00Z") == nil)         // not a leap year
        #expect(Timestamp.parseISO8601("2028-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parseISO8601("24/11/2026 08:00") == nil)
    }

    @Test func formatting() {
        let t = Timestamp(seconds: 1_795_503_900)
        #expect(t.iso8601() == "2026-11-24T14:05:00+07:00")
        #expect(t.iso8601(offset: 0) == "2026-11-24T07:05:00Z")
        #expect(t.vietnameseDate() == "24/11/2026")
        #expect(Timestamp(seconds: 1_795_503_900 + 10 * 3600).vietnameseDate() == "25/11/2026")
    }

    @Test func durations() {
        #expect(Duration8601.parseSeconds("72h") == 259_200)
        #expect(Duration8601.parseSeconds("7d") == 604_800)
        #expect(Duration8601.parseSeconds("1d12h") == 129_600)
        #expect(Duration8601.parseSeconds("90") == nil)
        #expect(Duration8601.parseSeconds("h") == nil)
        #expect(Duration8601.format(259_200) == "3d")
    }

    @Test func dailyWindows() {
        let quiet = DailyWindow.defaultQuietHours
        #expect(quiet.description == "21:00-07:00")
        #expect(quiet.contains(minute: 22 * 60))
        #expect(quiet.contains(minute: 6 * 60 + 59))
        #expect(!quiet.contains(minute: 7 * 60))
        #expect(DailyWindow("07:00-21:00")!.overlaps(quiet) == false)
        #expect(DailyWindow("06:30-08:00")!.overlaps(quiet))
        #expect(DailyWindow("20:00-21:30")!.overlaps(quiet))
        #expect(DailyWindow("25:00-26:00") == nil)
        #expect(DailyWindow("07:00-07:00") == nil)
    }
}

@Suite("Language tags: any ISO 639 code, Vietnam's languages by name")
struct LanguageTagTests {
    @Test("valid codes and tags are accepted, with loa's names for Vietnam's languages and the registry's for others")
    func validTags() throws {
        #expect(Languages.info("ium")?.name == "Iu Mien (Dao)")
        #expect(Languages.info("ium")?.isEthnicMinority == true)
        #expect(Languages.info("vi")?.name == "Tiếng Việt")
        #expect(Languages.info("fr")?.name == "French")
        #expect(Languages.info("fr")?.isEthnicMinority == false)
        #expect(Languages.info("zh-Hant")?.name == "Chinese (中文)")
        #expect(Languages.info("hmn-VN") != nil)
        #expect(Languages.info("es-419") != nil)
        #expect(Languages.info("sed")?.name == "Sedang (Xơ Đăng)")
    }

    @Test("an invalid code is refused, naming the closest valid one")
    func invalidTags() {
        func problem(_ tag: String) -> String? {
            if case .failure(let e) = Languages.check(tag) { return e.description }
            return nil
        }
        #expect(problem("imu") == "'imu' is not an ISO 639 language code; did you mean ium (Iu Mien (Dao))?")
        #expect(problem("vie") == "'vie' is written vi in BCP 47 (the two-letter code): use vi")
        #expect(problem("blu") == "'blu' is not an ISO 639 language code; did you mean blt (Tai Dam (Thái đen))?")
        #expect(problem("zh-Hant-VN-x") == "'zh-Hant-VN-x' is not a language tag (expected an ISO 639 code, optionally -Script and -REGION, e.g. zh-Hant or hmn-VN)")
        #expect(problem("Vi") == "'Vi' is not an ISO 639 language code; did you mean vi (Tiếng Việt)?")
        #expect(problem("qqq") != nil)
        #expect(problem("") != nil)
    }
}

@Suite("Stated languages at scale")
struct LanguagePreferencesTests {
    func pseudonym(_ i: UInt64, _ salt: UInt64 = 0) -> Pseudonym {
        // Spread like HMAC outputs: a multiplicative hash of the index.
        Pseudonym(w0: (i &+ 1) &* 0x9E37_79B9_7F4A_7C15 ^ salt, w1: i &* 31 &+ salt, w2: 7, w3: 9)
    }

    @Test("every subscriber's language is found exactly: per carrier, replaced by a later statement, through growth")
    func exactLookups() {
        var table = LanguagePreferences()
        let languages = ["sed", "jra", "ium", "vi"]
        for i in 0..<100_000 as Range<UInt64> {
            table.set(languages[Int(i % 4)], carrier: 0, subscriber: pseudonym(i))
            if i % 10 == 0 { table.set("en", carrier: 1, subscriber: pseudonym(i)) }   // the same pseudonym under another carrier
        }
        table.set("lo", carrier: 0, subscriber: pseudonym(7))                          // stated again
        #expect(table.count == 110_000)
        #expect(table.languages == ["sed", "en", "jra", "ium", "vi", "lo"])   // in the order first stated
        var wrong = 0
        for i in 0..<100_000 as Range<UInt64> where i != 7 {
            if table.language(carrier: 0, subscriber: pseudonym(i)) != languages[Int(i % 4)] { wrong += 1 }
            if table.language(carrier: 1, subscriber: pseudonym(i)) != (i % 10 == 0 ? "en" : nil) { wrong += 1 }
        }
        #expect(wrong == 0)
        #expect(table.language(carrier: 0, subscriber: pseudonym(7)) == "lo")
        #expect(table.language(carrier: 2, subscriber: pseudonym(1)) == nil)
        #expect(table.language(carrier: 0, subscriber: pseudonym(100_001)) == nil)
        // A pseudonym that shares the first 64 bits but not the next 64 is another subscriber.
        let twin = Pseudonym(w0: pseudonym(3).w0, w1: 12345, w2: 0, w3: 0)
        #expect(table.language(carrier: 0, subscriber: twin) == nil)
        #expect(LanguagePreferences().language(carrier: 0, subscriber: twin) == nil)
    }

    @Test("statements in key order, and keys that all want the table's last slot, wrap around and are all found")
    func sortedAndCrowdedKeys() {
        var table = LanguagePreferences(expected: 100)
        // Ascending first words spread over the whole range (the store's order), then 1,000 keys at
        // the very top of the range.
        let ascending = (0..<20_000 as Range<UInt64>).map { Pseudonym(w0: $0 &* (UInt64.max / 20_000), w1: $0, w2: 0, w3: 0) }
        let crowded = (0..<1_000 as Range<UInt64>).map { Pseudonym(w0: UInt64.max - $0, w1: $0, w2: 1, w3: 0) }
        for (i, p) in ascending.enumerated() { table.set(i % 2 == 0 ? "vi" : "sed", carrier: 2, subscriber: p) }
        for p in crowded { table.set("jra", carrier: 4, subscriber: p) }
        #expect(table.count == 21_000)
        #expect(ascending.enumerated().filter { table.language(carrier: 2, subscriber: $1) != ($0 % 2 == 0 ? "vi" : "sed") }.isEmpty)
        #expect(crowded.filter { table.language(carrier: 4, subscriber: $0) != "jra" }.isEmpty)
        #expect(table.language(carrier: 3, subscriber: crowded[0]) == nil)
        #expect(table.language(carrier: 2, subscriber: Pseudonym(w0: UInt64.max, w1: 99_999, w2: 0, w3: 0)) == nil)
    }
}
