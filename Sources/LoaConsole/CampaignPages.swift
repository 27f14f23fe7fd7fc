import Foundation
import Synchronization
import HTTPTypes
import Hummingbird
import LoaCore
import LoaCrypto
import LoaOperations
import LoaStore

extension Console {
    // MARK: The campaign list

    func campaignList(_ v: Visit, _ db: Store) throws -> Response {
        let lang = v.lang
        let campaigns = try db.campaigns(submittedFrom: 0, to: Int64.max).reversed()
        let counts = try db.messageCountsByCampaign()
        var b = ""
        if v.user.role.permits(.draft) { b += "<p><a class=\"button\" href=\"/campaigns/new\">\(lang.t("Tạo chiến dịch", "New campaign"))</a></p>" }
        guard !campaigns.isEmpty else {
            return html(.ok, v.layout.page(lang.t("Chiến dịch", "Campaigns"), b + "<p>\(lang.t("Chưa có chiến dịch nào.", "No campaigns yet."))</p>"))
        }
        b += "<div class=\"scroll\"><table class=\"list\"><caption class=\"visually-hidden\">\(lang.t("Các chiến dịch", "Campaigns"))</caption><thead><tr>"
        b += [lang.t("Chiến dịch", "Campaign"), lang.t("Trạng thái", "State"), lang.t("Mức ưu tiên", "Priority"),
              lang.t("Tiến độ gửi", "Progress"), lang.t("Tỷ lệ nhận", "Delivered")].map { "<th scope=\"col\">\(e($0))</th>" }.joined()
        b += "</tr></thead><tbody>"
        for c in campaigns {
            var d = DeliveryCounts()
            for (state, k) in counts[c.id] ?? [:] { d.add(state: state, reason: nil, count: k, segments: 0, price: nil, latency: nil) }
            let done = d.recipients - d.planned
            b += "<tr data-campaign=\"\(e(c.id))\"><td><a href=\"/campaigns/\(e(percentEncode(c.id)))\">\(e(c.id))</a><br><span class=\"sub\">\(e(c.title))</span></td>"
            b += "<td><span class=\"state \(c.state.rawValue)\">\(e(stateName(c.state, lang)))</span></td>"
            b += "<td>\(e(priorityName(c.priority, lang)))</td>"
            if d.recipients > 0 {
                b += "<td><progress max=\"\(d.recipients)\" value=\"\(done)\" aria-label=\"\(e(lang.t("đã xử lý", "handled")))\"></progress> \(n(done, lang))/\(n(d.recipients, lang))</td>"
            } else {
                b += "<td>–</td>"
            }
            b += "<td>\(percent(d.deliveryRate, lang))</td></tr>"
        }
        b += "</tbody></table></div>"
        return html(.ok, v.layout.page(lang.t("Chiến dịch", "Campaigns"), b))
    }

    // MARK: A new campaign

    /// The form's fields, the campaign file's key each fills, and their labels.
    static let formFields: [(name: String, key: String, vi: String, en: String)] = [
        ("id", "id", "Mã chiến dịch", "Campaign id"),
        ("title", "title", "Tiêu đề", "Title"),
        ("purpose", "purpose", "Mục đích", "Purpose"),
        ("office", "office", "Cơ quan", "Office"),
        ("legal_basis", "legal_basis", "Căn cứ (văn bản, kế hoạch)", "Legal basis (document, plan)"),
        ("sender", "sender", "Tên người gửi (≤ 11 ký tự)", "Sender name (≤ 11 characters)"),
        ("priority", "priority", "Mức ưu tiên", "Priority"),
        ("communes", "audience", "Mã xã/phường (cách nhau bởi dấu phẩy)", "Commune codes (comma-separated)"),
        ("start", "schedule.start", "Bắt đầu (giờ Việt Nam)", "Start (Vietnam time)"),
        ("end", "schedule.end", "Kết thúc (giờ Việt Nam)", "End (Vietnam time)"),
        ("windows", "schedule.windows", "Khung giờ gửi hằng ngày", "Daily sending windows"),
        ("text_vi", "variants.vi", "Nội dung tiếng Việt", "Vietnamese text"),
        ("text_en", "variants.en", "Nội dung tiếng Anh (không bắt buộc)", "English text (optional)"),
    ]

    func newCampaignPage(_ v: Visit, form: FormData, problems: [(field: String?, message: String)]) -> String {
        let lang = v.lang
        var b = "<p>\(lang.t("Điền biểu mẫu, hoặc tải lên một tệp chiến dịch (YAML). Chiến dịch được kiểm tra như lệnh", "Fill in the form, or upload a campaign file (YAML). It is checked as by")) <code>loa campaign check</code>; \(lang.t("sau khi nộp, một người khác phê duyệt.", "once submitted, another person approves it."))</p>"
        let unplaced = problems.filter { p in p.field == nil || !Self.formFields.contains { Self.field(p.field!, belongsTo: $0.key) } }
        if !problems.isEmpty {
            b += "<div class=\"problem\" role=\"alert\" id=\"problems\"><p>\(lang.t("Chiến dịch có lỗi", "The campaign has errors")): \(problems.count)</p>"
            if !unplaced.isEmpty { b += "<ul>" + unplaced.map { "<li>\(e($0.message))</li>" }.joined() + "</ul>" }
            b += "</div>"
        }
        b += "<form method=\"post\" action=\"/campaigns/new\" class=\"campaign-form\" novalidate>"
        b += "<input type=\"hidden\" name=\"csrf\" value=\"\(e(v.session.csrf))\">"
        b += "<fieldset><legend>\(lang.t("Biểu mẫu", "Form"))</legend>"
        let defaults: [String: String] = ["priority": "urgent", "purpose": "disaster", "windows": "07:30-11:00, 14:00-20:00"]
        for f in Self.formFields {
            let value = form[f.name] ?? defaults[f.name] ?? ""
            let mine = problems.filter { $0.field.map { Self.field($0, belongsTo: f.key) } ?? false }
            let errorID = "err-\(f.name)"
            let described = mine.isEmpty ? "" : " aria-invalid=\"true\" aria-describedby=\"\(errorID)\""
            b += "<div class=\"field\(mine.isEmpty ? "" : " invalid")\"><label for=\"f-\(f.name)\">\(e(lang.t(f.vi, f.en)))</label>"
            switch f.name {
            case "priority":
                b += "<select id=\"f-priority\" name=\"priority\"\(described)>" + Campaign.Priority.allCases.reversed().map {
                    "<option value=\"\($0.rawValue)\"\(value == $0.rawValue ? " selected" : "")>\(e(priorityName($0, lang)))</option>"
                }.joined() + "</select>"
            case "purpose":
                b += "<select id=\"f-purpose\" name=\"purpose\"\(described)>" + Campaign.Purpose.allCases.map {
                    "<option value=\"\($0.rawValue)\"\(value == $0.rawValue ? " selected" : "")>\(e(lang == .vi ? $0.vietnamese : $0.rawValue))</option>"
                }.joined() + "</select>"
            case "start", "end":
                b += "<input id=\"f-\(f.name)\" name=\"\(f.name)\" type=\"datetime-local\" value=\"\(e(value))\"\(described)>"
            case "text_vi", "text_en":
                b += "<textarea id=\"f-\(f.name)\" name=\"\(f.name)\" rows=\"4\" data-measure\(described)>\(e(value))</textarea><output class=\"measure\" for=\"f-\(f.name)\"></output>"
            default:
                b += "<input id=\"f-\(f.name)\" name=\"\(f.name)\" value=\"\(e(value))\"\(described)>"
            }
            if !mine.isEmpty { b += "<p class=\"error\" id=\"\(errorID)\">" + mine.map { e($0.message) }.joined(separator: "<br>") + "</p>" }
            b += "</div>"
        }
        b += "</fieldset><fieldset><legend>\(lang.t("Hoặc tệp chiến dịch", "Or a campaign file"))</legend>"
        b += "<label for=\"f-file\">\(lang.t("Chọn tệp .yaml", "Choose a .yaml file"))</label><input id=\"f-file\" type=\"file\" accept=\".yaml,.yml,text/yaml\" data-fills=\"f-yaml\">"
        b += "<label for=\"f-yaml\">\(lang.t("Nội dung tệp (khi có, biểu mẫu bên trên được bỏ qua)", "The file's text (when given, the form above is ignored)"))</label>"
        b += "<textarea id=\"f-yaml\" name=\"yaml\" rows=\"10\" spellcheck=\"false\">\(e(form["yaml"] ?? ""))</textarea></fieldset>"
        b += "<button type=\"submit\">\(lang.t("Kiểm tra và nộp", "Check and submit"))</button></form>"
        return v.layout.page(lang.t("Tạo chiến dịch", "New campaign"), b)
    }

    /// A diagnostic's field (`variants.vi.text`, `audience.communes`) belongs to the form field
    /// whose key it starts with.
    static func field(_ diagnostic: String, belongsTo key: String) -> Bool {
        diagnostic == key || diagnostic.hasPrefix(key + ".") || diagnostic.hasPrefix(key + "[")
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": continue
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// The campaign file the form describes.
    static func campaignFile(from form: FormData) -> String {
        func q(_ name: String) -> String { quoted(form.trimmed(name) ?? "") }
        func time(_ name: String) -> String {
            // datetime-local gives 2026-12-03T07:30 (no seconds, no offset): Vietnam time.
            guard var t = form.trimmed(name) else { return "\"\"" }
            if t.count == 16 { t += ":00" }
            if t.count == 19 { t += "+07:00" }
            return quoted(t)
        }
        let communes = (form["communes"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" || $0 == "\n" }).map { quoted(String($0)) }
        let windows = (form["windows"] ?? "").split(whereSeparator: { $0 == "," || $0 == ";" }).map { quoted(String($0).trimmingCharacters(in: .whitespaces)) }
        var y = """
            serialization_version: 1
            id: \(q("id"))
            title: \(q("title"))
            purpose: \(q("purpose"))
            office: \(q("office"))
            legal_basis: \(q("legal_basis"))
            channel: sms
            sender: \(q("sender"))
            priority: \(q("priority"))
            audience:
              communes: [\(communes.joined(separator: ", "))]
            languages:
              default: vi
            variants:
              vi: \(q("text_vi"))

            """
        if form.trimmed("text_en") != nil { y += "  en: \(q("text_en"))\n" }
        y += """
            schedule:
              start: \(time("start"))
              end: \(time("end"))
              windows: [\(windows.joined(separator: ", "))]

            """
        return y
    }

    func createCampaign(_ v: Visit, _ db: Store, _ form: FormData) throws -> Response {
        let lang = v.lang
        let fromFile = form.trimmed("yaml") != nil
        let text = fromFile ? form["yaml"]! : Self.campaignFile(from: form)
        let directory = settings.campaignsDirectory
        func refuse(_ problems: [(field: String?, message: String)]) -> Response {
            html(.unprocessableContent, newCampaignPage(v, form: form, problems: problems))
        }
        // Checked as if it were already in the campaigns directory (GeoJSON files are found there).
        let provisional = (directory as NSString).appendingPathComponent("new-campaign.yaml")
        let loaded: LoadedCampaign
        do { loaded = try LoadedCampaign.parse(text, path: provisional, units: settings.units) } catch {
            return refuse([(nil, "\(error)")])
        }
        guard let campaign = loaded.campaign, loaded.errors.isEmpty else {
            return refuse(loaded.errors.map { d in
                (fromFile ? nil : d.field, fromFile ? d.formatted(file: lang.t("tệp", "file")) : "\(d.field.isEmpty ? "" : d.field + ": ")\(d.message)")
            })
        }
        let path = (directory as NSString).appendingPathComponent("\(campaign.id).yaml")
        let bytes = Array(text.utf8)
        if let existing = try db.campaignRecord(campaign.id), existing.state != .draft, existing.state != .rejected {
            return refuse([("id", lang.t("Chiến dịch \(campaign.id) đã \(stateName(existing.state, lang)): đặt mã mới cho phiên bản mới.",
                                         "Campaign \(campaign.id) is \(stateName(existing.state, lang)): give the new version a new id."))])
        }
        let known = try db.campaignFile(campaign.id).map { ($0 as NSString).standardizingPath }
        if FileManager.default.fileExists(atPath: path), known != (path as NSString).standardizingPath {
            return refuse([("id", lang.t("Đã có tệp \(path) không thuộc chiến dịch này: đặt mã khác.", "\(path) already exists and is not this campaign's: choose another id."))])
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temporary = path + ".part-\(ConsoleSessions.randomToken().prefix(8))"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o640]) else {
                return refuse([(nil, lang.t("Không ghi được tệp vào", "Cannot write the file into") + " \(directory)")])
            }
            // rename(2) replaces a draft's earlier file in one step: a reader sees the old or the new.
            guard rename(temporary, path) == 0 else {
                try? FileManager.default.removeItem(atPath: temporary)
                return refuse([(nil, lang.t("Không ghi được tệp", "Cannot write the file") + " \(path): \(String(cString: strerror(errno)))")])
            }
            _ = try db.submitCampaign(campaign, file: path, sha256: loaded.sha256, by: v.user.name)
        } catch let error as StoreError {
            return refuse([(nil, error.description)])
        }
        return redirect("/campaigns/\(percentEncode(campaign.id))")
    }

    // MARK: One campaign

    func campaignPage(_ v: Visit, _ db: Store, id: String, problem: String?, status: HTTPResponse.Status = .ok) throws -> Response {
        let lang = v.lang
        guard let record = try db.campaignRecord(id) else {
            return html(.notFound, v.layout.page(lang.t("Không tìm thấy", "Not found"), "<p>\(lang.t("Không có chiến dịch", "No campaign")) \(e(id)).</p>"))
        }
        let file = try db.campaignFile(id)
        let loaded = file.flatMap { try? LoadedCampaign.load($0, units: settings.units) }
        let campaign = loaded?.campaign
        var b = ""
        if let problem { b += "<p class=\"problem\" role=\"alert\">\(e(problem))</p>" }
        b += "<p class=\"sub\">\(e(record.title))</p>"
        b += "<dl class=\"facts\">"
        b += "<dt>\(lang.t("Trạng thái", "State"))</dt><dd><span class=\"state \(record.state.rawValue)\" id=\"state\">\(e(stateName(record.state, lang)))</span></dd>"
        b += "<dt>\(lang.t("Mức ưu tiên", "Priority"))</dt><dd>\(e(priorityName(record.priority, lang)))</dd>"
        b += "<dt>\(lang.t("Người soạn", "Drafted by"))</dt><dd>\(e(record.draftedBy))</dd>"
        b += "<dt>\(lang.t("Người duyệt", "Approved by"))</dt><dd>\(e(record.approvedBy ?? lang.t("chưa có", "nobody yet")))\(record.secondApprovedBy.map { " · " + e($0) } ?? "")</dd>"
        if let c = campaign {
            b += "<dt>\(lang.t("Kênh, người gửi", "Channel, sender"))</dt><dd>\(e(c.channel.rawValue)), \(e(c.sender))</dd>"
            b += "<dt>\(lang.t("Thời gian", "Schedule"))</dt><dd>\(e(c.schedule.start.iso8601())) → \(e(c.schedule.end.iso8601())); \(e(c.schedule.windows.map(\.description).joined(separator: ", ")))</dd>"
        }
        b += "<dt>\(lang.t("Tệp", "File"))</dt><dd><code>\(e(file ?? "?"))</code> · SHA-256 <code class=\"hash\">\(e(String(record.fileSHA256.prefix(16))))…</code></dd></dl>"
        if file != nil && loaded == nil {
            b += "<p class=\"problem\">\(lang.t("Không đọc được tệp chiến dịch", "The campaign file cannot be read")): \(e(file!))</p>"
        } else if let loaded, loaded.sha256 != record.fileSHA256 {
            b += "<p class=\"problem\">\(lang.t("Tệp đã thay đổi sau khi nộp: nộp lại trước khi duyệt.", "The file changed after it was submitted: submit it again before approval."))</p>"
        }
        b += actions(v, record)
        if let loaded, let c = campaign { b += variantsSection(v, c, loaded.previews) }
        b += "<p class=\"links\"><a class=\"button\" href=\"/campaigns/\(e(percentEncode(id)))/audience\">\(lang.t("Xem trước người nhận và bản đồ", "Audience preview and map"))</a> "
        b += "<a class=\"button\" href=\"/campaigns/\(e(percentEncode(id)))/report\">\(lang.t("Báo cáo", "Report"))</a></p>"
        b += try liveSection(v, db, id: id, state: record.state)
        b += "<h2>\(lang.t("Nhật ký", "Audit trail"))</h2><ol class=\"trail\">"
        for entry in try db.auditTrail(campaign: id) {
            b += "<li><time>\(e(entry.at.iso8601()))</time> <b>\(e(entry.actor))</b> \(e(entry.action))\(entry.detail.isEmpty ? "" : ": " + e(entry.detail))</li>"
        }
        b += "</ol>"
        return html(status, v.layout.page("\(lang.t("Chiến dịch", "Campaign")) \(id)", b))
    }

    func actions(_ v: Visit, _ record: Store.CampaignRecord) -> String {
        let lang = v.lang, role = v.user.role
        let base = "/campaigns/\(e(percentEncode(record.id)))"
        let csrf = "<input type=\"hidden\" name=\"csrf\" value=\"\(e(v.session.csrf))\">"
        var b = ""
        if role.permits(.approve), record.state == .draft || (record.secondApprovalDue != nil && record.secondApprovedBy == nil) {
            b += "<form method=\"post\" action=\"\(base)/approve\" class=\"inline\">\(csrf)<button type=\"submit\" id=\"approve\">\(lang.t("Phê duyệt", "Approve"))</button></form>"
        }
        if role.permits(.approve), record.state == .draft {
            b += "<form method=\"post\" action=\"\(base)/reject\" class=\"inline reject\">\(csrf)<label for=\"reason\">\(lang.t("Lý do trả lại", "Reason for rejecting"))</label>"
            b += "<input id=\"reason\" name=\"reason\" required><button type=\"submit\" id=\"reject\">\(lang.t("Trả lại", "Reject"))</button></form>"
        }
        if role.permits(.operate) {
            if record.state == .sending || record.state == .approved {
                b += "<form method=\"post\" action=\"\(base)/pause\" class=\"inline\">\(csrf)<button type=\"submit\">\(lang.t("Tạm dừng", "Pause"))</button></form>"
            }
            if record.state == .paused {
                b += "<form method=\"post\" action=\"\(base)/resume\" class=\"inline\">\(csrf)<button type=\"submit\">\(lang.t("Tiếp tục", "Resume"))</button></form>"
            }
            if [.draft, .approved, .sending, .paused].contains(record.state) {
                b += "<form method=\"post\" action=\"\(base)/cancel\" class=\"inline\" data-confirm=\"\(e(lang.t("Hủy chiến dịch này? Tin chưa gửi sẽ không được gửi.", "Cancel this campaign? Unsent messages will not be sent.")))\">\(csrf)<button type=\"submit\" class=\"danger\">\(lang.t("Hủy", "Cancel"))</button></form>"
            }
        }
        return b.isEmpty ? "" : "<div class=\"actions\">\(b)</div>"
    }

    /// A voice campaign's variants: script or recording, length, the audio to listen to, cost per answered call.
    func voiceSection(_ v: Visit, _ c: Campaign, _ previews: [VariantPreview]) -> String {
        let lang = v.lang
        var b = "<h2>\(lang.t("Nội dung cuộc gọi", "What the calls say"))</h2><div class=\"scroll\"><table class=\"variants\"><thead><tr>"
        b += [lang.t("Ngôn ngữ", "Language"), lang.t("Lời đọc", "Script or transcript"), lang.t("Nguồn", "Source"), lang.t("Độ dài", "Length"),
              lang.t("Nghe thử", "Listen"), lang.t("Chi phí/cuộc nghe máy", "Cost/answered call")].map { "<th scope=\"col\">\(e($0))</th>" }.joined()
        b += "</tr></thead><tbody>"
        let prices = settings.prices.perSegment.values.compactMap { $0["voice"] }
        for p in previews {
            let review = c.variants[p.language]?.review == .needsNativeReview
            b += "<tr data-language=\"\(e(p.language))\"><th scope=\"row\">\(e(p.language))<br><span class=\"sub\">\(e(Languages.info(p.language)?.name ?? ""))</span>"
            if review { b += "<br><span class=\"flag\">\(lang.t("chờ người bản ngữ duyệt", "needs native review"))</span>" }
            let source = p.audio.map { lang.t("bản ghi", "recording") + " <code>\(e($0))</code>" } ?? "espeak-ng \(e(Speech.voice(for: p.language) ?? ""))"
            let seconds = p.measuredSeconds ?? p.estimatedSeconds ?? 0
            let length = p.measuredSeconds != nil ? "\(format1(seconds)) s" : "≈ \(format1(seconds)) s " + lang.t("(ước tính)", "(estimated)")
            let minutes = max(1, Int((seconds / 60).rounded(.up)))
            let cost = prices.isEmpty ? "" : "\(Int(prices.min()! * Double(minutes)))–\(Int(prices.max()! * Double(minutes))) \(e(settings.prices.currency))"
            b += "</th><td class=\"text\">\(e(p.worstCase))</td><td>\(source)</td><td class=\"n\" data-k=\"seconds\">\(e(length))</td>"
            b += "<td><audio controls preload=\"none\" src=\"/campaigns/\(e(percentEncode(c.id)))/audio/\(e(percentEncode(p.language))).wav\"></audio></td>"
            b += "<td class=\"n\">\(e(cost))</td></tr>"
        }
        b += "</tbody></table></div>"
        b += "<p class=\"hint\">\(lang.t("Tối đa \(c.voice.maxSeconds) giây; gọi tối đa \(c.voice.attempts) lần mỗi người, cách nhau \(Duration8601.format(c.voice.spacing)).", "At most \(c.voice.maxSeconds) s; up to \(c.voice.attempts) calls per person, \(Duration8601.format(c.voice.spacing)) apart."))</p>"
        return b
    }

    /// GET /campaigns/ID/audio/LANG.wav: the language's audio as carriers will get it (made now from
    /// the campaign file, as `loa voice render` does), for a reviewer to listen to.
    func voiceAudio(_ db: Store, id: String, file: String) throws -> Response {
        let language = file.hasSuffix(".wav") ? String(file.dropLast(4)) : file
        guard let path = try db.campaignFile(id), let loaded = try? LoadedCampaign.load(path, units: settings.units),
              let c = loaded.campaign, c.channel == .voice, let variant = c.variants[language] else {
            return response(.notFound, type: "text/plain; charset=utf-8", body: Array("no voice variant \(language) in campaign \(id)\n".utf8))
        }
        do {
            let clip = if let kept = loaded.recordedClips[language] {
                kept
            } else if let audio = variant.audio {
                try VoiceAudio.recording(loaded.resolve(audio), shownAs: audio, language: language, maxSeconds: c.voice.maxSeconds)
            } else {
                try VoiceAudio.synthesise(c.voiceScript(language) ?? "", language: language, maxSeconds: c.voice.maxSeconds)
            }
            return response(.ok, type: "audio/wav", body: clip.wav, extra: [(.cacheControl, "no-store")])
        } catch {
            return response(.unprocessableContent, type: "text/plain; charset=utf-8", body: Array("\(error)\n".utf8))
        }
    }

    func variantsSection(_ v: Visit, _ c: Campaign, _ previews: [VariantPreview]) -> String {
        if c.channel == .voice { return voiceSection(v, c, previews) }
        let lang = v.lang
        var b = "<h2>\(lang.t("Nội dung và chi phí", "Texts and cost"))</h2><div class=\"scroll\"><table class=\"variants\"><thead><tr>"
        b += [lang.t("Ngôn ngữ", "Language"), lang.t("Nội dung (trường hợp dài nhất)", "Text (longest case)"), lang.t("Mã hóa", "Encoding"),
              lang.t("Số tin", "Parts"), lang.t("Chi phí/người", "Cost/person"), lang.t("Không dấu", "Without diacritics")].map { "<th scope=\"col\">\(e($0))</th>" }.joined()
        b += "</tr></thead><tbody>"
        for p in previews {
            let encoding = p.measure.encoding == .gsm7 ? "GSM-7" : "UCS-2"
            let review = c.variants[p.language]?.review == .needsNativeReview
            b += "<tr data-language=\"\(e(p.language))\"><th scope=\"row\">\(e(p.language))<br><span class=\"sub\">\(e(Languages.info(p.language)?.name ?? ""))</span>"
            if review { b += "<br><span class=\"flag\">\(lang.t("chờ người bản ngữ duyệt", "needs native review"))</span>" }
            b += "</th><td class=\"text\">\(e(p.worstCase))</td><td>\(encoding)<br><span class=\"sub\">\(p.measure.units) \(p.measure.encoding == .gsm7 ? "septets" : "UTF-16")</span></td>"
            b += "<td class=\"n\" data-k=\"segments\">\(p.measure.segments)</td><td class=\"n\">\(e(costRange(p.measure, lang)))</td>"
            if p.measure.encoding == .ucs2 {
                let plain = Diacritics.plainPunctuation(Diacritics.strip(p.worstCase))
                let m = SMSEncoder.measure(plain)
                b += "<td class=\"text\">\(e(plain))<br><span class=\"sub\">\(m.encoding == .gsm7 ? "GSM-7" : "UCS-2"), \(m.segments) \(lang.t("tin", "parts")), \(e(costRange(m, lang)))</span></td>"
            } else {
                b += "<td class=\"sub\">\(lang.t("đã là GSM-7", "already GSM-7"))</td>"
            }
            b += "</tr>"
        }
        b += "</tbody></table></div>"
        if !settings.kannelCarriers.isEmpty {
            b += "<p class=\"hint\">\(e(settings.kannelCarriers.sorted().joined(separator: ", "))): \(lang.t("qua Kannel, chỉ tới danh sách liên hệ.", "through Kannel: contact lists only."))</p>"
        }
        return b
    }

    /// Segments × each carrier's price for the encoding: the cheapest and dearest carrier.
    func costRange(_ m: TextMeasure, _ lang: ConsoleLanguage) -> String {
        let key = m.encoding == .gsm7 ? "gsm7" : "ucs2"
        let costs = settings.prices.perSegment.values.compactMap { $0[key] }.map { $0 * Double(m.segments) }
        guard let low = costs.min(), let high = costs.max() else { return "–" }
        let currency = settings.prices.currency
        return low == high ? "\(n(Int(low.rounded()), lang)) \(currency)" : "\(n(Int(low.rounded()), lang))–\(n(Int(high.rounded()), lang)) \(currency)"
    }

    // MARK: Actions

    func act(_ v: Visit, _ db: Store, id: String, action: String, form: FormData) throws -> Response {
        let lang = v.lang
        do {
            switch action {
            case "approve":
                guard let file = try db.campaignFile(id) else { return try campaignPage(v, db, id: id, problem: nil, status: .notFound) }
                let loaded = try LoadedCampaign.load(file, units: settings.units)
                guard let c = loaded.campaign, loaded.errors.isEmpty else {
                    return try campaignPage(v, db, id: id, problem: lang.t("Tệp chiến dịch có lỗi: ", "The campaign file has errors: ") + loaded.errors.map(\.message).joined(separator: "; "), status: .conflict)
                }
                let unreviewed = c.variants.filter { $0.value.review == .needsNativeReview }.keys.sorted()
                _ = try db.approveCampaign(id, sha256: loaded.sha256, by: v.user.name, unreviewed: unreviewed, emergency: settings.emergency, now: now)
            case "reject":
                guard let reason = form.trimmed("reason") else {
                    return try campaignPage(v, db, id: id, problem: lang.t("Ghi lý do trả lại.", "Give the reason for rejecting."), status: .unprocessableContent)
                }
                _ = try db.rejectCampaign(id, by: v.user.name, reason: reason)
            default:
                _ = try db.transitionCampaign(id, action, by: v.user.name)
            }
        } catch let error as StoreError {
            return try campaignPage(v, db, id: id, problem: error.description, status: .conflict)
        } catch let error as OperationError {
            return try campaignPage(v, db, id: id, problem: error.message, status: .conflict)
        }
        return redirect("/campaigns/\(percentEncode(id))")
    }

    // MARK: Live dispatch

    static let liveStates: [MessageState] = [.planned, .submitted, .accepted, .delivered, .failed, .noReceipt, .unknown, .rejected, .expired]

    func liveSection(_ v: Visit, _ db: Store, id: String, state: CampaignState) throws -> String {
        let lang = v.lang
        let counts = try db.messageCounts(campaign: id)
        let batches = try db.batchActivity(campaign: id)
        var b = "<h2>\(lang.t("Gửi tin", "Dispatch"))</h2>"
        b += "<div class=\"scroll\"><table class=\"live\" data-live=\"/campaigns/\(e(percentEncode(id)))/live.json\" aria-live=\"polite\"><thead><tr><th scope=\"col\">\(lang.t("Nhà mạng", "Carrier"))</th>"
        b += "<th scope=\"col\">\(lang.t("Tốc độ/TPS", "Rate/TPS"))</th>"
        b += Self.liveStates.map { "<th scope=\"col\">\(e(messageStateName($0, lang)))</th>" }.joined()
        b += "<th scope=\"col\">\(lang.t("Gửi lại", "Retries"))</th></tr></thead><tbody>"
        for carrier in Set(counts.keys).union(batches.keys).sorted() {
            b += "<tr data-carrier=\"\(e(carrier))\"><th scope=\"row\">\(e(settings.prices.carrierNames[carrier] ?? carrier))</th>"
            b += "<td data-k=\"rate\">– / \(settings.tps[carrier].map(String.init) ?? "?")</td>"
            b += Self.liveStates.map { "<td class=\"n\" data-k=\"\($0.rawValue)\">\(n(counts[carrier]?[$0] ?? 0, lang))</td>" }.joined()
            b += "<td class=\"n\" data-k=\"retries\">\(n(batches[carrier]?.retries ?? 0, lang))</td></tr>"
        }
        b += "</tbody></table></div>"
        if counts.isEmpty {
            b += "<p class=\"hint\">\(lang.t("Chưa có tin nào: sau khi được duyệt, bộ gửi tin (loa dispatch, dịch vụ loa-dispatch) lập danh sách và gửi.", "No messages yet: once approved, the dispatcher (loa dispatch, the loa-dispatch service) plans and sends them."))</p>"
        }
        return b
    }

    func messageStateName(_ s: MessageState, _ lang: ConsoleLanguage) -> String {
        switch s {
        case .planned: lang.t("chờ gửi", "planned")
        case .submitted: lang.t("đang gửi", "submitted")
        case .accepted: lang.t("nhà mạng nhận", "accepted")
        case .delivered: lang.t("đã nhận", "delivered")
        case .failed: lang.t("không nhận được", "failed")
        case .noReceipt: lang.t("không có báo cáo", "no receipt")
        case .unknown: lang.t("không rõ", "unknown")
        case .rejected: lang.t("bị từ chối", "rejected")
        case .expired: lang.t("hết hạn", "expired")
        }
    }

    /// The live view's numbers, polled every two seconds by the page: per carrier, messages by
    /// state, uploads repeated, and the sending rate since the previous poll.
    func live(_ db: Store, id: String) throws -> Response {
        guard let record = try db.campaignRecord(id) else { return response(.notFound, type: "application/json", body: Array("{\"error\":\"no such campaign\"}".utf8)) }
        let counts = try db.messageCounts(campaign: id)
        let batches = try db.batchActivity(campaign: id)
        let t = elapsed
        var uploaded: [String: Int] = [:]
        for (carrier, c) in counts { uploaded[carrier] = c.filter { ![.planned, .submitted, .expired].contains($0.key) }.values.reduce(0, +) }
        let previous = rates.withLock { all -> (at: Double, sent: [String: Int])? in
            let p = all[id]
            all[id] = (t, uploaded)
            return p
        }
        var out = "{\"campaign\":\(JSONString.quoted(id)),\"state\":\(JSONString.quoted(record.state.rawValue)),\"carriers\":["
        out += Set(counts.keys).union(batches.keys).sorted().map { carrier in
            var o = "{\"carrier\":\(JSONString.quoted(carrier)),\"tps\":\(settings.tps[carrier].map(String.init) ?? "null")"
            if let p = previous, t - p.at > 0.2 {
                let rate = Double((uploaded[carrier] ?? 0) - (p.sent[carrier] ?? 0)) / (t - p.at)
                o += ",\"rate\":\(Int(max(0, rate).rounded()))"
            } else {
                o += ",\"rate\":null"
            }
            for s in Self.liveStates { o += ",\(JSONString.quoted(s.rawValue)):\(counts[carrier]?[s] ?? 0)" }
            let a = batches[carrier] ?? Store.BatchActivity()
            return o + ",\"retries\":\(a.retries),\"waiting_to_retry\":\(a.waitingToRetry)}"
        }.joined(separator: ",")
        out += "]}\n"
        return response(.ok, type: "application/json", body: Array(out.utf8))
    }

    // MARK: Audience preview

    func audiencePage(_ v: Visit, _ db: Store, id: String, at: String?) throws -> Response {
        let lang = v.lang
        let title = "\(lang.t("Người nhận", "Audience")): \(id)"
        func fail(_ message: String, _ status: HTTPResponse.Status = .conflict) -> Response {
            html(status, v.layout.page(title, "<p class=\"problem\" role=\"alert\">\(e(message))</p><p><a href=\"/campaigns/\(e(percentEncode(id)))\">← \(e(id))</a></p>"))
        }
        guard let file = try db.campaignFile(id) else { return fail(lang.t("Không có chiến dịch này.", "No such campaign."), .notFound) }
        let loaded: LoadedCampaign
        do { loaded = try LoadedCampaign.load(file, units: settings.units) } catch { return fail("\(error)") }
        guard let c = loaded.campaign, let area = loaded.area, loaded.errors.isEmpty else {
            return fail(lang.t("Tệp chiến dịch có lỗi: ", "The campaign file has errors: ") + loaded.errors.map(\.message).joined(separator: "; "))
        }
        guard let keys = settings.keys else {
            return fail(lang.t("Bảng điều khiển chạy không có khóa của nhà mạng: không xem trước được người nhận.", "The console runs without the carriers' keys: no audience preview."))
        }
        let time = at.flatMap { Timestamp.parseISO8601($0) } ?? Timestamp(seconds: now)
        let summary: AudienceSummary
        do { summary = try AudienceRun(campaign: c, area: area, units: settings.units, store: db, keys: keys, at: time).run(sink: nil) }
        catch let error as OperationError { return fail(error.message) }
        var b = "<p>\(lang.t("Lúc", "At")) <time>\(e(time.iso8601()))</time>: <b id=\"recipients\">\(n(summary.recipients, lang))</b> \(lang.t("người nhận", "recipients")), \(n(summary.segments, lang)) \(lang.t("tin", "parts")). "
        b += "\(n(summary.optedOut, lang)) \(lang.t("người từ chối nhận tin", "on the do-not-call list")), \(n(summary.seenElsewhere, lang)) \(lang.t("đã rời khỏi vùng", "last seen outside the area")).</p>"
        let cells = try db.cells()
        var targeted: [GeoPoint] = [], others: [GeoPoint] = []
        for cell in cells {
            let p = GeoPoint(latitude: cell.latitude, longitude: cell.longitude)
            if area.includes(cell) { targeted.append(p) } else { others.append(p) }
        }
        b += "<figure>" + SVG.map(.init(targeted: targeted, others: others, borders: area.borders.flatMap(\.lines), polygons: area.polygons),
                                  title: lang.t("Vùng nhận tin: các trạm được chọn (tô đậm), đường biên giới, vùng đa giác", "The area: targeted cells (filled), border lines, polygons"), lang: lang)
        b += "<figcaption>\(n(targeted.count, lang)) \(lang.t("trạm trong vùng", "cells in the area")) · \(n(summary.audienceCells.byBorderBelt, lang)) \(lang.t("trong vành đai biên giới", "in the border belt"))</figcaption></figure>"
        func table(_ caption: String, _ head: String, _ rows: [(String, String, Int)], id tableID: String) -> String {
            var t = "<table class=\"counts\" id=\"\(tableID)\"><caption>\(e(caption))</caption><thead><tr><th scope=\"col\">\(e(head))</th><th scope=\"col\">\(lang.t("Người nhận", "Recipients"))</th></tr></thead><tbody>"
            for (key, name, count) in rows { t += "<tr data-key=\"\(e(key))\"><th scope=\"row\">\(e(name))</th><td class=\"n\">\(n(count, lang))</td></tr>" }
            return t + "</tbody></table>"
        }
        b += "<div class=\"grid\">"
        b += table(lang.t("Theo nhà mạng", "By carrier"), lang.t("Nhà mạng", "Carrier"),
                   summary.byCarrier.sorted { $0.value > $1.value }.map { ($0.key.rawValue, settings.prices.carrierNames[$0.key.rawValue] ?? $0.key.rawValue, $0.value) }, id: "by-carrier")
        b += table(lang.t("Theo ngôn ngữ", "By language"), lang.t("Ngôn ngữ", "Language"),
                   summary.byLanguage.sorted { $0.value > $1.value }.map { ($0.key, "\($0.key) · \(Languages.info($0.key)?.name ?? "")", $0.value) }, id: "by-language")
        b += table(lang.t("Theo xã/phường", "By commune"), lang.t("Xã/phường", "Commune"),
                   summary.byCommune.sorted { $0.value > $1.value }.map { (Commune.codeText($0.key), "\(Commune.codeText($0.key)) \(settings.units.communes[$0.key]?.name ?? "")", $0.value) }, id: "by-commune")
        b += "</div><p><a href=\"/campaigns/\(e(percentEncode(id)))\">← \(e(id))</a></p>"
        return html(.ok, v.layout.page(title, b))
    }
}
