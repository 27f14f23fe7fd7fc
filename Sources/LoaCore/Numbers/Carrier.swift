/// Vietnamese mobile network operators (and MVNOs) that hold mobile number ranges.
public enum Carrier: String, Sendable, CaseIterable, Codable, Comparable {
    case viettel
    case vinaphone
    case mobifone
    case vietnamobile
    case gmobile
    case itelecom
    case reddi

    public static func < (a: Carrier, b: Carrier) -> Bool { a.rawValue < b.rawValue }

    /// Accepts the id and common spellings ("VinaPhone", "Vina", "Mobi", "GTel", "Wintel").
    public init?(name: String) {
        let key = String(name.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        switch key {
        case "viettel": self = .viettel
        case "vinaphone", "vina", "vnpt": self = .vinaphone
        case "mobifone", "mobi": self = .mobifone
        case "vietnamobile", "vnmobile": self = .vietnamobile
        case "gmobile", "gtel", "beeline": self = .gmobile
        case "itelecom", "itel": self = .itelecom
        case "reddi", "wintel", "mobicast": self = .reddi
        default: return nil
        }
    }
}
