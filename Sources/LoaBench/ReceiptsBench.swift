import Foundation
import Hummingbird
import Synchronization
import LoaCarriers
import LoaCore
import LoaCrypto
import LoaServer
import LoaStore

/// `loa-bench receipts`: delivery receipts over HTTP into a store with N messages awaiting them
/// (accepted by the carrier; a third of them long, in two parts, whose receipts come per part),
/// posted signed (protocol version 2) in bodies of 1,000 lines from a few concurrent clients, with
/// 2% duplicates and 1% unknown ids, in random order over everything pending (or, with
/// `--arrival 1`, in the order receipts come back). Prints receipts/s per store size; asserts nothing.
struct ReceiptsBench {
    let options: Options
    let secret = Array("bench-receipt-secret-0001".utf8)
    var arrival: Bool { options.int("arrival", 0) == 1 }

    func run() async throws {
        let sizes = options.values["pending"].map { [$0] } ?? [10_000, 100_000, 1_000_000]
        let clients = options.int("clients", 4)
        print("receipts in \(arrival ? "arrival order (sent in id order, most answered within seconds, a tenth within hours)" : "random order over everything pending")")
        for pending in sizes { try await measure(pending: pending, clients: clients) }
    }

    func measure(pending: Int, clients: Int) async throws {
        let bench = DispatchBench(options: options)
        // Every third message is long (two parts); ids follow the planning order from 1.
        let path = try bench.store(messages: pending, carriers: [.viettel]) { $0 % 3 == 0 ? 2 : 1 }
        defer { bench.discard(path) }
        let store = try Store(location: path)
        // Everything planned goes out in batches of 5,000 the carrier accepts.
        let t0 = Date()
        while let batch = try store.claimBatch(carrier: .viettel, limit: 5000) { try store.batchAccepted(batch.id, status: 202, rejected: [:]) }
        print("  \(formatCount(pending)) messages accepted (awaiting receipts) in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        let stores = try Store.receiptStores(location: path)
        let sink = TimedSink(stores)
        let endpoint = try ReceiptEndpoint(sink: sink, secrets: [.viettel: secret])
        let router = Router()
        endpoint.addRoutes(to: router)
        let server = BackgroundServer()
        let port = try await server.start(router)
        let identity = store.identity
        let posted = min(pending, options.int("receipts", 200_000))
        // Bodies of 1,000 lines: each message once, 2% repeated, 1% unknown ids. The order: shuffled
        // over everything pending (the worst case: every receipt on a page of its own), or with
        // --arrival 1 as receipts come back (sent in id order at 1,000 a second; 90% answered after
        // a delay of 20 s on average, 10% after up to 6 hours: phones off or out of coverage).
        var rng = SplitMix64(seed: 42)
        var ids: [Int64]
        if arrival {
            ids = (1...Int64(pending)).map { id -> (Int64, Double) in
                let u = Double.random(in: Double.ulpOfOne..<1, using: &rng)
                let delay = Double.random(in: 0..<1, using: &rng) < 0.9 ? -20 * log(u) : u * 6 * 3600
                return (id, Double(id) / 1000 + delay)
            }.sorted { $0.1 < $1.1 }.prefix(posted).map(\.0)
        } else {
            ids = Array(1...Int64(pending)).shuffled(using: &rng).prefix(posted).map { $0 }
        }
        var lines: [String] = []
        lines.reserveCapacity(posted * 103 / 100)
        for id in ids {
            let status = Double.random(in: 0..<1, using: &rng) < 0.95 ? "delivered" : "failed"
            if (id - 1) % 3 == 0 {
                for part in 1...2 {
                    lines.append("{\"message_id\":\"\(MessageRef(id: id, store: identity))\",\"part\":\"\(part)\",\"status\":\"\(status)\",\"at\":\"2026-12-03T09:00:00+07:00\"}")
                }
            } else {
                lines.append("{\"message_id\":\"\(MessageRef(id: id, store: identity))\",\"status\":\"\(status)\",\"at\":\"2026-12-03T09:00:00+07:00\"}")
            }
            if Double.random(in: 0..<1, using: &rng) < 0.02 { lines.append(lines.last!) }
            if Double.random(in: 0..<1, using: &rng) < 0.01 {
                lines.append("{\"message_id\":\"\(MessageRef(id: Int64(pending) + id, store: identity))\",\"status\":\"delivered\"}")
            }
        }
        ids.removeAll()
        let bodies = stride(from: 0, to: lines.count, by: 1000).map { Array((lines[$0..<min($0 + 1000, lines.count)].joined(separator: "\n") + "\n").utf8) }
        final class Counters: Sendable {
            let next = Atomic<Int>(0)
            let failures = Atomic<Int>(0)
        }
        let counters = Counters()
        let signer = try HMACSigner(secret: secret)
        let cpu0 = processCPU()
        let start = Date()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                        Thread {
                            let client = CurlClient(.init(timeout: 60))
                            while true {
                                let i = counters.next.add(1, ordering: .relaxed).oldValue
                                if i >= bodies.count { break }
                                let headers = BatchHTTP.receiptHeaders(body: bodies[i], signer: signer, now: Int64(Date().timeIntervalSince1970))
                                let answer = try? client.post("http://127.0.0.1:\(port)/receipts/viettel", headers: headers, body: bodies[i])
                                if answer?.status != 200 { counters.failures.add(1, ordering: .relaxed) }
                            }
                            c.resume()
                        }.start()
                    }
                }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let totals = endpoint.totals
        let cpu = processCPU() - cpu0
        let restarts = try stores.with { $0.logRestartsInBackground }
        // Where the time goes: reading the lines alone (one core), and the store's share of the run
        // (on SQLite its calls run one at a time: near the run's length, the store is what limits it).
        let p0 = Date()
        var parsed = 0
        for body in bodies.prefix(20) { parsed += BatchHTTP.receiptLines(body).count }
        let parseRate = Double(parsed) / Date().timeIntervalSince(p0)
        let storeBusy = sink.seconds
        print("receipts: \(formatCount(pending)) pending: \(formatCount(lines.count)) receipt lines in \(bodies.count) requests from \(clients) clients in "
              + "\(String(format: "%.2f", seconds)) s = \(formatCount(Int(Double(lines.count) / seconds))) receipts/s "
              + "(matched \(formatCount(totals.matched)), quarantined \(formatCount(totals.unmatched)), failed requests \(counters.failures.load(ordering: .relaxed))); "
              + "reading the lines alone: \(formatCount(Int(parseRate)))/s; "
              + String(format: "the store busy %.2f s of them (%.0f µs a line", storeBusy, storeBusy * 1e6 / Double(lines.count))
              + (sink.concurrentCalls > 1 ? ", summed over \(sink.concurrentCalls) connections)" : ")")
              + String(format: "; CPU (this process: server, clients, store) %.1f s in %.1f s", cpu, seconds)
              + (Store.isPostgresURL(path) ? "" : "; the log started over \(restarts) times by the checkpoint thread"))
        await server.stop()
    }
}

/// A sink that adds up the time its calls take (on SQLite the endpoint makes them one at a time;
/// on PostgreSQL several at once, so that their sum may pass the run's length).
final class TimedSink: ReceiptSink, @unchecked Sendable {
    let sink: any ReceiptSink
    private let total = Mutex<Double>(0)
    init(_ sink: any ReceiptSink) { self.sink = sink }
    var concurrentCalls: Int { sink.concurrentCalls }
    var seconds: Double { total.withLock { $0 } }

    func timed<T>(_ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now()
        defer { let t = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9; total.withLock { $0 += t } }
        return try body()
    }
    func recordReceipts(carrier: Carrier, parts: ReceiptParts, _ receipts: [ReceiptRecord]) throws -> [ReceiptOutcome] {
        try timed { try sink.recordReceipts(carrier: carrier, parts: parts, receipts) }
    }
    func quarantine(carrier: Carrier, _ lines: [(line: String, reason: String)]) throws { try timed { try sink.quarantine(carrier: carrier, lines) } }
    func admitSignature(_ signature: String, at: Int64, forgetBefore: Int64) throws -> Bool {
        try timed { try sink.admitSignature(signature, at: at, forgetBefore: forgetBefore) }
    }
}

/// CPU seconds (user and system) this process has used so far, all threads.
func processCPU() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
