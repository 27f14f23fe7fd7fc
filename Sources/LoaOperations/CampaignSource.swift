import Foundation
import LoaCore
import LoaCrypto

/// A campaign file read and checked, with its referenced geometry loaded.
public struct LoadedCampaign: Sendable {
    public var path: String
    public var campaign: Campaign?
    public var diagnostics: [Diagnostic]
    public var previews: [VariantPreview]
    public var area: AudienceArea?
    /// The SHA-256 of the bytes that were checked: what submit and approval pin.
    public var sha256: String

    /// Voice: each recording's file as found beside the campaign file, by language.
    public var recordings: [String: String] = [:]
    /// Voice: the recordings already read, checked and made ready while checking (reused, not read again).
    public var recordedClips: [String: VoiceClip] = [:]

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    /// A path in the campaign file, relative to the campaign file's directory.
    public func resolve(_ p: String) -> String {
        p.hasPrefix("/") ? p : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(p)
    }

    public static func load(_ path: String, units: AdministrativeUnits) throws -> LoadedCampaign {
        let (root, bytes) = try YAMLSource.loadWithBytes(path: path)
        return try check(root, path: path, sha256: bytes.withUnsafeBytes { sha256Hex($0) }, units: units)
    }

    /// A campaign file's text (a console upload), read as if it were at `path` (geometry files are
    /// found beside it).
    public static func parse(_ text: String, path: String, units: AdministrativeUnits) throws -> LoadedCampaign {
        try check(YAMLSource.parse(text, file: path), path: path, sha256: Array(text.utf8).withUnsafeBytes { sha256Hex($0) }, units: units)
    }

    static func check(_ root: SourceNode, path: String, sha256: String, units: AdministrativeUnits) throws -> LoadedCampaign {
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
        var loaded = LoadedCampaign(path: path, campaign: campaign, diagnostics: diagnostics, previews: parser.previews, area: area, sha256: sha256)
        if let campaign, campaign.channel == .voice { loaded.checkRecordings(campaign) }
        loaded.diagnostics.sort { $0.position < $1.position }
        return loaded
    }

    /// Voice: every recording is read and checked (its problems beside its field), and the pinned
    /// SHA-256 covers the recordings too: a recording replaced after approval is a changed campaign.
    mutating func checkRecordings(_ campaign: Campaign) {
        var pinned = "loa-voice-1\n\(sha256)\n"
        for tag in campaign.variants.keys.sorted() {
            guard let variant = campaign.variants[tag], let audio = variant.audio else { continue }
            let file = resolve(audio)
            recordings[tag] = file
            guard let data = FileManager.default.contents(atPath: file) else {
                diagnostics.append(Diagnostic(.error, at: variant.textPosition, field: "variants.\(tag).audio", "\(audio): no such recording (looked for \(file))"))
                pinned += "\(tag) missing\n"
                continue
            }
            pinned += "\(tag) " + data.withUnsafeBytes { sha256Hex($0) } + "\n"
            do {
                let clip = try VoiceAudio.recording(file, shownAs: audio, language: tag, maxSeconds: campaign.voice.maxSeconds)
                recordedClips[tag] = clip
                if let i = previews.firstIndex(where: { $0.language == tag }) { previews[i].measuredSeconds = clip.duration }
            } catch {
                diagnostics.append(Diagnostic(.error, at: variant.textPosition, field: "variants.\(tag).audio", "\(error)"))
            }
        }
        sha256 = Array(pinned.utf8).withUnsafeBytes { sha256Hex($0) }
    }

    static func position(_ root: SourceNode, _ path: [String], index: Int) -> SourcePosition {
        var node: SourceNode? = root
        for key in path { node = node?[key] }
        if case .sequence(let items, _)? = node, index < items.count { return items[index].position }
        return node?.position ?? root.position
    }
}

