/// A broadcast campaign as written by a provincial department (campaigns/*.yaml).
public struct Campaign: Sendable {
    public enum Channel: String, Sendable, CaseIterable { case sms, voice }
    public enum Priority: String, Sendable, CaseIterable, Comparable {
        case routine, urgent, emergency
        public var rank: Int { self == .routine ? 0 : self == .urgent ? 1 : 2 }
        public static func < (a: Priority, b: Priority) -> Bool { a.rank < b.rank }
    }

    /// What a campaign is for, as the annual report groups them.
    public enum Purpose: String, Sendable, CaseIterable {
        case disaster, health, security, law, social, education, other
        /// The heading in Vietnamese reports.
        public var vietnamese: String {
            switch self {
            case .disaster: "Phòng chống thiên tai"
            case .health: "Y tế, dịch bệnh"
            case .security: "An ninh, trật tự, biên giới"
            case .law: "Tuyên truyền pháp luật"
            case .social: "An sinh xã hội"
            case .education: "Giáo dục"
            case .other: "Khác"
            }
        }
    }

    public var id: String
    public var title: String
    /// `purpose:` in the file (optional: other).
    public var purpose: Purpose = .other
    public var office: String
    public var legalBasis: String
    public var channel: Channel
    public var sender: String
    public var priority: Priority
    public var audience: Audience
    public var languages: LanguagePlan
    public var variants: [String: Variant]
    public var schedule: Schedule
    public var limits: Limits
    /// Campaign-wide placeholder values (`values:`), besides the built-ins.
    public var values: [String: String]
    /// `voice:` (voice campaigns only): length and call policy.
    public var voice = VoiceSettings()

    /// How a voice campaign's calls are made.
    public struct VoiceSettings: Sendable, Equatable {
        /// The longest a message may last (`max_seconds`, default 60).
        public var maxSeconds = 60
        /// Calls per person at most until one is answered (`attempts`, 1–5, default 3).
        public var attempts = 3
        /// Seconds between two calls to the same person (`spacing`, 1 min–2 h, default 10 min).
        public var spacing: Int64 = 600
        public init() {}
    }

    public struct Audience: Sendable {
        public var communes: [Int] = []
        public var cells: [String] = []
        public var borders: [BorderBelt] = []
        public var polygons: [String] = []
        public var excludeCommunes: [Int] = []
        public var contactLists: [String] = []
        /// Presence older than this before the run time is stale. Default 72 h.
        public var seenWithin: Int64 = 72 * 3600
        /// Presence older than 30 days is not a location any more (and is purged long before).
        public static let seenWithinRange: ClosedRange<Int64> = 60...(30 * 86400)
        public init() {}
    }

    /// Cells within `withinKm` of a border line (a GeoJSON file, relative to the campaign file).
    public struct BorderBelt: Sendable, Equatable {
        public var geojson: String
        public var withinKm: Double
    }

    public struct LanguagePlan: Sendable {
        public var defaultLanguage: String
        public var byCommune: [Int: String]
        /// Tags outside loa's list, declared by the campaign with a name.
        public var declared: [String: String]
    }

    public struct Variant: Sendable {
        public enum Review: Sendable, Equatable {
            case needsNativeReview
            case verified(by: String)
            case notRequired
        }
        public var language: String
        /// The SMS text; for voice, the script to synthesise (or a recording's transcript).
        public var template: MessageTemplate
        public var review: Review
        public var textPosition: SourcePosition
        /// Voice: a recording (a path relative to the campaign file) instead of a script.
        public var audio: String? = nil
        /// Voice: a script to synthesise (false for a recording).
        public var isScript: Bool { audio == nil }
    }

    public struct Schedule: Sendable {
        public var start: Timestamp
        public var end: Timestamp
        public var windows: [DailyWindow]
        public var quietHours: DailyWindow
    }

    public struct Limits: Sendable {
        public var maxSegments: Int = 3
        public var perSubscriberPerDay: Int = 1
        public var respectDoNotCall: Bool = true
        public init() {}
    }

    /// Languages some recipient will get by area: the default and the per-commune defaults.
    public var languagesNeededByArea: [String] {
        var seen: Set<String> = [languages.defaultLanguage]
        var out = [languages.defaultLanguage]
        for tag in languages.byCommune.keys.sorted().compactMap({ languages.byCommune[$0] }) where seen.insert(tag).inserted { out.append(tag) }
        return out
    }

    /// A voice variant's script as spoken: one audio per language, so only campaign-wide values
    /// ({date} and `values:`) are filled. nil for a recording or a language the campaign lacks.
    public func voiceScript(_ language: String) -> String? {
        guard let v = variants[language], v.isScript else { return nil }
        var values = self.values
        values["date"] = schedule.start.vietnameseDate()
        for name in v.template.placeholders where values[name] == nil { values[name] = "" }
        return (try? v.template.render(values)) ?? v.template.source
    }

    /// Rule 4: the subscriber's own language if the campaign has it, else the commune default,
    /// else the campaign default.
    public func language(preference: String?, commune: Int?) -> String {
        if let preference, variants[preference] != nil { return preference }
        if let commune, let tag = languages.byCommune[commune], variants[tag] != nil { return tag }
        return languages.defaultLanguage
    }
}

/// A daily time range in local time (UTC+7), `HH:MM-HH:MM`; it may wrap past midnight.
public struct DailyWindow: Equatable, Sendable, CustomStringConvertible {
    public var startMinute: Int
    public var endMinute: Int

    public init(startMinute: Int, endMinute: Int) {
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-").map { $0.trimmingSpaces() }
        guard parts.count == 2, let a = Self.minute(parts[0]), let b = Self.minute(parts[1]), a != b else { return nil }
        startMinute = a
        endMinute = b
    }

    static func minute(_ s: Substring) -> Int? {
        let hm = s.split(separator: ":")
        guard hm.count == 2, hm[0].count <= 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]),
              (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
        return h * 60 + m
    }

    public var wraps: Bool { endMinute < startMinute }

    public func contains(minute: Int) -> Bool {
        wraps ? (minute >= startMinute || minute < endMinute) : (minute >= startMinute && minute < endMinute)
    }

    /// Minutes of the day covered, as ranges that do not wrap.
    var ranges: [Range<Int>] { wraps ? [startMinute..<1440, 0..<endMinute] : [startMinute..<endMinute] }

    public func overlaps(_ other: DailyWindow) -> Bool {
        ranges.contains { a in other.ranges.contains { b in a.overlaps(b) } }
    }

    public var description: String {
        "\(pad(startMinute / 60)):\(pad(startMinute % 60))-\(pad(endMinute / 60)):\(pad(endMinute % 60))"
    }

    /// Default quiet hours: 21:00–07:00 Asia/Ho_Chi_Minh.
    public static let defaultQuietHours = DailyWindow(startMinute: 21 * 60, endMinute: 7 * 60)
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
