import Foundation
import LoaCore

/// Border lines and polygons from GeoJSON files (RFC 7946: coordinates are longitude, latitude).
enum GeoJSON {
    static func object(_ path: String) throws -> Any {
        let data = Data(try readFileBytes(path))
        do { return try JSONSerialization.jsonObject(with: data) }
        catch { throw CLIError("\(path): not valid JSON: \(error.localizedDescription)") }
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

    static func points(_ any: Any?) -> [GeoPoint]? {
        guard let list = any as? [Any] else { return nil }
        var out: [GeoPoint] = []
        for p in list {
            guard let pair = p as? [Any], pair.count >= 2, let lon = (pair[0] as? NSNumber)?.doubleValue, let lat = (pair[1] as? NSNumber)?.doubleValue,
                  (-180...180).contains(lon), (-90...90).contains(lat) else { return nil }
            out.append(GeoPoint(latitude: lat, longitude: lon))
        }
        return out
    }

    /// LineString and MultiLineString geometries (polygon outlines count as lines too).
    static func lines(_ path: String) throws -> [[GeoPoint]] {
        var out: [[GeoPoint]] = []
        for g in geometries(try object(path)) {
            switch g["type"] as? String {
            case "LineString": if let l = points(g["coordinates"]) { out.append(l) }
            case "MultiLineString", "Polygon": for l in g["coordinates"] as? [Any] ?? [] { if let p = points(l) { out.append(p) } }
            default: continue
            }
        }
        if out.isEmpty { throw CLIError("\(path): no LineString or MultiLineString with valid [longitude, latitude] coordinates") }
        return out
    }

    static func polygons(_ path: String) throws -> [[[GeoPoint]]] {
        var out: [[[GeoPoint]]] = []
        for g in geometries(try object(path)) {
            switch g["type"] as? String {
            case "Polygon": out.append((g["coordinates"] as? [Any] ?? []).compactMap(points))
            case "MultiPolygon": for poly in g["coordinates"] as? [Any] ?? [] { out.append((poly as? [Any] ?? []).compactMap(points)) }
            default: continue
            }
        }
        if out.isEmpty { throw CLIError("\(path): no Polygon or MultiPolygon with valid [longitude, latitude] coordinates") }
        return out
    }
}
