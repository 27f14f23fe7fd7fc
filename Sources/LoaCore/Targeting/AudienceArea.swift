/// Rule 1: audience cells = cells whose commune is listed, plus listed cells, plus cells within
/// `within_km` of a border line or inside a polygon, minus cells of excluded communes.
public struct AudienceArea: Sendable {
    public var communes: Set<Int>
    public var cells: Set<String>
    public var borders: [(lines: [[GeoPoint]], withinKm: Double)]
    public var polygons: [[[GeoPoint]]]
    public var excludedCommunes: Set<Int>

    public init(communes: Set<Int> = [], cells: Set<String> = [], borders: [(lines: [[GeoPoint]], withinKm: Double)] = [],
                polygons: [[[GeoPoint]]] = [], excludedCommunes: Set<Int> = []) {
        self.communes = communes
        self.cells = cells
        self.borders = borders
        self.polygons = polygons
        self.excludedCommunes = excludedCommunes
    }

    public func includes(_ cell: Cell) -> Bool {
        if excludedCommunes.contains(cell.commune) { return false }
        if communes.contains(cell.commune) || cells.contains(cell.cgi) { return true }
        let p = GeoPoint(latitude: cell.latitude, longitude: cell.longitude)
        for belt in borders {
            for line in belt.lines where Geometry.distanceKm(from: p, toLine: line) <= belt.withinKm { return true }
        }
        return polygons.contains { Geometry.contains($0, p) }
    }

    /// A membership table indexed by cell id.
    public func cellMask(_ allCells: [Cell]) -> CellMask {
        var mask = CellMask(capacity: Int(allCells.map(\.id).max() ?? 0) + 1)
        for cell in allCells where includes(cell) { mask.insert(cell.id) }
        return mask
    }
}

/// A set of cell ids as a bitmap.
public struct CellMask: Sendable {
    var bits: [UInt64]
    public private(set) var count = 0

    public init(capacity: Int) { bits = [UInt64](repeating: 0, count: (max(capacity, 1) + 63) / 64) }

    public mutating func insert(_ id: Int32) {
        let i = Int(id)
        if i / 64 >= bits.count { bits.append(contentsOf: repeatElement(0, count: i / 64 - bits.count + 1)) }
        if bits[i / 64] & (1 << UInt64(i % 64)) == 0 { count += 1 }
        bits[i / 64] |= 1 << UInt64(i % 64)
    }

    @inline(__always)
    public func contains(_ id: Int32) -> Bool {
        let i = Int(id)
        return i >= 0 && i / 64 < bits.count && bits[i / 64] & (1 << UInt64(i % 64)) != 0
    }
}
