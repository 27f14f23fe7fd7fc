import Foundation
import LoaCore

/// Charts and maps drawn by loa as SVG: no chart library, no tile server, nothing fetched from
/// elsewhere. Every chart carries a title and a text description for screen readers, and the
/// page shows the same numbers in a table beside it.
enum SVG {
    /// One bar per row: the delivered part dark, the rest of what was sent light.
    struct Bar {
        var label: String
        var delivered: Int
        var sent: Int
    }

    static func bars(_ bars: [Bar], id: String, title: String, lang: ConsoleLanguage) -> String {
        let shown = Array(bars.prefix(25))
        let rowHeight = 22, labelWidth = 190, width = 640
        let height = max(1, shown.count) * rowHeight + 30
        let most = max(1, shown.map(\.sent).max() ?? 1)
        let plot = Double(width - labelWidth - 70)
        var s = "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-labelledby=\"\(id)\">"
        s += "<title id=\"\(id)\">\(e(title))</title>"
        for (i, b) in shown.enumerated() {
            let y = i * rowHeight + 4
            let sentWidth = Double(b.sent) / Double(most) * plot
            let deliveredWidth = Double(b.delivered) / Double(most) * plot
            let label = b.label.count > 28 ? String(b.label.prefix(27)) + "…" : b.label
            s += "<text x=\"\(labelWidth - 6)\" y=\"\(y + 14)\" text-anchor=\"end\" class=\"label\">\(e(label))</text>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y)\" width=\(fmt(sentWidth)) height=\"16\" class=\"sent\"><title>\(e(b.label)): \(n(b.sent, lang)) \(lang.t("đã gửi", "sent"))</title></rect>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y)\" width=\(fmt(deliveredWidth)) height=\"16\" class=\"delivered\"><title>\(e(b.label)): \(n(b.delivered, lang)) \(lang.t("đã nhận", "delivered"))</title></rect>"
            s += "<text x=\"\(labelWidth + Int(sentWidth) + 6)\" y=\"\(y + 14)\" class=\"value\">\(n(b.delivered, lang))/\(n(b.sent, lang))</text>"
        }
        let legendY = height - 8
        s += "<rect x=\"\(labelWidth)\" y=\"\(legendY - 10)\" width=\"12\" height=\"10\" class=\"delivered\"/><text x=\"\(labelWidth + 16)\" y=\"\(legendY)\" class=\"label\">\(lang.t("đã nhận", "delivered"))</text>"
        s += "<rect x=\"\(labelWidth + 110)\" y=\"\(legendY - 10)\" width=\"12\" height=\"10\" class=\"sent\"/><text x=\"\(labelWidth + 126)\" y=\"\(legendY)\" class=\"label\">\(lang.t("đã gửi", "sent"))</text>"
        return s + "</svg>"
    }

    /// Deliveries over time: one column per day or hour, in order.
    static func columns(_ points: [(label: String, delivered: Int, sent: Int)], id: String, title: String, lang: ConsoleLanguage) -> String {
        let width = 640, height = 220, left = 50, bottom = 40
        let most = max(1, points.map(\.sent).max() ?? 1)
        let step = points.isEmpty ? 0 : Double(width - left - 10) / Double(points.count)
        let plot = Double(height - bottom - 10)
        var s = "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-labelledby=\"\(id)\">"
        s += "<title id=\"\(id)\">\(e(title))</title>"
        s += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - 10)\" y2=\"\(height - bottom)\" class=\"axis\"/>"
        s += "<text x=\"\(left - 6)\" y=\"16\" text-anchor=\"end\" class=\"label\">\(n(most, lang))</text>"
        s += "<text x=\"\(left - 6)\" y=\"\(height - bottom)\" text-anchor=\"end\" class=\"label\">0</text>"
        let labelEvery = max(1, points.count / 8)
        for (i, p) in points.enumerated() {
            let x = Double(left) + Double(i) * step
            let hs = Double(p.sent) / Double(most) * plot, hd = Double(p.delivered) / Double(most) * plot
            let w = max(1, step * 0.8)
            s += "<rect x=\(fmt(x)) y=\(fmt(Double(height - bottom) - hs)) width=\(fmt(w)) height=\(fmt(hs)) class=\"sent\"><title>\(e(p.label)): \(n(p.sent, lang))</title></rect>"
            s += "<rect x=\(fmt(x)) y=\(fmt(Double(height - bottom) - hd)) width=\(fmt(w)) height=\(fmt(hd)) class=\"delivered\"><title>\(e(p.label)): \(n(p.delivered, lang)) \(lang.t("đã nhận", "delivered"))</title></rect>"
            if i % labelEvery == 0 {
                s += "<text x=\(fmt(x)) y=\"\(height - bottom + 16)\" class=\"label small\">\(e(p.label))</text>"
            }
        }
        return s + "</svg>"
    }

    /// The audience area on a plain background: the campaign's cells (filled), the other cells
    /// around them (hollow), the border lines and their belt, the polygons. Equirectangular,
    /// scaled by the cosine of the middle latitude so that a kilometre is a kilometre both ways.
    struct MapInput {
        var targeted: [GeoPoint]
        var others: [GeoPoint]
        var borders: [[GeoPoint]]
        var polygons: [[[GeoPoint]]]
    }

    static func map(_ m: MapInput, title: String, lang: ConsoleLanguage) -> String {
        let focus = m.targeted + m.borders.flatMap { $0 } + m.polygons.flatMap { $0.flatMap { $0 } }
        guard let first = focus.first else {
            return "<p>\(lang.t("Không có ô phủ sóng nào trong vùng: chưa nhập danh sách trạm (loa import cells)?", "No cells in the area: have the cells been imported (loa import cells)?"))</p>"
        }
        var (minLat, maxLat, minLon, maxLon) = (first.latitude, first.latitude, first.longitude, first.longitude)
        for p in focus {
            minLat = min(minLat, p.latitude); maxLat = max(maxLat, p.latitude)
            minLon = min(minLon, p.longitude); maxLon = max(maxLon, p.longitude)
        }
        let padLat = max(0.005, (maxLat - minLat) * 0.08), padLon = max(0.005, (maxLon - minLon) * 0.08)
        minLat -= padLat; maxLat += padLat; minLon -= padLon; maxLon += padLon
        let k = cos((minLat + maxLat) / 2 * Double.pi / 180)
        let width = 640.0
        let spanX = (maxLon - minLon) * k, spanY = maxLat - minLat
        let scale = width / spanX
        let height = min(640, max(160, spanY * scale))
        func x(_ p: GeoPoint) -> Double { (p.longitude - minLon) * k * scale }
        func y(_ p: GeoPoint) -> Double { (maxLat - p.latitude) * scale }
        func inside(_ p: GeoPoint) -> Bool { (minLat...maxLat).contains(p.latitude) && (minLon...maxLon).contains(p.longitude) }
        var s = "<svg class=\"map\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-labelledby=\"m1\"><title id=\"m1\">\(e(title))</title>"
        s += "<rect width=\"100%\" height=\"100%\" class=\"ground\"/>"
        for poly in m.polygons {
            let d = poly.map { ring in "M" + ring.map { "\(fmt(x($0))),\(fmt(y($0)))" }.joined(separator: "L") + "Z" }.joined()
            s += "<path d=\"\(d)\" class=\"polygon\"/>"
        }
        for line in m.borders {
            s += "<polyline points=\"\(line.map { "\(fmt(x($0))),\(fmt(y($0)))" }.joined(separator: " "))\" class=\"border\"/>"
        }
        for p in m.others where inside(p) { s += "<circle cx=\(fmt(x(p))) cy=\(fmt(y(p))) r=\"2.5\" class=\"cell\"/>" }
        for p in m.targeted { s += "<circle cx=\(fmt(x(p))) cy=\(fmt(y(p))) r=\"3.5\" class=\"cell targeted\"/>" }
        // A scale bar of a round number of kilometres.
        let kmPerPixel = 111.32 / scale
        let km = [1.0, 2, 5, 10, 20, 50, 100, 200].last { $0 / kmPerPixel <= width / 4 } ?? 1
        let bar = km / kmPerPixel
        s += "<line x1=\"10\" y1=\(fmt(height - 12)) x2=\(fmt(10 + bar)) y2=\(fmt(height - 12)) class=\"scale\"/>"
        s += "<text x=\"10\" y=\(fmt(height - 16)) class=\"label small\">\(Int(km)) km</text>"
        return s + "</svg>"
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return "\"" + (r == r.rounded() ? String(Int(r)) : String(r)) + "\""
    }
}
