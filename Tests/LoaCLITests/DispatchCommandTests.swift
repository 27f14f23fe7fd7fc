import Foundation
import Testing

/// A province, carriers pointing at simulators on free ports, and an approved emergency campaign.
struct DispatchFixture {
    let dir: String
    let env: [String: String]
    let port: Int
    let receiptsPort: Int

    init(tps: Int, subscribers: Int = 60000) throws {
        dir = try CLI.temporaryDirectory()
        port = Int.random(in: 20000...29000)
        receiptsPort = port + 1
        var env = ["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_CARRIERS": "\(dir)/carriers"]
        for c in ["VIETTEL", "VINAPHONE", "MOBIFONE", "VIETNAMOBILE", "GMOBILE"] {
            env["LOA_KEY_\(c)"] = String(repeating: "ab", count: 16)
            env["LOA_SIGNING_\(c)"] = "signing-\(c)-secret-0001"
            env["LOA_RECEIPT_\(c)"] = "receipt-\(c)-secret-0001"
        }
        self.env = env
        try FileManager.default.createDirectory(atPath: "\(dir)/carriers", withIntermediateDirectories: true)
        // One carrier only, so that one simulator sees every message.
        try Data("""
            name: viettel
            protocol: batch-http
            endpoint: http://127.0.0.1:\(port)
            tps: \(tps)
            max_batch: 500
            timeout: 2s
            retry: {initial: 100ms, multiplier: 2, max: 1s, attempts: 50}
            signing_secret_env: LOA_SIGNING_VIETTEL
            receipt_secret_env: LOA_RECEIPT_VIETTEL
            pseudonym_key: {env: LOA_KEY_VIETTEL}

            """.replacingOccurrences(of: "100ms", with: "1s").utf8).write(to: URL(fileURLWithPath: "\(dir)/carriers/viettel.yaml"))
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
        for args in [["demo-data", "--subscribers", String(subscribers), "--provinces", "51", "--out", "\(dir)/data"],
                     ["import", "cells", "\(dir)/data/cells.csv"],
                     ["import", "presence", "\(dir)/data/presence-viettel.csv", "--carrier", "viettel"],
                     ["campaign", "submit", "\(dir)/c.yaml", "--as", "lan"],
                     ["campaign", "approve", "\(dir)/c.yaml", "--as", "minh"]] {
            let r = try CLI.run(args, environment: env)
            if r.status != 0 { throw CLIError("\(args): \(r.stderr)") }
        }
    }

    func simulator(record: String, faultRate: Double = 0) throws -> Process {
        let p = try CLI.spawn(["carrier-sim", "--carrier", "\(dir)/carriers/viettel.yaml", "--record", record, "--fault-rate", String(faultRate),
                               "--receipts-to", "http://127.0.0.1:\(receiptsPort)/receipts/viettel"], environment: env, log: "\(dir)/sim.log")
        for _ in 0..<100 {
            if (try? String(contentsOfFile: "\(dir)/sim.log", encoding: .utf8))?.contains("simulator on") == true { break }
            usleep(100_000)
        }
        return p
    }

    func dispatch(log: String) throws -> Process {
        try CLI.spawn(["dispatch", "\(dir)/c.yaml", "--receipts-port", String(receiptsPort)], environment: env, log: log)
    }

    func stats() throws -> [String: Int] {
        let r = try CLI.runCurl("http://127.0.0.1:\(port)/stats")
        return (try JSONSerialization.jsonObject(with: Data(r.utf8)) as? [String: Int]) ?? [:]
    }
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

@Suite("loa dispatch: crashes and signals (processes)", .serialized)
struct DispatchCommandTests {
    @Test("kill -9 mid-dispatch, then run again: every message reaches the carrier exactly once, none lost")
    func killNineAndResume() throws {
        let fx = try DispatchFixture(tps: 400)
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
        let store = fx.env["LOA_DATABASE"]!
        let count = try CLI.runSQLite(store, "SELECT count(*) FROM messages WHERE campaign = 'crash-test'")
        let open = try CLI.runSQLite(store, "SELECT count(*) FROM messages WHERE state IN ('planned', 'queued', 'submitted')")
        #expect(Int(count) == ids.count)
        #expect(open == "0")
    }

    @Test("SIGTERM finishes the uploads in flight and exits; a second run completes")
    func sigtermDrains() throws {
        let fx = try DispatchFixture(tps: 300)
        let record = "\(fx.dir)/accepted.txt"
        let sim = try fx.simulator(record: record)
        defer { sim.terminate() }
        let first = try fx.dispatch(log: "\(fx.dir)/d1.log")
        usleep(2_500_000)
        kill(first.processIdentifier, SIGTERM)
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        #expect(try String(contentsOfFile: "\(fx.dir)/d1.log", encoding: .utf8).contains("stopping: finishing the uploads in flight"))
        let store = fx.env["LOA_DATABASE"]!
        #expect(try CLI.runSQLite(store, "SELECT count(*) FROM batches WHERE state = 'uploading'") == "0")
        let second = try fx.dispatch(log: "\(fx.dir)/d2.log")
        second.waitUntilExit()
        let ids = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
        #expect(Set(ids).count == ids.count)
        #expect(try CLI.runSQLite(store, "SELECT count(*) FROM messages WHERE state IN ('planned', 'submitted')") == "0")
    }
}

extension CLI {
    static func runSQLite(_ db: String, _ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [db, sql]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
