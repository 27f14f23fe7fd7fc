/// One person a campaign will reach.
public struct Recipient: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case area
        case contactList(String)
    }
    public var carrier: Carrier
    public var subscriber: Pseudonym
    public var language: String
    public var commune: Int?
    /// The cell the subscriber was last seen in; nil for contact-list recipients.
    public var cgi: String?
    public var source: Source
    /// Segments this recipient's message costs (rendered with their commune).
    public var segments: Int
}

/// A person on a named contact list (commune officials, village heads, people of prestige).
public struct Contact: Sendable, Equatable {
    public var list: String
    public var msisdn: MSISDN
    public var carrier: Carrier
    public var name: String
    public var language: String?
    public var commune: Int?
    /// The number is on the do-not-call list.
    public var optedOut: Bool

    public init(list: String, msisdn: MSISDN, carrier: Carrier, name: String, language: String?, commune: Int?, optedOut: Bool = false) {
        self.list = list
        self.msisdn = msisdn
        self.carrier = carrier
        self.name = name
        self.language = language
        self.commune = commune
        self.optedOut = optedOut
    }
}

/// A contact with their pseudonyms under the carriers' keys: under their own carrier's (whom the
/// message goes to) and under every other (to find them among the area's recipients).
public struct ContactKeys: Sendable {
    public var contact: Contact
    public var own: CarrierPseudonym
    public var all: [CarrierPseudonym]

    /// nil when `pseudonyms` has none under the contact's own carrier (its key is missing).
    public init?(contact: Contact, pseudonyms: [CarrierPseudonym]) {
        guard let own = pseudonyms.first(where: { $0.carrier == contact.carrier }) else { return nil }
        self.contact = contact
        self.own = own
        all = pseudonyms
    }
}

/// Totals of a selection, for `loa audience` and the cost preview.
public struct AudienceSummary: Sendable, Equatable {
    public var recipients = 0
    public var segments = 0
    public var byCarrier: [Carrier: Int] = [:]
    public var byCommune: [Int: Int] = [:]
    public var byLanguage: [String: Int] = [:]
    public var segmentsByLanguage: [String: Int] = [:]
    /// Latest presence in the window but outside the audience cells (moved away).
    public var seenElsewhere = 0
    public var optedOut = 0
    /// Contacts also reached through the area: one message each.
    public var contactsAlsoInArea = 0
    public var fromContactLists = 0
    /// The audience cells per rule (filled by whoever computed the cells).
    public var audienceCells = AudienceCellCounts()
    public init() {}
}

/// Rules 2–5: the latest presence per subscriber within the window decides; opt-outs are
/// excluded, whether a person is found in the area or on a contact list (a contact list does not
/// override an opt-out: only an emergency campaign with `respect_dnc: false` reaches them); each
/// person once; language by stated preference, commune default, campaign default.
public struct RecipientSelector {
    public let campaign: Campaign
    public let units: AdministrativeUnits
    /// Carriers by the index the store uses in presence rows.
    public let carriers: [Carrier]
    public let cellsByID: [Int32: Cell]
    public let audienceCells: CellMask
    public let optOuts: Set<CarrierPseudonym>
    /// Stated languages, by the carrier's index in `carriers`.
    public let preferences: LanguagePreferences
    private var measureCache: [String: Int] = [:]

    public init(campaign: Campaign, units: AdministrativeUnits, carriers: [Carrier], cells: [Cell], audienceCells: CellMask,
                optOuts: Set<CarrierPseudonym>, preferences: LanguagePreferences) {
        self.campaign = campaign
        self.units = units
        self.carriers = carriers
        self.cellsByID = Dictionary(cells.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.audienceCells = audienceCells
        self.optOuts = optOuts
        self.preferences = preferences
    }

    public init(campaign: Campaign, units: AdministrativeUnits, carriers: [Carrier], cells: [Cell], audienceCells: CellMask,
                optOuts: Set<CarrierPseudonym>, preferences: [CarrierPseudonym: String]) {
        var table = LanguagePreferences(expected: preferences.count)
        for (key, language) in preferences {
            guard let index = carriers.firstIndex(of: key.carrier) else { continue }
            table.set(language, carrier: UInt8(index), subscriber: key.subscriber)
        }
        self.init(campaign: campaign, units: units, carriers: carriers, cells: cells, audienceCells: audienceCells, optOuts: optOuts, preferences: table)
    }

    /// Segments of `language`'s variant rendered for `commune`.
    public mutating func segments(language: String, commune: Int?) -> Int {
        let key = "\(language)|\(commune ?? -1)"
        if let cached = measureCache[key] { return cached }
        let segments = campaign.channel == .sms ? SMSEncoder.measure(render(language: language, commune: commune)).segments : 1
        measureCache[key] = segments
        return segments
    }

    /// `language`'s variant with loa's placeholders filled for a recipient in `commune`.
    public func render(language: String, commune: Int?) -> String {
        guard let variant = campaign.variants[language] else { return "" }
        var values = campaign.values
        values["date"] = campaign.schedule.start.vietnameseDate()
        if let commune, let c = units.communes[commune] {
            values["commune"] = c.name
            values["province"] = units.provinces[c.provinceCode]?.name ?? ""
        }
        for name in variant.template.placeholders where values[name] == nil { values[name] = "" }
        return (try? variant.template.render(values)) ?? variant.template.source
    }

    /// Streams the selected recipients to `sink` and returns the totals.
    /// - Parameters:
    ///   - latest: latest presence per subscriber in [run − seen_within, run] (rule 2).
    ///   - contacts: contact-list members with their pseudonyms under every carrier key, for dedupe.
    public mutating func select(latest: LatestPresenceTable, contacts: [ContactKeys],
                                sink: (Recipient) throws -> Void) rethrows -> AudienceSummary {
        try select(latest: LatestPresence([latest]), contacts: contacts, sink: sink)
    }

    public mutating func select(latest: LatestPresence, contacts: [ContactKeys],
                                sink: (Recipient) throws -> Void) rethrows -> AudienceSummary {
        var summary = AudienceSummary()
        var contactKeys: [CarrierPseudonym: Int] = [:]
        for (i, entry) in contacts.enumerated() { for key in entry.all { contactKeys[key] = i } }
        var contactsCovered = Set<Int>()
        let respectDNC = campaign.limits.respectDoNotCall
        // Millions of subscribers, a few hundred cells: what a subscriber without a stated
        // language gets is worked out once per audience cell, and the totals are counted in
        // arrays (by carrier, commune and language slot) and folded into the summary at the end.
        struct Place { var cell: Cell; var commune: Int; var language: Int; var segments: Int }
        var languages: [String] = [], languageSlot: [String: Int] = [:]
        func slot(_ language: String) -> Int {
            if let i = languageSlot[language] { return i }
            languages.append(language); languageSlot[language] = languages.count - 1
            return languages.count - 1
        }
        var communes: [Int] = [], communeSlot: [Int: Int] = [:]
        var places = [Place?](repeating: nil, count: Int(cellsByID.keys.max() ?? -1) + 1)
        for (id, cell) in cellsByID where id >= 0 && audienceCells.contains(id) {
            let language = campaign.language(preference: nil, commune: cell.commune)
            let commune: Int
            if let c = communeSlot[cell.commune] { commune = c } else { communes.append(cell.commune); commune = communes.count - 1; communeSlot[cell.commune] = commune }
            places[Int(id)] = Place(cell: cell, commune: commune, language: slot(language), segments: segments(language: language, commune: cell.commune))
        }
        var byCarrier = [Int](repeating: 0, count: carriers.count), byCommune = [Int](repeating: 0, count: communes.count)
        var byLanguage = [Int](repeating: 0, count: languages.count + campaign.variants.count)
        var segmentsByLanguage = byLanguage
        let stop = OptOutTable(respectDNC ? optOuts : [], carriers: carriers)
        try latest.forEach { carrierIndex, subscriber, cellID, _ in
            guard cellID >= 0, Int(cellID) < places.count, let place = places[Int(cellID)], Int(carrierIndex) < carriers.count else {
                summary.seenElsewhere += 1
                return
            }
            if stop.contains(carrier: carrierIndex, subscriber) { summary.optedOut += 1; return }
            let carrier = carriers[Int(carrierIndex)]
            if !contactKeys.isEmpty, let c = contactKeys[CarrierPseudonym(carrier: carrier, subscriber: subscriber)] { contactsCovered.insert(c) }
            var language = place.language, segments = place.segments
            if let stated = preferences.language(carrier: carrierIndex, subscriber: subscriber), stated != languages[language], campaign.variants[stated] != nil {
                language = slot(stated)
                segments = self.segments(language: stated, commune: place.cell.commune)
            }
            byCarrier[Int(carrierIndex)] += 1
            byCommune[place.commune] += 1
            byLanguage[language] += 1
            segmentsByLanguage[language] += segments
            summary.recipients += 1
            summary.segments += segments
            try sink(Recipient(carrier: carrier, subscriber: subscriber, language: languages[language], commune: place.cell.commune,
                               cgi: place.cell.cgi, source: .area, segments: segments))
        }
        for (i, n) in byCarrier.enumerated() where n > 0 { summary.byCarrier[carriers[i], default: 0] += n }
        for (i, n) in byCommune.enumerated() where n > 0 { summary.byCommune[communes[i], default: 0] += n }
        for (i, n) in byLanguage.enumerated() where n > 0 {
            summary.byLanguage[languages[i], default: 0] += n
            summary.segmentsByLanguage[languages[i], default: 0] += segmentsByLanguage[i]
        }
        var seenContacts = Set<CarrierPseudonym>()
        for (i, entry) in contacts.enumerated() {
            if contactsCovered.contains(i) { summary.contactsAlsoInArea += 1; continue }
            let c = entry.contact, own = entry.own
            if !seenContacts.insert(own).inserted { continue }   // on two lists: once
            if respectDNC && (c.optedOut || optOuts.contains(own)) { summary.optedOut += 1; continue }
            let language = campaign.language(preference: c.language, commune: c.commune)
            let r = Recipient(carrier: c.carrier, subscriber: own.subscriber, language: language, commune: c.commune,
                              cgi: nil, source: .contactList(c.list), segments: segments(language: language, commune: c.commune))
            summary.add(r)
            summary.fromContactLists += 1
            try sink(r)
        }
        return summary
    }
}

/// The do-not-call list under the carriers' keys, looked up millions of times per selection: open
/// addressing on the pseudonym's own bits (an HMAC output is already uniformly spread), no hashing.
struct OptOutTable {
    private var keys: [Pseudonym?]
    private var owners: [UInt8]
    private let mask: Int
    let isEmpty: Bool

    init(_ optOuts: Set<CarrierPseudonym>, carriers: [Carrier]) {
        var capacity = 16
        while capacity < optOuts.count * 2 { capacity <<= 1 }
        keys = [Pseudonym?](repeating: nil, count: capacity)
        owners = [UInt8](repeating: 0, count: capacity)
        mask = capacity - 1
        isEmpty = optOuts.isEmpty
        for o in optOuts {
            guard let c = carriers.firstIndex(of: o.carrier) else { continue }
            var i = Int(truncatingIfNeeded: o.subscriber.w1 ^ UInt64(c)) & mask
            while let k = keys[i], !(k == o.subscriber && owners[i] == UInt8(c)) { i = (i + 1) & mask }
            keys[i] = o.subscriber
            owners[i] = UInt8(c)
        }
    }

    @inline(__always)
    func contains(carrier c: UInt8, _ p: Pseudonym) -> Bool {
        if isEmpty { return false }
        var i = Int(truncatingIfNeeded: p.w1 ^ UInt64(c)) & mask
        while let k = keys[i] {
            if k == p && owners[i] == c { return true }
            i = (i + 1) & mask
        }
        return false
    }
}

public struct CarrierPseudonym: Hashable, Sendable {
    public var carrier: Carrier
    public var subscriber: Pseudonym
    public init(carrier: Carrier, subscriber: Pseudonym) {
        self.carrier = carrier
        self.subscriber = subscriber
    }
}

extension AudienceSummary {
    mutating func add(_ r: Recipient) {
        recipients += 1
        segments += r.segments
        byCarrier[r.carrier, default: 0] += 1
        if let c = r.commune { byCommune[c, default: 0] += 1 }
        byLanguage[r.language, default: 0] += 1
        segmentsByLanguage[r.language, default: 0] += r.segments
    }
}
