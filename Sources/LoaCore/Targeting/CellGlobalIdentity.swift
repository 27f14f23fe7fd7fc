/// A cell's global identity `MCC-MNC-LAC-CI`, e.g. `452-04-12345-678` (MCC 452 is Vietnam).
public struct CellGlobalIdentity: Hashable, Sendable, CustomStringConvertible {
    public var mcc: Int
    public var mnc: Int
    public var mncDigits: Int
    public var lac: Int
    public var ci: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              parts[0].count == 3, (2...3).contains(parts[1].count), parts[2].count <= 5, parts[3].count <= 9,
              let mcc = Int(parts[0]), let mnc = Int(parts[1]), let lac = Int(parts[2]), let ci = Int(parts[3]),
              lac <= 65535, ci <= 268_435_455 else { return nil }
        self.mcc = mcc
        self.mnc = mnc
        self.mncDigits = parts[1].count
        self.lac = lac
        self.ci = ci
    }

    /// Packs the identity into 64 bits: MCC 10, MNC 10, LAC 16, CI 28 bits.
    public var packed: UInt64 {
        UInt64(mcc) << 54 | UInt64(mnc) << 44 | UInt64(lac) << 28 | UInt64(ci)
    }

    /// Packs `MCC-MNC-LAC-CI` straight from bytes (bulk imports); nil when malformed.
    public static func packed(utf8 b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var values: (Int, Int, Int, Int) = (0, 0, 0, 0)
        var part = 0, digits = 0, value = 0
        for c in b {
            if c == 0x2D {
                guard digits > 0, part < 3 else { return nil }
                switch part { case 0: values.0 = value; case 1: values.1 = value; default: values.2 = value }
                part += 1; digits = 0; value = 0
                continue
            }
            guard c >= 0x30 && c <= 0x39, digits < 9 else { return nil }
            value = value * 10 + Int(c - 0x30)
            digits += 1
        }
        guard part == 3, digits > 0 else { return nil }
        values.3 = value
        guard values.0 <= 999, values.1 <= 999, values.2 <= 65535, values.3 <= 268_435_455 else { return nil }
        return UInt64(values.0) << 54 | UInt64(values.1) << 44 | UInt64(values.2) << 28 | UInt64(values.3)
    }

    public var description: String {
        "\(mcc)-\(mncDigits == 3 ? pad(mnc, 3) : pad(mnc))-\(lac)-\(ci)"
    }
}

/// A cell as imported from a carrier: where it is and which commune it serves.
public struct Cell: Sendable, Equatable {
    public var id: Int32
    public var cgi: String
    public var latitude: Double
    public var longitude: Double
    public var commune: Int

    public init(id: Int32, cgi: String, latitude: Double, longitude: Double, commune: Int) {
        self.id = id
        self.cgi = cgi
        self.latitude = latitude
        self.longitude = longitude
        self.commune = commune
    }
}
