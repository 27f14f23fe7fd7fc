import Foundation
import Hummingbird
import LoaCarriers
import LoaConsole
import LoaCore
import LoaCrypto
import LoaOperations
import LoaReference
import LoaServer
import LoaStore
import LoaTestSupport
import Synchronization
import Testing

let units = try! ReferenceData.administrativeUnits()

/// The console's clock, moved by the test.
final class TestClock: Sendable {
    let seconds = Mutex<Int64>(1_790_000_000)
    func advance(_ by: Int64) { seconds.withLock { $0 += by } }
    var now: Int64 { seconds.withLock { $0 } }
}

/// One user of the console over real HTTP on loopback: a cookie jar of one cookie.
struct Visitor {
    let port: Int
    var cookie: String? = nil

    struct Page {
        var status: Int
        var headers: [String: String]
        var body: String
        /// The session's CSRF token, as the page's forms carry it.
        var csrf: String? {
            guard let r = body.range(of: "name=\"csrf\" value=\"") else { return nil }
            return String(body[r.upperBound...].prefix { $0 != "\"" })
        }
    }

    func get(_ path: String) async throws -> Page {
        let headers = cookie.map { [("Cookie", $0)] } ?? []
        let port = port
        let a = try await onThread { try CurlClient(.init(timeout: 30)).get("http://127.0.0.1:\(port)\(path)", headers: headers) }
        return Page(status: a.status, headers: a.headers, body: String(decoding: a.body, as: UTF8.self))
    }

    func post(_ path: String, _ fields: [(String, String)], origin: String? = nil) async throws -> Page {
        var fields_ = [("Content-Type", "application/x-www-form-urlencoded")]
        if let cookie { fields_.append(("Cookie", cookie)) }
        if let origin { fields_.append(("Origin", origin)) }
        let headers = fields_
        let body = Array(fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&").utf8)
        let port = port
        let a = try await onThread { try CurlClient(.init(timeout: 30)).post("http://127.0.0.1:\(port)\(path)", headers: headers, body: body) }
        return Page(status: a.status, headers: a.headers, body: String(decoding: a.body, as: UTF8.self))
    }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.subtracting(CharacterSet(charactersIn: "+&=")))!
    }

    /// Signs in; the session cookie is kept.
    mutating func signIn(_ name: String, _ token: String) async throws {
        let answer = try await post("/login", [("name", name), ("token", token), ("next", "/")])
        guard answer.status == 303, let set = answer.headers["set-cookie"] else { throw StoreError.input("sign-in as \(name): \(answer.status) \(answer.body)") }
        cookie = String(set.prefix { $0 != ";" })
    }
}

/// A store with one user per role, a console over it on loopback, and a campaigns directory.
struct ConsoleFixture {
    let location: String
    let store: Store
    let tokens: [String: String]
    let clock = TestClock()
    let server = BackgroundServer()
    let port: Int
    let directory: String
    let console: Console

    static let prices = CampaignReport.Prices(perSegment: ["viettel": ["ucs2": 350, "gsm7": 350], "mobifone": ["gsm7": 300, "ucs2": 300]],
                                              currency: "VND", carrierNames: ["viettel": "Viettel", "mobifone": "MobiFone"])

    init(_ engine: StoreEngine) async throws {
        location = try engine.scratchLocation()
        store = try Store(location: location)
        _ = try store.addUser(try PersonName("quan.tri"), role: .admin, osUser: nil, by: nil)
        var tokens = ["quan.tri": try store.issueToken(for: "quan.tri", by: "quan.tri")]
        for (name, role) in [("lan", Role.drafter), ("minh", .approver), ("hung", .operator), ("thu", .auditor)] {
            _ = try store.addUser(try PersonName(name), role: role, osUser: nil, by: "quan.tri")
            tokens[name] = try store.issueToken(for: name, by: "quan.tri")
        }
        self.tokens = tokens
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("loa-console-\(UUID().uuidString)").path
        let clock = clock
        console = try Console(ConsoleSettings(storeLocation: location, campaignsDirectory: directory, units: units, prices: Self.prices,
                                          tps: ["viettel": 100, "mobifone": 50], clock: { clock.now }))
        let router = Router()
        console.addRoutes(to: router)
        port = try await server.start(router)
    }

    func visitor(_ name: String? = nil) async throws -> Visitor {
        var v = Visitor(port: port)
        if let name { try await v.signIn(name, tokens[name]!) }
        return v
    }

    /// The form of a valid campaign; `changes` replaces fields.
    static func form(_ changes: [String: String] = [:]) -> [(String, String)] {
        var f: [String: String] = [
            "id": "lu-quet-2026", "title": "Cảnh báo lũ quét", "purpose": "disaster", "office": "Sở Văn hóa, Thể thao và Du lịch tỉnh Quảng Ngãi", "legal_basis": "Kế hoạch 220/KH-UBND",
            "sender": "QUANGNGAI", "priority": "emergency", "communes": "23377, 23392",
            "start": "2026-09-12T07:00", "end": "2026-09-13T20:00", "windows": "07:00-21:00",
            "text_vi": "UBND {commune}: lũ quét có thể xảy ra. Di chuyển lên vùng cao, không qua suối.", "text_en": "",
        ]
        for (k, v) in changes { f[k] = v }
        return f.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

@Suite("The operator console over HTTP: sign-in, roles, CSRF, campaigns, reports, metrics (SQLite and PostgreSQL)")
struct ConsoleTests {
    @Test("sign-in with a loa user and token; the session cookie is HttpOnly and SameSite; sessions expire; sign-out ends them",
          arguments: StoreEngine.available)
    func sessions(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        var anonymous = try await f.visitor()
        let away = try await anonymous.get("/reports/annual?year=2026")
        #expect(away.status == 303)
        #expect(away.headers["location"] == "/login?next=/reports/annual%3Fyear%3D2026")
        #expect(try await anonymous.get("/campaigns/x/live.json").status == 401)
        let wrong = try await anonymous.post("/login", [("name", "lan"), ("token", "loa_" + String(repeating: "0", count: 64))])
        #expect(wrong.status == 401)
        #expect(wrong.headers["set-cookie"] == nil)
        #expect(wrong.body.contains("Không đăng nhập được"))
        let ok = try await anonymous.post("/login", [("name", "lan"), ("token", f.tokens["lan"]!), ("next", "/reports/annual?year=2026")])
        #expect(ok.status == 303)
        #expect(ok.headers["location"] == "/reports/annual?year=2026")
        let cookie = try #require(ok.headers["set-cookie"])
        #expect(cookie.hasSuffix("; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"))
        // Somewhere else after signing in: only paths on this site.
        let elsewhere = try await anonymous.post("/login", [("name", "lan"), ("token", f.tokens["lan"]!), ("next", "//evil.example/x")])
        #expect(elsewhere.headers["location"] == "/")
        anonymous.cookie = String(cookie.prefix { $0 != ";" })
        let home = try await anonymous.get("/")
        #expect(home.status == 200)
        #expect(home.body.contains("<span>lan · soạn thảo</span>"))
        #expect(home.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        // 29 minutes idle: still signed in; then 31 more: out.
        f.clock.advance(29 * 60)
        #expect(try await anonymous.get("/").status == 200)
        f.clock.advance(31 * 60)
        #expect(try await anonymous.get("/").status == 303)
        // Sign-out with the page's token ends the session at once.
        var lan = try await f.visitor("lan")
        let csrf = try #require(try await lan.get("/").csrf)
        let out = try await lan.post("/logout", [("csrf", csrf)])
        #expect(out.status == 303)
        #expect(try await lan.get("/").status == 303)
        // A disabled user's session ends on the next request.
        let minh = try await f.visitor("minh")
        #expect(try await minh.get("/").status == 200)
        try f.store.disableUser("minh", by: "quan.tri")
        #expect(try await minh.get("/").status == 303)
        lan.cookie = nil
    }

    @Test("every route checks the role: drafters draft, approvers approve, operators operate, auditors audit; refusals are audited",
          arguments: StoreEngine.available)
    func roles(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        let lan = try await f.visitor("lan"), minh = try await f.visitor("minh"), hung = try await f.visitor("hung"), thu = try await f.visitor("thu")
        let admin = try await f.visitor("quan.tri")
        let created = try await lan.post("/campaigns/new", ConsoleFixture.form() + [("csrf", try await lan.get("/campaigns/new").csrf!)])
        #expect(created.status == 303, "\(created.body)")
        // Pages every role may read.
        for v in [lan, minh, hung, thu, admin] {
            for path in ["/", "/campaigns/lu-quet-2026", "/campaigns/lu-quet-2026/report", "/campaigns/lu-quet-2026/report.csv", "/reports/annual", "/campaigns/lu-quet-2026/live.json"] {
                #expect(try await v.get(path).status == 200, "\(path)")
            }
        }
        let expected: [(String, String, Int)] = [
            ("hung", "/campaigns/new", 403), ("thu", "/campaigns/new", 403), ("minh", "/campaigns/new", 200), ("lan", "/campaigns/new", 200),
            ("lan", "/audit", 403), ("minh", "/audit", 403), ("hung", "/audit", 403), ("thu", "/audit", 200), ("quan.tri", "/audit", 200),
        ]
        let visitors = ["lan": lan, "minh": minh, "hung": hung, "thu": thu, "quan.tri": admin]
        for (who, path, status) in expected {
            #expect(try await visitors[who]!.get(path).status == status, "\(who) \(path)")
        }
        // Actions: the wrong role gets 403 and nothing changes.
        for (who, action) in [("lan", "approve"), ("hung", "approve"), ("thu", "reject"), ("lan", "pause"), ("minh", "cancel"), ("thu", "cancel")] {
            let v = visitors[who]!
            let csrf = try #require(try await v.get("/").csrf)
            let answer = try await v.post("/campaigns/lu-quet-2026/\(action)", [("csrf", csrf), ("reason", "x")])
            #expect(answer.status == 403, "\(who) \(action)")
        }
        #expect(try f.store.campaignRecord("lu-quet-2026")?.state == .draft)
        let refusals = try f.store.auditEntries().compactMap(\.entry).filter { $0.action == "permission-refused" }
        #expect(refusals.count == 11)
        #expect(refusals.first?.detail == "console /campaigns/new: an operator may not submit campaigns")
        // The pages offer only what the role may do.
        let forMinh = try await minh.get("/campaigns/lu-quet-2026").body
        #expect(forMinh.contains("id=\"approve\"") && !forMinh.contains("/pause\""))
        let forHung = try await hung.get("/campaigns/lu-quet-2026").body
        #expect(!forHung.contains("id=\"approve\"") && forHung.contains("/cancel\""))
    }

    @Test("a form without the session's CSRF token, or posted from another site, changes nothing", arguments: StoreEngine.available)
    func csrf(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        let lan = try await f.visitor("lan"), minh = try await f.visitor("minh")
        #expect(try await lan.post("/campaigns/new", ConsoleFixture.form() + [("csrf", try await lan.get("/").csrf!)]).status == 303)
        let other = try await f.visitor("minh")
        let theirs = try #require(try await other.get("/").csrf)
        #expect(try await minh.post("/campaigns/lu-quet-2026/approve", []).status == 403)
        #expect(try await minh.post("/campaigns/lu-quet-2026/approve", [("csrf", "0" + theirs.dropFirst())]).status == 403)
        // Another session's token is not this session's.
        let mine = try #require(try await minh.get("/").csrf)
        #expect(mine != theirs)
        #expect(try await minh.post("/campaigns/lu-quet-2026/approve", [("csrf", theirs)]).status == 403)
        #expect(try await minh.post("/campaigns/lu-quet-2026/approve", [("csrf", mine)], origin: "http://evil.example").status == 403)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.state == .draft)
        let approved = try await minh.post("/campaigns/lu-quet-2026/approve", [("csrf", mine)], origin: "http://127.0.0.1:\(f.port)")
        #expect(approved.status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.state == .approved)
    }

    @Test("a campaign from the form: each error beside its field, then a draft on disk and in the store; uploaded files too; approve, reject, pause, resume, cancel",
          arguments: StoreEngine.available)
    func campaignLifecycle(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        let lan = try await f.visitor("lan"), minh = try await f.visitor("minh"), hung = try await f.visitor("hung")
        let csrf = try #require(try await lan.get("/campaigns/new").csrf)
        let bad = try await lan.post("/campaigns/new", ConsoleFixture.form(["sender": "QUANG NGAI PROVINCE", "communes": "99999"]) + [("csrf", csrf)])
        #expect(bad.status == 422)
        #expect(bad.body.contains("<div class=\"field invalid\"><label for=\"f-sender\">"))
        #expect(bad.body.contains("<div class=\"field invalid\"><label for=\"f-communes\">"))
        #expect(!bad.body.contains("<div class=\"field invalid\"><label for=\"f-title\">"))
        #expect(bad.body.contains("id=\"err-sender\""))
        #expect(bad.body.contains("value=\"QUANG NGAI PROVINCE\""), "the form keeps what was typed")
        #expect(!FileManager.default.fileExists(atPath: "\(f.directory)/lu-quet-2026.yaml"))
        #expect(try f.store.campaignRecord("lu-quet-2026") == nil)
        let good = try await lan.post("/campaigns/new", ConsoleFixture.form() + [("csrf", csrf)])
        #expect(good.status == 303)
        #expect(good.headers["location"] == "/campaigns/lu-quet-2026")
        let record = try #require(try f.store.campaignRecord("lu-quet-2026"))
        #expect(record.state == .draft)
        #expect(record.draftedBy == "lan")
        let written = try #require(FileManager.default.contents(atPath: "\(f.directory)/lu-quet-2026.yaml"))
        #expect(record.fileSHA256 == written.withUnsafeBytes { sha256Hex($0) })
        #expect(try f.store.campaignFile("lu-quet-2026") == "\(f.directory)/lu-quet-2026.yaml")
        // The page previews each variant: UCS-2, its parts and cost, and the text without diacritics.
        let page = try await lan.get("/campaigns/lu-quet-2026").body
        #expect(page.contains("<td class=\"n\" data-k=\"segments\">2</td>"), "\(page)")
        #expect(page.contains("UBND Xa "))
        // Upload: the YAML text wins over the form; its errors come with line and column.
        let yaml = String(decoding: written, as: UTF8.self).replacingOccurrences(of: "lu-quet-2026", with: "lu-quet-2026-b")
        let broken = yaml.replacingOccurrences(of: "sender: \"QUANGNGAI\"", with: "sender: \"\"")
        let refused = try await lan.post("/campaigns/new", [("csrf", csrf), ("yaml", broken)])
        #expect(refused.status == 422)
        #expect(refused.body.contains("tệp:8:9: error: sender: "), "\(refused.body)")
        #expect(try await lan.post("/campaigns/new", [("csrf", csrf), ("yaml", yaml)]).status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026-b")?.state == .draft)
        // Reject needs a reason; a rejected campaign goes back to its drafter.
        let mc = try #require(try await minh.get("/").csrf)
        let noReason = try await minh.post("/campaigns/lu-quet-2026-b/reject", [("csrf", mc), ("reason", "  ")])
        #expect(noReason.status == 422)
        #expect(try await minh.post("/campaigns/lu-quet-2026-b/reject", [("csrf", mc), ("reason", "Sai xã")]).status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026-b")?.state == .rejected)
        #expect(try f.store.auditTrail(campaign: "lu-quet-2026-b").last?.detail.contains("Sai xã") == true)
        // Approval by the second person, then the operator's controls.
        #expect(try await minh.post("/campaigns/lu-quet-2026/approve", [("csrf", mc)]).status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.approvedBy == "minh")
        let again = try await minh.post("/campaigns/lu-quet-2026/approve", [("csrf", mc)])
        #expect(again.status == 409)
        #expect(again.body.contains("class=\"problem\""))
        let hc = try #require(try await hung.get("/").csrf)
        #expect(try await hung.post("/campaigns/lu-quet-2026/pause", [("csrf", hc)]).status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.state == .paused)
        #expect(try await hung.post("/campaigns/lu-quet-2026/resume", [("csrf", hc)]).status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.state == .sending)
        #expect(try await hung.post("/campaigns/lu-quet-2026/cancel", [("csrf", hc)]).status == 303)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.state == .cancelled)
        // A cancelled campaign's file cannot be replaced through the form.
        let replaced = try await lan.post("/campaigns/new", ConsoleFixture.form(["title": "Khác"]) + [("csrf", csrf)])
        #expect(replaced.status == 422)
        #expect(try f.store.campaignRecord("lu-quet-2026")?.title == "Cảnh báo lũ quét")
    }

    /// Viettel: 5 messages (Bờ Y, vi, UCS-2), 4 sent: 3 delivered, 1 failed, 1 still planned.
    /// MobiFone: 2 sent (another commune, GSM-7, 2 parts), 1 delivered, 1 pending.
    func deliveries(_ store: Store) throws {
        try addSendingCampaign(store, id: "c", title: "Lũ quét", priority: .emergency)
        var planned: [PlannedMessage] = []
        for i in 0..<5 {
            planned.append(PlannedMessage(carrier: .viettel, subscriber: Pseudonym(w0: UInt64(i), w1: 1, w2: 1, w3: 1).description,
                                          language: "vi", commune: 23377, text: "Xã Bờ Y", encoding: .ucs2, segments: 1))
        }
        for i in 0..<2 {
            planned.append(PlannedMessage(carrier: .mobifone, subscriber: Pseudonym(w0: UInt64(i), w1: 2, w2: 2, w3: 2).description,
                                          language: "vi", commune: 23392, text: "Xa", encoding: .gsm7, segments: 2))
        }
        _ = try store.planMessages(campaign: "c", priority: .emergency, day: 1, capPerDay: 1, planned)
        let v = try #require(try store.claimBatch(carrier: .viettel, limit: 4))
        try store.batchAccepted(v.id, status: 202, rejected: [:])
        _ = try store.recordReceipts(carrier: .viettel, v.refs.enumerated().map {
            ReceiptRecord(messageRef: $0.element.description, status: $0.offset < 3 ? .delivered : .failed, at: nil, reason: $0.offset < 3 ? nil : "absent subscriber")
        })
        let m = try #require(try store.claimBatch(carrier: .mobifone, limit: 2))
        try store.batchAccepted(m.id, status: 202, rejected: [:])
        _ = try store.recordReceipts(carrier: .mobifone, [ReceiptRecord(messageRef: m.refs[0].description, status: .delivered, at: nil, reason: nil)])
    }

    @Test("the report page shows the numbers of the report's JSON; CSV for Excel; the live view and /metrics count the same messages",
          arguments: StoreEngine.available)
    func reportsLiveAndMetrics(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        try deliveries(f.store)
        let thu = try await f.visitor("thu")
        let page = try await thu.get("/campaigns/c/report?by=carrier")
        #expect(page.status == 200)
        let json = try await thu.get("/campaigns/c/report.json?by=carrier")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any])
        let total = try #require(report["total"] as? [String: Any])
        // Every count in the page's total row is the JSON's.
        let footer = try #require(page.body.range(of: "<tfoot>").map { String(page.body[$0.upperBound...]) })
        for key in ["recipients", "sent", "delivered", "failed", "pending", "rejected", "expired", "planned"] {
            let value = total[key] as? Int
            #expect(footer.contains("data-k=\"\(key)\" data-v=\"\(value ?? -1)\""), "\(key)")
        }
        #expect(total["recipients"] as? Int == 7)
        #expect(total["delivered"] as? Int == 4)
        #expect(footer.contains("<td class=\"n\" data-k=\"delivery_rate\">66,7 %</td>"))
        #expect(footer.contains("<td class=\"n\" data-k=\"cost\">2.600</td>"))
        #expect(page.body.contains("<svg class=\"chart\""))
        let byHour = try await thu.get("/campaigns/c/report?by=hour")
        #expect(byHour.body.contains("aria-labelledby=\"chart-time\""))
        let csv = try await thu.get("/campaigns/c/report.csv?by=commune")
        #expect(csv.headers["content-type"] == "text/csv; charset=utf-8")
        #expect(csv.headers["content-disposition"] == "attachment; filename=\"c-commune.csv\"")
        #expect(csv.body.hasPrefix("\u{FEFF}commune,name,province,recipients"))
        // Live: counts per carrier and state.
        let live = try await thu.get("/campaigns/c/live.json")
        #expect(live.body == """
            {"campaign":"c","state":"sending","carriers":[{"carrier":"mobifone","tps":50,"rate":null,"planned":0,"submitted":0,"accepted":1,"delivered":1,"failed":0,"no-receipt":0,"unknown":0,"rejected":0,"expired":0,"retries":0,"waiting_to_retry":0},\
            {"carrier":"viettel","tps":100,"rate":null,"planned":1,"submitted":0,"accepted":0,"delivered":3,"failed":1,"no-receipt":0,"unknown":0,"rejected":0,"expired":0,"retries":0,"waiting_to_retry":0}]}

            """)
        // Metrics need no session (counts only).
        let metrics = try await Visitor(port: f.port).get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let lines = Set(metrics.body.split(separator: "\n").map(String.init))
        for line in ["loa_messages{carrier=\"viettel\",state=\"delivered\"} 3", "loa_messages{carrier=\"viettel\",state=\"planned\"} 1",
                     "loa_messages_sent_total{carrier=\"viettel\"} 4", "loa_messages_sent_total{carrier=\"mobifone\"} 2",
                     "loa_queue_depth{carrier=\"viettel\"} 1", "loa_receipts_total{carrier=\"viettel\"} 4", "loa_receipts_total{carrier=\"mobifone\"} 1",
                     "loa_receipts_quarantined 0", "loa_campaigns{state=\"sending\"} 1", "# TYPE loa_messages_sent_total counter"] {
            #expect(lines.contains(line), "\(line)")
        }
        // The printable page, the annual report and its CSV.
        let printable = try await thu.get("/campaigns/c/report.html?by=language")
        #expect(printable.body.contains("Báo cáo kết quả gửi tin nhắn: Lũ quét"))
        let annual = try await thu.get("/reports/annual.csv?year=\(Timestamp(seconds: Store.nowSeconds()).iso8601().prefix(4))")
        #expect(annual.status == 200)
        #expect(annual.body.hasPrefix("\u{FEFF}"))
        #expect(annual.body.contains("\r\nc,"))
        #expect(try await thu.get("/campaigns/c/report?by=weekday").status == 404)
        // The audit page verifies the chain.
        let audit = try await thu.get("/audit")
        #expect(audit.body.contains("id=\"audit-status\" data-ok=\"true\""))
        // A campaign whose file is gone: the audience page says so.
        let audience = try await thu.get("/campaigns/c/audience")
        #expect(audience.status == 409)
        #expect(audience.body.contains("c.yaml: no such file"))
    }

    @Test("the stylesheet, script and icon are served by loa, with no reference to anything elsewhere", arguments: [StoreEngine.sqlite])
    func assets(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        let anonymous = try await f.visitor()
        for (path, type) in [("/static/console.css", "text/css; charset=utf-8"), ("/static/console.js", "text/javascript; charset=utf-8"),
                             ("/static/icon.svg", "image/svg+xml"), ("/favicon.ico", "image/svg+xml")] {
            let a = try await anonymous.get(path)
            #expect(a.status == 200, "\(path)")
            #expect(a.headers["content-type"] == type, "\(path)")
            let outside = a.body.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
            #expect(!outside.contains("http://"), "\(path) refers to elsewhere")
            #expect(!a.body.contains("https://"), "\(path) refers to elsewhere")
        }
        let login = try await anonymous.get("/login")
        #expect(login.status == 200)
        #expect(!login.body.contains("https://") && !login.body.contains("http://"))
        #expect(login.body.contains("<label for=\"token\">"))
    }

    @Test("a voice campaign: each language's script or recording, its length and the audio to listen to", arguments: [StoreEngine.sqlite])
    func voiceCampaign(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = root.appendingPathComponent("campaigns/kontum-loa-goi-chay-rung-2026.yaml").path
        let loaded = try LoadedCampaign.load(file, units: units)
        _ = try f.store.submitCampaign(loaded.campaign!, file: file, sha256: loaded.sha256, by: "lan")
        let minh = try await f.visitor("minh")
        let page = try await minh.get("/campaigns/kontum-loa-goi-chay-rung-2026")
        #expect(page.status == 200)
        #expect(page.body.contains("<audio controls preload=\"none\" src=\"/campaigns/kontum-loa-goi-chay-rung-2026/audio/vi.wav\"></audio>"))
        #expect(page.body.contains("<audio controls preload=\"none\" src=\"/campaigns/kontum-loa-goi-chay-rung-2026/audio/sed.wav\"></audio>"))
        #expect(page.body.contains("data-k=\"seconds\">≈ 16.2 s (ước tính)</td>"))
        #expect(page.body.contains("data-k=\"seconds\">5.6 s</td>"))
        #expect(page.body.contains("bản ghi <code>audio/kontum-xodang-cho-ghi-am.wav</code>"))
        for language in ["vi", "sed"] {
            let audio = try await minh.get("/campaigns/kontum-loa-goi-chay-rung-2026/audio/\(language).wav")
            #expect(audio.status == 200)
            #expect(audio.headers["content-type"] == "audio/wav")
            #expect(audio.body.hasPrefix("RIFF"))
        }
        #expect(try await minh.get("/campaigns/kontum-loa-goi-chay-rung-2026/audio/en.wav").status == 404)
        // Its report has the call columns: two calls, one answered for 75 s (2 minutes billed).
        let calls = (0..<2).map { PlannedMessage.call(carrier: .viettel, subscriber: Pseudonym(w0: UInt64($0), w1: 9, w2: 9, w3: 9).description,
                                                       language: "vi", commune: 23377, clip: "c0ffee") }
        _ = try f.store.approveCampaign("kontum-loa-goi-chay-rung-2026", sha256: loaded.sha256, by: "minh", unreviewed: [])
        _ = try f.store.transitionCampaign("kontum-loa-goi-chay-rung-2026", "start", by: "minh")
        _ = try f.store.planMessages(campaign: "kontum-loa-goi-chay-rung-2026", priority: .urgent, day: 1, capPerDay: 1, calls)
        let batch = try #require(try f.store.claimBatch(carrier: .viettel, limit: 2))
        try f.store.batchAccepted(batch.id, status: 202, rejected: [:])
        _ = try f.store.recordReceipts(carrier: .viettel, [ReceiptRecord(messageRef: batch.refs[0].description, status: .answered, at: nil, reason: nil,
                                                                         call: CallAttempt(attempt: 2, listened: 75, final: false))])
        let report = try await minh.get("/campaigns/kontum-loa-goi-chay-rung-2026/report?by=carrier")
        #expect(report.status == 200)
        #expect(report.body.contains("<td class=\"n\" data-k=\"reached\">1</td><td class=\"n\" data-k=\"completed\">0</td>"), "\(report.body)")
        #expect(report.body.contains("<td class=\"n\" data-k=\"calls_per_person\">1.00</td><td class=\"n\" data-k=\"call_minutes\">2</td>"))
        #expect(try await f.visitor().get("/campaigns/kontum-loa-goi-chay-rung-2026/audio/vi.wav").status == 401)
    }

    @Test("the audience preview says what is missing instead of guessing", arguments: [StoreEngine.sqlite])
    func audienceWithoutKeys(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        let lan = try await f.visitor("lan")
        #expect(try await lan.post("/campaigns/new", ConsoleFixture.form() + [("csrf", try await lan.get("/").csrf!)]).status == 303)
        let page = try await lan.get("/campaigns/lu-quet-2026/audience")
        #expect(page.status == 409)
        #expect(page.body.contains("Bảng điều khiển chạy không có khóa của nhà mạng"))
        #expect(try await lan.get("/campaigns/nothing/audience").status == 404)
    }

    @Test("pages are Vietnamese by default and English on request; text typed in the pages is escaped", arguments: [StoreEngine.sqlite])
    func languageAndEscaping(engine: StoreEngine) async throws {
        let f = try await ConsoleFixture(engine)
        defer { Task { await f.server.stop() } }
        var lan = try await f.visitor("lan")
        let csrf = try #require(try await lan.get("/").csrf)
        let created = try await lan.post("/campaigns/new", ConsoleFixture.form(["title": "<script>alert(1)</script> Lũ"]) + [("csrf", csrf)])
        #expect(created.status == 303)
        let page = try await lan.get("/")
        #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Lũ"))
        #expect(!page.body.contains("<script>alert"))
        #expect(page.body.contains("<html lang=\"vi\">"))
        let switched = try await lan.get("/lang?to=en&back=/campaigns/lu-quet-2026")
        #expect(switched.status == 303)
        #expect(switched.headers["location"] == "/campaigns/lu-quet-2026")
        let langCookie = try #require(switched.headers["set-cookie"]).prefix { $0 != ";" }
        lan.cookie! += "; " + langCookie
        let english = try await lan.get("/campaigns/lu-quet-2026")
        #expect(english.body.contains("<html lang=\"en\">"))
        #expect(english.body.contains("awaiting approval"))
    }
}
