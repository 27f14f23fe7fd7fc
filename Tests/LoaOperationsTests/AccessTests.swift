import Foundation
import Testing
import LoaCore
import LoaOperations
import LoaStore
import LoaCrypto
import LoaTestSupport

/// Users, roles and tokens: who may do what, and what a refusal leaves behind.
@Suite("Users and roles (SQLite and PostgreSQL)")
struct AccessTests {
    /// A store with an admin, a drafter, two approvers, an operator and an auditor, each with a token.
    func staffed(_ engine: StoreEngine) throws -> (Store, [String: String], String) {
        let location = try engine.scratchLocation()
        let store = try Store(location: location)
        _ = try store.addUser(try PersonName("Admin"), role: .admin, osUser: "loa-admin", by: nil)
        var tokens = ["Admin": try store.issueToken(for: "Admin", by: "Admin")]
        for (name, role) in [("Lan", Role.drafter), ("Minh", .approver), ("Hà", .approver), ("Op", .operator), ("Kiểm", .auditor)] {
            _ = try store.addUser(try PersonName(name), role: role, osUser: nil, by: "Admin")
            tokens[name] = try store.issueToken(for: name, by: "Admin")
        }
        return (store, tokens, location)
    }

    func act(_ store: Store, _ name: String?, _ token: String?, os: String? = nil, _ p: Permission) -> Result<Actor, OperationError> {
        Result { try Access.actor(store: store, as: name, token: token, osUser: os, needs: p) }.mapError { $0 as! OperationError }
    }

    @Test("every role rule: who may draft, approve, operate, audit, export unmasked and manage users", arguments: StoreEngine.available)
    func roleRules(engine: StoreEngine) throws {
        let (store, tokens, _) = try staffed(engine)
        let allowed: [String: Set<Permission>] = [
            "Lan": [.read, .draft], "Minh": [.read, .draft, .approve], "Op": [.read, .operate],
            "Kiểm": [.read, .audit, .exportUnmasked], "Admin": [.read, .operate, .audit, .manageUsers],
        ]
        for (name, permitted) in allowed {
            for p in Permission.allCases {
                let result = act(store, name, tokens[name], p)
                if permitted.contains(p) {
                    #expect((try? result.get())?.name == name, "\(name) may \(p)")
                } else {
                    #expect(result.failureCode == .notPermitted, "\(name) may not \(p)")
                }
            }
        }
        // The refusal names the role and who may.
        #expect(act(store, "Lan", tokens["Lan"], .approve).failureMessage == "Lan is a drafter and may not approve or reject campaigns (roles that may: approver)")
        #expect(try store.auditEntries().compactMap(\.entry).filter { $0.action == "permission-refused" }.count == 21 + 1)
    }

    @Test("nobody approves their own campaign, an approver approves another's", arguments: StoreEngine.available)
    func secondPerson(engine: StoreEngine) throws {
        let (store, tokens, _) = try staffed(engine)
        let minh = try act(store, "Minh", tokens["Minh"], .draft).get()
        _ = try store.submitCampaign(id: "c", title: "c", priority: .routine, file: "c.yaml", sha256: "abc", by: minh.name)
        let again = try act(store, "minh", tokens["Minh"], .approve).get()
        #expect(throws: StoreError.self) { try store.approveCampaign("c", sha256: "abc", by: again.name, unreviewed: []) }
        let ha = try act(store, "Hà", tokens["Hà"], .approve).get()
        #expect(try store.approveCampaign("c", sha256: "abc", by: ha.name, unreviewed: []).approvedBy == "Hà")
    }

    @Test("an approver rejects a draft with the reason (never the drafter); the drafter submits it again as a draft", arguments: StoreEngine.available)
    func reject(engine: StoreEngine) throws {
        let (store, _, _) = try staffed(engine)
        _ = try store.submitCampaign(id: "c", title: "c", priority: .routine, file: "c.yaml", sha256: "abc", by: "Lan")
        #expect(throws: StoreError.self) { try store.rejectCampaign("c", by: "lan", reason: "mine") }
        #expect(throws: StoreError.self) { try store.rejectCampaign("c", by: "Minh", reason: "  ") }
        #expect(try store.rejectCampaign("c", by: "Minh", reason: "sai tên xã").state == .rejected)
        #expect(throws: StoreError.self) { try store.approveCampaign("c", sha256: "abc", by: "Hà", unreviewed: []) }
        #expect(try store.submitCampaign(id: "c", title: "c", priority: .routine, file: "c.yaml", sha256: "def", by: "Lan").state == .draft)
        #expect(try store.approveCampaign("c", sha256: "def", by: "Hà", unreviewed: []).state == .approved)
        let trail = try store.auditEntries(campaign: "c").compactMap(\.entry).map { "\($0.actor) \($0.action): \($0.detail)" }
        #expect(trail == ["Lan submit: file sha256 abc", "Minh reject: drafted by Lan: sai tên xã", "Lan resubmit: file sha256 def", "Hà approve: drafted by Lan; file sha256 def"])
    }

    @Test("emergency policy: one approver sends an emergency at once (their own too), a second confirms; overdue, nothing more is sent",
          arguments: StoreEngine.available)
    func emergencyAlone(engine: StoreEngine) throws {
        let (store, _, _) = try staffed(engine)
        let policy = EmergencyApproval(window: 1800)
        _ = try store.submitCampaign(id: "e", title: "e", priority: .emergency, file: "e.yaml", sha256: "abc", by: "Minh")
        _ = try store.submitCampaign(id: "r", title: "r", priority: .routine, file: "r.yaml", sha256: "abc", by: "Minh")
        #expect(throws: StoreError.self) { try store.approveCampaign("e", sha256: "abc", by: "Minh", unreviewed: []) }
        #expect(throws: StoreError.self) { try store.approveCampaign("r", sha256: "abc", by: "Minh", unreviewed: [], emergency: policy) }
        let now = Store.nowSeconds()
        let alone = try store.approveCampaign("e", sha256: "abc", by: "Minh", unreviewed: [], emergency: policy, now: now)
        #expect(alone.state == .approved && alone.secondApprovalDue == now + 1800 && alone.secondApprovedBy == nil)
        #expect(throws: StoreError.self) { try store.approveCampaign("e", sha256: "abc", by: "minh", unreviewed: [], emergency: policy) }
        #expect(try store.approveCampaign("e", sha256: "abc", by: "Hà", unreviewed: [], emergency: policy).secondApprovedBy == "Hà")
        let trail = try store.auditEntries(campaign: "e").compactMap(\.entry).map(\.action)
        #expect(trail == ["submit", "approve", "second-approve"])

        // Approved alone an hour ago with a 30-minute window, never confirmed: claims skip it, the gate refuses.
        _ = try store.submitCampaign(id: "late", title: "late", priority: .emergency, file: "late.yaml", sha256: "abc", by: "Minh")
        _ = try store.approveCampaign("late", sha256: "abc", by: "Minh", unreviewed: [], emergency: policy, now: now - 3600)
        _ = try store.transitionCampaign("late", "start", by: "Op")
        _ = try store.planMessages(campaign: "late", priority: .emergency, day: 1, capPerDay: 1, [
            PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: 1, w1: 1, w2: 1, w3: 1).description, language: "vi", commune: 23377,
                           text: "t", encoding: .gsm7, segments: 1)])
        #expect(try store.claimBatch(carrier: .viettel, limit: 10) == nil)
        #expect(try store.hasWork(carrier: .viettel) == false)
        #expect(try store.campaignRecord("late")?.awaitsOverdueConfirmation(now: now) == true)
        var refused: OperationError.Code? = nil
        do { _ = try CampaignDispatch(store: store).step(for: campaign(id: "late"), file: "late.yaml", sha256: "abc", at: Timestamp(seconds: now)) } catch {
            refused = (error as? OperationError)?.code
        }
        #expect(refused == .notSendable)
        _ = try store.approveCampaign("late", sha256: "abc", by: "Hà", unreviewed: [], emergency: policy)
        #expect(try store.claimBatch(carrier: .viettel, limit: 10)?.messages.count == 1)
    }

    @Test("a wrong token is refused and audited; five failures lock the user out for 15 minutes, the right token too", arguments: StoreEngine.available)
    func throttled(engine: StoreEngine) throws {
        let (store, tokens, _) = try staffed(engine)
        for _ in 0..<5 { #expect(act(store, "Op", "loa_wrong", .operate).failureMessage == "the token given is not Op's (--token-file FILE or LOA_TOKEN)") }
        let locked = act(store, "Op", tokens["Op"], .operate)
        #expect(locked.failureCode == .notSignedIn)
        #expect(locked.failureMessage?.hasPrefix("too many failed sign-ins for Op: try again after ") == true)
        #expect(try store.auditEntries().compactMap(\.entry).filter { $0.action == "sign-in-refused" && $0.actor == "Op" }.count == 6)
        // Another user is not locked out; after the window the right token works again.
        #expect((try? act(store, "Lan", tokens["Lan"], .draft).get())?.name == "Lan")
        #expect(try store.signIn("Op", token: tokens["Op"], now: Store.nowSeconds() + 901).name == "Op")
        #expect(SignInThrottle().lockedUntil(failures: [100, 200, 300, 400, 500], now: 600) == 1000)
        #expect(SignInThrottle().lockedUntil(failures: [100, 200, 300, 400], now: 600) == nil)
    }

    @Test("tokens: the store keeps only their SHA-256; a new one replaces the old; a disabled user cannot act", arguments: StoreEngine.available)
    func tokens(engine: StoreEngine) throws {
        let (store, tokens, location) = try staffed(engine)
        let stored = try rawConnection(to: location).query("SELECT name, token_sha256 FROM users") { ($0.text(0), $0.text(1)) }
        for (name, hash) in stored {
            let token = try #require(tokens[name])
            #expect(token.hasPrefix("loa_") && token.count == 68)
            #expect(hash == sha256Text(token))
            #expect(!hash.contains(token.dropFirst(4)))
        }
        let newer = try store.issueToken(for: "Op", by: "Admin")
        #expect(act(store, "Op", tokens["Op"], .operate).failureCode == .notSignedIn)
        #expect((try? act(store, "Op", newer, .operate).get())?.proof == .token)
        try store.disableUser("Op", by: "Admin")
        #expect(act(store, "Op", newer, .operate).failureMessage == "the user Op is disabled")
        // The last admin cannot be disabled or demoted.
        #expect(throws: StoreError.self) { try store.disableUser("Admin", by: "Admin") }
        #expect(throws: StoreError.self) { try store.setRole(of: "Admin", to: .auditor, by: "Admin") }
    }

    @Test("modes: no users takes --as at its word (never for unmasked exports); the first user is an admin; an account mapped to a user acts as that user only",
          arguments: StoreEngine.available)
    func modes(engine: StoreEngine) throws {
        let store = try Store(location: try engine.scratchLocation())
        #expect(try act(store, "Lan", nil, .approve).get() == Actor(name: "Lan", role: nil, proof: .openInstall))
        #expect(act(store, "Lan", nil, .exportUnmasked).failureCode == .notPermitted)
        #expect(throws: StoreError.self) { try store.addUser(try PersonName("Lan"), role: .drafter, osUser: nil, by: nil) }
        _ = try store.addUser(try PersonName("Admin"), role: .admin, osUser: nil, by: nil)
        #expect(throws: StoreError.self) { try store.addUser(try PersonName("Other"), role: .admin, osUser: nil, by: nil) }
        _ = try store.addUser(try PersonName("Op"), role: .operator, osUser: "ubuntu", by: "Admin")
        #expect(act(store, "Lan", nil, .approve).failureCode == .notSignedIn)
        #expect(try act(store, nil, nil, os: "ubuntu", .operate).get() == Actor(name: "Op", role: .operator, proof: .operatingSystemAccount("ubuntu")))
        #expect(try act(store, "op", nil, os: "ubuntu", .operate).get().name == "Op")
        #expect(act(store, "Admin", nil, os: "ubuntu", .manageUsers).failureMessage == "this account (ubuntu) acts as Op; to act as Admin give their token (--token-file FILE or LOA_TOKEN)")
        #expect(act(store, nil, nil, os: "other", .operate).failureCode == .notSignedIn)
        let actions = try store.auditEntries().compactMap(\.entry).map(\.action)
        #expect(actions == ["user-add", "user-add"])
    }

    func sha256Text(_ s: String) -> String {
        var d = Array(s.utf8)
        return d.withUnsafeMutableBytes { sha256Hex(UnsafeRawBufferPointer($0)) }
    }
}

extension Result where Failure == OperationError {
    var failureCode: OperationError.Code? { if case .failure(let e) = self { e.code } else { nil } }
    var failureMessage: String? { if case .failure(let e) = self { e.message } else { nil } }
}
