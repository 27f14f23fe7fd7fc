import Foundation
import LoaCore
import LoaStore

/// `loa-bench report`: a campaign report over N messages (default 5,000,000) in a SQLite store:
/// four carriers, 60 communes, three languages, delivered/failed/pending/rejected/expired mixed,
/// latencies spread over ten minutes. Prints seconds per report dimension; asserts nothing.
struct ReportBench {
    let options: Options

    func run() throws {
        let messages = options.int("messages", 5_000_000)
        // LOA_BENCH_REPORT_STORE: a store made by an earlier run, kept and read again.
        if let kept = ProcessInfo.processInfo.environment["LOA_BENCH_REPORT_STORE"], FileManager.default.fileExists(atPath: kept) {
            try measure(try Store(location: kept, create: false))
            return
        }
        let dir = ProcessInfo.processInfo.environment["LOA_BENCH_REPORT_STORE"].map { ($0 as NSString).deletingLastPathComponent }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("loa-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let keep = ProcessInfo.processInfo.environment["LOA_BENCH_REPORT_STORE"] != nil
        defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
        let path = ProcessInfo.processInfo.environment["LOA_BENCH_REPORT_STORE"] ?? "\(dir)/loa.sqlite"
        let store = try Store(location: path)
        _ = try store.submitCampaign(id: "bench", title: "bench", priority: .emergency, file: "bench.yaml", sha256: "x", by: "a")
        _ = try store.approveCampaign("bench", sha256: "x", by: "b", unreviewed: [])
        _ = try store.transitionCampaign("bench", "start", by: "b")
        let carriers: [Carrier] = [.viettel, .vinaphone, .mobifone, .vietnamobile]
        let languages = ["vi", "vi", "vi", "xdg", "jra"]
        var t = Date()
        var i = 0
        while i < messages {
            let n = min(100_000, messages - i)
            let part = (i..<(i + n)).map { k in
                PlannedMessage(carrier: carriers[k % 4], subscriber: Pseudonym(w0: UInt64(k), w1: 1, w2: 2, w3: 3).description,
                               language: languages[k % 5], commune: 23300 + (k / 7) % 60, text: "Xã Bờ Y: cảnh báo lũ quét.",
                               encoding: k % 5 == 0 ? .gsm7 : .ucs2, segments: 1 + (k % 10 == 0 ? 1 : 0))
            }
            _ = try store.planMessages(campaign: "bench", priority: .emergency, day: 1, capPerDay: 1, part: part)
            i += n
        }
        print("  \(formatCount(messages)) messages planned in \(String(format: "%.1f", Date().timeIntervalSince(t))) s")
        t = Date()
        for c in carriers {
            while let batch = try store.claimBatch(carrier: c, limit: 5000) { try store.batchAccepted(batch.id, status: 202, rejected: [:]) }
        }
        // Outcomes as receipts would leave them (raw updates: the receipt path has its own benchmark).
        let raw = try SQLiteDatabase(path: path, create: false)
        try raw.execute("""
            UPDATE messages SET state = 'delivered', updated_at = updated_at + (id * 7919) % 600 WHERE id % 100 < 85;
            UPDATE messages SET state = 'failed', reason = CASE id % 3 WHEN 0 THEN 'absent subscriber' WHEN 1 THEN 'memory full' ELSE 'unknown subscriber' END,
                updated_at = updated_at + 30 WHERE id % 100 BETWEEN 85 AND 89;
            UPDATE messages SET state = 'rejected', reason = 'per-subscriber cap: 1 a day across campaigns' WHERE id % 100 BETWEEN 90 AND 92;
            UPDATE messages SET state = 'expired', reason = 'campaign ended' WHERE id % 100 = 93;
            ANALYZE;
            """)
        print("  accepted and outcomes set in \(String(format: "%.1f", Date().timeIntervalSince(t))) s")
        try measure(store)
    }

    func measure(_ store: Store) throws {
        let prices: [String: Double] = ["gsm7": 250, "ucs2": 350]
        for round in 1...max(1, options.int("rounds", 3)) {
            for dimension in ReportDimension.allCases {
                let t0 = Date()
                let facts = try store.deliveryFacts(campaign: "bench")
                let report = DeliveryReport(dimension: dimension, facts: facts) { _, e in prices[e] }
                let s = Date().timeIntervalSince(t0)
                print("report by \(dimension.rawValue) (round \(round)): \(String(format: "%.2f", s)) s, \(report.rows.count) rows, \(formatCount(report.total.recipients)) messages, \(formatCount(facts.count)) groups read, p95 \(report.total.latency(percentile: 0.95) ?? -1) s")
            }
        }
    }
}
