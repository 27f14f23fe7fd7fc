/// Languages loa's campaigns use, by BCP-47 / ISO 639-3 tag.
public struct LanguageInfo: Sendable, Equatable {
    public var tag: String
    public var name: String
    /// Ethnic-minority languages of Vietnam: their texts need review by a native translator.
    public var isEthnicMinority: Bool
}

public enum Languages {
    public static let known: [LanguageInfo] = [
        LanguageInfo(tag: "vi", name: "Tiếng Việt", isEthnicMinority: false),
        LanguageInfo(tag: "en", name: "English", isEthnicMinority: false),
        LanguageInfo(tag: "lo", name: "Lao (ພາສາລາວ)", isEthnicMinority: false),
        LanguageInfo(tag: "km", name: "Khmer (ភាសាខ្មែរ)", isEthnicMinority: false),
        LanguageInfo(tag: "zh", name: "Chinese (中文)", isEthnicMinority: false),
        LanguageInfo(tag: "bdq", name: "Bahnar (Ba Na)", isEthnicMinority: true),
        LanguageInfo(tag: "jra", name: "Jarai (Gia-Rai)", isEthnicMinority: true),
        LanguageInfo(tag: "sed", name: "Sedang (Xơ Đăng)", isEthnicMinority: true),
        LanguageInfo(tag: "jeh", name: "Jeh (Giẻ-Triêng)", isEthnicMinority: true),
        LanguageInfo(tag: "brb", name: "Brao (Brâu)", isEthnicMinority: true),
        LanguageInfo(tag: "hmn", name: "Hmong (H'Mông)", isEthnicMinority: true),
        LanguageInfo(tag: "blu", name: "Hmong Njua (H'Mông)", isEthnicMinority: true),
        LanguageInfo(tag: "tyz", name: "Tày", isEthnicMinority: true),
        LanguageInfo(tag: "nut", name: "Nùng", isEthnicMinority: true),
        LanguageInfo(tag: "blt", name: "Tai Dam (Thái đen)", isEthnicMinority: true),
        LanguageInfo(tag: "twh", name: "Tai Dón (Thái trắng)", isEthnicMinority: true),
        LanguageInfo(tag: "khm", name: "Khmer Krom (Khơ-me)", isEthnicMinority: true),
    ]

    static let index: [String: LanguageInfo] = Dictionary(known.map { ($0.tag, $0) }, uniquingKeysWith: { a, _ in a })

    public static func info(_ tag: String) -> LanguageInfo? { index[tag] }
}
