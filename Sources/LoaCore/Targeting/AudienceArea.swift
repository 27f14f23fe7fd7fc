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

    /// No area rule at all (an audience of contact lists only).
    public var isEmpty: Bool { communes.isEmpty && cells.isEmpty && borders.isEmpty && polygons.isEmpty }

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
    public func cellMask(_ allCells: [Cell]) -> CellMask { selection(allCells).mask }

    /// The audience cells, and how many cells each rule matched (a cell may match several).
    public func selection(_ allCells: [Cell]) -> (mask: CellMask, counts: AudienceCellCounts) {
        var mask = CellMask(capacity: Int(allCells.map(\.id).max() ?? 0) + 1)
        var counts = AudienceCellCounts()
        for cell in allCells {
            var matched = false
            if communes.contains(cell.commune) { counts.byCommunes += 1; matched = true }
            if cells.contains(cell.cgi) { counts.byCells += 1; matched = true }
            if !borders.isEmpty || !polygons.isEmpty {
                let p = GeoPoint(latitude: cell.latitude, longitude: cell.longitude)
                if borders.contains(where: { belt in belt.lines.contains { Geometry.distanceKm(from: p, toLine: $0) <= belt.withinKm } }) {
                    counts.byBorderBelt += 1
                    matched = true
                }
                if polygons.contains(where: { Geometry.contains($0, p) }) { counts.byPolygons += 1; matched = true }
            }
            guard matched else { continue }
            if excludedCommunes.contains(cell.commune) { counts.excluded += 1; continue }
            mask.insert(cell.id)
        }
        counts.total = mask.count
        return (mask, counts)
    }
}

/// How many cells each audience rule matched, and how many of them an excluded commune removed.
public struct AudienceCellCounts: Sendable, Equatable {
    public var byCommunes = 0
    public var byCells = 0
    public var byBorderBelt = 0
    public var byPolygons = 0
    public var excluded = 0
    /// Audience cells in the end.
    public var total = 0
    public init() {}
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
