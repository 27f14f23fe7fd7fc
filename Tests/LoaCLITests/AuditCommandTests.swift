import Foundation
import Testing

/// Users, tokens and the audit trail from the command line, and the export checked without loa.
@Suite("loa user and loa audit")
struct AuditCommandTests {
    @Test("users with tokens submit and approve; the export verifies with the README's Python script; tampering is found by both")
    func usersTokensAndExport() throws {
        let dir = try CLI.temporaryDirectory()
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        let campaign = """
            id: kiem-tra
            title: T
            office: O
            legal_basis: L
            channel: sms
            sender: LOA
            priority: routine
            audience: {communes: [23377]}
            languages: {default: vi}
            variants: {vi: "Xã {commune}: thông báo"}
            schedule: {start: \(f.string(from: Date())), end: \(f.string(from: Date().addingTimeInterval(86400))), windows: ["07:00-21:00"]}

            """
        try Data(campaign.utf8).write(to: URL(fileURLWithPath: "\(dir)/c.yaml"))
        let env = ["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_TOKEN": ""]
        func loa(_ args: [String], token: String? = nil) throws -> CLIResult {
            try CLI.run(args, environment: token.map { env.merging(["LOA_TOKEN": $0]) { $1 } } ?? env)
        }
        // The first user is an admin, added by anyone, with a token shown once.
        let first = try loa(["user", "add", "Quản Trị", "--role", "admin"])
        #expect(first.status == 0, "\(first.stderr)")
        let admin = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(admin.hasPrefix("loa_") && admin.count == 68)
        let refused = try loa(["user", "add", "Khác", "--role", "admin"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("this store has users: act with --as NAME and that user's token"), "\(refused.stderr)")
        var tokens: [String: String] = [:]
        for (name, role) in [("Lan", "drafter"), ("Minh", "approver")] {
            let r = try loa(["user", "add", name, "--role", role, "--as", "Quản Trị", "--out", "\(dir)/\(name).token"], token: admin)
            #expect(r.status == 0, "\(r.stderr)")
            tokens[name] = try String(contentsOfFile: "\(dir)/\(name).token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // A drafter cannot approve; a wrong token is refused; the approver can.
        #expect(try CLI.run(["campaign", "submit", "\(dir)/c.yaml", "--as", "Lan", "--token-file", "\(dir)/Lan.token"], environment: env).status == 0)
        let drafterApproves = try loa(["campaign", "approve", "\(dir)/c.yaml", "--as", "Lan"], token: tokens["Lan"])
        #expect(drafterApproves.status != 0)
        #expect(drafterApproves.stderr.contains("Lan is a drafter and may not approve or reject campaigns (roles that may: approver)"), "\(drafterApproves.stderr)")
        let wrong = try loa(["campaign", "approve", "\(dir)/c.yaml", "--as", "Minh"], token: tokens["Lan"])
        #expect(wrong.stderr.contains("the token given is not Minh's"), "\(wrong.stderr)")
        let approved = try loa(["campaign", "approve", "\(dir)/c.yaml", "--as", "Minh"], token: tokens["Minh"])
        #expect(approved.status == 0, "\(approved.stderr)")

        // user-add and user-token three times, submit, permission-refused, sign-in-refused, approve.
        let actions = try loa(["audit", "list"]).stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(actions.count == 10)
        let verify = try loa(["audit", "verify"])
        #expect(verify.status == 0)
        #expect(verify.stdout.hasPrefix("audit trail intact: 10 entries, head 10 "), "\(verify.stdout)")
        let seal = try loa(["audit", "seal"]).stdout
        let head = try #require(seal.split(separator: " ").first { $0.count == 65 && $0.hasSuffix(",") }).dropLast()
        #expect(try loa(["audit", "export", "--out", "\(dir)/audit.ndjson"]).status == 0)
        let export = try String(contentsOfFile: "\(dir)/audit.ndjson", encoding: .utf8)
        #expect(export.split(separator: "\n").map { String($0) }.allSatisfy { $0.hasPrefix("{\"action\":") })
        #expect(export.contains("\"actor\":\"Quản Trị\""))
        #expect(!export.contains(admin) && !export.contains(tokens["Lan"]!))

        let script = CLI.packageRoot.appendingPathComponent("ops/audit-verify.py").path
        let python = try run("/usr/bin/env", ["python3", script, "\(dir)/audit.ndjson", String(head)])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout == "intact: 10 entries, head \(head)\n")
        // Edit one entry in the export: Python finds it; edit it in the store: loa finds it.
        let edited = export.replacingOccurrences(of: "\"actor\":\"Minh\"", with: "\"actor\":\"Lan\"")
        try Data(edited.utf8).write(to: URL(fileURLWithPath: "\(dir)/edited.ndjson"))
        let pythonEdited = try run("/usr/bin/env", ["python3", script, "\(dir)/edited.ndjson"])
        #expect(pythonEdited.status != 0)
        #expect(pythonEdited.stderr.contains("was edited"), "\(pythonEdited.stderr)")
        let lines = export.split(separator: "\n")
        try Data((lines.prefix(3) + lines.dropFirst(4)).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: "\(dir)/removed.ndjson"))
        #expect(try run("/usr/bin/env", ["python3", script, "\(dir)/removed.ndjson"]).stderr.contains("entry 5 does not follow entry 3"))
        try Data(lines.prefix(6).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: "\(dir)/truncated.ndjson"))
        #expect(try run("/usr/bin/env", ["python3", script, "\(dir)/truncated.ndjson", String(head)]).stderr.contains("is not in the export"))
    }

    @Test("contact lists export masked; unmasked only for an auditor signed in, and audited")
    func unmaskedExportIsAudited() throws {
        let dir = try CLI.temporaryDirectory()
        try Data("msisdn,name,language,commune_code\n0912345678,\"Y Blương, trưởng thôn\",jra,23377\n0961234567,A Thút,,\n".utf8)
            .write(to: URL(fileURLWithPath: "\(dir)/contacts.csv"))
        let env = ["LOA_DATABASE": "\(dir)/loa.sqlite", "LOA_TOKEN": "", "LOA_CONTACT_KEY": String(repeating: "6b", count: 32)]
        func loa(_ args: [String], token: String? = nil) throws -> CLIResult {
            try CLI.run(args, environment: token.map { env.merging(["LOA_TOKEN": $0]) { $1 } } ?? env)
        }
        #expect(try loa(["import", "contacts", "\(dir)/contacts.csv", "--list", "uy-tin", "--as", "Op"]).status == 0)
        let masked = try loa(["contacts", "export", "uy-tin"])
        #expect(masked.status == 0, "\(masked.stderr)")
        #expect(masked.stdout == "\u{FEFF}name,msisdn,carrier,language,commune_code,opted_out\r\nA Thút,0961***567,viettel,,,no\r\n\"Y Blương, trưởng thôn\",0912***678,vinaphone,jra,23377,no\r\n")
        let open = try loa(["contacts", "export", "uy-tin", "--unmasked", "--as", "Op"])
        #expect(open.status != 0)
        #expect(open.stderr.contains("only an auditor may export unmasked numbers"), "\(open.stderr)")
        let admin = try loa(["user", "add", "Admin", "--role", "admin"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let auditor = try loa(["user", "add", "Kiểm Toán", "--role", "auditor", "--as", "Admin"], token: admin).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let byAdmin = try loa(["contacts", "export", "uy-tin", "--unmasked", "--as", "Admin"], token: admin)
        #expect(byAdmin.stderr.contains("Admin is an admin and may not export unmasked phone numbers (roles that may: auditor)"), "\(byAdmin.stderr)")
        let clear = try loa(["contacts", "export", "uy-tin", "--unmasked", "--as", "Kiểm Toán", "--out", "\(dir)/clear.csv"], token: auditor)
        #expect(clear.status == 0, "\(clear.stderr)")
        let text = try String(contentsOfFile: "\(dir)/clear.csv", encoding: .utf8)
        #expect(text.contains(",0912345678,vinaphone,") && text.contains(",0961234567,viettel,"))
        let trail = try loa(["audit", "list"]).stdout
        #expect(trail.contains("Kiểm Toán  export-unmasked: contact list uy-tin: 2 numbers unmasked to \(dir)/clear.csv"), "\(trail)")
        #expect(try loa(["audit", "verify"]).status == 0)
    }

    func run(_ tool: String, _ args: [String]) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
