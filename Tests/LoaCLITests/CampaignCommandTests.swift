import Foundation
import Testing

@Suite("loa campaign, import, audience (end to end)")
struct CampaignCommandTests {
    let root = CLI.packageRoot.path

    @Test func exampleCampaignsCheckClean() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(root)/campaigns").filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 3)
        let r = try CLI.run(["campaign", "check"] + files.map { "campaigns/\($0)" }, directory: root)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains(": error:"))
        #expect(r.stderr.contains("warning: variants.sed: not yet checked by a native translator"))
        #expect(r.stdout.contains("kontum-chay-rung-2026"))
    }

    @Test func everyProblemAtOnceWithFileLineColumn() throws {
        let dir = try CLI.temporaryDirectory()
        try Data("""
            id: bad campaign
            title: Thử
            office: Sở
            legal_basis: "1/KH"
            channel: sms
            sender: SOVANHOATHETHAO
            priority: routine
            audience:
              communes: [23377, 2345]
            languages:
              default: vi
              by_commune:
                23377: sed
            variants:
              vi: "Xã {commune}: {hotline} {"
              xx: "abc"
              sed: "chưa dịch"
            schedule:
              start: 2026-12-01T07:30:00+07:00
              end: 2026-12-01T07:00:00
              windows: ["06:00-08:00"]
            limits:
              max_segments: 1
              respect_dnc: false
            colour: red

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/bad.yaml"))
        let r = try CLI.run(["campaign", "check", "\(dir)/bad.yaml"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map { String($0).replacingOccurrences(of: dir + "/", with: "") }
        let expected = [
            "bad.yaml:1:5: error: id: use 1–64 characters of a–z, 0–9, '-', '_' and '.', e.g. kontum-2026-bao-so-3",
            "bad.yaml:6:9: error: sender: a brandname has at most 11 characters; 'SOVANHOATHETHAO' has 15 (carriers register brandnames of ≤ 11 characters)",
            "bad.yaml:9:21: error: audience.communes: commune code 02345 is not in the 2025 list (3,321 communes and wards since 1 July 2025; codes from before the reform are not valid)",
            "bad.yaml:15:7: error: variants.vi.text: column 25: '{' opens a placeholder that is never closed (write '{{' for a literal brace)",
            "bad.yaml:16:3: error: variants.xx: 'xx' is not an ISO 639 language code; did you mean xh (Xhosa)? (a language with no ISO 639 code can be named under languages.declare)",
            "bad.yaml:17:8: error: variants.sed.review: a text in Sedang (Xơ Đăng) must say whether a native translator checked it: add review: needs-native-review, or review: verified with reviewed_by:",
            "bad.yaml:20:8: error: schedule.end: expected a date and time with its offset, e.g. 2026-11-25T07:00:00+07:00, found '2026-12-01T07:00:00'",
            "bad.yaml:21:13: error: schedule.windows: window 06:00-08:00 falls in quiet hours 21:00-07:00 (routine and urgent campaigns send outside them; only emergency campaigns may send at night)",
            "bad.yaml:24:16: error: limits.respect_dnc: only emergency campaigns may ignore the do-not-call list",
            "bad.yaml:25:1: error: colour: unknown field (expected one of: serialization_version, id, title, purpose, office, legal_basis, channel, sender, priority, audience, languages, variants, schedule, limits, values, voice)",
        ]
        #expect(lines == expected)
    }

    @Test func unknownPlaceholderAndTooManySegments() throws {
        let dir = try CLI.temporaryDirectory()
        let long = String(repeating: "Thông báo khẩn ", count: 12)
        try Data("""
            id: long-one
            title: T
            office: O
            legal_basis: L
            channel: sms
            sender: LOA
            priority: emergency
            audience: {communes: [23377]}
            languages: {default: vi}
            variants:
              vi: "\(long){commune}"
              en: "Hello {hotline}"
            schedule: {start: 2026-12-01T00:00:00+07:00, end: 2026-12-02T00:00:00+07:00, windows: ["00:00-24:00"]}
            limits: {max_segments: 2}

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/c.yaml"))
        let r = try CLI.run(["campaign", "check", "\(dir)/c.yaml"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("c.yaml:11:7: error: variants.vi.text: 3 segments at worst (187 UTF-16 units, UCS-2) exceeds limits.max_segments = 2; without diacritics it would be 2"))
        #expect(r.stderr.contains("c.yaml:12:7: error: variants.en.text: unknown placeholder {hotline}: loa fills {commune}, {province} and {date}; give others under values:"))
    }

    /// Two communes, five cells, a handful of subscribers in known situations.
    @Test func audienceOnAHandMadeProvince() throws {
        let dir = try CLI.temporaryDirectory()
        let keys = ["LOA_KEY_VIETTEL": String(repeating: "a1", count: 16), "LOA_KEY_VINAPHONE": String(repeating: "b2", count: 16),
                    "LOA_CONTACT_KEY": String(repeating: "c3", count: 32)]
        try FileManager.default.createDirectory(atPath: "\(dir)/carriers", withIntermediateDirectories: true)
        for (name, env) in [("viettel", "LOA_KEY_VIETTEL"), ("vinaphone", "LOA_KEY_VINAPHONE")] {
            try Data("name: \(name)\npseudonym_key:\n  env: \(env)\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/carriers/\(name).yaml"))
        }
        let files: [String: String] = [
            "cells.csv": "cgi,lat,lon,commune_code\n452-04-1-1,14.72,107.56,23377\n452-04-1-2,14.73,107.57,23377\n452-04-2-1,14.62,107.80,23392\n452-04-3-1,20.53,104.62,14845\n452-02-1-1,14.72,107.56,23377\n",
            "viettel.csv": """
                subscriber,cgi,seen_at
                0961000001,452-04-1-1,2026-12-01T08:00:00+07:00
                0961000002,452-04-3-1,2026-12-01T08:00:00+07:00
                0961000002,452-04-1-1,2026-11-30T08:00:00+07:00
                0961000003,452-04-1-2,2026-11-20T08:00:00+07:00
                0961000004,452-04-2-1,2026-12-01T07:00:00+07:00
                0961000005,452-04-1-1,2026-12-01T08:30:00+07:00
                0961000006,452-04-1-1,2026-12-01T09:30:00+07:00
                0961000007,452-04-1-2,2026-12-01T06:00:00+07:00
                0961000007,452-04-1-2,2026-12-01T06:00:00+07:00
                """,
            "vinaphone.csv": "subscriber,cgi,seen_at\n0912000001,452-02-1-1,2026-12-01T08:00:00+07:00\n0961000009,452-02-1-1,2026-12-01T08:00:00+07:00\n",
            "dnc.csv": "msisdn\n0961000005\n",
            "prefs.csv": "subscriber,language\n0961000001,en\n",
            "contacts.csv": "msisdn,name,language,commune_code\n0912000001,Y Blương,,23377\n0988000001,A Thút,sed,23392\n",
            "c.yaml": """
                id: hand-made
                title: T
                office: O
                legal_basis: L
                channel: sms
                sender: LOA
                priority: routine
                audience:
                  communes: [23377, 23392]
                  contact_lists: [uy-tin]
                languages:
                  default: vi
                  by_commune: {23392: sed}
                variants:
                  vi: "Xã {commune}: thông báo"
                  en: "Notice"
                  sed: {text: "[chờ dịch] thông báo", review: needs-native-review}
                schedule: {start: 2026-12-01T08:00:00+07:00, end: 2026-12-02T20:00:00+07:00, windows: ["08:00-20:00"]}

                """,
        ]
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)")) }
        func loa(_ args: [String]) throws -> CLIResult {
            let r = try CLI.run(args, environment: keys.merging(["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_CARRIERS": "\(dir)/carriers"]) { $1 })
            #expect(r.status == 0, "\(args): \(r.stderr)")
            return r
        }
        _ = try loa(["import", "cells", "\(dir)/cells.csv"])
        let p = try loa(["import", "presence", "\(dir)/viettel.csv", "--carrier", "viettel", "--retention", "36500d"])
        #expect(p.stdout.contains("presence: 9 rows imported"))
        #expect(p.stdout.contains("none were stored"))
        _ = try loa(["import", "presence", "\(dir)/vinaphone.csv", "--carrier", "VinaPhone", "--retention", "36500d"])
        _ = try loa(["import", "do-not-call", "\(dir)/dnc.csv"])
        _ = try loa(["import", "preferences", "\(dir)/prefs.csv", "--carrier", "viettel"])
        _ = try loa(["import", "contacts", "\(dir)/contacts.csv", "--list", "uy-tin"])
        let r = try loa(["audience", "\(dir)/c.yaml", "--at", "2026-12-01T09:00:00+07:00", "--json", "--out", "\(dir)/r.csv"])
        let o = try CLI.json(Substring(r.stdout.trimmingCharacters(in: .newlines)))
        // 1 (en), 4 (Sa Loong: sed), 7 (vi) by area; vinaphone 0912000001 and 0961000009 (ported, VinaPhone's
        // file) by area; 0988000001 by the list. Not: 2 (moved out), 3 (stale), 5 (do-not-call), 6 (after the run time).
        #expect(o["recipients"] as? Int == 6)
        #expect(o["by_carrier"] as? [String: Int] == ["viettel": 4, "vinaphone": 2])
        #expect(o["by_language"] as? [String: Int] == ["en": 1, "sed": 2, "vi": 3])
        #expect(o["by_commune"] as? [String: Int] == ["23377": 4, "23392": 2])
        #expect(o["opted_out"] as? Int == 1)
        #expect(o["seen_elsewhere"] as? Int == 1)
        #expect(o["from_contact_lists"] as? Int == 1)
        #expect(o["contacts_also_in_area"] as? Int == 1)
        #expect(o["audience_cells"] as? [String: Int] == ["communes": 4, "cells": 0, "border_belt": 0, "polygons": 0, "excluded": 0, "total": 4])
        let csv = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/r.csv"))
        #expect(Array(csv.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let rows = String(decoding: csv.dropFirst(3), as: UTF8.self).split(separator: "\n")
        #expect(rows.first == "subscriber,carrier,language,commune_code,cgi")
        #expect(rows.count == 7)
        #expect(rows.dropFirst().allSatisfy { $0.hasPrefix("h:") })
        #expect(!String(decoding: csv, as: UTF8.self).contains("0961000001"))

        // One languages file for every carrier: 0961000009 names no carrier. By its prefix it is
        // Viettel's (its statement finds nobody); the porting list puts it at VinaPhone, where it is.
        try Data("subscriber,language,carrier\n0961000009,en\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/mixed.csv"))
        try Data("msisdn,carrier\n0961000009,vinaphone\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/ported.csv"))
        func languages() throws -> [String: Int]? {
            let r = try loa(["audience", "\(dir)/c.yaml", "--at", "2026-12-01T09:00:00+07:00", "--json"])
            return try CLI.json(Substring(r.stdout.trimmingCharacters(in: .newlines)))["by_language"] as? [String: Int]
        }
        let byPrefix = try loa(["import", "preferences", "\(dir)/mixed.csv"])
        #expect(byPrefix.stdout.contains("1 lines named no carrier and took the one the number's prefix was allocated to"), "\(byPrefix.stdout)")
        #expect(try languages()?["en"] == 1)
        let routed = try loa(["import", "preferences", "\(dir)/mixed.csv", "--routing", "\(dir)/ported.csv", "--force"])
        #expect(routed.stdout.contains("preferences: 1 rows imported"), "\(routed.stdout)")
        #expect(!routed.stdout.contains("named no carrier"))
        #expect(try languages()?["en"] == 2)
        #expect(try languages()?.values.reduce(0, +) == 6)
    }

    /// A one-language emergency campaign for these communes (a YAML flow list) and dates.
    func emergencyCampaign(id: String, communes: String, start: String, end: String) -> String {
        """
        id: \(id)
        title: T
        office: O
        legal_basis: L
        channel: sms
        sender: LOA
        priority: emergency
        audience: {communes: \(communes)}
        languages: {default: vi}
        variants: {vi: "Xã {commune}: thông báo"}
        schedule: {start: \(start), end: \(end), windows: ["00:00-24:00"]}

        """
    }

    @Test("presence that is stale, or clear numbers without the carrier's key, are refused with the reason, never silently dropped")
    func stalePresenceAndMissingKeys() throws {
        let dir = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(dir)/carriers", withIntermediateDirectories: true)
        for (i, name) in ["viettel", "vinaphone"].enumerated() {
            try Data("""
                name: \(name)
                protocol: batch-http
                endpoint: http://127.0.0.1:\(9 + i)
                tps: 100
                max_batch: 100
                pseudonym_key: {env: LOA_KEY_\(name.uppercased())}

                """.utf8).write(to: URL(fileURLWithPath: "\(dir)/carriers/\(name).yaml"))
        }
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        let now = Date()
        func seen(_ hoursAgo: Double) -> String { f.string(from: now.addingTimeInterval(-hoursAgo * 3600)) }
        let files = [
            "cells.csv": "cgi,lat,lon,commune_code\n452-04-1-1,14.72,107.56,23377\n452-02-1-1,14.72,107.56,23377\n",
            "old.csv": "subscriber,cgi,seen_at\n0961000001,452-04-1-1,\(seen(24 * 30))\n0961000002,452-04-1-1,\(seen(24 * 29))\n",
            "now.csv": "subscriber,cgi,seen_at\n0961000001,452-04-1-1,\(seen(1))\n0961000002,452-04-1-1,\(seen(2))\n",
            "c.yaml": emergencyCampaign(id: "stale", communes: "[23377]", start: seen(1), end: seen(-24)),
        ]
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)")) }
        var env = ["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_CARRIERS": "\(dir)/carriers", "LOA_KEY_VINAPHONE": String(repeating: "b2", count: 16)]
        #expect(try CLI.run(["import", "cells", "\(dir)/cells.csv"], environment: env).status == 0)
        // Clear numbers without Viettel's key: refused whole, naming where the key comes from.
        let noKey = try CLI.run(["import", "presence", "\(dir)/now.csv", "--carrier", "viettel"], environment: env)
        #expect(noKey.status != 0)
        #expect(noKey.stderr.contains("now.csv:2: subscriber: a clear number, but no pseudonym key is configured for viettel: nothing was imported"), "\(noKey.stderr)")
        #expect(noKey.stderr.contains("the environment variable LOA_KEY_VIETTEL"), "\(noKey.stderr)")
        env["LOA_KEY_VIETTEL"] = String(repeating: "a1", count: 16)
        // Last month's snapshot under the 7-day retention: refused, nothing kept, and not counted as imported.
        let stale = try CLI.run(["import", "presence", "\(dir)/old.csv", "--carrier", "viettel"], environment: env)
        #expect(stale.status != 0)
        #expect(stale.stderr.contains("all 2 rows were seen before"), "\(stale.stderr)")
        #expect(stale.stderr.contains("outside the retention: nothing was imported"), "\(stale.stderr)")
        let longer = try CLI.run(["import", "presence", "\(dir)/old.csv", "--carrier", "viettel", "--retention", "60d"], environment: env)
        #expect(longer.status == 0, "\(longer.stderr)")
        #expect(longer.stdout.contains("2 rows imported"), "\(longer.stdout)")
        // Only stale presence for Viettel, none for VinaPhone: audience warns, dispatch refuses to plan.
        let audience = try CLI.run(["audience", "\(dir)/c.yaml", "--at", "now"], environment: env)
        #expect(audience.status == 0)
        #expect(audience.stderr.contains("stale: warning: no presence seen between"), "\(audience.stderr)")
        #expect(audience.stderr.contains("for viettel, vinaphone: none of their subscribers can be selected"), "\(audience.stderr)")
        for args in [["campaign", "submit", "\(dir)/c.yaml", "--as", "lan"], ["campaign", "approve", "\(dir)/c.yaml", "--as", "minh"]] {
            #expect(try CLI.run(args, environment: env).status == 0)
        }
        let dispatch = try CLI.run(["dispatch", "\(dir)/c.yaml"], environment: env)
        #expect(dispatch.status != 0)
        #expect((dispatch.stdout + dispatch.stderr).contains("stale: not planned: no presence seen"), "\(dispatch.stdout)\(dispatch.stderr)")
        let status = try CLI.run(["campaign", "status", "stale"], environment: env).stdout
        #expect(status.contains("state approved"), "\(status)")
        #expect(!status.contains("plan:"), "\(status)")
        // A current snapshot for both: selected.
        #expect(try CLI.run(["import", "presence", "\(dir)/now.csv", "--carrier", "viettel"], environment: env).status == 0)
        let fresh = try CLI.run(["audience", "\(dir)/c.yaml", "--at", "now"], environment: env)
        #expect(fresh.stderr.contains("for vinaphone: none of their subscribers"), "\(fresh.stderr)")
        #expect(!fresh.stderr.contains("viettel, vinaphone"))
    }

    @Test("commune codes are written as 5-digit text (06184), whether the input padded them or not")
    func communeCodesKeepTheirZeros() throws {
        let dir = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(dir)/carriers", withIntermediateDirectories: true)
        try Data("name: viettel\npseudonym_key: {env: LOA_KEY_VIETTEL}\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/carriers/viettel.yaml"))
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        let now = Date()
        let files = [
            "cells.csv": "cgi,lat,lon,commune_code\n452-04-1-1,21.85,106.76,6184\n452-04-1-2,21.90,106.70,06214\n",
            "p.csv": "subscriber,cgi,seen_at\n0961000001,452-04-1-1,\(f.string(from: now.addingTimeInterval(-600)))\n0961000002,452-04-1-2,\(f.string(from: now.addingTimeInterval(-600)))\n",
            "c.yaml": emergencyCampaign(id: "ls", communes: "[\"06184\", 6214]", start: f.string(from: now.addingTimeInterval(-3600)),
                                        end: f.string(from: now.addingTimeInterval(86400))),
        ]
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)")) }
        let env = ["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_CARRIERS": "\(dir)/carriers", "LOA_KEY_VIETTEL": String(repeating: "a1", count: 16)]
        #expect(try CLI.run(["import", "cells", "\(dir)/cells.csv"], environment: env).status == 0)
        #expect(try CLI.run(["import", "presence", "\(dir)/p.csv", "--carrier", "viettel"], environment: env).status == 0)
        let r = try CLI.run(["audience", "\(dir)/c.yaml", "--at", "now", "--json", "--out", "\(dir)/r.csv"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(Substring(r.stdout.trimmingCharacters(in: .newlines)))
        #expect(o["by_commune"] as? [String: Int] == ["06184": 1, "06214": 1])
        let rows = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(dir)/r.csv")).dropFirst(3), as: UTF8.self).split(separator: "\n")
        #expect(Set(rows.dropFirst().map { $0.split(separator: ",")[3] }) == ["06184", "06214"])
        let text = try CLI.run(["audience", "\(dir)/c.yaml", "--at", "now"], environment: env)
        #expect(text.stdout.contains("06184 Phường Đồng Đăng: 1") || text.stdout.contains("06184 Xã Đồng Đăng: 1"), "\(text.stdout)")
    }

    @Test func capAlertBecomesACampaign() throws {
        let dir = try CLI.temporaryDirectory()
        try Data("""
            <?xml version="1.0" encoding="UTF-8"?>
            <alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
              <identifier>VN-KTTV-2026-1124-001</identifier>
              <sender>kttv@example.vn</sender>
              <sent>2026-11-24T06:00:00+07:00</sent>
              <status>Actual</status>
              <msgType>Alert</msgType>
              <scope>Public</scope>
              <info>
                <language>vi-VN</language>
                <event>Lũ quét</event>
                <urgency>Immediate</urgency>
                <severity>Severe</severity>
                <certainty>Likely</certainty>
                <senderName>Đài Khí tượng Thủy văn khu vực Tây Nguyên</senderName>
                <headline>Cảnh báo lũ quét</headline>
                <instruction>Di chuyển lên vùng cao, không qua suối.</instruction>
                <onset>2026-11-24T07:00:00+07:00</onset>
                <expires>2026-11-25T07:00:00+07:00</expires>
                <area>
                  <areaDesc>Xã Bờ Y</areaDesc>
                  <polygon>14.6,107.5 14.6,107.7 14.8,107.7 14.8,107.5 14.6,107.5</polygon>
                  <circle>14.7,107.6 5</circle>
                  <geocode><valueName>commune</valueName><value>23377</value></geocode>
                </area>
              </info>
              <info>
                <language>en-US</language>
                <headline>Flash flood warning</headline>
                <instruction>Move to higher ground.</instruction>
              </info>
            </alert>
            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/alert.xml"))
        let r = try CLI.run(["campaign", "from-cap", "\(dir)/alert.xml", "-o", "\(dir)/flood.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        let yaml = try String(contentsOfFile: "\(dir)/flood.yaml", encoding: .utf8)
        #expect(yaml.contains("priority: \"emergency\""))
        #expect(yaml.contains("communes: [23377]"))
        #expect(yaml.contains("text: \"Cảnh báo lũ quét. Di chuyển lên vùng cao, không qua suối.\""))
        let geo = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/flood-area.geojson"))) as? [String: Any]
        #expect((geo?["features"] as? [Any])?.count == 2)
        let check = try CLI.run(["campaign", "check", "\(dir)/flood.yaml"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("emergency"))
    }
}
