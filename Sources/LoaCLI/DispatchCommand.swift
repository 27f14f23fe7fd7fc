import ArgumentParser
import Foundation
import Hummingbird
import LoaCarriers
import LoaCarrierSimulator
import LoaConsole
import LoaServer
import LoaCore
import LoaOperations
import LoaStore
import Logging
import Synchronization
import ServiceLifecycle

struct Dispatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send approved campaigns through the carriers' gateways.",
        discussion: """
            Plans each campaign's messages at --at (its audience at that time) the first time, then \
            sends: per carrier at most its TPS over any second, within its daily quota and hours, \
            quiet hours 21:00–07:00 for all but emergency campaigns, higher priority first. \
            Everything is recorded before each upload: after a crash, run the same command again; \
            interrupted batches go again under their idempotency keys. SIGTERM or Ctrl-C finishes \
            the uploads in flight and stops (a second one stops at once, which is as safe as a crash).

            A transient failure (429, 503, 5xx, timeouts, resets) never makes a message final: it \
            is retried until its campaign ends, and what is unsent then is recorded as expired. A \
            carrier that keeps failing is offered no new work until one small probe batch gets \
            through. A wrong secret or address (401, 403, 404) or an answer loa does not \
            understand stops sending to that carrier; its messages stay open for the next run.

            Exit status: 0 when done; 3 when a carrier's sending stopped on a fault, the carrier \
            refused batches for good, or rejected every message (the summary says which); 143 or \
            130 after SIGTERM or SIGINT (run again to continue); 1 on other errors.
            """
    )

    @Argument(help: "Approved campaign files.") var files: [String]
    @Option(name: .long, help: "Plan the audience at this time (ISO 8601 or now).") var at: TimeArgument = TimeArgument(argument: "now")!
    @Option(name: .long, help: "Also accept receipts on this port (POST /receipts/{carrier}).") var receiptsPort: Int?
    @Option(name: .long, help: "After sending, wait this long for receipts (e.g. 20s).") var waitReceipts = "0s"
    @Flag(name: .long, help: "Keep running (waiting for windows and new work) instead of stopping when done.") var forever = false
    @OptionGroup var actor: ActorOptions
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let p = receiptsPort, !(1...65535).contains(p) { throw ValidationError("--receipts-port: expected a port from 1 to 65535, found \(p)") }
        _ = try durationOption(waitReceipts, "--wait-receipts", 0...86400)
    }

    func run() async throws {
        do { try await dispatch() } catch let e as StoreError where e.code == .database {
            // The store went away (a database restart, a lost connection): say what it means.
            throw CLIError("the store could not be reached or failed (\(e.message.components(separatedBy: ": ").last ?? e.message)). "
                           + "Every upload's outcome was recorded before the next step: run the same command again once the database is back; nothing is sent twice")
        }
    }

    func dispatch() async throws {
        // Before anything else: a stop request during planning ends it between two parts.
        let stopper = DispatcherSlot()
        ShutdownSignals.install { signo in
            printError("\nstopping (\(ShutdownSignals.name(signo))): finishing the uploads in flight… (again to stop at once)")
            stopper.stop()
        }
        let units = try loadUnits()
        let db = try store.open()
        let me = try actor.actor(db, needs: .operate)
        var policies: [String: SendingPolicy] = [:], senders: [String: String] = [:]
        var channels: [String: Campaign.Channel] = [:], calls: [String: CallPolicy] = [:]
        // One bad campaign never stops the others: each is checked, planned and started on its
        // own; what was refused is listed at the end and makes the exit status non-zero.
        var refused: [String] = []
        for file in files {
            do {
                guard let c = try prepare(file, units: units, db: db, actor: me.name) else { continue }
                policies[c.id] = SendingPolicy(campaignWindows: c.schedule.windows, carrierWindow: nil, quietHours: c.schedule.quietHours,
                                               priority: c.priority, start: c.schedule.start, end: c.schedule.end)
                senders[c.id] = c.sender
                channels[c.id] = c.channel
                if c.channel == .voice { calls[c.id] = CallPolicy(c) }
            } catch {
                if ShutdownSignals.requested { throw ExitCode(ShutdownSignals.exitStatus) }
                printError("\(file): not sent: \(error)")
                refused.append(file)
            }
        }
        defer { if !refused.isEmpty { printError("\n\(refused.count) campaign file(s) refused: \(refused.joined(separator: ", ")) (see above)") } }
        if policies.isEmpty {
            if !refused.isEmpty { throw ExitCode(3) }
            return
        }
        let configs = try store.carrierConfigs()
        let counts = try db.messageCounts(campaign: nil)
        var gateways: [CarrierGateway] = []
        // Voice campaigns' counts, read once: which carriers their calls wait for.
        var voiceCounts: [String: [String: [MessageState: Int]]] = [:]
        for (id, channel) in channels where channel == .voice { voiceCounts[id] = try db.messageCounts(campaign: id) }
        for (carrier, config) in configs.sorted(by: { $0.key < $1.key }) {
            let pending = try db.pendingCount(carrier: carrier)
            guard (counts[carrier.rawValue]?[.planned] ?? 0) > 0 || pending > 0 else { continue }
            var g = try config.gateway()
            if g.protocolKind == .kannel {
                if g.pseudonymKey == nil { throw CLIError("\(config.path): Kannel sends to contact-list numbers, found through the pseudonym key: set pseudonym_key") }
                g.contactVault = try store.requireContactVault(for: "\(config.path): Kannel (it sends to contact-list numbers)")
                if g.kannel?.dlrBase == nil, let receiptsPort { g.kannel?.dlrBase = "http://127.0.0.1:\(receiptsPort)" }
            }
            if g.voice == nil, let waiting = voiceCampaignsWaiting(voiceCounts, carrier: carrier) {
                printError("warning: \(config.path) has no voice: section (channels, calls_per_second): calls of \(waiting) to \(carrier.rawValue) wait")
            }
            gateways.append(g)
            if try db.noteCarrierFile(carrier: carrier.rawValue, path: config.path, sha256: try fileSHA(config.path), by: me.name) {
                printError("note: \(config.path) is new or changed since the last dispatch (recorded in the audit trail)")
            }
        }
        try db.audit(me.name, "dispatch-start", campaign: nil, "campaigns \(policies.keys.sorted().joined(separator: ", ")); carriers \(gateways.map(\.carrier.rawValue).joined(separator: ", "))")
        let missing = Set(counts.keys).subtracting(configs.keys.map(\.rawValue)).filter { (counts[$0]?[.planned] ?? 0) > 0 }
        if !missing.isEmpty { printError("warning: no carrier file for \(missing.sorted().joined(separator: ", ")) in \(store.carriersDirectory): their messages wait") }

        var receiptServer: BackgroundServer? = nil
        if let receiptsPort {
            var secrets: [Carrier: [UInt8]] = [:]
            for g in gateways { if let s = g.receiptSecret { secrets[g.carrier] = s } }
            let legacy = Set(gateways.filter { $0.receiptSignatureVersion == 1 }.map(\.carrier))
            let parts = Dictionary(uniqueKeysWithValues: gateways.map { ($0.carrier, $0.receiptParts) })
            let endpoint = try ReceiptEndpoint(sink: Store.receiptStores(location: store.databaseLocation), secrets: secrets, legacySignature: legacy, parts: parts)
            let router = Router()
            endpoint.addRoutes(to: router)
            receiptServer = BackgroundServer()
            let port = try await receiptServer!.start(router, port: receiptsPort)
            print("receiving receipts on http://127.0.0.1:\(port)/receipts/{carrier}")
        }
        let board = ProgressBoard(lanes: gateways.flatMap { g in [LaneKey(g.carrier)] + (g.voice != nil ? [LaneKey(g.carrier, .voice)] : []) })
        let storage = try StorePool(location: store.databaseLocation, capacity: Dispatcher.storeConnections(carriers: gateways.count))
        let dispatcher = Dispatcher(storage: storage, gateways: gateways, campaigns: .init(policies: policies, senders: senders, channels: channels, calls: calls)) { board.update($0) }
        // The dispatcher runs as a service; a stop request (ShutdownSignals, not the group's own
        // signal handling: see there) shuts the group down gracefully.
        let service = DispatcherService(dispatcher, untilDrained: !forever)
        let group = ServiceGroup(configuration: .init(services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                                                      gracefulShutdownSignals: [], logger: quietLogger("loa.dispatch")))
        stopper.set { dispatcher.stop(); Task { await group.triggerGracefulShutdown() } }
        board.start()
        try await group.run()
        let lanes = service.lanes ?? []
        board.stop()
        if let wait = Duration8601.parseSeconds(waitReceipts), wait > 0, !dispatcher.stopping && !lanes.contains(where: { $0.fault != nil }) {
            let deadline = Date().addingTimeInterval(Double(wait))
            while Date() < deadline {
                let c = try db.messageCounts(campaign: nil).values.reduce(0) { $0 + ($1[.accepted] ?? 0) + ($1[.submitted] ?? 0) }
                if c == 0 { break }
                printError("  waiting for receipts: \(formatCount(c)) messages without a final status")
                try await Task.sleep(for: .seconds(1))
            }
        }
        await receiptServer?.stop()
        try db.completeFinishedCampaigns()
        let sentNow = lanes.reduce(0) { $0 + $1.sent }
        try db.audit(me.name, "dispatch-finish", campaign: nil, "\(sentNow) messages sent in this run" + (ShutdownSignals.requested ? "; stopped by \(ShutdownSignals.name(ShutdownSignals.signal))" : ""))
        for id in policies.keys.sorted() {
            print("\n\(id): \(try db.campaignRecord(id)?.state.rawValue ?? "?")")
            printDeliverySummary(try db.messageCounts(campaign: id))
        }
        let problems = lanes.compactMap { lane in lane.problem.map { "  \(lane.lane): \($0)" } }
        let expired = lanes.reduce(0) { $0 + $1.expired }
        if expired > 0 { print("\n\(formatCount(expired)) message(s) expired: their campaign ended before the carrier accepted them (loa campaign status shows the reasons)") }
        if ShutdownSignals.requested {
            printError("\nstopped by \(ShutdownSignals.name(ShutdownSignals.signal)): what was not sent waits, planned; run the same command again to continue")
            throw ExitCode(ShutdownSignals.exitStatus)
        }
        if !problems.isEmpty {
            printError("\nneeds attention:\n" + problems.joined(separator: "\n"))
            throw ExitCode(3)
        }
        if !refused.isEmpty { throw ExitCode(3) }
    }

    /// Checks, plans (the first time) and starts one campaign; nil when there is nothing to send.
    func prepare(_ file: String, units: AdministrativeUnits, db: Store, actor: String) throws -> Campaign? {
        let loaded = try checkedCampaign(file, units: units)
        let c = loaded.campaign!
        let dispatch = CampaignDispatch(store: db, actor: actor)
        switch try dispatch.step(for: c, file: file, sha256: loaded.sha256, at: at.timestamp) {
        case .skip(let why):
            print(why)
            return nil
        case .send(let plan, let start):
            if c.channel == .voice {
                // The audio is made once, before planning, and kept in the store for every node.
                for clip in try dispatch.prepareAudio(loaded) {
                    print("\(c.id): \(clip.language) audio \(format1(Double(clip.durationMs) / 1000)) s (\(clip.source))")
                }
            }
            if plan {
                let audience = AudienceRun(campaign: c, area: loaded.area!, units: units, store: db, keys: try store.operatorKeys(), at: at.timestamp)
                let planned = try dispatch.plan(c, audience: audience) { ShutdownSignals.requested }
                if planned.byAnother {
                    print("\(c.id): already planned (by another dispatcher on this store); sending what is left")
                } else {
                    print("\(c.id): planned \(formatCount(planned.planned)) " + (c.channel == .voice ? "calls" : "messages (\(formatCount(planned.segments)) segments)")
                          + " at \(at.timestamp.iso8601())" +
                          (planned.capped > 0 ? "; \(formatCount(planned.capped)) over the per-subscriber daily cap" : ""))
                }
            }
            if start { try dispatch.start(c.id) }
            return c
        }
    }
}

/// Where a stop request goes, once there is somewhere (a signal may come while planning).
final class DispatcherSlot: Sendable {
    private let state = Mutex<(stop: (@Sendable () -> Void)?, requested: Bool)>((nil, false))

    func set(_ stop: @escaping @Sendable () -> Void) {
        let requested = state.withLock { s in
            s.stop = stop
            return s.requested
        }
        if requested { stop() }
    }

    func stop() {
        let stop = state.withLock { s in
            s.requested = true
            return s.stop
        }
        stop?()
    }
}

/// Voice campaigns (their counts by carrier) with planned calls for `carrier`, named; nil when none.
func voiceCampaignsWaiting(_ counts: [String: [String: [MessageState: Int]]], carrier: Carrier) -> String? {
    let waiting = counts.keys.sorted().filter { (counts[$0]?[carrier.rawValue]?[.planned] ?? 0) > 0 }
    return waiting.isEmpty ? nil : waiting.joined(separator: ", ")
}

/// Progress bars per carrier lane (SMS, voice), redrawn in place on a terminal.
final class ProgressBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var rows: [LaneKey: Dispatcher.Progress] = [:]
    private var totals: [LaneKey: Int] = [:]
    private let carriers: [LaneKey]
    private var timer: (any DispatchSourceTimer)?
    private let tty = isatty(1) != 0
    private var drawn = 0

    init(lanes: [LaneKey]) { carriers = lanes }

    func update(_ p: Dispatcher.Progress) {
        lock.lock()
        rows[p.lane] = p
        // The total counted with what was sent at the same moment; never below what was sent.
        if let total = p.total { totals[p.lane] = max(total, p.sent) } else if totals[p.lane] == nil { totals[p.lane] = p.sent + p.pending }
        lock.unlock()
    }

    func start() {
        let t = DispatchSource.makeTimerSource(queue: .global())
        t.schedule(deadline: .now() + 0.5, repeating: tty ? 0.5 : 5)
        t.setEventHandler { [weak self] in self?.draw() }
        t.resume()
        timer = t
    }

    func stop() {
        timer?.cancel()
        draw()
    }

    func draw() {
        lock.lock(); defer { lock.unlock() }
        var lines: [String] = []
        for c in carriers {
            guard let p = rows[c] else { continue }
            let total = max(totals[c] ?? 0, 1)
            let share = min(1, Double(p.sent) / Double(total))
            let width = 24
            let filled = Int(share * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            // A lane with nothing to do (an SMS lane in a run of voice campaigns, or the reverse) is not drawn.
            if p.sent == 0 && (totals[c] ?? 0) == 0 && p.note == nil { continue }
            var line = "\(c.description.padding(toLength: 18, withPad: " ", startingAt: 0)) \(bar) \(String(format: "%3.0f", share * 100))%  \(formatCount(p.sent))/\(formatCount(total)) \(c.channel == .voice ? "calls" : "sent")"
            if p.rejected > 0 { line += " · \(formatCount(p.rejected)) rejected" }
            if p.retries > 0 { line += " · \(p.retries) retries" }
            if let note = p.note { line += " · \(note)" }
            lines.append(line)
        }
        if tty && drawn > 0 { print("\u{1B}[\(drawn)A", terminator: "") }
        for l in lines { print(tty ? "\u{1B}[2K" + l : l) }
        drawn = lines.count
        fflush(nil)
    }
}

struct CarrierSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carrier-sim",
        abstract: "Run a carrier's batch-http gateway simulator (demos and tests).",
        discussion: "Enforces the carrier file's TPS with 429, dedupes idempotency keys, injects faults, posts signed receipts. GET /stats shows what it saw."
    )
    @Option(name: .long, help: "The carrier file (carriers/X.yaml).") var carrier: String
    @Option(name: .long, help: "Port (default: the endpoint's port in the carrier file).") var port: Int?
    @Option(name: .long, help: "Post receipts to this URL (loa's /receipts/{carrier}).") var receiptsTo: String?
    @Option(name: .long, help: "Share of uploads that meet a fault, 0 to 1.") var faultRate = 0.0
    @Option(name: .long, help: "Record accepted message ids to this file.") var record: String?
    @Option(name: .long, help: "Random seed.") var seed: UInt64 = 42
    @Option(name: .long, help: "Voice: the calls' spacing between attempts times this (e.g. 0.01 in a demo).") var voiceSpacingScale = 1.0

    func validate() throws {
        if let p = port, !(1...65535).contains(p) { throw ValidationError("--port: expected a port from 1 to 65535, found \(p)") }
        guard (0...1).contains(faultRate) else { throw ValidationError("--fault-rate: expected a share from 0 to 1, found \(faultRate)") }
    }

    func run() async throws {
        let config = try CarrierConfig.load(carrier)
        let g = try config.gateway(requireSecrets: false)
        var o = CarrierSimulator.Options(carrier: g.carrier, tps: g.tps, maxBatch: g.maxBatch)
        o.signingSecret = g.signingSecret
        o.signatureVersion = g.signatureVersion
        o.receiptURL = receiptsTo
        o.receiptSecret = g.receiptSecret
        o.faultRate = faultRate
        o.recordPath = record
        o.seed = seed
        o.stallSeconds = g.timeout + 2
        if let v = g.voice {
            o.voice = CarrierSimulator.Voice(channels: v.channels, callsPerSecond: v.callsPerSecond, ringSeconds: v.ringSeconds, audioFormat: v.audioFormat)
            o.voice?.spacingScale = voiceSpacingScale
        }
        if receiptsTo != nil && g.receiptSecret == nil { printError("warning: no receipt secret in the environment: receipts go unsigned and loa will refuse them") }
        let sim = try CarrierSimulator(o)
        let listen = port ?? URLComponents(string: g.endpoint)?.port ?? 8080
        let banner = "\(g.displayName) simulator on http://127.0.0.1:\(listen) — \(g.tps) TPS, batches ≤ \(g.maxBatch), faults \(Int(faultRate * 100))%"
            + (g.voice.map { ", voice: \($0.channels) channels, \($0.callsPerSecond) calls/s" } ?? "")
        // Said once it listens, and flushed: a script (or a test) waiting for the line may connect at once.
        let app = Application(router: sim.router(), configuration: .init(address: .hostname("127.0.0.1", port: listen)),
                              onServerRunning: { _ in
                                  print(banner)
                                  fflush(nil)
                              }, logger: quietLogger("loa.carrier-sim"))
        try await app.runService()
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accept delivery receipts (POST /receipts/{carrier}, Kannel's GET /receipts/{carrier}/dlr); with --console, the operator console.",
        discussion: """
            --console adds the web console for the department's staff (sign in with a loa user and \
            their token; pages check the user's role) and GET /metrics (Prometheus). Campaign files \
            made or uploaded in it are written to --campaigns-dir; point the dispatcher's \
            $LOA_CAMPAIGNS glob there. It works with no internet: everything is served by loa.

            Listens on 127.0.0.1:8080 by default; --listen 0.0.0.0:8443 (or the address behind your TLS \
            reverse proxy) lets carriers reach it. Bodies above --max-body get 413 before anything is \
            read further; connections beyond --max-connections wait; idle connections close after 30 s. \
            Every refused request is logged (carrier, status, reason, size; never the body) on stderr.
            """
    )
    @Option(name: .long, help: "HOST:PORT to listen on (default 127.0.0.1:8080).") var listen = "127.0.0.1:8080"
    @Option(name: .long, help: "Port on the --listen host (kept for older scripts).") var port: Int?
    @Option(name: .long, help: "Largest request body in KiB (default 4096).") var maxBody = 4096
    @Option(name: .long, help: "Connections at most (default 256).") var maxConnections = 256
    @Flag(name: .long, help: "Also serve the operator console and /metrics.") var console = false
    @Option(name: .long, help: "Where the console writes campaign files (default: $LOA_CAMPAIGNS_DIR or ./campaigns).") var campaignsDir: String?
    @Option(name: .long, help: "The province's policy file (default: $LOA_POLICY, or ./policy.yaml when present).") var policy: String?
    @OptionGroup var store: StoreOptions

    var address: (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let p = Int(listen[listen.index(after: colon)...]) else { return nil }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host.isEmpty ? nil : (host, port ?? p)
    }

    func validate() throws {
        guard let a = address else { throw ValidationError("--listen: expected HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:8443, found '\(Escaped(listen))'") }
        guard (1...65535).contains(a.port) else { throw ValidationError("--listen/--port: expected a port from 1 to 65535, found \(a.port)") }
        guard (1...1_048_576).contains(maxBody) else { throw ValidationError("--max-body: expected 1 to 1,048,576 KiB, found \(maxBody)") }
        guard (1...100_000).contains(maxConnections) else { throw ValidationError("--max-connections: expected 1 to 100,000, found \(maxConnections)") }
    }

    func run() async throws {
        var secrets: [Carrier: [UInt8]] = [:]
        var legacy: Set<Carrier> = []
        var parts: [Carrier: ReceiptParts] = [:]
        let configs = try store.carrierConfigs()
        for (carrier, config) in configs {
            let gateway = try config.gateway(requireSecrets: false)
            guard let s = gateway.receiptSecret else { continue }
            secrets[carrier] = s
            parts[carrier] = gateway.receiptParts
            if gateway.receiptSignatureVersion == 1 { legacy.insert(carrier) }
        }
        if secrets.isEmpty && !console { throw CLIError("no carrier has a receipt secret in the environment (receipt_secret_env in \(store.carriersDirectory))") }
        let router = Router()
        let (host, port) = address!
        var banners: [String] = []
        if !secrets.isEmpty {
            let endpoint = try ReceiptEndpoint(sink: Store.receiptStores(location: store.databaseLocation), secrets: secrets, legacySignature: legacy,
                                               parts: parts, maxBody: maxBody * 1024, logger: serverLogger("loa.serve"))
            endpoint.addRoutes(to: router)
            banners.append("receipts on http://\(host):\(port)/receipts/{carrier} for \(secrets.keys.map(\.rawValue).sorted().joined(separator: ", "))")
        } else {
            banners.append("no carrier has a receipt secret in the environment: receipts are not accepted")
        }
        if console {
            try makeConsole(configs).addRoutes(to: router)
            banners.append("console on http://\(host):\(port)/ (metrics: /metrics)")
        }
        // Every 10 minutes: what the carriers accepted longer ago than their receipts.validity without
        // a final receipt becomes no-receipt (a late receipt still applies).
        let location = store.databaseLocation
        let reconciler = Task.detached {
            let logger = serverLogger("loa.serve")
            while !Task.isCancelled {
                do {
                    let db = try Store(location: location, create: false)
                    for (carrier, n) in try reconcileReceipts(db, configs, at: Timestamp(seconds: Int64(Date().timeIntervalSince1970))) where n.count > 0 {
                        logger.info("no final receipt within the validity: recorded no-receipt", metadata: ["carrier": "\(carrier.rawValue)", "messages": "\(n.count)"])
                    }
                } catch {
                    logger.error("reconciling receipts failed: \(error)")
                }
                try? await Task.sleep(for: .seconds(600))
            }
        }
        defer { reconciler.cancel() }
        let banner = banners.joined(separator: "\n")
        try await ReceiptEndpoint.serve(router, host: host, port: port, maxConnections: maxConnections) {
            print(banner)
            fflush(nil)
        }
    }

    /// The console over this store, with the carriers' prices, rates and keys.
    func makeConsole(_ configs: [Carrier: CarrierConfig]) throws -> Console {
        // A missing store is refused here, and clear numbers an older loa left are sealed.
        _ = try store.open(create: false)
        var tps: [String: Int] = [:], kannel: Set<String> = []
        for (carrier, config) in configs {
            let g = try config.gateway(requireSecrets: false)
            tps[carrier.rawValue] = g.tps
            if g.protocolKind == .kannel { kannel.insert(carrier.rawValue) }
        }
        let keys: OperatorKeys?
        do { keys = try store.operatorKeys() } catch {
            printError("warning: \(error): the console shows no audience preview")
            keys = nil
        }
        let directory = campaignsDir ?? ProcessInfo.processInfo.environment["LOA_CAMPAIGNS_DIR"] ?? "campaigns"
        return try Console(ConsoleSettings(storeLocation: store.databaseLocation, campaignsDirectory: absolutePath(directory), units: try loadUnits(),
                                       prices: try reportPrices(configs),
                                       keys: keys, emergency: try PolicyFile.load(policy).emergency, tps: tps, kannelCarriers: kannel))
    }
}
