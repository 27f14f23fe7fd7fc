/// Vietnam's mobile numbering plan: parsing, the 2018 move from 11 to 10 digits, and the
/// carrier of origin by prefix.
///
/// Numbers are portable between carriers (since 2021), so the prefix gives only the carrier the
/// range was allocated to. A carrier's own routing list (`CarrierRouting`) overrides it.
public enum VietnamNumberingPlan {
    /// Two-digit mobile prefixes after the trunk 0 (0xx), by carrier of origin.
    public static let mobilePrefixes: [String: Carrier] = [
        // Viettel
        "32": .viettel, "33": .viettel, "34": .viettel, "35": .viettel, "36": .viettel, "37": .viettel,
        "38": .viettel, "39": .viettel, "86": .viettel, "96": .viettel, "97": .viettel, "98": .viettel,
        // VinaPhone
        "81": .vinaphone, "82": .vinaphone, "83": .vinaphone, "84": .vinaphone, "85": .vinaphone,
        "88": .vinaphone, "91": .vinaphone, "94": .vinaphone,
        // MobiFone
        "70": .mobifone, "76": .mobifone, "77": .mobifone, "78": .mobifone, "79": .mobifone,
        "89": .mobifone, "90": .mobifone, "93": .mobifone,
        // Vietnamobile
        "52": .vietnamobile, "56": .vietnamobile, "58": .vietnamobile, "92": .vietnamobile,
        // Gmobile (Gtel)
        "59": .gmobile, "99": .gmobile,
        // MVNOs
        "87": .itelecom,
        "55": .reddi,
    ]

    /// Pre-2018 11-digit mobile prefixes (01xx, without the 0) → today's two digits (0xx).
    /// Conversion ran from 15 September 2018 (MIC decision 798/QĐ-BTTTT).
    public static let migrations: [String: String] = [
        // Viettel 0162–0169 → 032–039
        "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
        // VinaPhone 0123/0124/0125/0127/0129 → 083/084/085/081/082
        "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
        // MobiFone 0120/0121/0122/0126/0128 → 070/079/077/076/078
        "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
        // Vietnamobile 0186/0188 → 056/058
        "186": "56", "188": "58",
        // Gmobile 0199 → 059
        "199": "59",
    ]

    /// A number that the plan accepted.
    public struct Parsed: Equatable, Sendable {
        public var msisdn: MSISDN
        /// The carrier the prefix was allocated to.
        public var carrierOfOrigin: Carrier
        /// The pre-2018 11-digit form this number was converted from, e.g. "01623456789".
        public var migratedFrom: String?
        /// The input lost its leading 0 (a spreadsheet's doing) and it was put back.
        public var restoredLeadingZero: Bool
    }

    /// Why a number is not a Vietnamese mobile number.
    public enum Rejection: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case invalidCharacter(Character)
        case foreign(countryCode: String)
        case landline(areaCode: String)
        case serviceNumber(String)
        case shortCode(String)
        case unknownPrefix(String)
        case unassignedOldPrefix(String)
        case wrongLength(digits: Int)

        /// Stable machine-readable code.
        public var code: String {
            switch self {
            case .empty: "empty"
            case .invalidCharacter: "invalid_character"
            case .foreign: "foreign"
            case .landline: "landline"
            case .serviceNumber: "service_number"
            case .shortCode: "short_code"
            case .unknownPrefix: "unknown_prefix"
            case .unassignedOldPrefix: "unassigned_old_prefix"
            case .wrongLength: "wrong_length"
            }
        }

        public var description: String {
            switch self {
            case .empty: "empty number"
            case .invalidCharacter(let c): "invalid character '\(c)' (digits, spaces, '.', '-', '(', ')' and a leading '+' only)"
            case .foreign(let cc): "foreign number (country code +\(cc)); loa sends to Vietnamese mobile numbers (+84) only"
            case .landline(let area): "landline number (area code 0\(area)); SMS needs a mobile number"
            case .serviceNumber(let p): "service number (\(p)x); not a subscriber"
            case .shortCode(let s): "short code \(s); not a subscriber"
            case .unknownPrefix(let p): "prefix 0\(p) is not a Vietnamese mobile prefix"
            case .unassignedOldPrefix(let p): "pre-2018 11-digit prefix 0\(p) was never a mobile range that moved to 10 digits"
            case .wrongLength(let n): "\(n) digits: a Vietnamese mobile number has 10 (0 + 9) digits, or 11 before 2018"
            }
        }
    }

    /// Parses a number in any common form: "0912 345 678", "+84912345678", "84912345678",
    /// "0912.345.678", "0912-345-678", "(+84) 912 345 678", "0084912345678", the old 11-digit form
    /// "01623456789", and "912345678" (leading zero lost in a spreadsheet).
    public static func parse(_ raw: String) -> Result<Parsed, Rejection> {
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var plus = false
        var sawDigit = false
        for scalar in raw.unicodeScalars {
            let v = scalar.value
            if v >= 0x30 && v <= 0x39 { digits.append(UInt8(v)); sawDigit = true; continue }
            switch v {
            case 0x20, 0x09, 0xA0, 0x2E, 0x2D, 0x28, 0x29, 0x2010...0x2015, 0x202F: continue
            case 0x2B where !sawDigit && !plus: plus = true
            default: return .failure(.invalidCharacter(Character(scalar)))
            }
        }
        if digits.isEmpty { return .failure(.empty) }
        let d = String(decoding: digits, as: UTF8.self)
        var nsn: Substring
        var restored = false
        if plus || d.hasPrefix("00") {
            let international = plus ? Substring(d) : d.dropFirst(2)
            guard international.hasPrefix("84") else { return .failure(.foreign(countryCode: countryCode(international))) }
            nsn = international.dropFirst(2)
            // "+84 (0) 912 345 678": a trunk 0 written after the country code.
            if nsn.hasPrefix("0") && (nsn.count == 10 || nsn.count == 11) { nsn = nsn.dropFirst() }
        } else if d.hasPrefix("1800") || d.hasPrefix("1900") {
            return .failure(.serviceNumber(String(d.prefix(4))))
        } else if d.hasPrefix("0") {
            nsn = d.dropFirst()
        } else if d.hasPrefix("84") && (d.count == 11 || d.count == 12) {
            nsn = d.dropFirst(2)
        } else if d.count == 9, let first = d.first, "35789".contains(first) {
            nsn = Substring(d)
            restored = true
        } else if d.count <= 6 {
            return .failure(.shortCode(d))
        } else {
            return .failure(.wrongLength(digits: d.count))
        }
        if nsn.hasPrefix("0") { return .failure(.wrongLength(digits: d.count)) }
        if nsn.hasPrefix("1800") || nsn.hasPrefix("1900") { return .failure(.serviceNumber("0" + nsn.prefix(4))) }
        switch nsn.count {
        case 9:
            let prefix = String(nsn.prefix(2))
            if let carrier = mobilePrefixes[prefix] {
                return .success(Parsed(msisdn: MSISDN(nsn: String(nsn)), carrierOfOrigin: carrier, migratedFrom: nil, restoredLeadingZero: restored))
            }
            if nsn.hasPrefix("2") { return .failure(.landline(areaCode: areaCode(nsn))) }
            return .failure(.unknownPrefix(prefix))
        case 10:
            if nsn.hasPrefix("1") {
                let old = String(nsn.prefix(3))
                guard let new = migrations[old], let carrier = mobilePrefixes[new] else { return .failure(.unassignedOldPrefix(old)) }
                let converted = new + nsn.dropFirst(3)
                return .success(Parsed(msisdn: MSISDN(nsn: converted), carrierOfOrigin: carrier, migratedFrom: "0" + nsn, restoredLeadingZero: restored))
            }
            if nsn.hasPrefix("2") { return .failure(.landline(areaCode: areaCode(nsn))) }
            return .failure(.wrongLength(digits: nsn.count + 1))
        default:
            if nsn.hasPrefix("2") && nsn.count >= 8 && nsn.count <= 10 { return .failure(.landline(areaCode: areaCode(nsn))) }
            return .failure(.wrongLength(digits: nsn.count + 1))
        }
    }

    /// Landline area codes since 2017: 024 (Hà Nội) and 028 (TP. Hồ Chí Minh), else 02xx.
    static func areaCode(_ nsn: Substring) -> String {
        nsn.hasPrefix("24") || nsn.hasPrefix("28") ? String(nsn.prefix(2)) : String(nsn.prefix(3))
    }

    /// Carrier by two-digit prefix value (00–99), for the byte-level fast path.
    static let prefixTable: [Carrier?] = (0..<100).map { mobilePrefixes[pad($0)] }

    /// Parses a number from raw UTF-8 bytes. The canonical forms "0912345678", "84912345678" and
    /// "+84912345678" take a fast path; anything else goes through `parse`.
    public static func parse(utf8 b: UnsafeBufferPointer<UInt8>) -> Result<Parsed, Rejection> {
        if let (nsn, carrier) = canonical(utf8: b) {
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[nsn]), as: UTF8.self)
            return .success(Parsed(msisdn: MSISDN(nsn: text), carrierOfOrigin: carrier, migratedFrom: nil, restoredLeadingZero: false))
        }
        return parse(String(decoding: b, as: UTF8.self))
    }

    /// A number in a canonical form ("0912345678", "84912345678", "+84912345678") of a mobile
    /// prefix: where its national significant number lies in `b`, and its carrier of origin,
    /// without allocating (bulk imports). nil for any other form: `parse` decides those.
    public static func canonical(utf8 b: UnsafeBufferPointer<UInt8>) -> (nsn: Range<Int>, carrier: Carrier)? {
        let start: Int
        switch b.count {
        case 10 where b[0] == 0x30: start = 1
        case 11 where b[0] == 0x38 && b[1] == 0x34: start = 2
        case 12 where b[0] == 0x2B && b[1] == 0x38 && b[2] == 0x34: start = 3
        default: return nil
        }
        for i in start..<b.count where b[i] < 0x30 || b[i] > 0x39 { return nil }
        guard b[start] != 0x30, let carrier = prefixTable[Int(b[start] - 0x30) * 10 + Int(b[start + 1] - 0x30)] else { return nil }
        return (start..<b.count, carrier)
    }

    /// Country calling codes are 1–3 digits (ITU-T E.164); the common ones are listed so the
    /// message names the right one.
    static func countryCode(_ digits: Substring) -> String {
        let oneDigit: Set<String> = ["1", "7"]
        let twoDigit: Set<String> = ["20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
                                     "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"]
        if let first = digits.first, oneDigit.contains(String(first)) { return String(first) }
        if twoDigit.contains(String(digits.prefix(2))) { return String(digits.prefix(2)) }
        return String(digits.prefix(3))
    }
}

/// Which carrier serves a number today: a carrier's routing (porting) list first, the prefix
/// table second.
public struct CarrierRouting: Sendable {
    public private(set) var ported: [MSISDN: Carrier]

    public init(ported: [MSISDN: Carrier] = [:]) { self.ported = ported }

    public mutating func record(_ msisdn: MSISDN, servedBy carrier: Carrier) { ported[msisdn] = carrier }

    public func carrier(for parsed: VietnamNumberingPlan.Parsed) -> Carrier {
        ported[parsed.msisdn] ?? parsed.carrierOfOrigin
    }

    /// True when the routing list moved this number away from its carrier of origin.
    public func isPorted(_ parsed: VietnamNumberingPlan.Parsed) -> Bool {
        if let c = ported[parsed.msisdn] { return c != parsed.carrierOfOrigin }
        return false
    }
}
