import Foundation
import LoaTestSupport
import Testing

/// A province, carriers pointing at simulators on free ports, and an approved emergency campaign.
struct DispatchFixture {
    let dir: String
    let env: [String: String]
    let port: Int
    let receiptsPort: Int
    let carriers: [String]
    let database: String

    /// Carrier `i` listens on `port + 2 i`; loa's receipts on `port + 1`.
    func port(_ carrier: String) -> Int { port + 2 * carriers.firstIndex(of: carrier)! }

    init(tps: Int, subscribers: Int = 60000, carriers: [String] = ["viettel"], engine: StoreEngine = .sqlite) throws {
        dir = try CLI.temporaryDirectory()
        port = Int.random(in: 20000...29000)
        receiptsPort = port + 1
        self.carriers = carriers
        database = engine == .sqlite ? "\(dir)/loa.sqlite" : try engine.scratchLocation()
        var env = ["LOA_DATABASE": database, "LOA_CARRIERS": "\(dir)/carriers"]
        for c in ["VIETTEL", "VINAPHONE", "MOBIFONE", "VIETNAMOBILE", "GMOBILE"] {
            env["LOA_KEY_\(c)"] = String(repeating: "ab", count: 16)
            env["LOA_SIGNING_\(c)"] = "signing-\(c)-secret-0001"
            env["LOA_RECEIPT_\(c)"] = "receipt-\(c)-secret-0001"
        }
        self.env = env
        try FileManager.default.createDirectory(atPath: "\(dir)/carriers", withIntermediateDirectories: true)
        // Only these carriers have files, so that their simulators see every message.
        for (i, carrier) in carriers.enumerated() {
            let upper = carrier.uppercased()
            try Data("""
                name: \(carrier)
                protocol: batch-http
                endpoint: http://127.0.0.1:\(port + 2 * i)
                tps: \(tps)
                max_batch: 500
                timeout: 2s
                retry: {initial: 1s, multiplier: 2, max: 1s}
                signing_secret_env: LOA_SIGNING_\(upper)
                receipt_secret_env: LOA_RECEIPT_\(upper)
                pseudonym_key: {env: LOA_KEY_\(upper)}

                """.utf8).write(to: URL(fileURLWithPath: "\(dir)/carriers/\(carrier).yaml"))
        }
        let now = Date()
        let f = ISO8601DateFormatter()
        try Data("""
            id: crash-test
            title: Thử nghiệm
            office: Sở
            legal_basis: test
            channel: sms
            sender: LOA
            priority: emergency
            audience: {communes: [23377, 23392, 23383, 23344, 23365, 23530, 23535, 23536]}
            languages: {default: vi}
            variants: {vi: "Xã {commune}: thử nghiệm"}
            schedule: {start: \(f.string(from: now.addingTimeInterval(-3600))), end: \(f.string(from: now.addingTimeInterval(86400))), windows: ["00:00-24:00"]}

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/c.yaml"))
        let imports = carriers.map { ["import", "presence", "\(dir)/data/presence-\($0).csv", "--carrier", $0] }
        for args in [["demo-data", "--subscribers", String(subscribers), "--provinces", "51", "--out", "\(dir)/data"],
                     ["import", "cells", "\(dir)/data/cells.csv"]] + imports + [
                     ["campaign", "submit", "\(dir)/c.yaml", "--as", "lan"],
                     ["campaign", "approve", "\(dir)/c.yaml", "--as", "minh"]] {
            let r = try CLI.run(args, environment: env)
            if r.status != 0 { throw CLIError("\(args): \(r.stderr)") }
        }
    }

    func simulator(_ carrier: String = "viettel", record: String, faultRate: Double = 0, receipts: Bool = true, environment: [String: String] = [:]) throws -> Process {
        let log = "\(dir)/sim-\(carrier).log"
        let p = try CLI.spawn(["carrier-sim", "--carrier", "\(dir)/carriers/\(carrier).yaml", "--record", record, "--fault-rate", String(faultRate)]
                              + (receipts ? ["--receipts-to", "http://127.0.0.1:\(receiptsPort)/receipts/\(carrier)"] : []),
                              environment: env.merging(environment) { $1 }, log: log)
        // It says so once it listens.
        for _ in 0..<200 {
            if (try? String(contentsOfFile: log, encoding: .utf8))?.contains("simulator on") == true { return p }
            if !p.isRunning { break }
            usleep(50_000)
        }
        p.terminate()
        throw CLIError("the \(carrier) simulator did not start listening: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    func dispatch(log: String, receipts: Bool = true) throws -> Process {
        try CLI.spawn(["dispatch", "\(dir)/c.yaml"] + (receipts ? ["--receipts-port", String(receiptsPort)] : []), environment: env, log: log)
    }

    func stats(_ carrier: String = "viettel") throws -> [String: Int] {
        let r = try CLI.runCurl("http://127.0.0.1:\(port(carrier))/stats")
        return (try JSONSerialization.jsonObject(with: Data(r.utf8)) as? [String: Int]) ?? [:]
    }

    /// One value from the store (sqlite3 or psql, as an operator would look).
    func sql(_ query: String) throws -> String { try CLI.runSQL(database, query) }
}

struct CLIError: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

extension CLI {
    static func runCurl(_ url: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", url]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("loa dispatch: crashes and signals (processes)")
struct DispatchCommandTests {
    @Test("kill -9 mid-dispatch, then run again: every message reaches the carrier exactly once, none lost",
          arguments: StoreEngine.available)
    func killNineAndResume(engine: StoreEngine) throws {
        let fx = try DispatchFixture(tps: 400, engine: engine)
        let record = "\(fx.dir)/accepted.txt"
        let sim = try fx.simulator(record: record, faultRate: 0.1)
        defer { sim.terminate() }
        let first = try fx.dispatch(log: "\(fx.dir)/d1.log")
        // Let it get going, then kill it without warning.
        var killed = false
        for _ in 0..<100 {
            usleep(100_000)
            let accepted = (try? String(contentsOfFile: record, encoding: .utf8))?.split(separator: "\n").count ?? 0
            if accepted > 200 { kill(first.processIdentifier, SIGKILL); killed = true; break }
        }
        first.waitUntilExit()
        #expect(killed)
        #expect(first.terminationReason == .uncaughtSignal)
        let before = (try String(contentsOfFile: record, encoding: .utf8)).split(separator: "\n").count
        let second = try fx.dispatch(log: "\(fx.dir)/d2.log")
        second.waitUntilExit()
        let secondLog = (try? String(contentsOfFile: "\(fx.dir)/d2.log", encoding: .utf8)) ?? ""
        #expect(second.terminationStatus == 0, "\(secondLog)")
        let ids = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
        let planned = try CLI.run(["campaign", "status", "crash-test"], environment: fx.env)
        #expect(planned.stdout.contains("state completed"))
        #expect(Set(ids).count == ids.count)            // none twice
        #expect(ids.count > before)
        let stats = try fx.stats()
        #expect(stats["duplicateMessages"] == 0)
        #expect(stats["accepted"] == ids.count)
        // None lost: every planned message was accepted by the carrier.
        let total = try CLI.run(["campaign", "status", "crash-test"], environment: fx.env).stdout
        #expect(total.contains("planned"))
        let count = try fx.sql("SELECT count(*) FROM messages WHERE campaign = 'crash-test'")
        let open = try fx.sql("SELECT count(*) FROM messages WHERE state IN ('planned', 'queued', 'submitted')")
        #expect(Int(count) == ids.count)
        #expect(open == "0")
    }

    @Test("two loa dispatch processes share the carriers; kill -9 one and the other takes its carriers over: each message once, none lost",
          arguments: StoreEngine.available)
    func twoDispatchersOneKilled(engine: StoreEngine) throws {
        let carriers = ["viettel", "vinaphone", "mobifone"]
        let fx = try DispatchFixture(tps: 300, subscribers: 25000, carriers: carriers, engine: engine)
        let records = Dictionary(uniqueKeysWithValues: carriers.map { ($0, "\(fx.dir)/accepted-\($0).txt") })
        let sims = try carriers.map { try fx.simulator($0, record: records[$0]!, faultRate: 0.05, receipts: false) }
        defer { sims.forEach { $0.terminate() } }
        func accepted() -> [String: [Substring]] {
            records.mapValues { ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").split(separator: "\n") }
        }
        let first = try fx.dispatch(log: "\(fx.dir)/d1.log", receipts: false)
        usleep(300_000)
        let second = try fx.dispatch(log: "\(fx.dir)/d2.log", receipts: false)
        // Once both nodes have been up a while (the second has its share of carriers), kill the first without warning.
        var killed = false
        usleep(1_500_000)
        // What an operator sees meanwhile (a busy machine may take longer to start the second node).
        var info = try CLI.run(["store", "info"], environment: fx.env)
        for _ in 0..<40 where !info.stdout.contains("dispatchers: 2 running") {
            usleep(250_000)
            info = try CLI.run(["store", "info"], environment: fx.env)
        }
        #expect(info.stdout.contains("dispatchers: 2 running"), "\(info.stdout)\(info.stderr)")
        #expect(info.stdout.contains("schema: version "))
        if engine == .postgres { #expect(!info.stdout.contains("loa-test@") && info.stdout.contains(":***@")) }
        for _ in 0..<150 {
            usleep(100_000)
            if accepted().values.map(\.count).reduce(0, +) > 600 {
                kill(first.processIdentifier, SIGKILL)
                killed = true
                break
            }
        }
        first.waitUntilExit()
        #expect(killed)
        second.waitUntilExit()
        let secondLog = (try? String(contentsOfFile: "\(fx.dir)/d2.log", encoding: .utf8)) ?? ""
        #expect(second.terminationStatus == 0, "\(secondLog)")
        #expect(secondLog.contains("crash-test: completed"), "\(secondLog)")
        let ids = accepted()
        for carrier in carriers {
            let stats = try fx.stats(carrier)
            #expect(Set(ids[carrier]!).count == ids[carrier]!.count, "\(carrier): an id twice")
            #expect(stats["duplicateMessages"] == 0, "\(carrier)")
            #expect(stats["accepted"] == ids[carrier]!.count, "\(carrier)")
            #expect((stats["maxInAnySecond"] ?? 0) <= 300, "\(carrier): \(stats)")
            #expect(try fx.sql("SELECT count(*) FROM messages WHERE carrier = '\(carrier)'") == String(ids[carrier]!.count), "\(carrier)")
        }
        #expect(try fx.sql("SELECT count(*) FROM messages WHERE state <> 'accepted'") == "0")
    }

    @Test("SIGTERM in a run that cannot finish for a minute: only the uploads in flight go, the process exits within seconds (143), nothing is left half-done")
    func sigtermStopsALongRun() throws {
        // About 2,600 messages at 50 a second: nearly a minute of sending.
        let fx = try DispatchFixture(tps: 50)
        let record = "\(fx.dir)/accepted.txt"
        let sim = try fx.simulator(record: record)
        defer { sim.terminate() }
        let first = try fx.dispatch(log: "\(fx.dir)/d1.log")
        func accepted() -> Int { ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n").count }
        for _ in 0..<200 where accepted() < 100 { usleep(100_000) }
        let atSignal: Int = accepted()
        #expect(atSignal >= 100)
        kill(first.processIdentifier, SIGTERM)
        let signalled = Date()
        while first.isRunning && Date().timeIntervalSince(signalled) < 15 { usleep(50_000) }
        let took: Double = Date().timeIntervalSince(signalled)
        if first.isRunning { kill(first.processIdentifier, SIGKILL) }
        first.waitUntilExit()
        let log: String = (try? String(contentsOfFile: "\(fx.dir)/d1.log", encoding: .utf8)) ?? ""
        #expect(took < 5, "still running \(took) s after SIGTERM")
        let status: Int32 = first.terminationStatus
        #expect(first.terminationReason == .exit)
        #expect(status == 143, "\(log)")
        #expect(log.contains("stopping (SIGTERM): finishing the uploads in flight"), "\(log)")
        #expect(log.contains("run the same command again to continue"))
        // At most what was in flight (two batches claimed ahead of the rate, paced batches of 5 at 50/s) went after the signal.
        let after: Int = accepted() - atSignal
        #expect(after <= 60, "\(after) messages accepted after SIGTERM")
        let uploading: String = try fx.sql("SELECT count(*) FROM batches WHERE state = 'uploading'")
        #expect(uploading == "0")
        let acceptedNow: Int = accepted()
        let acceptedInStore: String = try fx.sql("SELECT count(*) FROM messages WHERE state NOT IN ('planned', 'submitted', 'rejected')")   // accepted, some delivered since
        #expect(acceptedInStore == String(acceptedNow))
        let planned: Int = Int(try fx.sql("SELECT count(*) FROM messages WHERE state = 'planned'")) ?? 0
        #expect(planned > 1000)
        let stats: [String: Int] = try fx.stats()
        #expect(stats["accepted"] == acceptedNow)
    }

    @Test("a wrong signing secret: loa dispatch stops that carrier at once, keeps every message planned and exits 3 with the reason")
    func wrongSecretExitsNonZero() throws {
        let fx = try DispatchFixture(tps: 400, subscribers: 20000)
        let sim = try fx.simulator(record: "\(fx.dir)/accepted.txt", environment: ["LOA_SIGNING_VIETTEL": "what-the-carrier-was-given-0002"])
        defer { sim.terminate() }
        let started = Date()
        let run: CLIResult = try CLI.run(["dispatch", "\(fx.dir)/c.yaml"], environment: fx.env)
        let took: Double = Date().timeIntervalSince(started)
        #expect(took < 30)
        #expect(run.status == 3, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stderr.contains("needs attention:\n  viettel: stopped: the carrier answered HTTP 401"), "\(run.stderr)")
        let notPlanned: String = try fx.sql("SELECT count(*) FROM messages WHERE state <> 'planned'")
        #expect(notPlanned == "0")
        let state: String = try fx.sql("SELECT state FROM campaigns")
        #expect(state == "sending")
    }
}

extension CLI {
    /// Runs one query with the engine's own client: sqlite3 for a file, psql for a URL.
    static func runSQL(_ location: String, _ sql: String) throws -> String {
        let p = Process()
        if location.hasPrefix("postgres") {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
            p.arguments = [location, "-Atc", sql]
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            p.arguments = [location, sql]
        }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
