import ArgumentParser
import Foundation
import LoaCore
import LoaOperations

struct InspectMSISDN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msisdn",
        abstract: "Check a phone number against Vietnam's numbering plan.",
        discussion: """
            Accepts 0912 345 678, +84912345678, 84912345678, 0084…, dots and dashes, the pre-2018 \
            11-digit form (0162 345 6789 → 0323456789) and a 9-digit number whose leading 0 a \
            spreadsheet dropped. Landlines, short codes, service numbers (1800/1900), foreign and \
            malformed numbers are rejected with the reason.

            The carrier comes from the prefix, which only tells the carrier of origin: numbers are \
            portable. --routing takes a carrier's routing list (CSV: msisdn,carrier) that overrides it.

            Exit status: 0 when the number is valid, or always 0 with --json (the answer is in \
            "valid"); 1 for an invalid number in plain output; 1 at the end of --batch if a line \
            was not a JSON string.
            """
    )

    @Argument(help: "The phone number. Omit with --batch.")
    var number: String?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(name: .long, help: "Read one JSON-encoded string per line from stdin (needs --json).")
    var batch = false

    @Flag(name: .long, help: "Show the number in clear in plain output (it is masked by default).")
    var unmasked = false

    @Option(name: .long, help: "A carrier routing (porting) list, CSV with header msisdn,carrier.")
    var routing: String?

    func validate() throws {
        if batch && !json { throw ValidationError("--batch writes JSON lines: add --json") }
        if batch && number != nil { throw ValidationError("--batch reads stdin: drop the number argument") }
        if !batch && number == nil { throw ValidationError("give the phone number, or --batch") }
    }

    func run() async throws {
        let routingList = try routing.map(Self.parseRouting) ?? CarrierRouting()
        if batch {
            let out = OutputBuffer()
            var lineNumber = 0, bad = 0
            while let line = readLine(strippingNewline: true) {
                lineNumber += 1
                do {
                    let raw = try JSONText.decodeString(Substring(line))
                    out.line(Self.json(VietnamNumberingPlan.parse(raw), routing: routingList))
                } catch {
                    bad += 1
                    var o = JSONObject()
                    o.add("line", lineNumber)
                    o.add("error", error.description)
                    out.line(o.finished)
                }
            }
            out.flush()
            if bad > 0 {
                printError("loa inspect msisdn: \(bad) of \(lineNumber) input lines were not JSON strings")
                throw ExitCode(1)
            }
            return
        }
        let result = VietnamNumberingPlan.parse(number!)
        if json {
            print(Self.json(result, routing: routingList))
            return
        }
        switch result {
        case .success(let parsed):
            let shown = unmasked ? parsed.msisdn.e164 : parsed.msisdn.masked
            var lines = ["valid      \(shown)\(unmasked ? "" : "  (masked; --unmasked shows it)")",
                         "carrier    \(routingList.carrier(for: parsed).rawValue)"
                             + (routingList.isPorted(parsed) ? " (ported from \(parsed.carrierOfOrigin.rawValue))" : " (by prefix: carrier of origin; ported numbers keep it)")]
            if let old = parsed.migratedFrom { lines.append("migrated   from the pre-2018 11-digit number \(unmasked ? old : MSISDN.mask(old))") }
            if parsed.restoredLeadingZero { lines.append("note       the leading 0 was missing and was put back") }
            print(lines.joined(separator: "\n"))
        case .failure(let rejection):
            printError("invalid: \(rejection.description)")
            throw ExitCode(1)
        }
    }

    static func json(_ result: Result<VietnamNumberingPlan.Parsed, VietnamNumberingPlan.Rejection>, routing: CarrierRouting) -> String {
        var o = JSONObject()
        switch result {
        case .success(let parsed):
            o.add("valid", true)
            o.add("e164", parsed.msisdn.e164)
            o.add("national", parsed.msisdn.national)
            o.add("carrier", routing.carrier(for: parsed).rawValue)
            o.add("carrier_of_origin", parsed.carrierOfOrigin.rawValue)
            o.add("ported", routing.isPorted(parsed))
            o.add("migrated_from", parsed.migratedFrom)
            o.add("restored_leading_zero", parsed.restoredLeadingZero)
        case .failure(let rejection):
            o.add("valid", false)
            o.add("e164", nil as String?)
            o.add("carrier", nil as String?)
            o.add("reason", rejection.description)
            o.add("reason_code", rejection.code)
        }
        return o.finished
    }

    /// Reads `msisdn,carrier` lines; every bad line is reported with its number.
    static func parseRouting(_ path: String) throws -> CarrierRouting {
        let (text, _) = Windows1252.decodeText(try readFileBytes(path))
        var routing = CarrierRouting()
        var problems: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            let lineNumber = index + 1
            if line.isEmpty || (lineNumber == 1 && line.lowercased().hasPrefix("msisdn")) { continue }
            let fields: [String]
            do { fields = try CSVLine.split(Substring(line)).map { $0.trimmingCharacters(in: .whitespaces) } }
            catch { problems.append("\(path):\(lineNumber): \(error)"); continue }
            guard fields.count == 2 else { problems.append("\(path):\(lineNumber): expected 2 fields msisdn,carrier, found \(fields.count)"); continue }
            guard case .success(let parsed) = VietnamNumberingPlan.parse(fields[0]) else {
                problems.append("\(path):\(lineNumber): field msisdn: not a Vietnamese mobile number"); continue
            }
            guard let carrier = Carrier(name: fields[1]) else {
                problems.append("\(path):\(lineNumber): field carrier: unknown carrier '\(fields[1])' (expected one of \(Carrier.allCases.map(\.rawValue).joined(separator: ", ")))"); continue
            }
            routing.record(parsed.msisdn, servedBy: carrier)
        }
        if !problems.isEmpty {
            throw CLIError("routing list has \(problems.count) bad line\(problems.count == 1 ? "" : "s"):\n" + problems.prefix(20).joined(separator: "\n")
                + (problems.count > 20 ? "\n… and \(problems.count - 20) more" : ""))
        }
        return routing
    }
}
