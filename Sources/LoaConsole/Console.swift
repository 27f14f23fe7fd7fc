import Foundation
import HTTPTypes
import Hummingbird
import LoaCore
import LoaCrypto
import LoaOperations
import LoaStore
import Logging
import NIOCore
import Synchronization

/// What the console needs from its installation (the CLI reads it from the carrier files, the
/// policy file and the environment).
public struct ConsoleSettings: Sendable {
    public var storeLocation: String
    /// Where campaign files made or uploaded in the console are written (the dispatcher's
    /// `$LOA_CAMPAIGNS` glob should cover it).
    public var campaignsDirectory: String
    public var units: AdministrativeUnits
    public var prices: CampaignReport.Prices
    /// The keys an audience preview needs; nil: the preview says what is missing.
    public var keys: OperatorKeys?
    public var emergency: EmergencyApproval?
    /// Each carrier's TPS, for the live view.
    public var tps: [String: Int]
    /// Carriers reached through Kannel (clear numbers only: contact lists).
    public var kannelCarriers: Set<String>
    public var lifetimes: ConsoleSessions.Lifetimes
    /// Seconds since 1970 (tests pass a fixed clock).
    public var clock: @Sendable () -> Int64

    public init(storeLocation: String, campaignsDirectory: String, units: AdministrativeUnits, prices: CampaignReport.Prices,
                keys: OperatorKeys? = nil, emergency: EmergencyApproval? = nil, tps: [String: Int] = [:], kannelCarriers: Set<String> = [],
                lifetimes: ConsoleSessions.Lifetimes = .init(), clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.storeLocation = storeLocation
        self.campaignsDirectory = campaignsDirectory
        self.units = units
        self.prices = prices
        self.keys = keys
        self.emergency = emergency
        self.tps = tps
        self.kannelCarriers = kannelCarriers
        self.lifetimes = lifetimes
        self.clock = clock
    }
}

/// The operator console: server-rendered pages for the department's staff, on top of the same
/// library calls as the CLI. Every page checks the signed-in user's role; every form carries the
/// session's CSRF token; responses forbid framing, inline scripts and anything from elsewhere.
public final class Console: Sendable {
    let settings: ConsoleSettings
    public let sessions: ConsoleSessions
    /// Store connections for the requests (one request at a time each).
    let stores: StorePool
    /// Per campaign: when the live view last counted (seconds since the console started) and
    /// what each carrier had taken then, for the sending rate.
    let rates = Mutex<[String: (at: Double, sent: [String: Int])]>([:])
    let started = ContinuousClock.now

    /// Seconds since the console started (monotonic).
    var elapsed: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Opens the store (it must exist).
    public init(_ settings: ConsoleSettings) throws {
        self.settings = settings
        self.sessions = ConsoleSessions(lifetimes: settings.lifetimes)
        self.stores = try StorePool(location: settings.storeLocation, capacity: 8)
    }

    var now: Int64 { settings.clock() }

    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("login") { request, _ in self.loginPage(request, problem: nil) }
        router.post("login") { request, _ in try await self.signIn(request) }
        router.post("logout") { request, _ in try await self.signOut(request) }
        router.get("lang") { request, _ in self.switchLanguage(request) }
        router.get("static/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        router.get("static/console.js") { _, _ in Self.asset(ConsoleAssets.javascript, type: "text/javascript; charset=utf-8") }
        router.get("static/icon.svg") { _, _ in Self.asset(ConsoleAssets.icon, type: "image/svg+xml") }
        router.get("favicon.ico") { _, _ in Self.asset(ConsoleAssets.icon, type: "image/svg+xml") }
        router.get("metrics") { _, _ in try self.metrics() }
        router.get("/") { request, _ in try self.guarded(request, needs: .read) { v, db in try self.campaignList(v, db) } }
        router.get("campaigns/new") { request, _ in
            try self.guarded(request, needs: .draft) { v, _ in self.html(.ok, self.newCampaignPage(v, form: FormData([]), problems: [])) }
        }
        router.post("campaigns/new") { request, _ in try await self.posted(request, needs: .draft) { v, db, form in try self.createCampaign(v, db, form) } }
        router.get("campaigns/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try self.guarded(request, needs: .read) { v, db in try self.campaignPage(v, db, id: id, problem: nil) }
        }
        router.get("campaigns/:id/audio/:language") { request, context in
            let id = context.parameters.get("id") ?? "", language = context.parameters.get("language") ?? ""
            return try self.guarded(request, needs: .read, page: false) { _, db in try self.voiceAudio(db, id: id, file: language) }
        }
        router.get("campaigns/:id/live.json") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try self.guarded(request, needs: .read, page: false) { _, db in try self.live(db, id: id) }
        }
        router.get("campaigns/:id/audience") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try self.guarded(request, needs: .read) { v, db in try self.audiencePage(v, db, id: id, at: request.uri.queryParameters["at"].map(String.init)) }
        }
        router.get("campaigns/:id/report") { request, context in
            let id = context.parameters.get("id") ?? ""
            let by = request.uri.queryParameters["by"].map(String.init) ?? "carrier"
            return try self.guarded(request, needs: .read) { v, db in try self.reportPage(v, db, id: id, by: by) }
        }
        for format in ["csv", "json", "html"] {
            router.get("campaigns/:id/report.\(format)") { request, context in
                let id = context.parameters.get("id") ?? ""
                let by = request.uri.queryParameters["by"].map(String.init) ?? "carrier"
                return try self.guarded(request, needs: .read, page: false) { v, db in try self.reportDownload(v, db, id: id, by: by, format: format) }
            }
        }
        for action in ["approve", "reject", "pause", "resume", "cancel"] {
            router.post("campaigns/:id/\(action)") { request, context in
                let id = context.parameters.get("id") ?? ""
                let needs: Permission = action == "approve" || action == "reject" ? .approve : .operate
                return try await self.posted(request, needs: needs) { v, db, form in try self.act(v, db, id: id, action: action, form: form) }
            }
        }
        router.get("reports/annual") { request, _ in
            let year = request.uri.queryParameters["year"].flatMap { Int(String($0)) }
            return try self.guarded(request, needs: .read) { v, db in try self.annualPage(v, db, year: year) }
        }
        router.get("reports/annual.csv") { request, _ in
            let year = request.uri.queryParameters["year"].flatMap { Int(String($0)) }
            return try self.guarded(request, needs: .read, page: false) { _, db in try self.annualDownload(db, year: year) }
        }
        router.get("audit") { request, _ in try self.guarded(request, needs: .audit) { v, db in try self.auditPage(v, db) } }
    }

    // MARK: Requests and responses

    /// Who is visiting and in which language.
    struct Visit {
        var session: ConsoleSession
        var user: Store.UserRecord
        var lang: ConsoleLanguage
        var layout: Layout
    }

    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("Referrer-Policy")!, "same-origin"),
        (.cacheControl, "no-store"),
    ]

    func response(_ status: HTTPResponse.Status, type: String, body: [UInt8], extra: [(HTTPField.Name, String)] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        for (name, value) in Self.securityHeaders + extra { headers.append(HTTPField(name: name, value: value)) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    func html(_ status: HTTPResponse.Status, _ page: String, extra: [(HTTPField.Name, String)] = []) -> Response {
        response(status, type: "text/html; charset=utf-8", body: Array(page.utf8), extra: extra)
    }

    func redirect(_ to: String, extra: [(HTTPField.Name, String)] = []) -> Response {
        response(.seeOther, type: "text/plain; charset=utf-8", body: [], extra: [(.location, to)] + extra)
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "max-age=300"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func cookie(_ request: Request, _ name: String) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2, kv[0] == name { return kv[1] }
            }
        }
        return nil
    }

    func language(_ request: Request) -> ConsoleLanguage { cookie(request, "loa_lang").flatMap(ConsoleLanguage.init(rawValue:)) ?? .vi }

    /// Only paths on this site: `/x`, never `//host` or `/\host`.
    static func localPath(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.hasPrefix("/\\"), !raw.contains("\r"), !raw.contains("\n") else { return "/" }
        return raw
    }

    /// A signed-in user with `needs`, or the sign-in page (a redirect), or 403 (audited).
    func guarded(_ request: Request, needs: Permission, page: Bool = true, _ body: (Visit, Store) throws -> Response) throws -> Response {
        let lang = language(request)
        let path = request.uri.path
        let here = path + (request.uri.query.map { "?" + $0 } ?? "")
        guard let sid = cookie(request, "loa_session"), let session = sessions.find(sid, now: now) else {
            return page ? redirect("/login?next=" + percentEncode(here)) : response(.unauthorized, type: "text/plain; charset=utf-8", body: Array("sign in first\n".utf8))
        }
        return try stores.with { db in
            guard let user = try db.user(session.user), !user.disabled else {
                sessions.close(sid)
                return redirect("/login")
            }
            let layout = Layout(lang: lang, user: (user.name, user.role), csrf: session.csrf, path: path)
            guard user.role.permits(needs) else {
                try db.audit(user.name, "permission-refused", campaign: nil, "console \(path): \(user.role == .drafter ? "a" : "an") \(user.role.rawValue) may not \(needs.doing)")
                let roles = Role.holding(needs).map { layout.roleName($0) }.joined(separator: ", ")
                return html(.forbidden, layout.page(lang.t("Không được phép", "Not permitted"),
                    "<p class=\"problem\" role=\"alert\">\(e(lang.t("Vai trò của bạn không cho phép việc này", "Your role does not allow this"))): \(e(needs.doing)). \(e(lang.t("Vai trò được phép", "Roles that may"))): \(e(roles)).</p>"))
            }
            return try body(Visit(session: session, user: user, lang: lang, layout: layout), db)
        }
    }

    /// A form post: the body read (at most 2 MiB), then the same checks as a page, then the CSRF
    /// token and the origin.
    func posted(_ request: Request, needs: Permission, _ body: @escaping (Visit, Store, FormData) throws -> Response) async throws -> Response {
        let bytes: ByteBuffer
        do { bytes = try await request.body.collect(upTo: 2 << 20) } catch {
            return response(.contentTooLarge, type: "text/plain; charset=utf-8", body: Array("the form is larger than 2 MiB\n".utf8))
        }
        let form = FormData(bytes.readableBytesView)
        return try guarded(request, needs: needs) { v, db in
            guard sameOrigin(request), let token = form["csrf"], ConsoleSessions.sameSecret(token, v.session.csrf) else {
                return html(.forbidden, v.layout.page(v.lang.t("Biểu mẫu hết hạn", "Form expired"),
                    "<p class=\"problem\" role=\"alert\">\(e(v.lang.t("Biểu mẫu này không đến từ phiên làm việc hiện tại. Tải lại trang và thử lại.", "This form did not come from your current session. Reload the page and try again.")))</p>"))
            }
            return try body(v, db, form)
        }
    }

    /// A browser says where a form came from: it must be this site.
    func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin], origin != "null" else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    // MARK: Sign-in

    func loginPage(_ request: Request, problem: String?, status: HTTPResponse.Status = .ok) -> Response {
        let lang = language(request)
        let next = Self.localPath(request.uri.queryParameters["next"].map(String.init))
        var b = ""
        if let problem { b += "<p class=\"problem\" role=\"alert\">\(e(problem))</p>" }
        b += """
            <form method="post" action="/login" class="narrow">
            <input type="hidden" name="next" value="\(e(next))">
            <label for="name">\(lang.t("Tên người dùng", "User name"))</label>
            <input id="name" name="name" autocomplete="username" required autofocus>
            <label for="token">\(lang.t("Mã đăng nhập (token)", "Token"))</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required>
            <button type="submit">\(lang.t("Đăng nhập", "Sign in"))</button>
            </form>
            <p class="hint">\(lang.t("Quản trị viên cấp mã bằng lệnh", "An administrator issues tokens with")) <code>loa user token NAME</code>.</p>
            """
        return html(status, Layout(lang: lang, user: nil, csrf: nil, path: "/login").page(lang.t("Đăng nhập", "Sign in"), b))
    }

    func signIn(_ request: Request) async throws -> Response {
        let lang = language(request)
        let bytes = (try? await request.body.collect(upTo: 64 << 10)) ?? ByteBuffer()
        let form = FormData(bytes.readableBytesView)
        guard sameOrigin(request) else { return loginPage(request, problem: lang.t("Yêu cầu không đến từ trang này.", "The request did not come from this site."), status: .forbidden) }
        guard let name = form.trimmed("name"), let token = form.trimmed("token") else {
            return loginPage(request, problem: lang.t("Nhập tên và mã đăng nhập.", "Give your name and token."), status: .badRequest)
        }
        let result: Result<Store.UserRecord, Store.SignInError> = try stores.with { db in
            do { return .success(try db.signIn(name, token: token, now: now)) } catch let e as Store.SignInError { return .failure(e) }
        }
        switch result {
        case .failure(let problem):
            return loginPage(request, problem: "\(lang.t("Không đăng nhập được", "Not signed in")): \(problem.description)", status: .unauthorized)
        case .success(let user):
            let session = sessions.open(user: user.name, now: now)
            let next = Self.localPath(form["next"])
            let cookie = "loa_session=\(session.id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(settings.lifetimes.absolute)"
            return redirect(next == "/login" ? "/" : next, extra: [(.setCookie, cookie)])
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        let bytes = (try? await request.body.collect(upTo: 64 << 10)) ?? ByteBuffer()
        let form = FormData(bytes.readableBytesView)
        if let sid = cookie(request, "loa_session"), let s = sessions.find(sid, now: now), let token = form["csrf"], ConsoleSessions.sameSecret(token, s.csrf) {
            sessions.close(sid)
        }
        return redirect("/login", extra: [(.setCookie, "loa_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")])
    }

    func switchLanguage(_ request: Request) -> Response {
        let to = ConsoleLanguage(rawValue: request.uri.queryParameters["to"].map(String.init) ?? "") ?? .vi
        let back = Self.localPath(request.uri.queryParameters["back"].map(String.init))
        return redirect(back, extra: [(.setCookie, "loa_lang=\(to.rawValue); Path=/; SameSite=Strict; Max-Age=31536000")])
    }
}
