import Foundation
import LoaCarriers
import LoaCore
import LoaOperations
import LoaReference

/// What loa reads from outside, one fuzz target each: any bytes must give an answer or a reasoned
/// refusal, never a crash, and what is accepted must hold the target's invariant (a violation
/// stops the process, which is how libFuzzer and the corpus replay see it). `loa-fuzz` runs them
/// under libFuzzer (`ops/fuzz.sh`); `LoaFuzzTests` replays the corpus in `Tests/FuzzCorpus` with
/// every test run.
public enum FuzzTargets {
    public static let names = ["campaign", "csv", "receipts", "smpp", "cap", "geojson", "msisdn", "segments", "wav"]

    nonisolated(unsafe) static var units: AdministrativeUnits? = nil

    static func invariant(_ ok: Bool, _ what: @autoclosure () -> String) {
        if !ok { fatalError("fuzz invariant broken: \(what())") }
    }

    /// Runs one input through a target. Unknown names stop the process.
    public static func run(_ name: String, _ data: [UInt8]) {
        switch name {
        case "campaign": campaign(data)
        case "csv": csv(data)
        case "receipts": receipts(data)
        case "smpp": _ = SMPPReceipt.parse(String(decoding: data, as: UTF8.self))
        case "cap": cap(data)
        case "geojson": geojson(data)
        case "msisdn": msisdn(data)
        case "segments": segments(data)
        case "wav": wav(data)
        default: fatalError("no fuzz target \(name) (targets: \(names.joined(separator: ", ")))")
        }
    }

    /// A campaign file: parsed and checked; without a campaign there is at least one error.
    static func campaign(_ data: [UInt8]) {
        if units == nil { units = try? ReferenceData.administrativeUnits() }
        guard let units else { fatalError("reference data missing") }
        guard let loaded = try? LoadedCampaign.parse(String(decoding: data, as: UTF8.self), path: "/nonexistent-loa-fuzz/c.yaml", units: units) else { return }
        invariant(loaded.campaign != nil || !loaded.errors.isEmpty, "no campaign and no error")
    }

    /// A CSV line: split; written back with loa's quoting, it splits to the same fields.
    static func csv(_ data: [UInt8]) {
        let line = Substring(String(decoding: data.prefix { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self))
        guard let fields = try? CSVLine.split(line) else { return }
        let again = try? CSVLine.split(Substring(fields.map(CSVLine.field).joined(separator: ",")))
        invariant(again == fields, "\(fields) wrote back as \(String(describing: again))")
    }

    /// A receipt body: one result per non-blank line, in order.
    static func receipts(_ data: [UInt8]) {
        let lines = BatchHTTP.receiptLines(data)
        let nonBlank = data.split(separator: 0x0A, omittingEmptySubsequences: false).filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }.count
        invariant(lines.count == nonBlank, "\(lines.count) results for \(nonBlank) lines")
        invariant(lines.map(\.number) == lines.map(\.number).sorted(), "results out of order")
    }

    static func cap(_ data: [UInt8]) {
        guard let alert = try? CAPReader.read(bytes: data, path: "fuzz.xml") else { return }
        _ = try? alert.campaignDocument(sender: "LOA", geojsonName: "fuzz.geojson", allowExercise: true)
    }

    /// GeoJSON: whatever is accepted is on the Earth.
    static func geojson(_ data: [UInt8]) {
        for line in (try? GeoJSON.lines(bytes: data, name: "fuzz.geojson")) ?? [] {
            invariant(line.allSatisfy { (-90...90).contains($0.latitude) && (-180...180).contains($0.longitude) }, "a point off the Earth")
        }
        for polygon in (try? GeoJSON.polygons(bytes: data, name: "fuzz.geojson")) ?? [] {
            invariant(polygon.allSatisfy { $0.count >= 4 && $0.first == $0.last }, "an open ring")
        }
    }

    /// A number: one that is accepted reads back the same from its E.164 and national forms.
    static func msisdn(_ data: [UInt8]) {
        let text = String(decoding: data.prefix(64), as: UTF8.self)
        guard case .success(let parsed) = VietnamNumberingPlan.parse(text) else { return }
        for form in [parsed.msisdn.e164, parsed.msisdn.national] {
            guard case .success(let again) = VietnamNumberingPlan.parse(form) else { fatalError("\(Escaped(text)) → \(form), refused read again") }
            invariant(again.msisdn == parsed.msisdn && again.carrierOfOrigin == parsed.carrierOfOrigin, "\(Escaped(text)) → \(form) reads back differently")
        }
        var bytes = Array(text.utf8)
        let viaBytes = bytes.withUnsafeMutableBufferPointer { VietnamNumberingPlan.parse(utf8: UnsafeBufferPointer($0)) }
        invariant((try? viaBytes.get())?.msisdn == parsed.msisdn, "the byte parser disagrees on \(Escaped(text))")
    }

    /// Text: the parts hold the whole text, each within its limit; measuring agrees with encoding.
    static func segments(_ data: [UInt8]) {
        let text = String(decoding: data.prefix(4000), as: UTF8.self)
        let encoded = SMSEncoder.encode(text)
        let measure = SMSEncoder.measure(text)
        invariant(encoded.measure == measure, "measure \(measure) but encoded \(encoded.measure)")
        invariant(encoded.segments == measure.segments, "\(encoded.segments) parts, \(measure.segments) measured")
        invariant(encoded.parts.map(\.text).joined() == encoded.text, "the parts do not make the text")
        let limit = encoded.segments > 1 ? encoded.encoding.partLimit : encoded.encoding.singleLimit
        invariant(encoded.parts.allSatisfy { $0.units <= limit }, "a part over \(limit) units")
        invariant(encoded.parts.reduce(0) { $0 + $1.units } == encoded.units, "units do not add up")
        // The quick scan for characters outside GSM-7 agrees with the standard library's characters.
        let quick = Diacritics.nonGSM7Characters(nfc: encoded.text), exact = Diacritics.nonGSM7CharactersByStandardLibrary(encoded.text)
        invariant(quick.map { Array($0.unicodeScalars) } == exact.map { Array($0.unicodeScalars) }, "non-GSM-7 characters \(quick) but the standard library says \(exact)")
    }

    /// A WAV file: what is read checks and prepares; 8 kHz mono written back reads the same.
    static func wav(_ data: [UInt8]) {
        guard let audio = try? WAVAudio.read(data) else { return }
        invariant(audio.channels > 0 && audio.samples.count % audio.channels == 0, "samples not a whole number of frames")
        _ = Recording.check(audio)
        guard let telephone = TelephoneAudio(audio) else { return }
        _ = Recording.prepare(telephone)
        invariant((try? WAVAudio.read(telephone.wavFile())).flatMap(TelephoneAudio.init) == telephone, "8 kHz audio does not read back")
    }
}
