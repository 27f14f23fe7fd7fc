import Foundation
import ArgumentParser
import LoaCore
import LoaOperations

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect a message text or a phone number.",
        subcommands: [InspectText.self, InspectMSISDN.self]
    )
}

struct InspectText: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Show how a message travels: encoding, units, parts and cost.",
        discussion: """
            The text is NFC-normalized first. GSM-7 when every character is in the GSM 7-bit \
            alphabet (extension characters such as € [ ] { } cost 2 septets), otherwise UCS-2. \
            One message holds 160 septets or 70 UCS-2 units; a longer one is split into parts of \
            153 or 67. Units are septets for gsm7 and UTF-16 code units for ucs2.

            With --batch, stdin holds one JSON-encoded string per line and stdout gets one JSON \
            object per line, in the same order. A line that is not a JSON string gets \
            {"line":N,"error":"..."} and the exit status is 1 at the end.
            """
    )

    @Argument(help: "The message text. Omit with --file or --batch.")
    var text: String?

    @Option(name: .long, help: "Read the message from a UTF-8 file instead.")
    var file: String?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(name: .long, help: "Read one JSON-encoded string per line from stdin (needs --json).")
    var batch = false

    @Flag(name: .long, help: "Include each part's UDH and payload bytes (hex).")
    var parts = false

    @Option(name: .long, help: "Concatenation reference (0–255) for the parts' UDH.")
    var reference: UInt8 = 0

    @Option(name: .long, help: "Price of one segment in VND, to show the cost in money.")
    var pricePerSegment: Int?

    @Flag(name: .long, inversion: .prefixedNo,
          help: "Show the cost without diacritics side by side (default: on for one text, off for --batch).")
    var alternatives: Bool?

    func validate() throws {
        if batch && !json { throw ValidationError("--batch writes JSON lines: add --json") }
        if batch && (text != nil || file != nil) { throw ValidationError("--batch reads stdin: drop the text argument and --file") }
        if !batch && text == nil && file == nil { throw ValidationError("give the message text, --file PATH, or --batch") }
        if text != nil && file != nil { throw ValidationError("give either the text or --file, not both") }
        if let p = pricePerSegment, !(0...1_000_000).contains(p) { throw ValidationError("--price-per-segment: expected 0 to 1,000,000 VND per segment, found \(p)") }
        if let text, let problem = messageTextProblem(text) { throw ValidationError("the message \(problem)") }
    }

    func run() async throws {
        if batch {
            try runBatch()
            return
        }
        let message: String
        if let file {
            let (decoded, wasUTF8) = Windows1252.decodeText(try readFileBytes(file))
            guard wasUTF8 else {
                throw CLIError("\(file): not UTF-8 (a legacy TCVN3/VNI or Windows-1252 file?); run `loa text convert \(file)` first")
            }
            message = decoded.hasSuffix("\n") ? String(decoded.dropLast()) : decoded
            if let problem = messageTextProblem(message) { throw CLIError("\(file): the message \(problem)") }
        } else {
            message = text!
        }
        let report = TextReport(message, reference: reference, pricePerSegment: pricePerSegment,
                                alternatives: alternatives ?? true, withBytes: parts)
        if report.encoded.parts.count > 255 {
            throw CLIError("the message needs \(report.encoded.parts.count) parts; a concatenated SMS has at most 255 (its UDH counts parts in one byte)")
        }
        if json {
            print(report.json(includePartText: true))
        } else {
            print(report.human())
        }
    }

    /// The batch without parts, alternatives or a price per segment: lines read in blocks, plain
    /// JSON strings measured from their bytes, answers written as bytes. Everything else
    /// (normalization, bad lines) goes the general way; the answers are the same. A block is cut
    /// at line ends into pieces answered on every core, written in the input's order.
    private func runFastBatch() throws {
        let out = OutputBuffer()
        var lineNumber = 0, bad = 0
        let pieces = (0..<8).map { _ in FastBatchAnswers() }
        /// Answers the complete lines in `b[0..<end]` (each ends with a line feed).
        func answerLines(_ b: UnsafeBufferPointer<UInt8>, _ end: Int) {
            var cuts = [0]
            let wanted = end >= 1 << 16 ? pieces.count : 1
            for k in 1..<wanted {
                let target = max(end * k / wanted, cuts[cuts.count - 1])
                if let nl = UnsafeBufferPointer(rebasing: b[target..<end]).firstIndex(of: 0x0A), target + nl + 1 < end { cuts.append(target + nl + 1) }
            }
            cuts.append(end)
            let count = cuts.count - 1
            // The block stays put while the pieces run (the closure may not capture the pointer itself).
            let base = UInt(bitPattern: b.baseAddress), bounds = cuts
            @Sendable func piece(_ i: Int) -> UnsafeBufferPointer<UInt8> {
                UnsafeBufferPointer(start: UnsafePointer<UInt8>(bitPattern: base)! + bounds[i], count: bounds[i + 1] - bounds[i])
            }
            // Numbered from 1 in each piece; a piece with a bad line is answered again with the
            // numbers of the whole input (bad lines are rare).
            DispatchQueue.concurrentPerform(iterations: count) { i in pieces[i].answer(piece(i), firstLine: 1) }
            for i in 0..<count {
                if pieces[i].bad > 0 { pieces[i].answer(piece(i), firstLine: lineNumber + 1) }
                lineNumber += pieces[i].lines; bad += pieces[i].bad
                pieces[i].withOutput { out.writeNow($0) }
            }
        }
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var filled = 0
        while true {
            if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 { if errno == EINTR { continue }; throw CLIError("reading stdin: \(String(cString: strerror(errno)))") }
            let end = filled + n
            var start = 0
            buffer.withUnsafeBufferPointer { b in
                // Every complete line of the block at once; at the end of input, the last line too.
                if let lastNL = UnsafeBufferPointer(rebasing: b[0..<end]).lastIndex(of: 0x0A) {
                    answerLines(b, lastNL + 1)
                    start = lastNL + 1
                }
                if n == 0 && start < end {
                    pieces[0].answer(UnsafeBufferPointer(rebasing: b[start..<end]), firstLine: lineNumber + 1, lastWithoutEnd: true)
                    lineNumber += pieces[0].lines; bad += pieces[0].bad
                    pieces[0].withOutput { out.writeNow($0) }
                    start = end
                }
            }
            if n == 0 { break }
            // The unfinished line moves to the front.
            if start > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + start, end - start)
                }
            }
            filled = end - start
        }
        out.flush()
        if bad > 0 {
            printError("loa inspect text: \(bad) of \(lineNumber) input lines were not JSON strings (first-line errors are in the output)")
            throw ExitCode(1)
        }
    }

    private func runBatch() throws {
        if !parts && !(alternatives ?? false) && pricePerSegment == nil && reference == 0 { return try runFastBatch() }
        let out = OutputBuffer()
        var lineNumber = 0
        var bad = 0
        let withAlternatives = alternatives ?? false
        while let raw = readRawLine() {
            lineNumber += 1
            do {
                guard let line = String(validating: raw, as: UTF8.self) else { throw BatchLineError("not UTF-8 (the line's bytes are not valid UTF-8 text)") }
                let message = try JSONText.decodeString(Substring(line))
                if let problem = messageTextProblem(message) { throw BatchLineError("the message \(problem)") }
                let report = TextReport(message, reference: reference, pricePerSegment: pricePerSegment,
                                        alternatives: withAlternatives, withBytes: parts)
                if report.encoded.parts.count > 255 { throw BatchLineError("the message needs \(report.encoded.parts.count) parts; at most 255") }
                out.line(report.json(includePartText: parts))
            } catch {
                bad += 1
                out.line(batchError(line: lineNumber, error))
            }
        }
        out.flush()
        if bad > 0 {
            printError("loa inspect text: \(bad) of \(lineNumber) input lines were not JSON strings (first-line errors are in the output)")
            throw ExitCode(1)
        }
    }
}

/// The answer for a batch line that could not be read: its number and why.
func batchError(line: Int, _ error: any Error) -> String {
    var o = JSONObject()
    o.add("line", line)
    o.add("error", "\(error)")
    return o.finished
}

struct BatchLineError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// One line of stdin as raw bytes, without its line end (nil at the end of input).
func readRawLine() -> [UInt8]? {
    var bytes: [UInt8] = []
    while true {
        let c = getchar()
        if c == EOF { return bytes.isEmpty ? nil : bytes }
        if c == 0x0A { if bytes.last == 0x0D { bytes.removeLast() }; return bytes }
        bytes.append(UInt8(truncatingIfNeeded: c))
    }
}

/// A message text may hold line ends, never other control characters (a NUL or an escape
/// would reach the phone, or cut the message short on some networks).
func messageTextProblem(_ text: String) -> String? {
    guard let bad = text.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\r") || (0x7F...0x9F).contains($0.value) }) else { return nil }
    return "holds the control character U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(4)) (only line ends are allowed)"
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// Everything `inspect text` says about one message.
struct TextReport {
    let encoded: EncodedSMS
    let measure: TextMeasure
    let nonGSM: [Character]
    let pricePerSegment: Int?
    let alternative: (text: String, measure: TextMeasure, remaining: [Character])?
    let withBytes: Bool

    init(_ text: String, reference: UInt8, pricePerSegment: Int?, alternatives: Bool, withBytes: Bool) {
        encoded = SMSEncoder.encode(text, reference: reference)
        measure = encoded.measure
        nonGSM = measure.encoding == .ucs2 ? Diacritics.nonGSM7Characters(encoded.text) : []
        self.pricePerSegment = pricePerSegment
        self.withBytes = withBytes
        if alternatives && measure.encoding == .ucs2 {
            let plain = Diacritics.plainPunctuation(Diacritics.strip(encoded.text))
            alternative = plain == encoded.text ? nil
                : (plain, SMSEncoder.measure(plain), Diacritics.nonGSM7Characters(plain))
        } else {
            alternative = nil
        }
    }

    func json(includePartText: Bool) -> String {
        var o = JSONObject()
        o.add("encoding", measure.encoding.rawValue)
        o.add("units", measure.units)
        o.add("segments", measure.segments)
        o.add("characters", measure.characters)
        o.add("units_per_segment", measure.segments > 1 ? measure.encoding.partLimit : measure.encoding.singleLimit)
        o.add("normalized", encoded.normalizationChanged)
        if measure.encoding == .ucs2 { o.add("non_gsm7", strings: nonGSM.map { String($0) }) }
        var cost = JSONObject()
        cost.add("segments", measure.segments)
        if let p = pricePerSegment {
            cost.add("price_per_segment_vnd", p)
            cost.add("vnd", p * measure.segments)
        }
        o.add("cost", object: cost)
        if includePartText || withBytes {
            o.add("parts", objects: encoded.parts.map { part in
                var p = JSONObject()
                p.add("number", part.number)
                p.add("units", part.units)
                p.add("text", part.text)
                if withBytes {
                    p.add("udh", hex(part.udh))
                    p.add("payload", hex(part.payload))
                }
                return p
            })
        }
        if let alt = alternative {
            var a = JSONObject()
            a.add("text", alt.text)
            a.add("encoding", alt.measure.encoding.rawValue)
            a.add("units", alt.measure.units)
            a.add("segments", alt.measure.segments)
            if !alt.remaining.isEmpty { a.add("non_gsm7", strings: alt.remaining.map { String($0) }) }
            o.add("without_diacritics", object: a)
        }
        return o.finished
    }

    func human() -> String {
        var lines: [String] = []
        let unitName = measure.encoding == .gsm7 ? "septets" : "UTF-16 units"
        let perPart = measure.segments > 1 ? measure.encoding.partLimit : measure.encoding.singleLimit
        if measure.segments == 0 { return "empty text: nothing to send (0 segments)" }
        var encodingLine = "encoding   \(measure.encoding == .gsm7 ? "GSM-7" : "UCS-2")"
        if !nonGSM.isEmpty {
            let shown = nonGSM.prefix(8).map { "\"\($0)\"" }.joined(separator: " ")
            encodingLine += "  (not in GSM-7: \(shown)\(nonGSM.count > 8 ? " and \(nonGSM.count - 8) more" : ""))"
        }
        lines.append(encodingLine)
        lines.append("units      \(measure.units) \(unitName) in \(measure.characters) characters\(encoded.normalizationChanged ? " (after NFC normalization of decomposed input)" : "")")
        lines.append("segments   \(measure.segments) (up to \(perPart) \(unitName) each)")
        var costLine = "cost       \(measure.segments) segment\(measure.segments == 1 ? "" : "s") per recipient"
        if let p = pricePerSegment { costLine += " = \(p * measure.segments) VND at \(p) VND/segment" }
        lines.append(costLine)
        for part in encoded.parts where encoded.parts.count > 1 {
            lines.append("  part \(part.number)/\(encoded.parts.count)  \(part.units) \(unitName)  \(quoted(part.text))")
            if withBytes { lines.append("    udh \(hex(part.udh))  payload \(hex(part.payload))") }
        }
        if withBytes && encoded.parts.count == 1 { lines.append("  payload \(hex(encoded.parts[0].payload))") }
        if let alt = alternative {
            let saved = measure.segments - alt.measure.segments
            lines.append("")
            lines.append("without diacritics (not applied; the operator decides):")
            lines.append("  \(quoted(alt.text))")
            var s = "  \(alt.measure.encoding == .gsm7 ? "GSM-7" : "UCS-2"), \(alt.measure.units) \(alt.measure.encoding == .gsm7 ? "septets" : "UTF-16 units"), \(alt.measure.segments) segment\(alt.measure.segments == 1 ? "" : "s")"
            if saved > 0 { s += ": saves \(saved) of \(measure.segments) segments (\(saved * 100 / measure.segments)%) but loses the tones" }
            if !alt.remaining.isEmpty { s += "; still UCS-2 because of " + alt.remaining.prefix(8).map { "\"\($0)\"" }.joined(separator: " ") }
            lines.append(s)
        }
        return lines.joined(separator: "\n")
    }

    private func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
    return String(decoding: out, as: UTF8.self)
}

/// The answers to a run of batch lines, in bytes (one per line, in order): what one core does
/// for `inspect text --json --batch`.
final class FastBatchAnswers: @unchecked Sendable {
    private var work = BatchLineAnswers()
    /// The answers of the last `answer`, line ends included.
    func withOutput(_ body: (UnsafeBufferPointer<UInt8>) -> Void) { body(work.output.bytes) }
    var lines: Int { work.lines }
    var bad: Int { work.bad }

    /// Answers every line of `text` (each ended by a line feed, or the one line without an end
    /// when `lastWithoutEnd`), numbering them from `firstLine`.
    func answer(_ text: UnsafeBufferPointer<UInt8>, firstLine: Int, lastWithoutEnd: Bool = false) {
        work.answer(text, firstLine: firstLine, lastWithoutEnd: lastWithoutEnd)
    }
}

/// The state of one core's answers: a value, so that the work on it line by line needs no
/// run-time exclusivity checks.
struct BatchLineAnswers: ~Copyable {
    private(set) var output = ByteWriter()
    private(set) var lines = 0
    private(set) var bad = 0
    private var inspector = TextInspector()
    private var unescaped: [UInt8] = []

    mutating func answer(_ text: UnsafeBufferPointer<UInt8>, firstLine: Int, lastWithoutEnd: Bool) {
        output.removeAll()
        lines = 0; bad = 0
        if lastWithoutEnd { answerLine(text, firstLine); return }
        var start = 0
        while start < text.count, let found = memchr(text.baseAddress! + start, 0x0A, text.count - start) {
            let nl = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - text.baseAddress!
            answerLine(UnsafeBufferPointer(rebasing: text[start..<nl]), firstLine + lines)
            start = nl + 1
        }
    }

    private mutating func answerLine(_ line: UnsafeBufferPointer<UInt8>, _ lineNumber: Int) {
        lines += 1
        var body = line
        if let last = body.last, last == 0x0D { body = UnsafeBufferPointer(rebasing: body.dropLast()) }
        // A JSON string (quotes at both ends) whose text is valid, NFC and free of control
        // characters: measured and listed from its bytes. Anything else goes the general way.
        if body.count >= 2, body.first == 0x22, body.last == 0x22 {
            let inside = UnsafeBufferPointer(rebasing: body[1..<(body.count - 1)])
            if let base = inside.baseAddress, memchr(base, 0x5C, inside.count) != nil {
                if JSONString.unescape(inside, into: &unescaped) {
                    let text = unescaped   // the inspector's characters are ranges of these bytes
                    if text.withUnsafeBufferPointer({ answerPlainly($0) }) { return }
                }
            } else if inside.baseAddress == nil || memchr(inside.baseAddress!, 0x22, inside.count) == nil {
                if answerPlainly(inside) { return }
            }
        }
        answerGenerally(body, lineNumber)
    }

    /// Answers a text from its bytes; false when the inspector refuses it (or it needs more than
    /// 255 parts): the general way then says why.
    private mutating func answerPlainly(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard inspector.inspect(text) == nil, inspector.measure.segments <= 255 else { return false }
        let m = inspector.measure
        beginAnswer(m, normalized: false)
        // The characters are ranges of the bytes inspected.
        for (i, range) in inspector.characters.enumerated() {
            if i > 0 { output.append(0x2C) }
            output.appendJSONString(utf8: UnsafeBufferPointer(rebasing: text[range]))
        }
        endAnswer(m)
        return true
    }

    /// A line the inspector refused: decoded, checked and normalized as `String`s.
    private mutating func answerGenerally(_ body: UnsafeBufferPointer<UInt8>, _ lineNumber: Int) {
        do {
            guard let line = String(validating: body, as: UTF8.self) else { throw BatchLineError("not UTF-8 (the line's bytes are not valid UTF-8 text)") }
            let message = try JSONText.decodeString(Substring(line))
            if let problem = messageTextProblem(message) { throw BatchLineError("the message \(problem)") }
            let (m, normalized, changed) = SMSEncoder.measureNormalizing(message)
            if m.segments > 255 { throw BatchLineError("the message needs \(m.segments) parts; at most 255") }
            beginAnswer(m, normalized: changed)
            if m.encoding == .ucs2 {
                for (i, ch) in Diacritics.nonGSM7Characters(nfc: normalized).enumerated() {
                    if i > 0 { output.append(0x2C) }
                    var s = String(ch)
                    s.withUTF8 { output.appendJSONString(utf8: $0) }
                }
            }
            endAnswer(m)
        } catch {
            bad += 1
            output.append(Array(batchError(line: lineNumber, error).utf8))
            output.append(0x0A)
        }
    }

    /// One answer's fields up to its characters outside GSM-7 (the list opened when UCS-2).
    private mutating func beginAnswer(_ m: TextMeasure, normalized: Bool) {
        output.append(m.encoding == .gsm7 ? #"{"encoding":"gsm7","units":"# : #"{"encoding":"ucs2","units":"#)
        output.appendNumber(m.units)
        output.append(#","segments":"#); output.appendNumber(m.segments)
        output.append(#","characters":"#); output.appendNumber(m.characters)
        output.append(#","units_per_segment":"#); output.appendNumber(m.segments > 1 ? m.encoding.partLimit : m.encoding.singleLimit)
        output.append(normalized ? #","normalized":true"# : #","normalized":false"#)
        if m.encoding == .ucs2 { output.append(#","non_gsm7":["#) }
    }

    /// The rest of the answer begun by `beginAnswer`, and its line end.
    private mutating func endAnswer(_ m: TextMeasure) {
        if m.encoding == .ucs2 { output.append(0x5D) }
        output.append(#","cost":{"segments":"#); output.appendNumber(m.segments)
        output.append("}}\n")
    }
}
