import Foundation
import Synchronization
import Hummingbird
import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaCore
import LoaCrypto
import LoaReference
import LoaStore

/// Dispatch benchmarks: a store with planned messages, in-process carrier simulators on
/// loopback, the real dispatcher (libcurl; SQLite, or PostgreSQL when LOA_BENCH_POSTGRES names a
/// server). Prints figures; asserts nothing.
struct DispatchBench {
    let options: Options
    let signing = Array("bench-signing-secret-0001".utf8)

    /// `segments(i)`: the parts of the i-th message of a carrier (1 by default).
    func store(messages: Int, carriers: [Carrier], segments: (Int) -> Int = { _ in 1 }) throws -> String {
        let path: String
        if let server = ProcessInfo.processInfo.environment["LOA_BENCH_POSTGRES"] {
            // A fresh database on that server (postgres://user:password@host:port/any).
            path = PostgresDatabase.url(server, database: "loa_bench_\(UInt32.random(in: 0...UInt32.max))")
        } else {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            path = "\(dir)/loa.sqlite"
        }
        print("store: \(Store.isPostgresURL(path) ? "PostgreSQL" : "SQLite")")
        let store = try Store(location: path)
        _ = try store.submitCampaign(id: "bench", title: "bench", priority: .emergency, file: "bench.yaml", sha256: "x", by: "a")
        _ = try store.approveCampaign("bench", sha256: "x", by: "b", unreviewed: [])
        _ = try store.transitionCampaign("bench", "start", by: "b")
        func message(_ i: Int, _ k: Int) -> PlannedMessage {
            PlannedMessage(carrier: carriers[k], subscriber: Pseudonym(w0: UInt64(i), w1: UInt64(k), w2: 3, w3: 4).description, language: "vi",
                           commune: 23377, text: "Xã Bờ Y: cảnh báo lũ quét, di chuyển lên vùng cao ngay.", encoding: .ucs2, segments: segments(i))
        }
        let n = messages / max(carriers.count, 1)
        if options.int("interleave", 0) != 0 {
            // As an audience plans: the carriers mixed in one part, message after message.
            let planned = (0..<n).flatMap { i in carriers.indices.map { message(i, $0) } }
            let t = Date()
            _ = try store.planMessages(campaign: "bench", priority: .emergency, day: 1, capPerDay: 1, planned)
            print("  \(planned.count) messages, carriers interleaved, written in \(String(format: "%.2f", Date().timeIntervalSince(t))) s")
        } else {
            for k in carriers.indices {
                let t = Date()
                _ = try store.planMessages(campaign: "bench", priority: .emergency, day: 1, capPerDay: 1, (0..<n).map { message($0, k) })
                if n > 0 { print("  \(carriers[k].rawValue): \(n) messages written in \(String(format: "%.2f", Date().timeIntervalSince(t))) s") }
            }
        }
        return path
    }

    /// Removes a store made by `store` (its directory, or its database on the server), unless
    /// LOA_BENCH_KEEP is set (to look into it afterwards).
    func discard(_ path: String) {
        if ProcessInfo.processInfo.environment["LOA_BENCH_KEEP"] != nil { print("kept: \(path)"); return }
        if Store.isPostgresURL(path) { try? PostgresDatabase.dropDatabase(url: path) }
        else { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
    }

    func campaigns() -> Dispatcher.Campaigns {
        let always = SendingPolicy(campaignWindows: [DailyWindow(startMinute: 0, endMinute: 1440)], carrierWindow: nil, priority: .emergency,
                                   start: Timestamp(seconds: 0), end: Timestamp(seconds: Int64(Date().timeIntervalSince1970) + 86400))
        return .init(policies: ["bench": always], senders: ["bench": "LOA"])
    }

    func simulator(_ carrier: Carrier, tps: Int, maxBatch: Int, faultRate: Double = 0) async throws -> (CarrierSimulator, BackgroundServer, Int) {
        var o = CarrierSimulator.Options(carrier: carrier, tps: tps, maxBatch: maxBatch)
        o.signingSecret = signing
        o.faultRate = faultRate
        let sim = try CarrierSimulator(o)
        let server = BackgroundServer()
        let port = try await server.start(sim.router())
        return (sim, server, port)
    }

    func gateway(_ carrier: Carrier, port: Int, tps: Int, maxBatch: Int, timeout: Double = 30) -> CarrierGateway {
        CarrierGateway(carrier: carrier, displayName: carrier.rawValue, protocolKind: .batchHTTP, endpoint: "http://127.0.0.1:\(port)", tps: tps,
                       maxBatch: maxBatch, dailyQuota: 100_000_000, window: nil, retry: RetryPolicy(initialDelay: 0.05, maxDelay: 1),
                       timeout: timeout, token: nil, signingSecret: signing, receiptSecret: nil, client: .init(timeout: timeout, connectTimeout: min(timeout, 5)))
    }

    func throughput() async throws {
        let messages = options.int("messages", 300_000)
        let carriers = Array([Carrier.viettel, .vinaphone, .mobifone, .vietnamobile, .gmobile].prefix(options.int("carriers", 3)))
        print("planning \(messages) messages for \(carriers.count) carriers…")
        let planStart = Date()
        let path = try store(messages: messages, carriers: carriers)
        defer { discard(path) }
        print("store created and \(messages) messages planned in \(String(format: "%.2f", Date().timeIntervalSince(planStart))) s")
        var sims: [(CarrierSimulator, BackgroundServer)] = []
        var gateways: [CarrierGateway] = []
        for c in carriers {
            let (sim, server, port) = try await simulator(c, tps: 10_000_000, maxBatch: 5000)
            sims.append((sim, server))
            var g = gateway(c, port: port, tps: 1_000_000, maxBatch: 5000)
            g.concurrentUploads = options.values["uploads"]
            gateways.append(g)
        }
        let pool = try StorePool(location: path, capacity: options.values["connections"] ?? Dispatcher.storeConnections(carriers: gateways.count))
        let d = Dispatcher(storage: pool, gateways: gateways, campaigns: campaigns()) { _ in }
        let t0 = Date()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in Thread { c.resume(with: Result { try d.run(untilDrained: true) }) }.start() }
        let seconds = Date().timeIntervalSince(t0)
        let accepted = sims.reduce(0) { $0 + $1.0.currentStats().accepted }
        let duplicates = sims.reduce(0) { $0 + $1.0.currentStats().duplicateMessages }
        print("dispatch: \(accepted) messages accepted by \(carriers.count) simulators in \(String(format: "%.2f", seconds)) s = \(Int(Double(accepted) / seconds)) messages/s (duplicates \(duplicates))")
        let planning = t0.timeIntervalSince(planStart)
        print("end to end (store, planning, dispatch): \(String(format: "%.2f", planning + seconds)) s = \(Int(Double(accepted) / (planning + seconds))) messages/s")
        for s in sims { await s.1.stop() }
    }

    func rateAccuracy() async throws {
        let tps = options.int("tps", 500)
        let seconds = options.int("seconds", 30)
        let messages = tps * (seconds + 10)
        let path = try store(messages: messages, carriers: [.viettel])
        defer { discard(path) }
        let (sim, server, port) = try await simulator(.viettel, tps: tps * 2, maxBatch: 5000)
        let d = Dispatcher(storage: try StorePool(location: path, capacity: 8), gateways: [gateway(.viettel, port: port, tps: tps, maxBatch: 5000)], campaigns: campaigns()) { _ in }
        let (rate, elapsed, stats) = try await measure(d, sim, seconds: seconds)
        print("rate: configured \(tps) TPS, measured \(String(format: "%.1f", rate)) messages/s over \(String(format: "%.1f", elapsed)) s: error \(String(format: "%.2f", abs(rate - Double(tps)) / Double(tps) * 100))%; most in any 1-second window \(stats.maxInAnySecond), in any 100 ms \(stats.maxIn100ms) (pacing allows \(pacedChunk(tps: tps, maxBatch: 5000)) per 100 ms)")
        await server.stop()
    }

    /// Runs the dispatcher and measures, at the simulator, what it accepted over `seconds` after
    /// the first 2 s (past the first window); then stops the dispatcher.
    func measure(_ d: Dispatcher, _ sim: CarrierSimulator, seconds: Int) async throws -> (rate: Double, seconds: Double, stats: CarrierSimulator.Stats) {
        Thread { try? d.run(untilDrained: true) }.start()
        try await Task.sleep(for: .seconds(2))
        let a0 = sim.currentStats().accepted, t0 = Date()
        try await Task.sleep(for: .seconds(Double(seconds)))
        let a1 = sim.currentStats().accepted, t1 = Date()
        d.stop()
        let elapsed = t1.timeIntervalSince(t0)
        return (Double(a1 - a0) / elapsed, elapsed, sim.currentStats())
    }

    /// The effective rate to one carrier that meets faults (503, 500, lost answers, slow answers,
    /// resets) on a share of its uploads, measured by the carrier as messages accepted once.
    func underFaults() async throws {
        let tps = options.int("tps", 1000)
        let seconds = options.int("seconds", 30)
        let percent = options.int("fault-percent", 20)
        let timeout = Double(options.int("timeout", 10))
        let messages = tps * (seconds + 15)
        let path = try store(messages: messages, carriers: [.viettel])
        defer { discard(path) }
        let (sim, server, port) = try await simulator(.viettel, tps: tps * 2, maxBatch: 5000, faultRate: Double(percent) / 100)
        let d = Dispatcher(storage: try StorePool(location: path, capacity: 8), gateways: [gateway(.viettel, port: port, tps: tps, maxBatch: 5000, timeout: timeout)], campaigns: campaigns()) { _ in }
        let (rate, elapsed, stats) = try await measure(d, sim, seconds: seconds)
        print("faults: \(percent)% of uploads meet a fault (client timeout \(Int(timeout)) s); configured \(tps) TPS; accepted once by the carrier \(String(format: "%.1f", rate)) messages/s = \(String(format: "%.1f", rate / Double(tps) * 100))% of TPS over \(String(format: "%.1f", elapsed)) s; duplicates \(stats.duplicateMessages); most in any second \(stats.maxInAnySecond)")
        await server.stop()
    }

    /// Messages/s through a real Kannel (LOA_KANNEL_SENDSMS, as `ops/kannel/start.sh` prints) at a
    /// configured TPS: one request per message, counted when Kannel answers 2xx.
    func kannel() async throws {
        guard let sendsms = ProcessInfo.processInfo.environment["LOA_KANNEL_SENDSMS"] else {
            print("kannel: set LOA_KANNEL_SENDSMS (start Kannel with ops/kannel/start.sh DIR PORT; it prints the variable)")
            return
        }
        let tps = options.int("tps", 200)
        let seconds = options.int("seconds", 15)
        let messages = tps * (seconds + 3)
        let path = try store(messages: 0, carriers: [.viettel])
        defer { discard(path) }
        let store = try Store(location: path)
        let key = try KeyedPseudonymizer(key: Array("bench-kannel-pseudonym-key-0001".utf8))
        let vault = try ContactVault(hex: String(repeating: "b7", count: 32))
        var planned: [PlannedMessage] = []
        var csv = "msisdn,name,language,commune_code\n"
        for i in 0..<messages {
            guard case .success(let p) = VietnamNumberingPlan.parse("096\(String(format: "%07d", 1_000_000 + i))") else { continue }
            csv += "\(p.msisdn.national),A,,\n"
            planned.append(.init(carrier: .viettel, subscriber: key.pseudonym(for: p.msisdn).description, language: "vi", commune: 23377,
                                 text: "Xã Bờ Y: họp dân lúc 8 giờ", encoding: .ucs2, segments: 1))
        }
        let contacts = NSTemporaryDirectory() + "loa-bench-contacts-\(UUID().uuidString).csv"
        try csv.write(toFile: contacts, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: contacts) }
        _ = try store.importContacts(path: contacts, list: "bench", units: ReferenceData.administrativeUnits(), routing: CarrierRouting(), vault: vault)
        _ = try store.planMessages(campaign: "bench", priority: .emergency, day: 2, capPerDay: 1, planned)
        var g = CarrierGateway(carrier: .viettel, displayName: "Viettel via Kannel", protocolKind: .kannel, endpoint: sendsms, tps: tps, maxBatch: 1000,
                               dailyQuota: 100_000_000, window: nil, retry: RetryPolicy(initialDelay: 0.2, maxDelay: 1), timeout: 5, token: nil,
                               signingSecret: nil, receiptSecret: nil)
        g.kannel = KannelProtocol.Settings(sendsmsURL: sendsms, username: "loa", password: "loa-test", dlrBase: nil)
        g.pseudonymKey = key
        g.contactVault = vault
        if let uploads = options.values["uploads"] { g.concurrentUploads = uploads }
        final class Count: Sendable { let accepted = Mutex(0) }
        let count = Count()
        let d = Dispatcher(storage: try StorePool(location: path, capacity: 8), gateways: [g], campaigns: campaigns()) { p in
            count.accepted.withLock { $0 = max($0, p.accepted) }
        }
        Thread { try? d.run(untilDrained: true) }.start()
        func accepted() -> Int { count.accepted.withLock { $0 } }
        try await Task.sleep(for: .seconds(2))
        let a0 = accepted(), t0 = Date()
        try await Task.sleep(for: .seconds(Double(seconds)))
        let a1 = accepted(), t1 = Date()
        d.stop()
        let rate = Double(a1 - a0) / t1.timeIntervalSince(t0)
        print("kannel: configured \(tps) TPS, \(g.concurrentUploads.map(String.init) ?? "default") concurrent requests: accepted by Kannel \(String(format: "%.1f", rate)) messages/s = \(String(format: "%.1f", rate / Double(tps) * 100))% of TPS over \(String(format: "%.1f", t1.timeIntervalSince(t0))) s")
    }
}
