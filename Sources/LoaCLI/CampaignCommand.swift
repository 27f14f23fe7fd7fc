import ArgumentParser
import Foundation
import LoaCarriers
import LoaCore
import LoaOperations
import LoaStore

struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Check, submit, approve or reject, and control campaigns; make them from emergency alerts.",
        subcommands: [CheckCampaign.self, CampaignFromCAP.self, CampaignSubmit.self, CampaignApprove.self, CampaignReject.self, CampaignControl.self, CampaignStatus.self]
    )
}

struct CheckCampaign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Report every problem in campaign files at once, with a cost preview per variant.",
        discussion: """
            Problems are printed as FILE:LINE:COLUMN: error|warning: FIELD: what was expected. \
            With --at and a store that holds cells and presence, the preview also counts recipients. \
            Exit status: 0 when no file has errors (warnings allowed), 1 otherwise.
            """
    )

    @Argument(help: "Campaign files (campaigns/*.yaml).")
    var files: [String]

    @Option(name: .long, help: "Count recipients at this time (ISO 8601 with offset, or now).")
    var at: TimeArgument?

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let units = try loadUnits()
        // Carriers on Kannel can only reach contact lists: read the carrier files once.
        let configs = ((try? store.carrierConfigs()) ?? [:]).sorted { $0.key < $1.key }
        let kannelCarriers = configs.filter { (try? $0.value.gateway(requireSecrets: false))?.protocolKind == .kannel }.map(\.key)
        // Voice campaigns go only to carriers whose file has a voice: section (never Kannel).
        let noVoice = configs.filter { (try? $0.value.gateway(requireSecrets: false))?.voice == nil }.map(\.key)
        var failed = false
        for file in files {
            let loaded = try LoadedCampaign.load(file, units: units)
            for d in loaded.diagnostics { printError(d.formatted(file: file)) }
            guard let campaign = loaded.campaign, loaded.errors.isEmpty else {
                failed = true
                print("\(file): \(loaded.errors.count) error\(loaded.errors.count == 1 ? "" : "s"), \(loaded.diagnostics.count - loaded.errors.count) warning\(loaded.diagnostics.count - loaded.errors.count == 1 ? "" : "s")")
                continue
            }
            print("\(file): ok — \(campaign.id): \(campaign.title)")
            print("  \(campaign.channel.rawValue), sender \(campaign.sender), \(campaign.priority.rawValue), \(campaign.schedule.start.iso8601()) → \(campaign.schedule.end.iso8601()), windows \(campaign.schedule.windows.map(\.description).joined(separator: ", "))")
            for p in loaded.previews where campaign.channel == .voice {
                var line = "  \(p.language.padding(toLength: 4, withPad: " ", startingAt: 0)) "
                if let audio = p.audio { line += "recording \(audio)" + (p.measuredSeconds.map { ", \(format1($0)) s" } ?? "") }
                else { line += "script spoken by espeak-ng \(Speech.voice(for: p.language) ?? "?"), about \(format1(p.estimatedSeconds ?? 0)) s (estimated; loa voice render measures it)" }
                if let v = campaign.variants[p.language], v.review == .needsNativeReview { line += "  [needs native review]" }
                print(line)
            }
            if campaign.channel == .voice {
                print("  calls: at most \(campaign.voice.maxSeconds) s each, \(campaign.voice.attempts) attempt\(campaign.voice.attempts == 1 ? "" : "s") per person \(Duration8601.format(campaign.voice.spacing)) apart")
                for carrier in noVoice {
                    let why = kannelCarriers.contains(carrier) ? "uses Kannel, which carries no voice" : "has no voice: section (channels, calls_per_second) in its carrier file"
                    print("  note: \(carrier.rawValue) \(why): its subscribers' calls would wait, unsent")
                }
            }
            for p in loaded.previews where campaign.channel == .sms {
                var line = "  \(p.language.padding(toLength: 4, withPad: " ", startingAt: 0)) \(p.measure.encoding == .gsm7 ? "GSM-7" : "UCS-2"), \(p.measure.units) units, \(p.measure.segments) segment\(p.measure.segments == 1 ? "" : "s") at worst"
                if let plain = p.withoutDiacritics { line += " (\(plain.segments) without diacritics)" }
                if let v = campaign.variants[p.language], v.review == .needsNativeReview { line += "  [needs native review]" }
                print(line)
            }
            let hasArea = !campaign.audience.communes.isEmpty || !campaign.audience.cells.isEmpty || !campaign.audience.borders.isEmpty || !campaign.audience.polygons.isEmpty
            for carrier in kannelCarriers where hasArea && campaign.channel == .sms {
                print("  note: \(carrier.rawValue) uses Kannel, which needs clear numbers: it can reach this campaign's contact lists only; its area recipients will be rejected")
            }
            if let at {
                let summary = try AudienceRun(campaign: campaign, area: loaded.area!, units: units, store: try store.open(), keys: try store.operatorKeys(), at: at.timestamp).run(sink: nil)
                print("  recipients at \(at.timestamp.iso8601()): \(formatCount(summary.recipients)), \(formatCount(summary.segments)) segments" +
                      summary.byLanguage.sorted { $0.key < $1.key }.map { " · \($0.key) \(formatCount($0.value))" }.joined())
            } else {
                print("  recipients: give --at TIME (and a store with cells and presence) to count them")
            }
        }
        if failed { throw ExitCode(1) }
    }
}
