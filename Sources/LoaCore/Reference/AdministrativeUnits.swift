/// Vietnam's administrative units after the reform of 1 July 2025: 34 provinces and 3,321
/// communes, wards and special zones, with no district level.
public struct Province: Sendable, Equatable {
    public var code: Int
    public var name: String
    public var codename: String
    public var divisionType: String

    public init(code: Int, name: String, codename: String, divisionType: String) {
        self.code = code
        self.name = name
        self.codename = codename
        self.divisionType = divisionType
    }
}

public struct Commune: Sendable, Equatable {
    public var code: Int
    public var name: String
    public var codename: String
    public var divisionType: String
    public var provinceCode: Int

    public init(code: Int, name: String, codename: String, divisionType: String, provinceCode: Int) {
        self.code = code
        self.name = name
        self.codename = codename
        self.divisionType = divisionType
        self.provinceCode = provinceCode
    }
}

extension Province {
    /// An official province code as written: two digits (`02`). Codes are text; input may drop the zeros.
    public static func codeText(_ code: Int) -> String { zeroPadded(code, 2) }
}

extension Commune {
    /// An official commune code as written: five digits (`06073`). Codes are text; input may drop
    /// the zeros (`6073` is read as `06073`), and loa always writes them padded.
    public static func codeText(_ code: Int) -> String { zeroPadded(code, 5) }
    public var codeText: String { Self.codeText(code) }
}

func zeroPadded(_ n: Int, _ width: Int) -> String {
    let digits = String(n)
    return n >= 0 && digits.count < width ? String(repeating: "0", count: width - digits.count) + digits : digits
}

public struct AdministrativeUnits: Sendable {
    public let provinces: [Int: Province]
    public let communes: [Int: Commune]
    /// The 63 provinces before the reform: old code → (name, province it belongs to now).
    public let preReformProvinces: [Int: (name: String, newCode: Int)]

    public enum LookupError: Error, Equatable, Sendable, CustomStringConvertible {
        case unknownCommune(code: Int, hint: String?)
        case unknownProvince(code: Int)
        case preReformProvince(oldCode: Int, oldName: String, newCode: Int, newName: String)

        public var description: String {
            switch self {
            case .unknownCommune(let code, let hint):
                return "commune code \(Commune.codeText(code)) is not in the 2025 list (3,321 communes and wards since 1 July 2025; codes from before the reform are not valid)" + (hint.map { "; \($0)" } ?? "")
            case .unknownProvince(let code):
                return "province code \(Province.codeText(code)) is not one of the 34 provinces since 1 July 2025"
            case .preReformProvince(let oldCode, let oldName, let newCode, let newName):
                return "province code \(Province.codeText(oldCode)) (\(oldName)) is from before 1 July 2025: it is now part of \(newName) (code \(Province.codeText(newCode)))"
            }
        }
    }

    public init(provinces: [Province], communes: [Commune], preReform: [(oldCode: Int, name: String, newCode: Int)]) {
        self.provinces = Dictionary(provinces.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        self.communes = Dictionary(communes.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        self.preReformProvinces = Dictionary(preReform.map { ($0.oldCode, ($0.name, $0.newCode)) }, uniquingKeysWith: { a, _ in a })
    }

    public func commune(_ code: Int) -> Result<Commune, LookupError> {
        if let c = communes[code] { return .success(c) }
        var hint: String? = nil
        if code < 100, provinces[code] != nil || preReformProvinces[code] != nil {
            hint = "\(code) looks like a province code; communes have codes of up to 5 digits"
        }
        return .failure(.unknownCommune(code: code, hint: hint))
    }

    public func province(_ code: Int) -> Result<Province, LookupError> {
        if let p = provinces[code] { return .success(p) }
        if let old = preReformProvinces[code], let now = provinces[old.newCode] {
            return .failure(.preReformProvince(oldCode: code, oldName: old.name, newCode: now.code, newName: now.name))
        }
        return .failure(.unknownProvince(code: code))
    }

    /// Parses the CSVs shipped in LoaReference (see ops/refdata/build_admin_units.py).
    public static func parse(provincesCSV: String, communesCSV: String, preReformCSV: String) throws(CSVLine.Problem) -> AdministrativeUnits {
        func rows(_ text: String) throws(CSVLine.Problem) -> [[String]] {
            var out: [[String]] = []
            for line in text.split(separator: "\n").dropFirst() where !line.isEmpty { out.append(try CSVLine.split(line)) }
            return out
        }
        let provinces = try rows(provincesCSV).compactMap { r -> Province? in
            guard r.count >= 4, let code = Int(r[0]) else { return nil }
            return Province(code: code, name: r[1], codename: r[2], divisionType: r[3])
        }
        let communes = try rows(communesCSV).compactMap { r -> Commune? in
            guard r.count >= 5, let code = Int(r[0]), let province = Int(r[4]) else { return nil }
            return Commune(code: code, name: r[1], codename: r[2], divisionType: r[3], provinceCode: province)
        }
        let pre = try rows(preReformCSV).compactMap { r -> (Int, String, Int)? in
            guard r.count >= 3, let old = Int(r[0]), let new = Int(r[2]) else { return nil }
            return (old, r[1], new)
        }
        return AdministrativeUnits(provinces: provinces, communes: communes, preReform: pre.map { (oldCode: $0.0, name: $0.1, newCode: $0.2) })
    }

    public func communes(inProvince code: Int) -> [Commune] {
        communes.values.filter { $0.provinceCode == code }.sorted { $0.code < $1.code }
    }
}
