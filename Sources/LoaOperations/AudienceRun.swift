import Foundation
import Synchronization
import LoaCore
import LoaCrypto
import LoaStore

/// Selects a campaign's recipients from the store (rules 1–5).
public struct AudienceRun {
    public let campaign: Campaign
    public let area: AudienceArea
    public let units: AdministrativeUnits
    public let store: Store
    public let keys: OperatorKeys
    public let at: Timestamp
    /// Where the steps of a long selection are told; nil: silent.
    public var progress: ((String) -> Void)? = nil

    public init(campaign: Campaign, area: AudienceArea, units: AdministrativeUnits, store: Store, keys: OperatorKeys, at: Timestamp) {
        self.campaign = campaign
        self.area = area
        self.units = units
        self.store = store
        self.keys = keys
        self.at = at
    }

    public func run(sink: ((Recipient) throws -> Void)?) throws -> AudienceSummary {
        try run(sink: sink, render: nil)
    }

    /// Carriers with a carrier file but no presence seen in the campaign's window (`seen_within`
    /// before `at`): none of their subscribers can be selected (a snapshot not imported, or
    /// purged by the retention). Empty for an audience of contact lists only.
    public func carriersWithoutPresence() throws -> [Carrier] {
        if area.isEmpty { return [] }
        let reachable = try store.presenceCarriers(seenFrom: at - campaign.audience.seenWithin, to: at)
        return keys.carriers.filter { !reachable.contains($0) }.sorted { $0.rawValue < $1.rawValue }
    }

    public func noPresenceMessage(_ carriers: [Carrier]) -> String {
        "no presence seen between \((at - campaign.audience.seenWithin).iso8601()) and \(at.iso8601()) (the campaign's seen_within) for "
            + "\(carriers.map(\.rawValue).joined(separator: ", ")): none of their subscribers can be selected. Import a current snapshot "
            + "(loa import presence FILE --carrier X); an older one is purged by the retention"
    }

    /// Runs the selection; `render` receives the selector to render texts per recipient.
    public func run(sink: ((Recipient) throws -> Void)?, render: ((RecipientSelector, Recipient) throws -> Void)?) throws -> AudienceSummary {
        let db = store
        let cells = try db.cells()
        let keys = self.keys.pseudonymKeys
        func missingKey(_ carrier: Carrier) -> String { "\(carrier.rawValue) (\(self.keys.keySource(carrier)))" }
        let clear = try db.clearNumbers()
        if clear.optOuts + clear.contacts > 0 {
            _ = try self.keys.requireContactVault(for: "this store still holds \(formatCount(clear.optOuts + clear.contacts)) clear numbers from an earlier loa (do-not-call list, contact lists); sealing and using them")
        }
        // Opt-outs are matched through the carriers' keys: without a carrier's key loa cannot tell
        // who of its subscribers opted out, so it refuses to select rather than message them.
        var optOuts = Set<CarrierPseudonym>()
        let optedOut = try db.doNotCallCount()
        if campaign.limits.respectDoNotCall && optedOut > 0 {
            let vault = try self.keys.requireContactVault(for: "applying the do-not-call list (\(formatCount(optedOut)) numbers)")
            let reachable = try db.presenceCarriers(seenFrom: at - campaign.audience.seenWithin, to: at)
            let missing = reachable.filter { keys[$0] == nil }.sorted { $0.rawValue < $1.rawValue }
            if !missing.isEmpty {
                throw OperationError(.optOutsCannotBeApplied, """
                    the do-not-call list (\(formatCount(optedOut)) numbers) cannot be applied to \(missing.map(missingKey).joined(separator: "; ")): \
                    loa refuses to select recipients rather than message someone who opted out. Set the key, or remove that carrier's presence data
                    """)
            }
            optOuts = try db.optOuts(keys: keys, vault: vault)
        }
        let known = try db.contactListNames()
        for list in campaign.audience.contactLists where known[list] == nil {
            throw OperationError(.unknownContactList, "contact list '\(list)' is not in the store (import it with: loa import contacts FILE --list \(list))")
        }
        var contactKeys: [ContactKeys] = []
        if !campaign.audience.contactLists.isEmpty {
            let vault = try self.keys.requireContactVault(for: "reading contact lists")
            for c in try db.contacts(lists: campaign.audience.contactLists, vault: vault) {
                let pseudonyms = keys.map { CarrierPseudonym(carrier: $0.key, subscriber: $0.value.pseudonym(for: c.msisdn)) }
                guard let entry = ContactKeys(contact: c, pseudonyms: pseudonyms) else {
                    throw OperationError(.contactWithoutKey, "contact list '\(c.list)' has members on \(missingKey(c.carrier)): without that key loa can neither send to them nor apply their opt-outs")
                }
                contactKeys.append(entry)
            }
        }
        let (mask, cellCounts) = area.selection(cells)
        progress?("audience cells: \(formatCount(cellCounts.total)) of \(formatCount(cells.count)); reading the latest presence…")
        // The stated languages load on a second connection while the presence is read (two scans, two cores).
        final class Loaded: Sendable { let preferences = Mutex<Result<LanguagePreferences, any Error>>(.success(LanguagePreferences())) }
        let loaded = Loaded()
        let location = store.givenLocation
        let done = DispatchSemaphore(value: 0)
        Thread {
            let result = Result { try Store(location: location, create: false).languagePreferences() }
            loaded.preferences.withLock { $0 = result }
            done.signal()
        }.start()
        let latest: LatestPresence
        do { latest = try db.latestPresence(at: at, seenWithin: campaign.audience.seenWithin) } catch { done.wait(); throw error }
        done.wait()
        progress?("selecting among \(formatCount(latest.count)) subscribers seen in the window…")
        var selector = RecipientSelector(campaign: campaign, units: units, carriers: Store.carriers, cells: cells,
                                         audienceCells: mask, optOuts: optOuts, preferences: try loaded.preferences.withLock { $0 }.get())
        let frozen = selector
        var summary = try selector.select(latest: latest, contacts: contactKeys) { r in
            try sink?(r)
            try render?(frozen, r)
        }
        summary.audienceCells = cellCounts
        return summary
    }
}

