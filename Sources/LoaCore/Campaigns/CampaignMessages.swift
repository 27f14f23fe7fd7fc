/// What one variant costs per recipient, rendered at its worst case.
public struct VariantPreview: Sendable, Equatable {
    public var language: String
    public var worstCase: String
    public var measure: TextMeasure
    /// The same text without diacritics, when that changes the cost.
    public var withoutDiacritics: TextMeasure?
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
            let field = "variants.\(tag).text"
            let unknown = variant.template.placeholders.filter { candidates[$0] == nil }
            if !unknown.isEmpty {
                error(nil, field, "unknown placeholder\(unknown.count > 1 ? "s" : "") \(unknown.map { "{\($0)}" }.joined(separator: ", ")): loa fills {commune}, {province} and {date}; give others under values:", at: variant.textPosition)
                continue
            }
            guard let (text, measure) = try? variant.template.worstCase(candidates) else { continue }
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
