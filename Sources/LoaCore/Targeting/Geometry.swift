/// Geography for targeting: distances to border lines and points in polygons, in degrees of
/// WGS 84 (GeoJSON order is longitude, latitude).
public struct GeoPoint: Equatable, Sendable {
    public var latitude: Double
    public var longitude: Double
    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }
}

public enum Geometry {
    static let earthRadiusKm = 6371.0088

    /// Great-circle distance (haversine).
    public static func distanceKm(_ a: GeoPoint, _ b: GeoPoint) -> Double {
        let rad = Double.pi / 180
        let dLat = (b.latitude - a.latitude) * rad, dLon = (b.longitude - a.longitude) * rad
        let h = sinSquared(dLat / 2) + cosine(a.latitude * rad) * cosine(b.latitude * rad) * sinSquared(dLon / 2)
        return 2 * earthRadiusKm * arcsine(min(1, h.squareRoot()))
    }

    /// Shortest distance from `p` to a polyline, on a local equirectangular projection around
    /// `p` (accurate to well under 1% within 100 km).
    public static func distanceKm(from p: GeoPoint, toLine line: [GeoPoint]) -> Double {
        guard let first = line.first else { return .infinity }
        let rad = Double.pi / 180
        let kx = earthRadiusKm * rad * cosine(p.latitude * rad), ky = earthRadiusKm * rad
        func project(_ q: GeoPoint) -> (Double, Double) { ((q.longitude - p.longitude) * kx, (q.latitude - p.latitude) * ky) }
        if line.count == 1 { let (x, y) = project(first); return (x * x + y * y).squareRoot() }
        var best = Double.infinity
        var (ax, ay) = project(first)
        for q in line.dropFirst() {
            let (bx, by) = project(q)
            let dx = bx - ax, dy = by - ay
            let len2 = dx * dx + dy * dy
            var t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0
            t = max(0, min(1, t))
            let cx = ax + t * dx, cy = ay + t * dy
            best = min(best, (cx * cx + cy * cy).squareRoot())
            ax = bx; ay = by
        }
        return best
    }

    /// Even-odd rule over all rings (outer ring and holes).
    public static func contains(_ polygon: [[GeoPoint]], _ p: GeoPoint) -> Bool {
        var inside = false
        for ring in polygon where ring.count >= 3 {
            var j = ring.count - 1
            for i in 0..<ring.count {
                let a = ring[i], b = ring[j]
                if (a.latitude > p.latitude) != (b.latitude > p.latitude) {
                    let x = (b.longitude - a.longitude) * (p.latitude - a.latitude) / (b.latitude - a.latitude) + a.longitude
                    if p.longitude < x { inside.toggle() }
                }
                j = i
            }
        }
        return inside
    }

    // Elementary functions without Foundation (the core links no libm wrapper).
    static func sinSquared(_ x: Double) -> Double { let s = sine(x); return s * s }

    static func sine(_ x: Double) -> Double {
        // Reduce to [-π, π], then a Taylor series to x^15: error < 1e-12 there.
        var r = x.truncatingRemainder(dividingBy: 2 * .pi)
        if r > .pi { r -= 2 * .pi } else if r < -.pi { r += 2 * .pi }
        var term = r, sum = r
        let r2 = r * r
        for n in stride(from: 2, through: 30, by: 2) {
            term *= -r2 / Double(n * (n + 1))
            sum += term
        }
        return sum
    }

    static func cosine(_ x: Double) -> Double { sine(x + .pi / 2) }

    static func arcsine(_ x: Double) -> Double {
        // Newton's method on sin(y) = x; converges in a few steps for |x| ≤ 1.
        if x >= 1 { return .pi / 2 }
        if x <= -1 { return -.pi / 2 }
        var y = x
        for _ in 0..<40 {
            let c = cosine(y)
            if abs(c) < 1e-12 { break }
            let step = (sine(y) - x) / c
            y -= step
            if abs(step) < 1e-15 { break }
        }
        return y
    }
}
