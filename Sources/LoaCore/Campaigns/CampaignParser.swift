/// Reads a campaign from its source tree and checks it, collecting every problem at once.
public struct CampaignParser {
    public let units: AdministrativeUnits
    public private(set) var diagnostics: [Diagnostic] = []
    /// Size and cost of each variant's worst-case rendering, in language order.
    public private(set) var previews: [VariantPreview] = []

    public init(units: AdministrativeUnits) { self.units = units }

    static let topLevelFields = ["serialization_version", "id", "title", "purpose", "office", "legal_basis", "channel", "sender",
                                 "priority", "audience", "languages", "variants", "schedule", "limits", "values", "voice"]

    mutating func error(_ node: SourceNode?, _ field: String, _ message: String, at position: SourcePosition? = nil) {
        diagnostics.append(Diagnostic(.error, at: position ?? node?.position ?? SourcePosition(line: 1, column: 1), field: field, message))
    }

    /// Reports every key of a mapping that is not one of `allowed` (a misspelt field is not ignored).
    mutating func checkFields(_ node: SourceNode?, _ path: String, _ allowed: [String]) {
        guard case .mapping(let entries, _)? = node else { return }
        for e in entries where !allowed.contains(e.key) {
            error(nil, "\(path).\(e.key)", "unknown field (expected one of: \(allowed.joined(separator: ", ")))", at: e.keyPosition)
        }
    }

    mutating func warning(_ position: SourcePosition, _ field: String, _ message: String) {
        diagnostics.append(Diagnostic(.warning, at: position, field: field, message))
    }

    /// Parses and checks; returns nil when an error prevents building the campaign.
    public mutating func parse(_ root: SourceNode) -> Campaign? {
        guard case .mapping(let entries, _) = root else {
            error(root, "(document)", "expected a campaign mapping (id:, title:, …), found \(root.kindName)")
            return nil
        }
        for entry in entries where !Self.topLevelFields.contains(entry.key) {
            error(nil, entry.key, "unknown field (expected one of: \(Self.topLevelFields.joined(separator: ", ")))", at: entry.keyPosition)
        }
        if let v = root["serialization_version"], string(v, "serialization_version") != "1" {
            error(v, "serialization_version", "this loa reads version 1 campaign files")
        }
        let id = requiredString(root, "id")
        if let id, !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) || id.count > 64 {
            error(root["id"], "id", "use 1–64 characters of a–z, 0–9, '-', '_' and '.', e.g. kontum-2026-bao-so-3")
        }
        let title = requiredString(root, "title")
        let office = requiredString(root, "office")
        let legalBasis = requiredString(root, "legal_basis")
        let channel = requiredEnum(root, "channel", Campaign.Channel.self)
        let priority = requiredEnum(root, "priority", Campaign.Priority.self)
        let sender = requiredString(root, "sender")
        if let sender { checkSender(sender, root["sender"]!) }
        let audience = parseAudience(root["audience"], rootPosition: root.position)
        let limits = parseLimits(root["limits"], priority: priority)
        let values = parseValues(root["values"])
        let languages = parseLanguages(root["languages"], rootPosition: root.position)
        let variants = parseVariants(root["variants"], rootPosition: root.position, declared: languages?.declared ?? [:], channel: channel ?? .sms)
        let voice = parseVoice(root["voice"], channel: channel)
        let schedule = parseSchedule(root["schedule"], rootPosition: root.position, priority: priority)

        guard let id, let title, let office, let legalBasis, let channel, let priority, let sender, let audience,
              let languages, let variants, let schedule else { return nil }
        let campaign = Campaign(id: id, title: title, office: office, legalBasis: legalBasis, channel: channel, sender: sender,
                                priority: priority, audience: audience, languages: languages, variants: variants,
                                schedule: schedule, limits: limits, values: values)
        var purposed = campaign
        purposed.voice = voice
        if root["purpose"] != nil, let p = requiredEnum(root, "purpose", Campaign.Purpose.self) { purposed.purpose = p }
        checkLanguageCoverage(purposed, root: root)
        previews = checkMessages(purposed)
        return purposed
    }

    // MARK: - Fields

    mutating func string(_ node: SourceNode, _ field: String) -> String? {
        if case .scalar(let s, _) = node { return NFC.normalize(s) }
        error(node, field, "expected a single value, found \(node.kindName)")
        return nil
    }

    mutating func requiredString(_ parent: SourceNode, _ field: String, path: String? = nil) -> String? {
        let path = path ?? field
        guard let node = parent[field] else {
            error(parent, path, "missing (required)")
            return nil
        }
        guard let s = string(node, path) else { return nil }
        if s.trimmingCharacters().isEmpty { error(node, path, "must not be empty"); return nil }
        return s
    }

    mutating func requiredEnum<E: RawRepresentable & CaseIterable>(_ parent: SourceNode, _ field: String, _ type: E.Type) -> E? where E.RawValue == String {
        guard let s = requiredString(parent, field) else { return nil }
        if let v = E(rawValue: s.lowercased()) { return v }
        error(parent[field], field, "'\(Escaped(s))' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        return nil
    }

    mutating func int(_ node: SourceNode, _ field: String) -> Int? {
        guard let s = string(node, field) else { return nil }
        if let v = Int(s) { return v }
        error(node, field, "expected a whole number, found '\(Escaped(s))'")
        return nil
    }

    mutating func list(_ node: SourceNode?, _ field: String) -> [SourceNode] {
        guard let node else { return [] }
        switch node {
        case .sequence(let items, _): return items
        case .null: return []
        default:
            error(node, field, "expected a list (- item lines or [a, b]), found \(node.kindName)")
            return []
        }
    }

    mutating func checkSender(_ sender: String, _ node: SourceNode) {
        let digitsOnly = sender.allSatisfy { $0.isASCII && $0.isNumber }
        if digitsOnly {
            if sender.count > 15 { error(node, "sender", "a numeric sender has at most 15 digits") }
            return
        }
        if sender.count > 11 {
            error(node, "sender", "a brandname has at most 11 characters; '\(Escaped(sender))' has \(sender.count) (carriers register brandnames of ≤ 11 characters)")
        }
        if !sender.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || " -._".contains($0)) }) {
            error(node, "sender", "a brandname uses A–Z, a–z, 0–9, space, '-', '.', '_' only (no diacritics): '\(Escaped(sender))'")
        }
    }

    mutating func communeCodes(_ node: SourceNode?, _ field: String) -> [Int] {
        var out: [Int] = []
        for item in list(node, field) {
            guard let code = int(item, field) else { continue }
            switch units.commune(code) {
            case .success: out.append(code)
            case .failure(let e): error(item, field, e.description)
            }
        }
        return out
    }

    mutating func parseAudience(_ node: SourceNode?, rootPosition: SourcePosition) -> Campaign.Audience? {
        guard let node else { error(nil, "audience", "missing (required): communes, cells, border, polygons or contact_lists", at: rootPosition); return nil }
        guard case .mapping(let entries, _) = node else { error(node, "audience", "expected a mapping, found \(node.kindName)"); return nil }
        let fields = ["communes", "cells", "border", "polygons", "exclude_communes", "contact_lists", "seen_within"]
        for e in entries where !fields.contains(e.key) {
            error(nil, "audience.\(e.key)", "unknown field (expected one of: \(fields.joined(separator: ", ")))", at: e.keyPosition)
        }
        var audience = Campaign.Audience()
        audience.communes = communeCodes(node["communes"], "audience.communes")
        audience.excludeCommunes = communeCodes(node["exclude_communes"], "audience.exclude_communes")
        for item in list(node["cells"], "audience.cells") {
            guard let s = string(item, "audience.cells") else { continue }
            if let cgi = CellGlobalIdentity(s) { audience.cells.append(cgi.description) }
            else { error(item, "audience.cells", "'\(Escaped(s))' is not a cell id MCC-MNC-LAC-CI (e.g. 452-04-12345-678)") }
        }
        if let border = node["border"] {
            let items: [SourceNode]
            if case .sequence(let s, _) = border { items = s } else { items = [border] }
            for b in items {
                guard case .mapping = b else { error(b, "audience.border", "expected geojson: and within_km:"); continue }
                checkFields(b, "audience.border", ["geojson", "within_km"])
                let path = requiredString(b, "geojson", path: "audience.border.geojson")
                var km: Double? = nil
                if let k = b["within_km"], let s = string(k, "audience.border.within_km") {
                    if let v = Double(s), v > 0, v <= 100 { km = v } else { error(k, "audience.border.within_km", "expected a distance in km between 0 and 100, found '\(Escaped(s))'") }
                } else if b["within_km"] == nil {
                    error(b, "audience.border.within_km", "missing (required): how far from the border line, in km")
                }
                if let path, let km { audience.borders.append(Campaign.BorderBelt(geojson: path, withinKm: km)) }
            }
        }
        for item in list(node["polygons"], "audience.polygons") {
            if let s = string(item, "audience.polygons") { audience.polygons.append(s) }
        }
        for item in list(node["contact_lists"], "audience.contact_lists") {
            if let s = string(item, "audience.contact_lists") { audience.contactLists.append(s) }
        }
        if let s = node["seen_within"], let text = string(s, "audience.seen_within") {
            if let secs = Duration8601.parseSeconds(text), Campaign.Audience.seenWithinRange.contains(secs) { audience.seenWithin = secs }
            else { error(s, "audience.seen_within", "expected a duration from 1m to 30d such as 72h, 3d or 36h, found '\(Escaped(text))'") }
        }
        if audience.communes.isEmpty && audience.cells.isEmpty && audience.borders.isEmpty && audience.polygons.isEmpty && audience.contactLists.isEmpty {
            error(node, "audience", "selects nobody: give communes, cells, border, polygons or contact_lists")
        }
        return audience
    }

    mutating func parseLimits(_ node: SourceNode?, priority: Campaign.Priority?) -> Campaign.Limits {
        var limits = Campaign.Limits()
        guard let node else { return limits }
        checkFields(node, "limits", ["max_segments", "per_subscriber_per_day", "respect_dnc"])
        if let n = node["max_segments"], let v = int(n, "limits.max_segments") {
            if (1...10).contains(v) { limits.maxSegments = v } else { error(n, "limits.max_segments", "expected 1 to 10 segments, found \(v)") }
        }
        if let n = node["per_subscriber_per_day"], let v = int(n, "limits.per_subscriber_per_day") {
            if (1...3).contains(v) { limits.perSubscriberPerDay = v }
            else { error(n, "limits.per_subscriber_per_day", "expected 1 to 3 (Decree 91/2020 allows at most 3 a day), found \(v)") }
        }
        if let n = node["respect_dnc"], let s = string(n, "limits.respect_dnc") {
            switch s.lowercased() {
            case "true", "yes": limits.respectDoNotCall = true
            case "false", "no":
                if priority == .emergency { limits.respectDoNotCall = false }
                else { error(n, "limits.respect_dnc", "only emergency campaigns may ignore the do-not-call list") }
            default: error(n, "limits.respect_dnc", "expected true or false, found '\(Escaped(s))'")
            }
        }
        return limits
    }

    mutating func parseValues(_ node: SourceNode?) -> [String: String] {
        guard let node else { return [:] }
        guard case .mapping(let entries, _) = node else { error(node, "values", "expected name: value lines"); return [:] }
        var out: [String: String] = [:]
        for e in entries {
            if Self.builtInPlaceholders.contains(e.key) {
                error(nil, "values.\(e.key)", "{\(e.key)} is filled in by loa for each recipient; choose another name", at: e.keyPosition)
            }
            if let s = string(e.value, "values.\(e.key)") { out[e.key] = s }
        }
        return out
    }

    /// Placeholders loa fills: the recipient's commune and province, the campaign's start date.
    public static let builtInPlaceholders = ["commune", "province", "date"]

    mutating func parseLanguages(_ node: SourceNode?, rootPosition: SourcePosition) -> Campaign.LanguagePlan? {
        guard let node else { error(nil, "languages", "missing (required): at least default: vi", at: rootPosition); return nil }
        checkFields(node, "languages", ["default", "by_commune", "declare"])
        var declared: [String: String] = [:]
        if let d = node["declare"] {
            if case .mapping(let entries, _) = d {
                for e in entries { if let name = string(e.value, "languages.declare.\(e.key)") { declared[e.key] = name } }
            } else { error(d, "languages.declare", "expected tag: name lines, e.g. xyz: Tên ngôn ngữ") }
        }
        guard let defaultTag = requiredString(node, "default", path: "languages.default") else { return nil }
        checkTag(defaultTag, node["default"]!, "languages.default", declared: declared)
        var byCommune: [Int: String] = [:]
        if let b = node["by_commune"] {
            if case .mapping(let entries, _) = b {
                for e in entries {
                    let field = "languages.by_commune.\(e.key)"
                    guard let code = Int(e.key) else { error(nil, field, "expected a commune code as the key", at: e.keyPosition); continue }
                    if case .failure(let err) = units.commune(code) { error(nil, field, err.description, at: e.keyPosition); continue }
                    guard let tag = string(e.value, field) else { continue }
                    checkTag(tag, e.value, field, declared: declared)
                    byCommune[code] = tag
                }
            } else { error(b, "languages.by_commune", "expected commune-code: language lines") }
        }
        return Campaign.LanguagePlan(defaultLanguage: defaultTag, byCommune: byCommune, declared: declared)
    }

    mutating func checkTag(_ tag: String, _ node: SourceNode, _ field: String, declared: [String: String]) {
        if declared[tag] == nil, case .failure(let problem) = Languages.check(tag) {
            error(node, field, "\(problem) (a language with no ISO 639 code can be named under languages.declare)")
        }
    }

    mutating func parseVariants(_ node: SourceNode?, rootPosition: SourcePosition, declared: [String: String], channel: Campaign.Channel) -> [String: Campaign.Variant]? {
        guard let node else { error(nil, "variants", "missing (required): the message \(channel == .voice ? "script or recording" : "text") per language", at: rootPosition); return nil }
        guard case .mapping(let entries, _) = node else { error(node, "variants", "expected language: \(channel == .voice ? "script" : "text") lines"); return nil }
        let voice = channel == .voice
        var out: [String: Campaign.Variant] = [:]
        for e in entries {
            let field = "variants.\(e.key)"
            if declared[e.key] == nil, case .failure(let problem) = Languages.check(e.key) {
                error(nil, field, "\(problem) (a language with no ISO 639 code can be named under languages.declare)", at: e.keyPosition)
                continue
            }
            var textNode: SourceNode?
            var textField = voice ? "script" : "text"
            var audio: String? = nil
            var review: Campaign.Variant.Review = .notRequired
            switch e.value {
            case .scalar:
                textNode = e.value
            case .mapping:
                checkFields(e.value, field, voice ? ["script", "audio", "transcript", "review", "reviewed_by"] : ["text", "review", "reviewed_by"])
                if voice {
                    switch (e.value["script"], e.value["audio"]) {
                    case (let script?, nil): textNode = script
                    case (nil, let file?):
                        if let path = string(file, "\(field).audio"), !path.trimmingCharacters().isEmpty { audio = path }
                        else { error(file, "\(field).audio", "expected the recording's file, relative to the campaign file") }
                        textField = "transcript"
                        textNode = e.value["transcript"]
                    case (_?, _?): error(e.value, field, "give script: (synthesised) or audio: (a recording), not both")
                    case (nil, nil): error(e.value, field, "missing: script: to synthesise, or audio: with a recording's file")
                    }
                } else {
                    textNode = e.value["text"]
                    if textNode == nil { error(e.value, "\(field).text", "missing (required)") }
                }
                if let r = e.value["review"], let s = string(r, "\(field).review") {
                    switch s {
                    case "needs-native-review": review = .needsNativeReview
                    case "verified":
                        if let by = e.value["reviewed_by"], let name = string(by, "\(field).reviewed_by"), !name.isEmpty { review = .verified(by: name) }
                        else { error(r, "\(field).reviewed_by", "a verified \(voice ? "script or recording" : "text") names its reviewer: add reviewed_by:") }
                    default: error(r, "\(field).review", "expected needs-native-review or verified, found '\(Escaped(s))'")
                    }
                }
            default:
                error(e.value, field, "expected the \(voice ? "script" : "text"), or a mapping with \(voice ? "script: or audio:" : "text:"), found \(e.value.kindName)")
            }
            let isEthnic = Languages.info(e.key)?.isEthnicMinority ?? true
            let what = voice ? (audio != nil ? "recording" : "script") : "text"
            if isEthnic {
                if e.value["review"] == nil {
                    error(e.value, "\(field).review", "a \(what) in \(Languages.info(e.key)?.name ?? e.key) must say whether a native \(voice ? "speaker" : "translator") checked it: add review: needs-native-review, or review: verified with reviewed_by:")
                }
            }
            if review == .needsNativeReview {
                warning(e.value.position, field, voice ? "\(what) not yet checked by a native speaker (review: needs-native-review)" : "not yet checked by a native translator (review: needs-native-review)")
            }
            if voice && audio == nil && textNode != nil && Speech.voice(for: e.key) == nil {
                error(e.value, "\(field).script", "loa has no synthesiser for \(Languages.info(e.key)?.name ?? e.key) (espeak-ng speaks \(Speech.voices.keys.sorted().joined(separator: ", "))): give a recording with audio: FILE")
                continue
            }
            if let audio {
                let source = textNode.flatMap { n -> String? in if case .scalar(let s, _) = n { return NFC.normalize(s) }; return nil }
                let transcript = (try? MessageTemplate(source ?? "[recording \(audio)]")) ?? (try! MessageTemplate("[recording]"))
                out[e.key] = Campaign.Variant(language: e.key, template: transcript, review: review, textPosition: (e.value["audio"] ?? e.value).position, audio: audio)
                continue
            }
            guard let textNode, let text = string(textNode, "\(field).\(textField)") else { continue }
            if text.trimmingCharacters().isEmpty { error(textNode, "\(field).\(textField)", "must not be empty"); continue }
            do {
                let template = try MessageTemplate(text)
                out[e.key] = Campaign.Variant(language: e.key, template: template, review: review, textPosition: textNode.position)
            } catch {
                self.error(textNode, "\(field).\(textField)", error.description)
            }
        }
        return out
    }

    mutating func parseVoice(_ node: SourceNode?, channel: Campaign.Channel?) -> Campaign.VoiceSettings {
        var settings = Campaign.VoiceSettings()
        guard let node else { return settings }
        if channel == .sms { error(node, "voice", "only a voice campaign (channel: voice) has voice: settings") }
        checkFields(node, "voice", ["max_seconds", "attempts", "spacing"])
        if let n = node["max_seconds"], let v = int(n, "voice.max_seconds") {
            if (5...300).contains(v) { settings.maxSeconds = v } else { error(n, "voice.max_seconds", "expected 5 to 300 seconds, found \(v)") }
        }
        if let n = node["attempts"], let v = int(n, "voice.attempts") {
            if (1...5).contains(v) { settings.attempts = v } else { error(n, "voice.attempts", "expected 1 to 5 calls per person, found \(v)") }
        }
        if let n = node["spacing"], let s = string(n, "voice.spacing") {
            if let v = Duration8601.parseSeconds(s), (60...7200).contains(v) { settings.spacing = v }
            else { error(n, "voice.spacing", "expected a duration from 1m to 2h such as 10m, found '\(Escaped(s))'") }
        }
        return settings
    }

    mutating func parseSchedule(_ node: SourceNode?, rootPosition: SourcePosition, priority: Campaign.Priority?) -> Campaign.Schedule? {
        guard let node else { error(nil, "schedule", "missing (required): start, end and windows", at: rootPosition); return nil }
        checkFields(node, "schedule", ["start", "end", "windows", "quiet_hours", "timezone"])
        func time(_ field: String) -> Timestamp? {
            guard let s = requiredString(node, field, path: "schedule.\(field)") else { return nil }
            if let t = Timestamp.parseISO8601(s) { return t }
            error(node[field], "schedule.\(field)", "expected a date and time with its offset, e.g. 2026-11-25T07:00:00+07:00, found '\(Escaped(s))'")
            return nil
        }
        let start = time("start"), end = time("end")
        if let start, let end, end <= start { error(node["end"], "schedule.end", "ends at or before its start (\(start.iso8601()))") }
        var quiet = DailyWindow.defaultQuietHours
        if let q = node["quiet_hours"], let s = string(q, "schedule.quiet_hours") {
            if let w = DailyWindow(s) { quiet = w } else { error(q, "schedule.quiet_hours", "expected HH:MM-HH:MM, found '\(Escaped(s))'") }
        }
        var windows: [DailyWindow] = []
        let items = list(node["windows"], "schedule.windows")
        if node["windows"] == nil { error(node, "schedule.windows", "missing (required): daily sending windows such as \"07:30-11:00\"") }
        for item in items {
            guard let s = string(item, "schedule.windows") else { continue }
            guard let w = DailyWindow(s) else { error(item, "schedule.windows", "expected HH:MM-HH:MM (Asia/Ho_Chi_Minh), found '\(Escaped(s))'"); continue }
            if priority != .emergency && w.overlaps(quiet) {
                error(item, "schedule.windows", "window \(w) falls in quiet hours \(quiet) (routine and urgent campaigns send outside them; only emergency campaigns may send at night)")
            }
            windows.append(w)
        }
        if let tz = node["timezone"], let s = string(tz, "schedule.timezone"), s != "Asia/Ho_Chi_Minh" && s != "+07:00" {
            error(tz, "schedule.timezone", "loa schedules in Asia/Ho_Chi_Minh (UTC+07:00); found '\(Escaped(s))'")
        }
        guard let start, let end, !windows.isEmpty else { return nil }
        return Campaign.Schedule(start: start, end: end, windows: windows, quietHours: quiet)
    }

    mutating func checkLanguageCoverage(_ campaign: Campaign, root: SourceNode) {
        for tag in campaign.languagesNeededByArea where campaign.variants[tag] == nil {
            let communes = campaign.languages.byCommune.filter { $0.value == tag }.keys.sorted()
            let who = tag == campaign.languages.defaultLanguage ? "the default language"
                : "the language of commune\(communes.count == 1 ? "" : "s") \(communes.map(Commune.codeText).joined(separator: ", "))"
            error(root["variants"], "variants.\(tag)", "missing: \(tag) is \(who)")
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace)).reversed())
    }
}
