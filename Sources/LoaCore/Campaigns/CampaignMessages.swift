/// What one variant costs per recipient, rendered at its worst case.
public struct VariantPreview: Sendable, Equatable {
    public var language: String
    public var worstCase: String
    public var measure: TextMeasure
    /// The same text without diacritics, when that changes the cost.
    public var withoutDiacritics: TextMeasure?
    /// Voice: the script's estimated length when synthesised (nil for a recording, measured when read).
    public var estimatedSeconds: Double? = nil
    /// Voice: the recording's file (relative to the campaign file).
    public var audio: String? = nil
    /// Voice: the recording's length once read and made ready (trimmed).
    public var measuredSeconds: Double? = nil
}

extension CampaignParser {
    /// Placeholder values a variant may be rendered with, for the worst case.
    func placeholderCandidates(_ campaign: Campaign) -> [String: [String]] {
        var communeCodes = Set(campaign.audience.communes).union(campaign.languages.byCommune.keys)
        let areaIsOpen = !campaign.audience.cells.isEmpty || !campaign.audience.borders.isEmpty || !campaign.audience.polygons.isEmpty
            || !campaign.audience.contactLists.isEmpty
        if areaIsOpen || communeCodes.isEmpty {
            // Cells, belts and lists can reach any commune of the provinces involved, or anywhere.
            let provinces = Set(communeCodes.compactMap { units.communes[$0]?.provinceCode })
            communeCodes = Set(units.communes.values.filter { provinces.isEmpty || provinces.contains($0.provinceCode) }.map(\.code))
        }
        let communes = communeCodes.compactMap { units.communes[$0] }
        var candidates: [String: [String]] = [
            "commune": communes.map(\.name),
            "province": Array(Set(communes.compactMap { units.provinces[$0.provinceCode]?.name })),
            "date": [campaign.schedule.start.vietnameseDate()],
        ]
        for (k, v) in campaign.values { candidates[k] = [v] }
        return candidates
    }

    mutating func checkMessages(_ campaign: Campaign) -> [VariantPreview] {
        let candidates = placeholderCandidates(campaign)
        var previews: [VariantPreview] = []
        for tag in campaign.variants.keys.sorted(by: { languageOrder($0, campaign) < languageOrder($1, campaign) }) {
            let variant = campaign.variants[tag]!
            let field = "variants.\(tag).\(campaign.channel == .voice ? (variant.isScript ? "script" : "transcript") : "text")"
            let unknown = variant.template.placeholders.filter { candidates[$0] == nil }
            if !unknown.isEmpty {
                error(nil, field, "unknown placeholder\(unknown.count > 1 ? "s" : "") \(unknown.map { "{\($0)}" }.joined(separator: ", ")): loa fills {commune}, {province} and {date}; give others under values:", at: variant.textPosition)
                continue
            }
            if campaign.channel == .voice {
                // One audio per language: nothing in it may change from person to person.
                let perPerson = variant.template.placeholders.filter { ["commune", "province"].contains($0) }
                if variant.isScript && !perPerson.isEmpty {
                    error(nil, "variants.\(tag).script", "a voice script is synthesised once per language, so \(perPerson.map { "{\($0)}" }.joined(separator: " and ")) cannot change from person to person: write the name, or send an SMS campaign", at: variant.textPosition)
                    continue
                }
            }
            guard let (text, measure) = try? variant.template.worstCase(candidates) else { continue }
            if campaign.channel == .voice {
                var preview = VariantPreview(language: tag, worstCase: text, measure: measure, withoutDiacritics: nil)
                if let audio = variant.audio { preview.audio = audio } else {
                    let seconds = Speech.estimatedSeconds(text, language: tag)
                    preview.estimatedSeconds = seconds
                    if seconds > Double(campaign.voice.maxSeconds) {
                        error(nil, "variants.\(tag).script", "about \(format1(seconds)) s when spoken (estimated): more than voice.max_seconds = \(campaign.voice.maxSeconds); shorten it", at: variant.textPosition)
                    }
                }
                previews.append(preview)
                continue
            }
            var plain: TextMeasure? = nil
            if measure.encoding == .ucs2 {
                let m = SMSEncoder.measure(Diacritics.plainPunctuation(Diacritics.strip(text)))
                if m.segments < measure.segments { plain = m }
            }
            previews.append(VariantPreview(language: tag, worstCase: text, measure: measure, withoutDiacritics: plain))
            if campaign.channel == .sms && measure.segments > campaign.limits.maxSegments {
                var message = "\(measure.segments) segments at worst (\(measure.units) \(measure.encoding == .gsm7 ? "septets, GSM-7" : "UTF-16 units, UCS-2")) exceeds limits.max_segments = \(campaign.limits.maxSegments)"
                if let plain { message += "; without diacritics it would be \(plain.segments)" }
                error(nil, field, message, at: variant.textPosition)
            }
        }
        return previews
    }

    func languageOrder(_ tag: String, _ campaign: Campaign) -> Int {
        if tag == campaign.languages.defaultLanguage { return -1 }
        return Languages.known.firstIndex(where: { $0.tag == tag }) ?? 1000
    }
}
