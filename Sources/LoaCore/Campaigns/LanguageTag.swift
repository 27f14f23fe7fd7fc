/// A language loa can address, by its BCP 47 tag (an ISO 639 code, optionally with script and
/// region subtags: `vi`, `ium`, `zh-Hant`, `hmn-Latn-VN`).
public struct LanguageInfo: Sendable, Equatable {
    public var tag: String
    public var name: String
    /// Ethnic-minority languages of Vietnam: their texts need review by a native translator.
    public var isEthnicMinority: Bool
}

/// Why a language tag is refused.
public enum LanguageTagError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not an ISO 639 code; the closest valid one, when one is near.
    case unknown(tag: String, closest: String?)
    /// A three-letter code where BCP 47 has a two-letter one (`vie` → `vi`).
    case useTwoLetterCode(tag: String, code: String)
    /// The subtags after the language are not script (4 letters) and region (2 letters or 3 digits).
    case malformed(tag: String)

    public var description: String {
        switch self {
        case .unknown(let tag, let closest):
            return "'\(Escaped(tag))' is not an ISO 639 language code" + (closest.map { "; did you mean \($0)?" } ?? "")
        case .useTwoLetterCode(let tag, let code):
            return "'\(Escaped(tag))' is written \(code) in BCP 47 (the two-letter code): use \(code)"
        case .malformed(let tag):
            return "'\(Escaped(tag))' is not a language tag (expected an ISO 639 code, optionally -Script and -REGION, e.g. zh-Hant or hmn-VN)"
        }
    }
}

public enum Languages {
    /// Vietnam's languages as loa names them: the national language, the neighbours' and English,
    /// and the languages of the ethnic groups (of the 54 recognised) that have an ISO 639-3 code.
    /// A language is chosen by area or by a stated preference, never by ethnicity.
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
        LanguageInfo(tag: "hnj", name: "Hmong Njua (H'Mông Lềnh)", isEthnicMinority: true),
        LanguageInfo(tag: "mww", name: "Hmong Daw (H'Mông Trắng)", isEthnicMinority: true),
        LanguageInfo(tag: "tyz", name: "Tày", isEthnicMinority: true),
        LanguageInfo(tag: "nut", name: "Nùng", isEthnicMinority: true),
        LanguageInfo(tag: "blt", name: "Tai Dam (Thái đen)", isEthnicMinority: true),
        LanguageInfo(tag: "twh", name: "Tai Dón (Thái trắng)", isEthnicMinority: true),
        LanguageInfo(tag: "khm", name: "Khmer Krom (Khơ-me)", isEthnicMinority: true),
        LanguageInfo(tag: "ium", name: "Iu Mien (Dao)", isEthnicMinority: true),
        LanguageInfo(tag: "mji", name: "Kim Mun (Dao)", isEthnicMinority: true),
        LanguageInfo(tag: "mtq", name: "Muong (Mường)", isEthnicMinority: true),
        LanguageInfo(tag: "rad", name: "Rade (Ê Đê)", isEthnicMinority: true),
        LanguageInfo(tag: "mlc", name: "Cao Lan (Sán Chay)", isEthnicMinority: true),
        LanguageInfo(tag: "kpm", name: "Koho (Cơ Ho)", isEthnicMinority: true),
        LanguageInfo(tag: "cjm", name: "Eastern Cham (Chăm)", isEthnicMinority: true),
        LanguageInfo(tag: "cja", name: "Western Cham (Chăm)", isEthnicMinority: true),
        LanguageInfo(tag: "hre", name: "Hre (Hrê)", isEthnicMinority: true),
        LanguageInfo(tag: "mng", name: "Eastern Mnong (Mnông)", isEthnicMinority: true),
        LanguageInfo(tag: "cmo", name: "Central Mnong (Mnông)", isEthnicMinority: true),
        LanguageInfo(tag: "rog", name: "Northern Roglai (Ra Glai)", isEthnicMinority: true),
        LanguageInfo(tag: "rgs", name: "Southern Roglai (Ra Glai)", isEthnicMinority: true),
        LanguageInfo(tag: "sti", name: "Bulo Stieng (Xtiêng)", isEthnicMinority: true),
        LanguageInfo(tag: "stt", name: "Budeh Stieng (Xtiêng)", isEthnicMinority: true),
        LanguageInfo(tag: "bru", name: "Eastern Bru (Bru-Vân Kiều)", isEthnicMinority: true),
        LanguageInfo(tag: "tou", name: "Tho (Thổ)", isEthnicMinority: true),
        LanguageInfo(tag: "pcc", name: "Bouyei (Giáy, Bố Y)", isEthnicMinority: true),
        LanguageInfo(tag: "ktv", name: "Eastern Katu (Cơ Tu)", isEthnicMinority: true),
        LanguageInfo(tag: "stg", name: "Trieng (Triêng)", isEthnicMinority: true),
        LanguageInfo(tag: "cma", name: "Maa (Mạ)", isEthnicMinority: true),
        LanguageInfo(tag: "kjg", name: "Khmu (Khơ Mú)", isEthnicMinority: true),
        LanguageInfo(tag: "cua", name: "Cua (Co)", isEthnicMinority: true),
        LanguageInfo(tag: "tth", name: "Upper Ta'oih (Tà Ôi)", isEthnicMinority: true),
        LanguageInfo(tag: "tto", name: "Lower Ta'oih (Tà Ôi)", isEthnicMinority: true),
        LanguageInfo(tag: "crw", name: "Chrau (Chơ Ro)", isEthnicMinority: true),
        LanguageInfo(tag: "kjm", name: "Kháng", isEthnicMinority: true),
        LanguageInfo(tag: "puo", name: "Puoc (Xinh Mun)", isEthnicMinority: true),
        LanguageInfo(tag: "hni", name: "Hani (Hà Nhì)", isEthnicMinority: true),
        LanguageInfo(tag: "cje", name: "Chru (Chu Ru)", isEthnicMinority: true),
        LanguageInfo(tag: "lbt", name: "Lachi (La Chí)", isEthnicMinority: true),
        LanguageInfo(tag: "lha", name: "Laha (La Ha)", isEthnicMinority: true),
        LanguageInfo(tag: "lhu", name: "Lahu (La Hủ)", isEthnicMinority: true),
        LanguageInfo(tag: "khb", name: "Lü (Lự)", isEthnicMinority: true),
        LanguageInfo(tag: "scb", name: "Chut (Chứt)", isEthnicMinority: true),
        LanguageInfo(tag: "zng", name: "Mang (Mảng)", isEthnicMinority: true),
        LanguageInfo(tag: "pha", name: "Pa-Hng (Pà Thẻn)", isEthnicMinority: true),
        LanguageInfo(tag: "giq", name: "Green Gelao (Cơ Lao)", isEthnicMinority: true),
        LanguageInfo(tag: "gir", name: "Red Gelao (Cơ Lao)", isEthnicMinority: true),
        LanguageInfo(tag: "cnc", name: "Côông (Cống)", isEthnicMinority: true),
        LanguageInfo(tag: "slt", name: "Sila (Si La)", isEthnicMinority: true),
        LanguageInfo(tag: "tyh", name: "O'du (Ơ Đu)", isEthnicMinority: true),
        LanguageInfo(tag: "rmx", name: "Romam (Rơ Măm)", isEthnicMinority: true),
    ]

    static let index: [String: LanguageInfo] = Dictionary(known.map { ($0.tag, $0) }, uniquingKeysWith: { a, _ in a })

    struct RegistryEntry { var twoLetter: String?; var name: String }

    /// ISO 639-3 codes (and the two-letter ISO 639-1 codes) with their English names.
    /// The codes in order, for suggestions (sorted once, not for every mistyped line of an import).
    static let sortedTwoLetterCodes = registry.twoLetter.keys.sorted()
    static let sortedThreeLetterCodes = registry.byCode.keys.filter { $0.count == 3 }.sorted()

    static let registry: (byCode: [String: RegistryEntry], twoLetter: [String: String]) = {
        var byCode: [String: RegistryEntry] = [:]
        var twoLetter: [String: String] = [:]
        byCode.reserveCapacity(8000)
        for line in iso639Table.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let two = f[1].isEmpty ? nil : String(f[1])
            byCode[String(f[0])] = RegistryEntry(twoLetter: two, name: String(f[2]))
            if let two { twoLetter[two] = String(f[0]) }
        }
        return (byCode, twoLetter)
    }()

    /// The language of a valid tag: loa's own names for Vietnam's languages, the registry's English
    /// name for any other ISO 639 language; nil for a tag that is not valid (`check` says why).
    public static func info(_ tag: String) -> LanguageInfo? { try? check(tag).get() }

    public static func check(_ tag: String) -> Result<LanguageInfo, LanguageTagError> {
        if let known = index[tag] { return .success(known) }
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        let primary = parts[0]
        guard (2...3).contains(primary.count), primary.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
            if primary.count >= 2 && primary.count <= 3 && primary.allSatisfy({ $0.isASCII && $0.isLetter }) {
                // Capitals (Vi, VIE): the lowercase code, when that is valid.
                let lower = primary.lowercased()
                if let fixed = info(([lower] + parts.dropFirst()).joined(separator: "-")) {
                    return .failure(.unknown(tag: tag, closest: "\(fixed.tag) (\(fixed.name))"))
                }
                return .failure(.unknown(tag: tag, closest: suggestion(for: lower)))
            }
            return .failure(parts.count > 1 ? .malformed(tag: tag) : .unknown(tag: tag, closest: nil))
        }
        let name: String
        if primary.count == 2 {
            guard let code = registry.twoLetter[primary], let entry = registry.byCode[code] else {
                return .failure(.unknown(tag: tag, closest: suggestion(for: primary)))
            }
            name = index[primary]?.name ?? entry.name
        } else {
            guard let entry = registry.byCode[primary] else { return .failure(.unknown(tag: tag, closest: suggestion(for: primary))) }
            if let two = entry.twoLetter, index[primary] == nil { return .failure(.useTwoLetterCode(tag: tag, code: ([two] + parts.dropFirst()).joined(separator: "-"))) }
            name = index[primary]?.name ?? entry.name
        }
        // Optional script (Hant) and region (VN, 419) subtags, in that order.
        var rest = parts.dropFirst()
        if let script = rest.first, script.count == 4, script.allSatisfy({ $0.isASCII && $0.isLetter }) { rest = rest.dropFirst() }
        if let region = rest.first, (region.count == 2 && region.allSatisfy({ $0.isASCII && $0.isUppercase }))
            || (region.count == 3 && region.allSatisfy({ $0.isASCII && $0.isNumber })) { rest = rest.dropFirst() }
        guard rest.isEmpty else { return .failure(.malformed(tag: tag)) }
        return .success(LanguageInfo(tag: tag, name: name, isEthnicMinority: index[primary]?.isEthnicMinority ?? false))
    }

    /// The closest valid code to a mistyped one: Vietnam's languages first, then the registry
    /// (one letter changed, added, dropped, or two swapped).
    static func suggestion(for code: String) -> String? {
        func near(_ candidate: String) -> Bool { editDistanceAtMostOne(code, candidate) }
        if let k = known.first(where: { near($0.tag) }) { return "\(k.tag) (\(k.name))" }
        if let two = sortedTwoLetterCodes.first(where: near), let three = registry.twoLetter[two] {
            return "\(two) (\(registry.byCode[three]?.name ?? two))"
        }
        if let three = sortedThreeLetterCodes.first(where: near) {
            let entry = registry.byCode[three]!
            return "\(entry.twoLetter ?? three) (\(entry.name))"
        }
        return nil
    }

    static func editDistanceAtMostOne(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        if x == y { return false }
        if x.count == y.count {
            let diff = x.indices.filter { x[$0] != y[$0] }
            if diff.count == 1 { return true }
            return diff.count == 2 && diff[1] == diff[0] + 1 && x[diff[0]] == y[diff[1]] && x[diff[1]] == y[diff[0]]
        }
        let (short, long) = x.count < y.count ? (x, y) : (y, x)
        guard long.count == short.count + 1 else { return false }
        for i in long.indices where Array(long[..<i] + long[(i + 1)...]) == short { return true }
        return false
    }
}
