import Foundation
import LoaCore

/// Border lines and polygons from GeoJSON files (RFC 7946: coordinates are longitude, latitude).
public enum GeoJSON {
    static func object(_ path: String) throws -> Any { try object(bytes: readFileBytes(path), name: path) }

    static func object(bytes: [UInt8], name path: String) throws -> Any {
        let data = Data(bytes)
        do { return try JSONSerialization.jsonObject(with: data) }
        catch { throw OperationError(.notReadable, "\(path): not valid JSON: \(error.localizedDescription)") }
    }

    static func geometries(_ json: Any) -> [[String: Any]] {
        guard let o = json as? [String: Any], let type = o["type"] as? String else { return [] }
        switch type {
        case "FeatureCollection": return (o["features"] as? [Any] ?? []).flatMap(geometries)
        case "Feature": return o["geometry"].map(geometries) ?? []
        case "GeometryCollection": return (o["geometries"] as? [Any] ?? []).flatMap(geometries)
        default: return [o]
        }
    }

    /// A list of [longitude, latitude] positions; a problem says which position is wrong.
    static func points(_ any: Any?, _ what: String) throws -> [GeoPoint] {
        guard let list = any as? [Any] else { throw OperationError(.notReadable, "\(what): expected a list of [longitude, latitude] positions") }
        var out: [GeoPoint] = []
        for (i, p) in list.enumerated() {
            guard let pair = p as? [Any], pair.count >= 2, let lon = (pair[0] as? NSNumber)?.doubleValue, let lat = (pair[1] as? NSNumber)?.doubleValue else {
                throw OperationError(.notReadable, "\(what), position \(i + 1): expected [longitude, latitude] numbers")
            }
            guard (-180...180).contains(lon), (-90...90).contains(lat) else {
                throw OperationError(.notReadable, "\(what), position \(i + 1): [\(lon), \(lat)] is off the Earth (longitude -180..180, latitude -90..90; GeoJSON puts longitude first)")
            }
            out.append(GeoPoint(latitude: lat, longitude: lon))
        }
        return out
    }

    /// A polygon ring (RFC 7946 §3.1.6): at least four positions, the first repeated last.
    static func ring(_ any: Any?, _ what: String) throws -> [GeoPoint] {
        let ring = try points(any, what)
        guard ring.count >= 4 else { throw OperationError(.notReadable, "\(what): a ring needs at least 4 positions (the first repeated last), found \(ring.count)") }
        guard ring.first == ring.last else { throw OperationError(.notReadable, "\(what): a ring must end where it starts (repeat the first position last)") }
        return ring
    }

    /// LineString and MultiLineString geometries (polygon outlines count as lines too).
    public static func lines(_ path: String) throws -> [[GeoPoint]] { try lines(bytes: readFileBytes(path), name: path) }

    /// A file's bytes, as if read from `path` (named in every problem).
    public static func lines(bytes: [UInt8], name path: String) throws -> [[GeoPoint]] {
        var out: [[GeoPoint]] = []
        for (n, g) in geometries(try object(bytes: bytes, name: path)).enumerated() {
            let what = "\(path): geometry \(n + 1)"
            switch g["type"] as? String {
            case "LineString":
                let l = try points(g["coordinates"], what)
                guard l.count >= 2 else { throw OperationError(.notReadable, "\(what): a line needs at least 2 positions") }
                out.append(l)
            case "MultiLineString", "Polygon":
                for (i, l) in (g["coordinates"] as? [Any] ?? []).enumerated() { out.append(try points(l, "\(what), line \(i + 1)")) }
            default: continue
            }
        }
        if out.isEmpty { throw OperationError(.notReadable, "\(path): no LineString or MultiLineString with valid [longitude, latitude] coordinates") }
        return out
    }

    public static func polygons(_ path: String) throws -> [[[GeoPoint]]] { try polygons(bytes: readFileBytes(path), name: path) }

    public static func polygons(bytes: [UInt8], name path: String) throws -> [[[GeoPoint]]] {
        var out: [[[GeoPoint]]] = []
        for (n, g) in geometries(try object(bytes: bytes, name: path)).enumerated() {
            let what = "\(path): geometry \(n + 1)"
            func polygon(_ rings: Any?, _ what: String) throws -> [[GeoPoint]] {
                let list = rings as? [Any] ?? []
                guard !list.isEmpty else { throw OperationError(.notReadable, "\(what): a polygon needs at least its outer ring") }
                return try list.enumerated().map { try ring($0.element, "\(what), ring \($0.offset + 1)") }
            }
            switch g["type"] as? String {
            case "Polygon": out.append(try polygon(g["coordinates"], what))
            case "MultiPolygon":
                for (i, poly) in (g["coordinates"] as? [Any] ?? []).enumerated() { out.append(try polygon(poly, "\(what), polygon \(i + 1)")) }
            default: continue
            }
        }
        if out.isEmpty { throw OperationError(.notReadable, "\(path): no Polygon or MultiPolygon with valid [longitude, latitude] coordinates") }
        return out
    }
}
