import Foundation
import LoaTestSupport
import Testing

/// Regressions for the opt-out, privacy and hostile-input issue, through the `loa` binary.
@Suite("loa refuses what it must refuse (processes)", .serialized)
struct HostileInputCLITests {
    static let contactKey = String(repeating: "5a", count: 32)

    func campaign(_ dir: String, _ name: String, extra: String = "", id: String = "c2") throws -> String {
        let f = ISO8601DateFormatter()
        let now = Date()
        try Data("""
            id: \(id)
            title: Thử
            office: Sở
            legal_basis: test
            channel: sms
            sender: LOA
            priority: urgent
            audience:
              communes: [23377, 23392, 23383, 23344, 23365, 23530, 23535, 23536]
            \(extra)
            languages: {default: vi}
            variants: {vi: "Xã {commune}: thử nghiệm"}
            schedule: {start: \(f.string(from: now.addingTimeInterval(-3600))), end: \(f.string(from: now.addingTimeInterval(86400))), windows: ["07:00-21:00"]}

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        return "\(dir)/\(name)"
    }

    @Test("loa serve listens where told, refuses oversized and unsigned requests with the right status, and logs each refusal without the body")
    func serveRefusesAndLogs() throws {
        let dir = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(dir)/carriers", withIntermediateDirectories: true)
        try Data("name: viettel\nprotocol: batch-http\nendpoint: http://127.0.0.1:9\ntps: 10\nmax_batch: 10\nreceipt_secret_env: LOA_RECEIPT_VIETTEL\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/carriers/viettel.yaml"))
        try Data("cgi,lat,lon,commune_code\n452-04-1-1,14.72,107.56,23377\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/cells.csv"))
        let env = ["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_CARRIERS": "\(dir)/carriers", "LOA_RECEIPT_VIETTEL": "receipt-secret-0001"]
        #expect(try CLI.run(["import", "cells", "\(dir)/cells.csv"], environment: env).status == 0)
        #expect(try CLI.run(["serve", "--listen", "nowhere"], environment: env).stderr.contains("--listen: expected HOST:PORT"))
        let port = Int.random(in: 30000...39000)
        let log = "\(dir)/serve.log"
        let serve = try CLI.spawn(["serve", "--listen", "127.0.0.1:\(port)", "--max-body", "4"], environment: env, log: log)
        defer { serve.terminate(); serve.waitUntilExit() }
        for _ in 0..<100 where !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("receipts on") { usleep(50_000) }
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("receipts on http://127.0.0.1:\(port)/receipts/{carrier} for viettel"))
        func post(_ body: String) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary", "@-", "http://127.0.0.1:\(port)/receipts/viettel"]
            let input = Pipe(), output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            try p.run()
            input.fileHandleForWriting.write(Data(body.utf8))
            try input.fileHandleForWriting.close()
            let code = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return code
        }
        #expect(try post("{\"message_id\":\"m1\",\"status\":\"delivered\"}\n") == "401")
        // Over --max-body and unsigned: refused on its headers, before the body is read (a signed one gets 413: ReceiptEndpointTests).
        #expect(try post(String(repeating: "x", count: 5000)) == "401")
        usleep(200_000)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("receipts refused") && text.contains("status=401") && text.contains("reason=no X-Loa-Signature"), "\(text)")
        #expect(!text.contains("delivered") && !text.contains("xxxxx"), "a body was logged: \(text)")
    }

    @Test("a carrier file's problems are reported all at once, each with its line and column")
    func carrierFileProblemsAtOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-carrier-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("""
            serialization_version: 2
            name: viettel
            protocol: batch-htp
            endpoint: ftp://gateway.example
            tps: 0
            max_batch: 1000000
            windw: "06:00-22:00"
            retry:
              initial: 0s
              attempts: 5
            concurrent_uploads: 100

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/viettel.yaml"))
        let r = try CLI.run(["carrier-sim", "--carrier", "\(dir)/viettel.yaml"])
        #expect(r.status != 0)
        // In the file's order.
        let expected = [
            "viettel.yaml:1:24: error: serialization_version: this loa reads version 1 carrier files, found '2'",
            "viettel.yaml:3:11: error: protocol: expected batch-http or kannel, found 'batch-htp'",
            "viettel.yaml:4:11: error: endpoint: expected the gateway's base URL",
            "viettel.yaml:5:6: error: tps: expected a whole number from 1 to 100,000, found '0'",
            // A number out of range reads as the number (not masked like a subscriber's).
            "viettel.yaml:6:12: error: max_batch: expected a whole number from 1 to 100,000, found '1,000,000'",
            "viettel.yaml:7:1: error: windw: unknown field",
            "viettel.yaml:9:12: error: retry.initial: expected a duration from 1s",
            "viettel.yaml:10:13: error: retry.attempts: no longer used",
            "viettel.yaml:11:21: error: concurrent_uploads: expected a whole number from 1 to 64, found '100'",
            "viettel.yaml: 9 problems",
        ]
        var previous = r.stderr.startIndex
        for line in expected {
            let found = r.stderr.range(of: line)
            #expect(found != nil, "\(line)\n\(r.stderr)")
            if let found {
                #expect(found.lowerBound >= previous, "out of order: \(line)")
                previous = found.lowerBound
            }
        }
    }

    @Test("opt-outs: without a carrier's key, or without the contact key, selection is refused; a contact on the list is not messaged")
    func optOutsAreNeverSkipped() throws {
        let fx = try DispatchFixture(tps: 400, subscribers: 20000, carriers: ["viettel", "vinaphone"])
        var env = fx.env
        env["LOA_CONTACT_KEY"] = Self.contactKey
        // Two contacts; the first has opted out.
        try Data("msisdn\n0912000001\n".utf8).write(to: URL(fileURLWithPath: "\(fx.dir)/dnc.csv"))
        try Data("msisdn,name,language,commune_code\n0912000001,A,vi,23377\n0912000002,B,vi,23377\n".utf8).write(to: URL(fileURLWithPath: "\(fx.dir)/contacts.csv"))
        #expect(try CLI.run(["import", "do-not-call", "\(fx.dir)/dnc.csv"], environment: fx.env).stderr.contains("needs the contact key"))
        #expect(try CLI.run(["import", "do-not-call", "\(fx.dir)/dnc.csv"], environment: env).status == 0)
        #expect(try CLI.run(["import", "contacts", "\(fx.dir)/contacts.csv", "--list", "uy-tin"], environment: env).status == 0)
        // The numbers are nowhere in the store file in clear.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fx.database))
        #expect(bytes.range(of: Data("912000001".utf8)) == nil && bytes.range(of: Data("912000002".utf8)) == nil)
        let c = try campaign(fx.dir, "c2.yaml", extra: "  contact_lists: [uy-tin]")
        let ok = try CLI.run(["audience", c, "--at", "now", "--json"], environment: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("\"from_contact_lists\":1"), "\(ok.stdout)")
        // Without VinaPhone's key its subscribers' opt-outs cannot be matched: refused, naming the key.
        var noKey = env
        noKey["LOA_KEY_VINAPHONE"] = nil
        let refused = try CLI.run(["audience", c, "--at", "now"], environment: noKey)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("cannot be applied to vinaphone (its pseudonym key: the environment variable LOA_KEY_VINAPHONE"), "\(refused.stderr)")
        // Without the contact key the list cannot be opened: refused too.
        let noVault = try CLI.run(["audience", c, "--at", "now"], environment: fx.env)
        #expect(noVault.status != 0 && noVault.stderr.contains("LOA_CONTACT_KEY"), "\(noVault.stderr)")
        // The store and everything beside it are private.
        for f in try FileManager.default.contentsOfDirectory(atPath: fx.dir) where f.hasPrefix("loa.sqlite") {
            let mode = (try FileManager.default.attributesOfItem(atPath: "\(fx.dir)/\(f)")[.posixPermissions] as? NSNumber)?.intValue ?? 0
            #expect(mode & 0o077 == 0, "\(f): \(String(mode, radix: 8))")
        }
    }

    @Test("one bad campaign never stops the others: a 50000d window is refused, the other campaign is sent, exit 3")
    func oneBadCampaign() throws {
        let fx = try DispatchFixture(tps: 400, subscribers: 20000)
        let sim = try fx.simulator(record: "\(fx.dir)/accepted.txt", receipts: false)
        defer { sim.terminate() }
        let bad = try campaign(fx.dir, "bad.yaml", extra: "  seen_within: 50000d", id: "bad")
        let check = try CLI.run(["campaign", "check", bad], environment: fx.env)
        #expect(check.status != 0)
        #expect(check.stderr.contains("audience.seen_within: expected a duration from 1m to 30d"), "\(check.stderr)")
        let run = try CLI.run(["dispatch", bad, "\(fx.dir)/c.yaml"], environment: fx.env)
        #expect(run.status == 3, "\(run.stderr)")
        #expect(run.stderr.contains("bad.yaml: not sent"))
        #expect(run.stdout.contains("crash-test: completed"), "\(run.stdout)")
        #expect(try fx.stats()["accepted"] ?? 0 > 0)
    }

    @Test("CAP: values cannot rewrite the campaign; exercises, foreign documents, entities and broken shapes are refused")
    func capAlerts() throws {
        let dir = try CLI.temporaryDirectory()
        func cap(status: String = "Actual", areaDesc: String = "Xã Bờ Y", polygon: String = "14.6,107.5 14.6,107.7 14.8,107.7 14.6,107.5",
                 root: String = "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">", prolog: String = "", extra: String = "") -> String {
            """
            <?xml version="1.0" encoding="UTF-8"?>\(prolog)
            \(root)
              <identifier>VN-T-1</identifier><sender>x@example.vn</sender><sent>2026-11-24T06:00:00+07:00</sent>
              <status>\(status)</status><msgType>Alert</msgType><scope>Public</scope>
              <info><language>vi-VN</language><event>Lũ</event><urgency>Immediate</urgency><severity>Severe</severity>
                <headline>Cảnh báo\(extra)</headline><onset>2026-11-24T07:00:00+07:00</onset>
                <area><areaDesc>\(areaDesc)</areaDesc><polygon>\(polygon)</polygon>
                  <geocode><valueName>commune</valueName><value>23377</value></geocode></area>
              </info>
            </alert>
            """
        }
        func run(_ xml: String, _ args: [String] = []) throws -> CLIResult {
            let name = "a\(UUID().uuidString.prefix(8))"
            try Data(xml.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name).xml"))
            return try CLI.run(["campaign", "from-cap", "\(dir)/\(name).xml", "-o", "\(dir)/\(name).yaml"] + args)
        }
        // Line breaks and YAML in a value stay inside the value.
        let injected = try run(cap(areaDesc: "Bờ Y\naudience:\n  contact_lists: [everyone]\nlimits: {respect_dnc: false}"))
        #expect(injected.status == 0, "\(injected.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }
        let yaml = try String(contentsOfFile: "\(dir)/\(written[0])", encoding: .utf8)
        #expect(!yaml.contains("contact_lists") && !yaml.contains("respect_dnc"), "\(yaml)")
        let check = try CLI.run(["campaign", "check", "\(dir)/\(written[0])"])
        #expect(check.status == 0, "\(check.stderr)")
        // Exercises.
        let exercise = try run(cap(status: "Exercise"))
        #expect(exercise.status != 0 && exercise.stderr.contains("not Actual"), "\(exercise.stderr)")
        let allowed = try run(cap(status: "Exercise"), ["--allow-exercise"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        // Not CAP, DTDs, unknown entities, shapes off the Earth.
        #expect(try run(cap(root: "<alert xmlns=\"urn:example:other\">")).stderr.contains("not a CAP 1.2 alert"))
        #expect(try run(cap(prolog: "<!DOCTYPE alert [<!ENTITY x \"y\">]>")).stderr.contains("DOCTYPE"))
        let entity = try run(cap(extra: " &nbsp;"))
        #expect(entity.status != 0 && entity.stderr.contains("the entity &nbsp;"), "\(entity.stderr)")
        let shape = try run(cap(polygon: "14.6,107.5 14.6,107.7 14.8,107.7"))
        #expect(shape.status != 0 && shape.stderr.contains("<polygon> must be at least 4"), "\(shape.stderr)")
        // Found by fuzzing: bytes that are not UTF-8 in an element's name crashed the XML parser.
        var bytes = Array(cap().utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "<"))! + 3
        bytes.insert(contentsOf: [0xFF, 0xFF], at: at)
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/binary.xml"))
        let binary = try CLI.run(["campaign", "from-cap", "\(dir)/binary.xml", "-o", "\(dir)/binary.yaml"])
        #expect(binary.status == 1)
        #expect(binary.stderr.contains("binary.xml: error: not UTF-8 text (byte \(at + 1) is not valid UTF-8); a CAP alert is UTF-8 XML"), "\(binary.stderr)")
    }

    @Test("YAML bombs, huge files and duplicate keys are refused quickly with a position")
    func yamlLimits() throws {
        let dir = try CLI.temporaryDirectory()
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...9 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        try Data((lines + ["id: *a9\n"]).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: "\(dir)/bomb.yaml"))
        let started = Date()
        let bomb = try CLI.run(["campaign", "check", "\(dir)/bomb.yaml"])
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(bomb.status != 0 && bomb.stderr.contains("an alias bomb?"), "\(bomb.stderr)")
        try Data(("# " + String(repeating: "x", count: 2 << 20) + "\nid: a\n").utf8).write(to: URL(fileURLWithPath: "\(dir)/big.yaml"))
        #expect(try CLI.run(["campaign", "check", "\(dir)/big.yaml"]).stderr.contains("too large for a campaign or carrier file"))
        try Data("id: a\ntitle: b\nid: c\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/dup.yaml"))
        let dup = try CLI.run(["campaign", "check", "\(dir)/dup.yaml"])
        #expect(dup.stderr.contains("dup.yaml:3:1: error: id: this key appears twice in the same mapping (first at 1:1)"), "\(dup.stderr)")
    }

    @Test("polygon rings off the Earth, too short or not closed are reported, not dropped")
    func polygonRings() throws {
        let dir = try CLI.temporaryDirectory()
        let cases = [
            ("off.geojson", "[[[107.5, 14.6], [107.7, 14.6], [107.7, 94.8], [107.5, 14.6]]]", "position 3: [107.7, 94.8] is off the Earth"),
            ("short.geojson", "[[[107.5, 14.6], [107.7, 14.6], [107.5, 14.6]]]", "a ring needs at least 4 positions"),
            ("open.geojson", "[[[107.5, 14.6], [107.7, 14.6], [107.7, 14.8], [107.5, 14.8]]]", "a ring must end where it starts"),
            ("empty.geojson", "[]", "a polygon needs at least its outer ring"),
        ]
        for (name, coordinates, problem) in cases {
            try Data("{\"type\": \"Polygon\", \"coordinates\": \(coordinates)}".utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
            let c = try campaign(dir, "c-\(name).yaml", extra: "  polygons: [\(name)]")
            let r = try CLI.run(["campaign", "check", c])
            #expect(r.status != 0 && r.stderr.contains(problem), "\(name): \(r.stderr)")
        }
    }

    @Test("outputs never replace a file unasked, never an input, never through a link")
    func outputsAreSafe() throws {
        let dir = try CLI.temporaryDirectory()
        try Data("Th\u{AB}ng b\u{B8}o".utf8).write(to: URL(fileURLWithPath: "\(dir)/in.txt"))
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: "\(dir)/existing.txt"))
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/link.txt", withDestinationPath: "\(dir)/existing.txt")
        let exists = try CLI.run(["text", "convert", "\(dir)/in.txt", "-o", "\(dir)/existing.txt"])
        #expect(exists.status != 0 && exists.stderr.contains("exists; loa does not replace it unless told to (--force)"), "\(exists.stderr)")
        let input = try CLI.run(["text", "convert", "\(dir)/in.txt", "-o", "\(dir)/in.txt", "--force"])
        #expect(input.status != 0 && input.stderr.contains("which this command reads"), "\(input.stderr)")
        let link = try CLI.run(["text", "convert", "\(dir)/in.txt", "-o", "\(dir)/link.txt", "--force"])
        #expect(link.status != 0 && link.stderr.contains("symbolic link"), "\(link.stderr)")
        #expect(try String(contentsOfFile: "\(dir)/existing.txt", encoding: .utf8) == "keep me")
        let forced = try CLI.run(["text", "convert", "\(dir)/in.txt", "-o", "\(dir)/existing.txt", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
    }

    @Test("names, ports, texts, stores and options that cannot be right are refused with the reason")
    func refusals() throws {
        let dir = try CLI.temporaryDirectory()
        let env = ["LOA_DATABASE": "\(dir)/loa.sqlite"]
        let c = try campaign(dir, "c.yaml")
        #expect(try CLI.run(["campaign", "submit", c, "--as", "lan.nguyen"], environment: env).status == 0)
        let same = try CLI.run(["campaign", "approve", c, "--as", "Lan.Nguyen "], environment: env)
        #expect(same.status != 0 && same.stderr.contains("cannot approve it"), "\(same.stderr)")
        let hidden = try CLI.run(["campaign", "approve", c, "--as", "lan\u{200B}.nguyen"], environment: env)
        #expect(hidden.status != 0 && hidden.stderr.contains("control or invisible characters"), "\(hidden.stderr)")
        #expect(try CLI.run(["campaign", "approve", c, "--as", ""], environment: env).stderr.contains("must not be empty"))
        #expect(try CLI.run(["serve", "--port", "107026"], environment: env).stderr.contains("expected a port from 1 to 65535"))
        try Data([0x61, 0x00, 0x62]).write(to: URL(fileURLWithPath: "\(dir)/nul.txt"))
        let nul = try CLI.run(["inspect", "text", "--file", "\(dir)/nul.txt"])
        #expect(nul.status != 0 && nul.stderr.contains("control character U+0000"), "\(nul.stderr)")
        #expect(try CLI.run(["inspect", "text", "a\u{1B}[2Jb"]).stderr.contains("control character U+001B"))
        #expect(try CLI.run(["inspect", "text", "x", "--price-per-segment", "99999999999"]).stderr.contains("expected 0 to 1,000,000"))
        let long = try CLI.run(["inspect", "text", String(repeating: "ễ", count: 67 * 256)])
        #expect(long.status != 0 && long.stderr.contains("at most 255"), "\(long.stderr)")
        let batch = try CLI.run(["inspect", "text", "--json", "--batch"], stdin: "\"ok\"\n\"bad \u{FFFD}\"\n")
        #expect(batch.status == 0)
        let rawBad = Process()
        rawBad.executableURL = CLI.binary
        rawBad.arguments = ["inspect", "text", "--json", "--batch"]
        let input = Pipe(), output = Pipe()
        rawBad.standardInput = input
        rawBad.standardOutput = output
        rawBad.standardError = Pipe()
        try rawBad.run()
        input.fileHandleForWriting.write(Data([0x22, 0x61, 0xC3, 0x28, 0x22, 0x0A]))   // "a\xC3(" : not UTF-8
        try input.fileHandleForWriting.close()
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        rawBad.waitUntilExit()
        #expect(rawBad.terminationStatus == 1 && out.contains("not UTF-8"), "\(out)")
        for location in ["", ":memory:", "file:x?mode=memory"] {
            let r = try CLI.run(["import", "cells", "\(dir)/none.csv"], environment: ["LOA_DATABASE": location])
            #expect(r.status != 0 && (r.stderr.contains("in-memory") || r.stderr.contains("empty") || r.stderr.contains("file: URI")), "\(location): \(r.stderr)")
        }
        let typo = try CLI.run(["audience", c, "--at", "now"], environment: ["LOA_DATABASE": "\(dir)/lao.sqlite"])
        #expect(typo.status != 0 && typo.stderr.contains("no store here"), "\(typo.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/lao.sqlite"))
        #expect(try CLI.run(["demo-data", "--provinces", "", "--out", "\(dir)/d"]).stderr.contains("--provinces: expected 2025 province codes"))
        // demo-data never replaces files it did not create in this run, unless told.
        try FileManager.default.createDirectory(atPath: "\(dir)/real", withIntermediateDirectories: true)
        try Data("subscriber,cgi,seen_at\nreal data\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/real/presence-viettel.csv"))
        let kept = try CLI.run(["demo-data", "--subscribers", "10000", "--out", "\(dir)/real"])
        #expect(kept.status != 0 && kept.stderr.contains("already holds presence-viettel.csv: use --force"), "\(kept.stderr)")
        #expect(try String(contentsOfFile: "\(dir)/real/presence-viettel.csv", encoding: .utf8).contains("real data"))
        #expect(try CLI.run(["demo-data", "--subscribers", "10000", "--out", "\(dir)/real", "--force"]).status == 0)
    }
}
