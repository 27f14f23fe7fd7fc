import ArgumentParser
import Foundation
import LoaCore
import LoaCrypto
import LoaOperations
import LoaStore

func fileSHA(_ path: String) throws -> String {
    try readFileBytes(path).withUnsafeBytes { sha256Hex($0) }
}

/// A path from the working directory, made absolute and tidy.
func absolutePath(_ path: String) -> String {
    ((path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path) as NSString).standardizingPath
}

/// Loads and checks a campaign file, refusing one with errors.
func checkedCampaign(_ file: String, units: AdministrativeUnits) throws -> LoadedCampaign {
    let loaded = try LoadedCampaign.load(file, units: units)
    for d in loaded.errors { printError(d.formatted(file: file)) }
    guard loaded.campaign != nil, loaded.errors.isEmpty else { throw CLIError("\(file): fix the errors above first (loa campaign check \(file))") }
    return loaded
}

struct CampaignSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Register a checked campaign file as a draft awaiting approval.")
    @Argument var file: String
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let loaded = try checkedCampaign(file, units: try loadUnits())
        let db = try store.open(create: true)
        let me = try actor.actor(db, needs: .draft)
        let record: Store.CampaignRecord
        // The absolute path: the console (another working directory) reads the file too.
        do { record = try db.submitCampaign(loaded.campaign!, file: absolutePath(file), sha256: loaded.sha256, by: me.name) } catch let e as StoreError { throw CLIError(e.description) }
        print("\(record.id): \(record.state.rawValue), drafted by \(record.draftedBy); a second person approves it with: loa campaign approve \(file) --as NAME")
    }
}

struct CampaignApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a submitted campaign (someone other than the drafter; the file must be unchanged).",
        discussion: "Ethnic-language variants must have been checked by a native translator (review: verified, reviewed_by: …)."
    )
    @Argument var file: String
    @Option(name: .long, help: "The province's policy file (default: $LOA_POLICY, or ./policy.yaml when present).") var policy: String?
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let loaded = try checkedCampaign(file, units: try loadUnits())
        let campaign = loaded.campaign!
        let rules = try PolicyFile.load(policy)
        let unreviewed = campaign.variants.filter { $0.value.review == .needsNativeReview }.keys.sorted()
        let db = try store.open()
        let me = try actor.actor(db, needs: .approve)
        do {
            let before = try db.campaignRecord(campaign.id)
            let record = try db.approveCampaign(campaign.id, sha256: loaded.sha256, by: me.name, unreviewed: unreviewed, emergency: rules.emergency)
            if before?.state != .draft, record.secondApprovedBy != nil {
                print("\(record.id): second approval by \(record.secondApprovedBy!) confirms \(record.approvedBy ?? "?")'s (emergency policy)")
            } else if let due = record.secondApprovalDue {
                print("\(record.id): approved by \(record.approvedBy ?? me.name) alone under the emergency policy (\(rules.path ?? "")); send it with: loa dispatch \(file)")
                print("  a second approver must confirm by \(Timestamp(seconds: due).iso8601()) (loa campaign approve \(file) --as ANOTHER), or nothing more is sent")
            } else {
                print("\(record.id): approved by \(record.approvedBy ?? me.name) (drafted by \(record.draftedBy)); send it with: loa dispatch \(file)")
            }
        } catch let e as StoreError { throw CLIError(e.description) }
    }
}

struct CampaignReject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Send a submitted campaign back to its drafter with the reason (an approver, not the drafter).")
    @Argument(help: "The campaign id.") var id: String
    @Option(name: .long, help: "Why (recorded in the audit trail, shown by loa campaign status).") var reason: String
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        let me = try actor.actor(db, needs: .approve)
        do {
            let record = try db.rejectCampaign(id, by: me.name, reason: reason)
            print("\(record.id): rejected by \(me.name) (drafted by \(record.draftedBy)); the drafter changes the file and submits it again")
        } catch let e as StoreError { throw CLIError(e.description) }
    }
}

struct CampaignControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "control", abstract: "Pause, resume or cancel a campaign, also mid-flight.")
    @Argument(help: "pause, resume or cancel") var action: String
    @Argument(help: "The campaign id.") var id: String
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard ["pause", "resume", "cancel"].contains(action) else { throw ValidationError("action: pause, resume or cancel") }
    }

    func run() async throws {
        let db = try store.open()
        let me = try actor.actor(db, needs: .operate)
        do {
            let record = try db.transitionCampaign(id, action, by: me.name)
            print("\(record.id): \(record.state.rawValue)")
        } catch let e as StoreError { throw CLIError(e.description) }
    }
}

struct CampaignStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "A campaign's state, its messages by carrier and state, and its audit trail.")
    @Argument var id: String
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let db = try store.open()
        guard let record = try db.campaignRecord(id) else { throw CLIError("no campaign \(id) in \(db.location)") }
        print("\(record.id): \(record.title)")
        print("  state \(record.state.rawValue), priority \(record.priority.rawValue), drafted by \(record.draftedBy), approved by \(record.approvedBy ?? "nobody yet")")
        if let due = record.secondApprovalDue {
            if let second = record.secondApprovedBy { print("  approved alone under the emergency policy; confirmed by \(second)") }
            else if record.awaitsOverdueConfirmation(now: Store.nowSeconds()) { print("  approved alone under the emergency policy; NO second approval by \(Timestamp(seconds: due).iso8601()): nothing more is sent until one comes") }
            else { print("  approved alone under the emergency policy; a second approver confirms by \(Timestamp(seconds: due).iso8601())") }
        }
        printDeliverySummary(try db.messageCounts(campaign: id))
        print("  audit trail:")
        for e in try db.auditTrail(campaign: id) { print("    \(e.at.iso8601())  \(e.actor.padding(toLength: max(12, e.actor.count), withPad: " ", startingAt: 0))  \(e.action)\(e.detail.isEmpty ? "" : ": \(e.detail)")") }
    }
}

func printDeliverySummary(_ counts: [String: [MessageState: Int]]) {
    let states: [MessageState] = [.planned, .submitted, .accepted, .delivered, .failed, .expired, .unknown, .noReceipt, .rejected]
    print("  " + "carrier".padding(toLength: 13, withPad: " ", startingAt: 0) + states.map { $0.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
    var totals: [MessageState: Int] = [:]
    for carrier in counts.keys.sorted() {
        let c = counts[carrier]!
        for (s, n) in c { totals[s, default: 0] += n }
        print("  " + carrier.padding(toLength: 13, withPad: " ", startingAt: 0) + states.map { formatCount(c[$0] ?? 0).padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
    }
    print("  " + "total".padding(toLength: 13, withPad: " ", startingAt: 0) + states.map { formatCount(totals[$0] ?? 0).padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
    let all = totals.values.reduce(0, +)
    if all > 0 {
        let delivered = totals[.delivered] ?? 0
        print("  delivered \(formatCount(delivered)) of \(formatCount(all)) (\(String(format: "%.1f", Double(delivered) * 100 / Double(all)))%)")
    }
}


/// `--as NAME` as a person: normalized, or refused with the reason.
func personName(_ raw: String) throws -> PersonName {
    do { return try PersonName(raw) } catch { throw ValidationError("--as: \(error) (found '\(Escaped(raw))')") }
}
