import Foundation
import LoaCore

/// `loa-bench`: prints figures, never asserts. Run in release:
///   swift run -c release loa-bench encode [--messages N] [--rounds N]
@main
struct Bench {
    static func main() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        guard let command = args.first else { usage(); return }
        args.removeFirst()
        switch command {
        case "encode": EncodeBench(options: Options(args)).run()
        case "dispatch": try await DispatchBench(options: Options(args)).throughput()
        case "rate": try await DispatchBench(options: Options(args)).rateAccuracy()
        case "faults": try await DispatchBench(options: Options(args)).underFaults()
        case "kannel": try await DispatchBench(options: Options(args)).kannel()
        case "receipts": try await ReceiptsBench(options: Options(args)).run()
        case "report": try ReportBench(options: Options(args)).run()
        case "-h", "--help", "help": usage()
        default:
            print("unknown benchmark '\(command)'")
            usage()
        }
    }

    static func usage() {
        print("""
            usage: loa-bench encode [--messages N] [--rounds N] [--nfd 0|1]
                   loa-bench dispatch [--messages N] [--carriers N] [--interleave 0|1]
                   loa-bench rate [--tps N] [--seconds N]
                   loa-bench faults [--tps N] [--seconds N] [--fault-percent N] [--timeout S]
                   loa-bench kannel [--tps N] [--seconds N] [--uploads N]   (LOA_KANNEL_SENDSMS set)
                   loa-bench receipts [--pending N] [--receipts N] [--clients N] [--arrival 0|1]
                   loa-bench report [--messages N]
              encode   NFC + encoding choice + segmentation + parts (UDH, packed payload) on a mixed
                       Vietnamese / ethnic-language / Lao / Khmer / Chinese / English corpus
              dispatch aggregate messages/s from a SQLite store (PostgreSQL with LOA_BENCH_POSTGRES)
                       to carrier simulators on loopback (high limits; libcurl uploads, simulator
                       and store in one process); each carrier planned apart, or mixed in one part
                       as an audience plans them with --interleave 1
              rate     rate accuracy at a configured TPS, measured by the simulator
              faults   effective rate to a carrier that fails a share of uploads (503, 500, lost
                       and slow answers, resets), measured by the simulator
              kannel   messages/s accepted by a real Kannel (one request per message)
              receipts receipts/s over HTTP (signed, 1,000 lines a request, 2% duplicates, 1% unknown
                       ids) into a store with 10k, 100k and 1M messages awaiting receipts; in
                       random order over all of them, or with --arrival 1 as receipts come back
              report   a campaign report (each --by) over 5M messages in a SQLite store
            """)
    }
}

struct Options {
    var values: [String: Int] = [:]
    init(_ args: [String]) {
        var i = 0
        while i + 1 < args.count {
            if args[i].hasPrefix("--"), let v = Int(args[i + 1]) { values[String(args[i].dropFirst(2))] = v }
            i += 2
        }
    }
    func int(_ name: String, _ fallback: Int) -> Int { values[name] ?? fallback }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

struct EncodeBench {
    let options: Options

    /// Sentences in the scripts loa carries. The non-Vietnamese lines are orthography samples
    /// for load (letters, marks, scripts), not verified translations.
    static let sentences: [String] = [
        "Thông báo: từ 14 giờ ngày 12/9, bão số 3 đổ bộ vào các xã biên giới.",
        "Bà con không ra khơi, không đi rừng, gia cố nhà cửa và theo dõi loa xã.",
        "UBND xã Ia Dom đề nghị người dân khai báo tạm trú khi qua lại biên giới.",
        "Mọi thông tin xin liên hệ đồn Biên phòng hoặc số điện thoại 0260 3862 123.",
        "Nhà nước không thu phí khi cấp căn cước; cảnh giác với lừa đảo qua điện thoại.",
        "Bơ̆n pơlei Kon Tum, hơdră pơjing tơdrong, bơ̆n kơ̆l hơdruh hơdrăng.",   // Bahnar-style orthography
        "Ană plei, pô pơala, kơ hơdôm mơnuih Jarai dŏ jĕ guah čar.",           // Jarai-style orthography
        "Ngế kuân kơ tơdrá, ối pêi cheăng kơ hnéa, tâ ple Xơ Đăng.",            // Xơ Đăng-style orthography
        "Peb cov neeg Hmoob nyob ze ciam teb, thov ua tib zoo mloog xov xwm.",   // H'Mông RPA (ASCII)
        "Pỉ noọng Tày Nùng đảy hẩu slổ ngọc, tỏ pây hết viẹc.",                  // Tày-style orthography
        "ແຈ້ງການ: ພາຍຸລູກທີ 3 ຈະເຂົ້າເຂດຊາຍແດນ, ກະລຸນາລະວັງ.",                         // Lao
        "សេចក្តីជូនដំណឹង: ព្យុះនឹងចូលតំបន់ព្រំដែន សូមប្រុងប្រយ័ត្ន។",                   // Khmer
        "通知：3号台风将于今天下午登陆边境地区，请注意安全。",                              // Chinese
        "Notice: storm no. 3 reaches the border communes this afternoon. Stay indoors.",
        "Public notice from the provincial department: vaccination on Sat 14/9 at the commune clinic [free].",
    ]

    func corpus(_ count: Int) -> [String] {
        var rng = SplitMix64(seed: 0x10A)
        var out: [String] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            // Same-script messages of 1–4 sentences: a message is in one language.
            let base = Int(rng.next() % UInt64(Self.sentences.count))
            let n = 1 + Int(rng.next() % 4)
            out.append(Array(repeating: Self.sentences[base], count: n).joined(separator: " "))
        }
        return out
    }

    func run() {
        let count = options.int("messages", 200_000)
        let rounds = options.int("rounds", 5)
        let messages = corpus(count)
        let bytes = messages.reduce(0) { $0 + $1.utf8.count }
        print("corpus: \(count) messages, \(String(format1: Double(bytes) / 1e6)) MB UTF-8, \(Self.sentences.count) sentences in 9 scripts/orthographies")

        var best = Double.infinity, bestMeasure = Double.infinity
        var checksum = 0
        for _ in 0..<rounds {
            let t0 = now()
            for (i, m) in messages.enumerated() {
                let e = SMSEncoder.encode(m, reference: UInt8(truncatingIfNeeded: i))
                checksum &+= e.parts.count &+ Int(e.parts[0].payload.first ?? 0)
            }
            best = min(best, now() - t0)
            let t1 = now()
            for m in messages { checksum &+= SMSEncoder.measure(m).segments }
            bestMeasure = min(bestMeasure, now() - t1)
        }
        report("encode+segment+parts", seconds: best, messages: count, bytes: bytes)
        report("measure (no parts)  ", seconds: bestMeasure, messages: count, bytes: bytes)

        guard options.int("nfd", 1) != 0 else { return }
        // NFD input: every Vietnamese message decomposed, the slow path.
        let nfd = messages.map { String(decoding: decompose($0), as: UTF8.self) }
        let nfdBytes = nfd.reduce(0) { $0 + $1.utf8.count }
        var bestNFD = Double.infinity
        for _ in 0..<max(1, rounds / 2) {
            let t = now()
            for m in nfd { checksum &+= SMSEncoder.encode(m).parts.count }
            bestNFD = min(bestNFD, now() - t)
        }
        report("encode, NFD input   ", seconds: bestNFD, messages: count, bytes: nfdBytes)
        print("(best of \(rounds) rounds, one core; checksum \(checksum & 0xFFFF))")
    }

    func report(_ name: String, seconds: Double, messages: Int, bytes: Int) {
        print("\(name): \(String(format1: Double(messages) / seconds / 1e3))k messages/s, \(String(format1: Double(bytes) / seconds / 1e6)) MB/s")
    }

    /// Vietnamese precomposed letters to base + combining marks, for the NFD measurement.
    func decompose(_ s: String) -> [UInt8] {
        var out = String.UnicodeScalarView()
        let toneMarks: [Unicode.Scalar] = ["\u{0300}", "\u{0301}", "\u{0309}", "\u{0303}", "\u{0323}"]
        for scalar in s.unicodeScalars {
            if let v = VietnameseLetters.vowel(scalar), v.tone != .level {
                out.append(VietnameseLetters.scalar(row: v.row, tone: .level, uppercase: v.isUppercase))
                out.append(toneMarks[v.tone.rawValue - 1])
            } else {
                out.append(scalar)
            }
        }
        return Array(String(out).utf8)
    }
}

extension String {
    init(format1 value: Double) {
        let scaled = (value * 10).rounded() / 10
        self = String(scaled)
    }
}
