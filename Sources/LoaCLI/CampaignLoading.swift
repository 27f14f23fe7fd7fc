import ArgumentParser
import Foundation
import LoaCore
import LoaReference

/// A campaign file read and checked, with its referenced geometry loaded.
struct LoadedCampaign {
    var path: String
    var campaign: Campaign?
    var diagnostics: [Diagnostic]
    var previews: [VariantPreview]
    var area: AudienceArea?

    var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    static func load(_ path: String, units: AdministrativeUnits) throws -> LoadedCampaign {
        let root = try YAMLSource.load(path: path)
        var parser = CampaignParser(units: units)
        let campaign = parser.parse(root)
        var diagnostics = parser.diagnostics
        var area: AudienceArea? = nil
        if let campaign {
            let dir = (path as NSString).deletingLastPathComponent
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (dir as NSString).appendingPathComponent(p) }
            var borders: [(lines: [[GeoPoint]], withinKm: Double)] = []
            for (i, b) in campaign.audience.borders.enumerated() {
                do { borders.append((try GeoJSON.lines(resolve(b.geojson)), b.withinKm)) }
                catch { diagnostics.append(Diagnostic(.error, at: position(root, ["audience", "border"], index: i), field: "audience.border.geojson", "\(error)")) }
            }
            var polygons: [[[GeoPoint]]] = []
            for (i, p) in campaign.audience.polygons.enumerated() {
                do { polygons += try GeoJSON.polygons(resolve(p)) }
                catch { diagnostics.append(Diagnostic(.error, at: position(root, ["audience", "polygons"], index: i), field: "audience.polygons", "\(error)")) }
            }
            area = AudienceArea(communes: Set(campaign.audience.communes), cells: Set(campaign.audience.cells), borders: borders,
                                polygons: polygons, excludedCommunes: Set(campaign.audience.excludeCommunes))
        }
        diagnostics.sort { $0.position < $1.position }
        return LoadedCampaign(path: path, campaign: campaign, diagnostics: diagnostics, previews: parser.previews, area: area)
    }

    static func position(_ root: SourceNode, _ path: [String], index: Int) -> SourcePosition {
        var node: SourceNode? = root
        for key in path { node = node?[key] }
        if case .sequence(let items, _)? = node, index < items.count { return items[index].position }
        return node?.position ?? root.position
    }
}

/// Options every store-using command shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store: a SQLite file, or postgres://user:password@host:port/database (default: $LOA_DATABASE or ./loa.sqlite).")
    var database: String?

    @Option(name: .long, help: "Directory of carrier files (default: $LOA_CARRIERS or ./carriers).")
    var carriers: String?

    var databaseLocation: String { database ?? ProcessInfo.processInfo.environment["LOA_DATABASE"] ?? "loa.sqlite" }
    var carriersDirectory: String { carriers ?? ProcessInfo.processInfo.environment["LOA_CARRIERS"] ?? "carriers" }

    func carrierConfigs() throws -> [Carrier: CarrierConfig] { try CarrierConfig.loadAll(directory: carriersDirectory) }
}

/// A timestamp option: ISO 8601 with offset, or "now".
struct TimeArgument: ExpressibleByArgument {
    var timestamp: Timestamp
    init?(argument: String) {
        if argument == "now" {
            timestamp = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
        } else if let t = Timestamp.parseISO8601(argument) {
            timestamp = t
        } else {
            return nil
        }
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

func loadUnits() throws -> AdministrativeUnits {
    do { return try ReferenceData.administrativeUnits() } catch { throw CLIError("\(error)") }
}

func formatCount(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(ch) }
    return String(out.reversed())
}
