/// A CAP 1.2 alert (OASIS Common Alerting Protocol), as far as loa uses it.
public struct CAPAlert: Sendable, Equatable {
    public struct Area: Sendable, Equatable {
        public var description: String
        /// Rings of (lat, lon) points, closed.
        public var polygons: [[GeoPoint]]
        public var circles: [(center: GeoPoint, radiusKm: Double)]
        public var geocodes: [(name: String, value: String)]

        public init(description: String, polygons: [[GeoPoint]] = [], circles: [(center: GeoPoint, radiusKm: Double)] = [], geocodes: [(name: String, value: String)] = []) {
            self.description = description
            self.polygons = polygons
            self.circles = circles
            self.geocodes = geocodes
        }

        public static func == (a: Area, b: Area) -> Bool {
            a.description == b.description && a.polygons == b.polygons && a.circles.map(\.radiusKm) == b.circles.map(\.radiusKm)
                && a.circles.map(\.center) == b.circles.map(\.center) && a.geocodes.map(\.name) == b.geocodes.map(\.name) && a.geocodes.map(\.value) == b.geocodes.map(\.value)
        }
    }

    public struct Info: Sendable, Equatable {
        public var language = "en-US"
        public var event = ""
        public var urgency = ""
        public var severity = ""
        public var certainty = ""
        public var senderName = ""
        public var headline = ""
        public var description = ""
        public var instruction = ""
        public var effective: String?
        public var onset: String?
        public var expires: String?
        public var areas: [Area] = []
        public init() {}
    }

    public var identifier = ""
    public var sender = ""
    public var sent = ""
    public var status = ""
    public var msgType = ""
    public var references = ""
    public var infos: [Info] = []
    public init() {}

    public enum ConversionError: Error, Equatable, CustomStringConvertible {
        case noInfo
        case cancel(String)
        case badTime(String, String)
        public var description: String {
            switch self {
            case .noInfo: "the alert has no <info> block: nothing to send"
            case .cancel(let refs): "this alert cancels earlier ones (\(refs)): cancel the matching campaign instead of creating one"
            case .badTime(let field, let value): "<\(field)> '\(value)' is not a date-time with an offset"
            }
        }
    }

    /// The campaign file (YAML) and, when the alert has polygons or circles, the GeoJSON it refers to.
    public func campaignFile(sender brandname: String, geojsonName: String) throws(ConversionError) -> (yaml: String, geojson: String?) {
        guard let main = infos.first(where: { $0.language.lowercased().hasPrefix("vi") }) ?? infos.first else { throw .noInfo }
        if msgType.lowercased() == "cancel" { throw .cancel(references) }
        let startText = main.onset ?? main.effective ?? sent
        guard let start = Timestamp.parseISO8601(startText) else { throw .badTime("onset", startText) }
        var end = start + 24 * 3600
        if let e = main.expires {
            guard let t = Timestamp.parseISO8601(e) else { throw .badTime("expires", e) }
            end = t
        }
        let severe = ["extreme", "severe"].contains(main.severity.lowercased())
        let priority = severe && main.urgency.lowercased() == "immediate" ? "emergency"
            : (severe || main.urgency.lowercased() == "expected" ? "urgent" : "routine")
        let exercise = status.lowercased() != "actual"
        var y = "# Made by `loa campaign from-cap` from CAP alert \(identifier). Review every field before approval.\n"
        if exercise { y += "# The alert's status is \(status), not Actual: this campaign is marked as an exercise.\n" }
        y += "serialization_version: 1\n"
        let id = "cap-" + String(identifier.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }).prefix(56)
        y += "id: \(JSONString.quoted(id))\n"
        y += "title: \(JSONString.quoted((exercise ? "[\(status.uppercased())] " : "") + (main.headline.isEmpty ? main.event : main.headline)))\n"
        y += "office: \(JSONString.quoted(main.senderName.isEmpty ? sender : main.senderName))\n"
        y += "legal_basis: \(JSONString.quoted("CAP alert \(identifier), sent \(sent)"))\n"
        y += "channel: sms\n"
        y += "sender: \(JSONString.quoted(brandname))   # the registered brandname (≤ 11 characters)\n"
        y += "priority: \(priority)   # from CAP severity \(main.severity), urgency \(main.urgency)\n"
        y += "audience:\n"
        let communes = main.areas.flatMap(\.geocodes).filter { ["commune", "ma_xa", "vn-commune", "xa"].contains($0.name.lowercased()) }.compactMap { Int($0.value) }
        if !communes.isEmpty { y += "  communes: [\(communes.map(String.init).joined(separator: ", "))]\n" }
        var features: [String] = []
        for area in main.areas {
            for ring in area.polygons {
                features.append(Self.polygonFeature(ring, name: area.description))
            }
            for circle in area.circles {
                features.append(Self.polygonFeature(Self.circlePolygon(center: circle.center, radiusKm: circle.radiusKm), name: area.description + " (circle \(circle.radiusKm) km)"))
            }
        }
        if !features.isEmpty { y += "  polygons: [\(JSONString.quoted(geojsonName))]\n" }
        let descriptions = main.areas.map(\.description).filter { !$0.isEmpty }
        if !descriptions.isEmpty { y += "  # CAP areaDesc: \(descriptions.joined(separator: "; "))\n" }
        if communes.isEmpty && features.isEmpty { y += "  communes: []   # the alert names no commune codes or shapes: fill in the area\n" }
        var tags: [String] = []
        var declared: [String: String] = [:]
        for info in infos {
            let tag = String(info.language.lowercased().split(separator: "-").first ?? "en")
            if !tags.contains(tag) { tags.append(tag) }
            if Languages.info(tag) == nil { declared[tag] = info.language }
        }
        let defaultTag = String(main.language.lowercased().split(separator: "-").first ?? "vi")
        y += "languages:\n  default: \(defaultTag)\n"
        if !declared.isEmpty {
            y += "  declare:\n"
            for (tag, name) in declared.sorted(by: { $0.key < $1.key }) { y += "    \(tag): \(JSONString.quoted(name))\n" }
        }
        y += "variants:\n"
        var seen = Set<String>()
        for info in infos {
            let tag = String(info.language.lowercased().split(separator: "-").first ?? "en")
            guard seen.insert(tag).inserted else { continue }
            var text = info.headline
            let detail = info.instruction.isEmpty ? info.description : info.instruction
            if !detail.isEmpty { text += (text.isEmpty ? "" : ". ") + detail }
            y += "  \(tag):\n    text: \(JSONString.quoted(NFC.normalize(text)))\n"
            if Languages.info(tag)?.isEthnicMinority ?? true { y += "    review: needs-native-review\n" }
        }
        y += "schedule:\n"
        y += "  start: \(start.iso8601())\n  end: \(end.iso8601())\n"
        y += priority == "emergency" ? "  windows: [\"00:00-24:00\"]   # emergency: may send at night\n" : "  windows: [\"07:00-21:00\"]\n"
        y += "limits:\n  max_segments: 4\n"
        let geojson = features.isEmpty ? nil : "{\"type\":\"FeatureCollection\",\"features\":[\(features.joined(separator: ","))]}\n"
        return (y, geojson)
    }


    static func polygonFeature(_ ring: [GeoPoint], name: String) -> String {
        var closed = ring
        if let f = ring.first, ring.last != f { closed.append(f) }
        let coords = closed.map { "[\(Self.number($0.longitude)),\(Self.number($0.latitude))]" }.joined(separator: ",")
        let nameJSON = JSONString.quoted(name)
        return "{\"type\":\"Feature\",\"properties\":{\"name\":\(nameJSON)},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[\(coords)]]}}"
    }

    static func number(_ v: Double) -> String {
        let scaled = (v * 1_000_000).rounded() / 1_000_000
        return String(scaled)
    }

    /// A 32-sided polygon approximating a circle.
    static func circlePolygon(center: GeoPoint, radiusKm: Double) -> [GeoPoint] {
        let dLat = radiusKm / 111.32
        let dLon = radiusKm / (111.32 * max(0.01, Geometry.cosine(center.latitude * .pi / 180)))
        return (0..<32).map { i in
            let a = Double(i) / 32 * 2 * .pi
            return GeoPoint(latitude: center.latitude + dLat * Geometry.sine(a + .pi / 2), longitude: center.longitude + dLon * Geometry.sine(a))
        }
    }

    /// CAP `polygon`: "lat,lon lat,lon …".
    public static func parsePolygon(_ text: String) -> [GeoPoint]? {
        var out: [GeoPoint] = []
        for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            let p = pair.split(separator: ",")
            guard p.count == 2, let lat = Double(p[0]), let lon = Double(p[1]) else { return nil }
            out.append(GeoPoint(latitude: lat, longitude: lon))
        }
        return out.count >= 4 ? out : nil
    }

    /// CAP `circle`: "lat,lon radius_km".
    public static func parseCircle(_ text: String) -> (GeoPoint, Double)? {
        let parts = text.split(separator: " ")
        guard parts.count == 2, let r = Double(parts[1]) else { return nil }
        let p = parts[0].split(separator: ",")
        guard p.count == 2, let lat = Double(p[0]), let lon = Double(p[1]) else { return nil }
        return (GeoPoint(latitude: lat, longitude: lon), r)
    }
}
