import Foundation
import Testing
import LoaCore

@Suite("loa inspect (end to end)")
struct InspectCommandTests {
    @Test func textJSONContract() throws {
        let r = try CLI.run(["inspect", "text", "--json", "Hello [world] €5"])
        #expect(r.status == 0)
        let o = try CLI.json(Substring(r.stdout.trimmingCharacters(in: .newlines)))
        #expect(o["encoding"] as? String == "gsm7")
        #expect(o["units"] as? Int == 19)
        #expect(o["segments"] as? Int == 1)
    }

    @Test func textJSONForVietnameseShowsTheStrippedAlternative() throws {
        let r = try CLI.run(["inspect", "text", "--json", "--price-per-segment", "650", "Vie\u{0302}\u{0323}t Nam"])
        let o = try CLI.json(Substring(r.stdout.trimmingCharacters(in: .newlines)))
        #expect(o["encoding"] as? String == "ucs2")
        #expect(o["units"] as? Int == 8)
        #expect(o["normalized"] as? Bool == true)
        #expect(o["non_gsm7"] as? [String] == ["ệ"])
        #expect((o["cost"] as? [String: Any])?["vnd"] as? Int == 650)
        let alt = o["without_diacritics"] as? [String: Any]
        #expect(alt?["text"] as? String == "Viet Nam")
        #expect(alt?["encoding"] as? String == "gsm7")
    }

    @Test func textBatchKeepsOrderAndReportsBadLines() throws {
        let input = [
            "\"abc\"",
            "\"" + String(repeating: "a", count: 161) + "\"",
            "not json",
            "\"line one\\nline two \\u00e9\\ud83d\\ude00\"",
            "\"Thông báo\"",
        ].joined(separator: "\n") + "\n"
        let r = try CLI.run(["inspect", "text", "--json", "--batch"], stdin: input)
        #expect(r.status == 1)
        #expect(r.stderr.contains("1 of 5 input lines"))
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 5)
        let objects = try lines.map(CLI.json)
        #expect(objects[0]["units"] as? Int == 3)
        #expect(objects[1]["segments"] as? Int == 2)
        #expect(objects[2]["line"] as? Int == 3)
        #expect(objects[3]["encoding"] as? String == "ucs2")
        #expect(objects[3]["units"] as? Int == 21)   // 8 + LF + 9 + é + 2 for the emoji
        #expect(objects[4]["units"] as? Int == 9)
    }

    @Test("the batch read from bytes answers every line as the general way does (escapes, NFC, marks, emoji, flags, Lao, bad lines)")
    func fastBatchAnswersAsTheGeneralWay() throws {
        let texts = [
            "Thông báo khẩn", "Vie\u{0302}\u{0323}t Nam", "Lũ quét 🌧️⚠️ 👍🏽 👩‍👩‍👦 🇻🇳", "ສະບາຍດີ ການແຈ້ງເຕືອນ ໄຟໄໝ້ປ່າ",
            "旱季森林火灾风险很高。", "Gia [moi] {100} ~ 200 | ^ \\ €5", "q\u{0301} \"\u{0301}\" ả\u{0301}", "tab\there",
            "각 한국어 ᄀ", "ॐ क्षि", "`grave` ©️ ™", String(repeating: "ễ", count: 200), String(repeating: "[", count: 400),
        ]
        var lines = texts.map { JSONString.quoted($0) }
        lines += [#""escapes \n \" \\ \/ \u1ec7 \ud83d\ude00""#, #""bad \u001b escape""#, #""\u0085 NEL""#, "not json", #" "spaced" "#,
                  #""lone \ud800""#, "\"" + String(repeating: "ệ", count: 67 * 256) + "\"", #""""#]
        let input = lines.joined(separator: "\n") + "\n"
        let fast = try CLI.run(["inspect", "text", "--json", "--batch"], stdin: input)
        // A concatenation reference changes nothing in these answers, but takes the general way.
        let general = try CLI.run(["inspect", "text", "--json", "--batch", "--reference", "1"], stdin: input)
        #expect(fast.status == 1 && general.status == 1)
        #expect(fast.stderr == general.stderr)
        #expect(fast.stdout.split(separator: "\n").count == lines.count)
        for (k, (a, b)) in zip(fast.stdout.split(separator: "\n"), general.stdout.split(separator: "\n")).enumerated() {
            #expect(a == b, "line \(k + 1)")
        }
        let objects = try fast.stdout.split(separator: "\n").map(CLI.json)
        #expect(objects[1]["normalized"] as? Bool == true)
        #expect(objects[2]["non_gsm7"] as? [String] == ["ũ", "🌧️", "⚠️", "👍🏽", "👩‍👩‍👦", "🇻🇳"])
        #expect(objects[6]["non_gsm7"] as? [String] == ["q\u{0301}", "\"\u{0301}", "ả\u{0301}"])
        #expect(objects[lines.count - 7]["line"] as? Int == lines.count - 6)   // the escaped ESC
    }

    @Test("a large batch is answered in pieces on both cores: every answer in the input's order, bad lines numbered in the whole input")
    func largeTextBatchKeepsOrder() throws {
        let bad: Set<Int> = [3, 25_000, 49_999]
        var input = ""
        for i in 1...50_000 { input += bad.contains(i) ? "bad \(i)\n" : "\"tin \(i) \(i % 7 == 0 ? "khẩn" : "ok")\"\n" }
        input += "\"last, no line end\""
        let r = try CLI.run(["inspect", "text", "--json", "--batch"], stdin: input)
        #expect(r.status == 1)
        #expect(r.stderr.contains("3 of 50001 input lines"))
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 50_001)
        for (k, line) in lines.enumerated() {
            let n = k + 1
            if bad.contains(n) { #expect(line.hasPrefix("{\"line\":\(n),")); continue }
            // Each answer's units are its own text's length: "tin N ok" / "tin N khẩn" / the last one.
            let expected = n == 50_001 ? "last, no line end".count : "tin \(n) \(n % 7 == 0 ? "khẩn" : "ok")".count
            if !line.contains("\"units\":\(expected),") { Issue.record("line \(n): \(line)"); break }
        }
    }

    @Test func partsWithBytes() throws {
        let r = try CLI.run(["inspect", "text", "--json", "--parts", "--reference", "42", String(repeating: "a", count: 161)])
        let o = try CLI.json(Substring(r.stdout.trimmingCharacters(in: .newlines)))
        let parts = try #require(o["parts"] as? [[String: Any]])
        #expect(parts.count == 2)
        #expect(parts[0]["udh"] as? String == "0500032A0201")
        #expect(parts[1]["units"] as? Int == 8)
    }

    @Test func humanOutput() throws {
        let r = try CLI.run(["inspect", "text", "Thông báo khẩn"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("encoding   UCS-2"))
        #expect(r.stdout.contains("segments   1 (up to 70 UTF-16 units each)"))
        #expect(r.stdout.contains("\"Thong bao khan\""))
    }

    @Test func msisdnJSONContract() throws {
        let ok = try CLI.json(Substring(try CLI.run(["inspect", "msisdn", "--json", "0162 345 6789"]).stdout.trimmingCharacters(in: .newlines)))
        #expect(ok["valid"] as? Bool == true)
        #expect(ok["e164"] as? String == "+84323456789")
        #expect(ok["carrier"] as? String == "viettel")
        #expect(ok["migrated_from"] as? String == "01623456789")
        let bad = try CLI.json(Substring(try CLI.run(["inspect", "msisdn", "--json", "024 3825 1234"]).stdout.trimmingCharacters(in: .newlines)))
        #expect(bad["valid"] as? Bool == false)
        #expect(bad["e164"] is NSNull)
        #expect(bad["carrier"] is NSNull)
        #expect(bad["reason_code"] as? String == "landline")
        #expect((bad["reason"] as? String)?.contains("landline") == true)
    }

    @Test func msisdnBatchAndRoutingList() throws {
        let routing = try CLI.temporaryFile(Array("msisdn,carrier\n0912345678,Viettel\n".utf8), name: "routing.csv")
        let r = try CLI.run(["inspect", "msisdn", "--json", "--batch", "--routing", routing],
                            stdin: "\"0912345678\"\n\"0912345679\"\n\"+1 212 555 0100\"\n")
        #expect(r.status == 0)
        let o = try r.stdout.split(separator: "\n").map(CLI.json)
        #expect(o.map { $0["carrier"] as? String } == ["viettel", "vinaphone", nil])
        #expect(o[0]["ported"] as? Bool == true)
        #expect(o[2]["reason_code"] as? String == "foreign")
    }

    @Test func badRoutingListNamesFileLineAndField() throws {
        let routing = try CLI.temporaryFile(Array("msisdn,carrier\n0912345678,Acme\n0243,viettel\n".utf8), name: "routing.csv")
        let r = try CLI.run(["inspect", "msisdn", "--json", "--routing", routing, "0912345678"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("routing.csv:2: field carrier: unknown carrier 'Acme'"))
        #expect(r.stderr.contains("routing.csv:3: field msisdn"))
    }

    @Test func plainInvalidNumberExitsNonZeroWithReason() throws {
        let r = try CLI.run(["inspect", "msisdn", "1900 1234"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("service number"))
        let masked = try CLI.run(["inspect", "msisdn", "0912345678"])
        #expect(masked.stdout.contains("0912***678"))
        #expect(!masked.stdout.contains("0912345678"))
    }

    @Test func usageErrors() throws {
        let r = try CLI.run(["inspect", "text", "--batch"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--batch writes JSON lines: add --json"))
        let help = try CLI.run(["inspect", "text", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("153 or 67"))
    }

    @Test func legacyConversion() throws {
        // Raw Windows-1252 bytes of a TCVN3 document: "ViÖt Nam" + CRLF.
        let tcvn = try CLI.temporaryFile([0x56, 0x69, 0xD6, 0x74, 0x20, 0x4E, 0x61, 0x6D, 0x20, 0xAE, 0xE9, 0x63, 0x20, 0x6C, 0xCB, 0x70, 0x0D, 0x0A], name: "old.txt")
        let r = try CLI.run(["text", "convert", tcvn])
        #expect(r.status == 0)
        #expect(r.stdout == "Việt Nam độc lập\r\n")
        #expect(r.stderr.contains("detected TCVN3"))
        let vni = try CLI.temporaryFile(Array("Vieät Nam ñoäc laäp\n".utf8), name: "vni.txt")
        let out = vni + ".out"
        let v = try CLI.run(["text", "convert", vni, "-o", out])
        #expect(v.status == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "Việt Nam độc lập\n")
        let french = try CLI.temporaryFile(Array("Crème brûlée à la française, où êtes-vous\n".utf8), name: "fr.txt")
        let u = try CLI.run(["text", "convert", french])
        #expect(u.status != 0)
        #expect(u.stderr.contains("pass --from tcvn3 or --from vni"))
        let missing = try CLI.run(["text", "convert", "/nonexistent/file.txt"])
        #expect(missing.stderr.contains("/nonexistent/file.txt: no such file"))
    }
}
