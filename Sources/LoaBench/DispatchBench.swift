import Foundation
import Hummingbird
import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaCore
import LoaStore

/// Dispatch benchmarks: a store with planned messages, in-process carrier simulators on
/// loopback, the real dispatcher (libcurl; SQLite, or PostgreSQL when LOA_BENCH_POSTGRES names a
/// server). Prints figures; asserts nothing.
struct DispatchBench {
    let options: Options
    let signing = Array("bench-signing-secret-0001".utf8)

    func store(messages: Int, carriers: [Carrier]) throws -> String {
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
        try store.db.run("INSERT INTO campaigns (id, file, file_sha256, title, priority, state, drafted_by, created_at) VALUES ('bench', 'x', 'x', 'bench', 'emergency', 'draft', 'a', 0)")
        _ = try store.approveCampaign("bench", sha256: "x", by: "b", unreviewed: [])
        _ = try store.transitionCampaign("bench", "start", by: "b")
        for (k, carrier) in carriers.enumerated() {
            let n = messages / carriers.count
            let planned = (0..<n).map { i in
                PlannedMessage(carrier: carrier, subscriber: Pseudonym(w0: UInt64(i), w1: UInt64(k), w2: 3, w3: 4).description, language: "vi",
                                               commune: 23377, text: "Xã Bờ Y: cảnh báo lũ quét, di chuyển lên vùng cao ngay.", encoding: .ucs2, segments: 1)
            }
            _ = try store.planMessages(campaign: "bench", priority: .emergency, day: 1, capPerDay: 1, planned)
        }
        return path
    }

    func campaigns() -> Dispatcher.Campaigns {
        let always = SendingPolicy(campaignWindows: [DailyWindow(startMinute: 0, endMinute: 1440)], carrierWindow: nil, priority: .emergency,
                                   start: Timestamp(seconds: 0), end: Timestamp(seconds: Int64(Date().timeIntervalSince1970) + 86400))
        return .init(policies: ["bench": always], senders: ["bench": "LOA"])
    }

    func simulator(_ carrier: Carrier, tps: Int, maxBatch: Int) async throws -> (CarrierSimulator, BackgroundServer, Int) {
        var o = CarrierSimulator.Options(carrier: carrier, tps: tps, maxBatch: maxBatch)
        o.signingSecret = signing
        let sim = try CarrierSimulator(o)
        let server = BackgroundServer()
        let port = try await server.start(sim.router())
        return (sim, server, port)
    }

    func gateway(_ carrier: Carrier, port: Int, tps: Int, maxBatch: Int) -> CarrierGateway {
        CarrierGateway(carrier: carrier, displayName: carrier.rawValue, protocolKind: .batchHTTP, endpoint: "http://127.0.0.1:\(port)", tps: tps,
                       maxBatch: maxBatch, dailyQuota: 100_000_000, window: nil, retry: RetryPolicy(initialDelay: 0.05, maxDelay: 1),
                       timeout: 30, token: nil, signingSecret: signing, receiptSecret: nil)
    }

    func throughput() async throws {
        let messages = options.int("messages", 300_000)
        let carriers = Array([Carrier.viettel, .vinaphone, .mobifone, .vietnamobile, .gmobile].prefix(options.int("carriers", 3)))
        print("planning \(messages) messages for \(carriers.count) carriers…")
        let planStart = Date()
        let path = try store(messages: messages, carriers: carriers)
        print("planned in \(String(format: "%.2f", Date().timeIntervalSince(planStart))) s")
        var sims: [(CarrierSimulator, BackgroundServer)] = []
        var gateways: [CarrierGateway] = []
        for c in carriers {
            let (sim, server, port) = try await simulator(c, tps: 10_000_000, maxBatch: 5000)
            sims.append((sim, server))
            gateways.append(gateway(c, port: port, tps: 1_000_000, maxBatch: 5000))
        }
        let d = Dispatcher(storeLocation: path, gateways: gateways, campaigns: campaigns()) { _ in }
        let t0 = Date()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in Thread { c.resume(with: Result { try d.run(untilDrained: true) }) }.start() }
        let seconds = Date().timeIntervalSince(t0)
        let accepted = sims.reduce(0) { $0 + $1.0.currentStats().accepted }
        let duplicates = sims.reduce(0) { $0 + $1.0.currentStats().duplicateMessages }
        print("dispatch: \(accepted) messages accepted by \(carriers.count) simulators in \(String(format: "%.2f", seconds)) s = \(Int(Double(accepted) / seconds)) messages/s (duplicates \(duplicates))")
        for s in sims { await s.1.stop() }
    }

    func rateAccuracy() async throws {
        let tps = options.int("tps", 500)
        let seconds = options.int("seconds", 30)
        let messages = tps * (seconds + 10)
        let path = try store(messages: messages, carriers: [.viettel])
        let (sim, server, port) = try await simulator(.viettel, tps: tps * 2, maxBatch: 5000)
        let d = Dispatcher(storeLocation: path, gateways: [gateway(.viettel, port: port, tps: tps, maxBatch: 5000)], campaigns: campaigns()) { _ in }
        Thread { try? d.run(untilDrained: true) }.start()
        try await Task.sleep(for: .seconds(2))   // past the first window
        let a0 = sim.currentStats().accepted, t0 = Date()
        try await Task.sleep(for: .seconds(Double(seconds)))
        let a1 = sim.currentStats().accepted, t1 = Date()
        d.stop()
        let rate = Double(a1 - a0) / t1.timeIntervalSince(t0)
        let stats = sim.currentStats()
        print("rate: configured \(tps) TPS, measured \(String(format: "%.1f", rate)) messages/s over \(String(format: "%.1f", t1.timeIntervalSince(t0))) s: error \(String(format: "%.2f", abs(rate - Double(tps)) / Double(tps) * 100))%; most in any 1-second window \(stats.maxInAnySecond), in any 100 ms \(stats.maxIn100ms) (pacing allows \(pacedChunk(tps: tps, maxBatch: 5000)) per 100 ms)")
        await server.stop()
    }
}
