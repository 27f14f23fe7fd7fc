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
        case notActual(String)
        case notForSending(String)
        case badLanguage(String)
        public var description: String {
            switch self {
            case .noInfo: "the alert has no <info> block: nothing to send"
            case .cancel(let refs): "this alert cancels earlier ones (\(Escaped(refs))): cancel the matching campaign instead of creating one"
            case .badTime(let field, let value): "<\(field)> '\(Escaped(value))' is not a date-time with an offset"
            case .notActual(let status): "the alert's status is \(Escaped(status)), not Actual: it becomes a campaign only with --allow-exercise, and then every text says it is an exercise"
            case .notForSending(let status): "the alert's status is \(Escaped(status)): not for the public (only Actual, Exercise and Test alerts become campaigns)"
            case .badLanguage(let value): "<language> '\(Escaped(value))' is not a language tag such as vi-VN or en-US"
            }
        }
    }

    /// What an exercise or test alert's texts start with, per language (Vietnamese, else English).
    public static func exerciseMark(status: String, language: String) -> String {
        let test = status.lowercased() == "test"
        if language == "vi" { return test ? "[THỬ NGHIỆM – không phải cảnh báo thật] " : "[DIỄN TẬP – không phải cảnh báo thật] " }
        return test ? "[TEST – not a real alert] " : "[EXERCISE – not a real alert] "
    }

    /// The campaign, as a document the CLI writes with the YAML library (never by pasting text:
    /// the alert's values may hold line breaks or YAML syntax); fixed notes for its header
    /// comments (no value from the alert in them); and, when the alert has polygons or circles,
    /// the GeoJSON it refers to.
    public func campaignDocument(sender brandname: String, geojsonName: String, allowExercise: Bool) throws(ConversionError)
        -> (document: DocumentNode, notes: [String], geojson: String?) {
        guard let main = infos.first(where: { $0.language.lowercased().hasPrefix("vi") }) ?? infos.first else { throw .noInfo }
        if msgType.lowercased() == "cancel" { throw .cancel(references) }
        let statusWord = status.lowercased()
        guard ["actual", "exercise", "test"].contains(statusWord) else { throw .notForSending(status) }
        let exercise = statusWord != "actual"
        if exercise && !allowExercise { throw .notActual(status) }
        let startText = main.onset ?? main.effective ?? sent
        guard let start = Timestamp.parseISO8601(startText) else { throw .badTime("onset", startText) }
        var end = start + 24 * 3600
        if let e = main.expires {
            guard let t = Timestamp.parseISO8601(e) else { throw .badTime("expires", e) }
            end = t
        }
        func tag(_ language: String) throws(ConversionError) -> String {
            let primary = language.lowercased().split(separator: "-", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard (2...3).contains(primary.count), primary.allSatisfy({ $0 >= "a" && $0 <= "z" }),
                  language.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }), language.count <= 35 else { throw .badLanguage(language) }
            return primary
        }
        let severe = ["extreme", "severe"].contains(main.severity.lowercased())
        let priority = severe && main.urgency.lowercased() == "immediate" ? "emergency"
            : (severe || main.urgency.lowercased() == "expected" ? "urgent" : "routine")
        var notes = ["Made by `loa campaign from-cap` from a CAP alert. Review every field before approval."]
        if exercise { notes.append("The alert is an exercise or a test: every text says so, and the title too.") }
        let id = "cap-" + String(identifier.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }).prefix(56)
        var doc: [(String, DocumentNode)] = [("serialization_version", .number(1)), ("id", .text(id))]
        let headline = NFC.normalize(main.headline.isEmpty ? main.event : main.headline)
        doc.append(("title", .text((exercise ? "[\(status.uppercased())] " : "") + headline)))
        doc.append(("office", .text(NFC.normalize(main.senderName.isEmpty ? sender : main.senderName))))
        doc.append(("legal_basis", .text("CAP alert \(identifier), sent \(sent) (severity \(main.severity), urgency \(main.urgency))")))
        doc.append(("channel", .text("sms")))
        doc.append(("sender", .text(brandname)))
        doc.append(("priority", .text(priority)))
        var audience: [(String, DocumentNode)] = []
        let communes = main.areas.flatMap(\.geocodes).filter { ["commune", "ma_xa", "vn-commune", "xa"].contains($0.name.lowercased()) }.compactMap { Int($0.value) }
        if !communes.isEmpty { audience.append(("communes", .list(communes.map { .number($0) }))) }
        var features: [String] = []
        for area in main.areas {
            for ring in area.polygons { features.append(Self.polygonFeature(ring, name: area.description)) }
            for circle in area.circles {
                features.append(Self.polygonFeature(Self.circlePolygon(center: circle.center, radiusKm: circle.radiusKm), name: area.description + " (circle \(circle.radiusKm) km)"))
            }
        }
        if !features.isEmpty { audience.append(("polygons", .list([.text(geojsonName)]))) }
        if communes.isEmpty && features.isEmpty {
            audience.append(("communes", .list([])))
            notes.append("The alert names no commune codes or shapes: fill in audience.")
        }
        doc.append(("audience", .map(audience)))
        var declared: [(String, DocumentNode)] = []
        var variants: [(String, DocumentNode)] = []
        for info in infos {
            let t = try tag(info.language)
            guard !variants.contains(where: { $0.0 == t }) else { continue }
            if Languages.info(t) == nil { declared.append((t, .text(info.language))) }
            var text = info.headline
            let detail = info.instruction.isEmpty ? info.description : info.instruction
            if !detail.isEmpty { text += (text.isEmpty ? "" : ". ") + detail }
            if exercise { text = Self.exerciseMark(status: status, language: t) + text }
            var variant: [(String, DocumentNode)] = [("text", .text(NFC.normalize(text)))]
            if Languages.info(t)?.isEthnicMinority ?? true { variant.append(("review", .text("needs-native-review"))) }
            variants.append((t, .map(variant)))
        }
        var languages: [(String, DocumentNode)] = [("default", .text(try tag(main.language)))]
        if !declared.isEmpty { languages.append(("declare", .map(declared))) }
        doc.append(("languages", .map(languages)))
        doc.append(("variants", .map(variants)))
        doc.append(("schedule", .map([("start", .text(start.iso8601())), ("end", .text(end.iso8601())),
                                      ("windows", .list([.text(priority == "emergency" ? "00:00-24:00" : "07:00-21:00")]))])))
        doc.append(("limits", .map([("max_segments", .number(4))])))
        let geojson = features.isEmpty ? nil : "{\"type\":\"FeatureCollection\",\"features\":[\(features.joined(separator: ","))]}\n"
        return (.map(doc), notes, geojson)
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

    /// CAP `polygon`: "lat,lon lat,lon …", at least four pairs, the first repeated last (CAP 1.2
    /// §3.2.4), every point on Earth. nil otherwise.
    public static func parsePolygon(_ text: String) -> [GeoPoint]? {
        var out: [GeoPoint] = []
        for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) {
            let p = pair.split(separator: ",", omittingEmptySubsequences: false)
            guard p.count == 2, let lat = Double(p[0]), let lon = Double(p[1]), (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
            out.append(GeoPoint(latitude: lat, longitude: lon))
        }
        guard out.count >= 4, out.first == out.last else { return nil }
        return out
    }

    /// CAP `circle`: "lat,lon radius_km" with a radius above 0 and at most 500 km. nil otherwise.
    public static func parseCircle(_ text: String) -> (GeoPoint, Double)? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, let r = Double(parts[1]), r > 0, r <= 500 else { return nil }
        let p = parts[0].split(separator: ",", omittingEmptySubsequences: false)
        guard p.count == 2, let lat = Double(p[0]), let lon = Double(p[1]), (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
        return (GeoPoint(latitude: lat, longitude: lon), r)
    }
}

/// A document to be written as YAML by the CLI's YAML library: text, whole numbers, lists and
/// ordered mappings. Every text is written quoted, so no value can become syntax.
public indirect enum DocumentNode: Sendable, Equatable {
    case text(String)
    case number(Int)
    case list([DocumentNode])
    case map([(String, DocumentNode)])

    public static func == (a: DocumentNode, b: DocumentNode) -> Bool {
        switch (a, b) {
        case (.text(let x), .text(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.list(let x), .list(let y)): x == y
        case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}
