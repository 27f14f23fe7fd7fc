import LoaCore
import LoaStore

/// What `loa dispatch` does with an approved campaign before its lanes send: the gate (submitted,
/// approved, unchanged since approval, not ended), planning once in parts, and the start.
public struct CampaignDispatch {
    public let store: Store
    /// Who runs the dispatch (recorded when a campaign starts).
    public let actor: String

    public init(store: Store, actor: String = "loa") {
        self.store = store
        self.actor = actor
    }

    /// What to do with a campaign.
    public enum Step: Equatable, Sendable {
        /// Nothing to send (completed or cancelled): the reason.
        case skip(String)
        /// Send: plan it first (`plan`), start it first (`start`).
        case send(plan: Bool, start: Bool)
    }

    /// The gate: the campaign `c` read from `file` (whose SHA-256 is `sha256`) may be sent at `at`
    /// only as it was approved. Throws `notSendable` with what to do otherwise.
    public func step(for c: Campaign, file: String, sha256: String, at: Timestamp) throws -> Step {
        guard let record = try store.campaignRecord(c.id) else {
            throw OperationError(.notSendable, "\(c.id) was never submitted: loa campaign submit \(file) --as NAME")
        }
        guard record.fileSHA256 == sha256 else { throw OperationError(.notSendable, "\(file) changed since it was approved; submit it again") }
        switch record.state {
        case .draft: throw OperationError(.notSendable, "\(c.id) is not approved yet: a second person runs loa campaign approve \(file) --as NAME")
        case .rejected: throw OperationError(.notSendable, "\(c.id) was rejected (loa campaign status \(c.id) gives the reason): change the file and submit it again")
        case .cancelled, .completed: return .skip("\(c.id) is \(record.state.rawValue): skipped")
        default: break
        }
        if record.awaitsOverdueConfirmation(now: at.seconds), let due = record.secondApprovalDue {
            throw OperationError(.notSendable, "\(c.id) was approved alone under the emergency policy and no second approver confirmed it by \(Timestamp(seconds: due).iso8601()): nothing more is sent until one does (loa campaign approve \(file) --as ANOTHER)")
        }
        if !record.planned && c.schedule.end <= at {
            throw OperationError(.notSendable, "\(c.id) ended at \(c.schedule.end.iso8601()): nothing planned or sent")
        }
        return .send(plan: !record.planned, start: record.state == .approved)
    }

    /// Starts an approved campaign (another dispatcher on the store may start it at the same moment).
    public func start(_ id: String) throws {
        do { _ = try store.transitionCampaign(id, "start", by: actor) } catch {
            if try store.campaignRecord(id)?.state != .sending { throw error }
        }
    }

    /// A voice campaign's clips, made once (synthesised or read from the recordings, checked, made
    /// ready) and kept in the store, where every dispatcher node finds the same audio; recorded in
    /// the audit trail with each clip's SHA-256. Clips already kept are used as they are.
    public func prepareAudio(_ loaded: LoadedCampaign, tools: VoiceAudio.Tools = .find()) throws -> [Store.StoredClip] {
        guard let c = loaded.campaign, c.channel == .voice else { return [] }
        let kept = try store.campaignAudio(c.id)
        if Set(kept.map(\.language)).isSuperset(of: c.variants.keys) { return kept }
        let clips: [VoiceClip]
        do { clips = try VoiceAudio.render(loaded, tools: tools) } catch { throw OperationError(.notSendable, "\(c.id): its audio cannot be made:\n\(error)") }
        var stored: [Store.StoredClip] = []
        for clip in clips {
            stored.append(try store.saveCampaignAudio(campaign: c.id, language: clip.language, wav: clip.wav, sha256: clip.sha256,
                                                      durationMs: Int((clip.duration * 1000).rounded()), source: clip.source))
        }
        try store.audit(actor, "voice-audio", campaign: c.id, stored.map { "\($0.language) \(format1(Double($0.durationMs) / 1000)) s \($0.source) sha256 \($0.sha256)" }.joined(separator: "; "))
        return stored
    }

    /// What planning wrote.
    public struct Planned: Equatable, Sendable {
        public var planned = 0
        /// Over the per-subscriber daily cap (recorded as rejected with the reason).
        public var capped = 0
        public var recipients = 0
        public var segments = 0

        public init(planned: Int = 0, capped: Int = 0, recipients: Int = 0, segments: Int = 0) {
            self.planned = planned
            self.capped = capped
            self.recipients = recipients
            self.segments = segments
        }

        /// Another dispatcher on the store had planned it already: nothing new was written.
        public var byAnother: Bool { planned == 0 && capped == 0 && recipients > 0 }
    }

    /// Messages per part: a national audience never sits in memory whole, and a part repeated
    /// after a crash adds nothing.
    public static let partSize = 50_000

    /// The campaign's audience at `audience.at`, rendered per recipient (text, encoding, parts) and
    /// written as planned messages in parts. Refused while a carrier has no presence in the
    /// campaign's window (its subscribers would be left out for good: a campaign is planned once).
    /// `shouldStop` is asked between parts; when it says so, planning stops with `stopped`.
    public func plan(_ c: Campaign, audience: AudienceRun, shouldStop: @escaping () -> Bool = { false }) throws -> Planned {
        let without = try audience.carriersWithoutPresence()
        if !without.isEmpty { throw OperationError(.noPresence, "\(c.id): not planned: \(audience.noPresenceMessage(without))") }
        var part: [PlannedMessage] = []
        part.reserveCapacity(Self.partSize)
        var result = Planned()
        var texts: [String: (String, TextMeasure)] = [:]
        let day = Int((audience.at.seconds + Timestamp.vietnamOffset) / 86400)
        // A voice campaign calls with its clips, made before planning (`VoiceAudio.render`, `saveCampaignAudio`).
        var clips: [String: String] = [:]
        if c.channel == .voice {
            for clip in try store.campaignAudio(c.id) { clips[clip.language] = clip.sha256 }
            let missing = c.variants.keys.filter { clips[$0] == nil }.sorted()
            if !missing.isEmpty { throw OperationError(.notSendable, "\(c.id): no audio for \(missing.joined(separator: ", ")): render it first (loa dispatch does, loa voice render shows it)") }
        }
        func flush() throws {
            if shouldStop() {
                throw OperationError(.stopped, "stopped while planning \(c.id) (\(formatCount(result.planned)) messages planned so far): run the same command again to continue")
            }
            let w = try store.planMessages(campaign: c.id, priority: c.priority, day: day, capPerDay: c.limits.perSubscriberPerDay, part: part)
            result.planned += w.planned
            result.capped += w.capped
            part.removeAll(keepingCapacity: true)
        }
        let summary = try audience.run(sink: nil) { selector, r in
            if let clip = clips[r.language] {
                part.append(.call(carrier: r.carrier, subscriber: r.subscriber.description, language: r.language, commune: r.commune, clip: clip))
                result.recipients += 1
                if part.count == Self.partSize { try flush() }
                return
            }
            let key = "\(r.language)|\(r.commune ?? -1)"
            if texts[key] == nil {
                let text = selector.render(language: r.language, commune: r.commune)
                texts[key] = (text, SMSEncoder.measure(text))
            }
            let (text, m) = texts[key]!
            part.append(.init(carrier: r.carrier, subscriber: r.subscriber.description, language: r.language, commune: r.commune,
                              text: text, encoding: m.encoding, segments: m.segments))
            result.recipients += 1
            if part.count == Self.partSize { try flush() }
        }
        try flush()
        try store.finishPlanning(campaign: c.id, written: (result.planned, result.capped))
        result.segments = c.channel == .voice ? 0 : summary.segments
        return result
    }
}
