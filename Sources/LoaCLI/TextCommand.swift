import ArgumentParser
import Foundation
import LoaCore
import LoaOperations

struct TextCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Work with message texts.",
        subcommands: [ConvertText.self]
    )
}

struct ConvertText: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert legacy Vietnamese text (TCVN3/ABC, VNI Windows) to NFC Unicode.",
        discussion: """
            Reads FILE as UTF-8 (legacy characters appear as Latin-1 letters, e.g. "ViÖt Nam" for \
            TCVN3 or "Vieät Nam" for VNI) or, when it is not valid UTF-8, as raw Windows-1252 \
            bytes. With --from auto (the default) loa converts with each encoding and keeps the \
            one whose changed words are valid Vietnamese syllables; when it cannot tell it stops \
            and asks for --from. Writes UTF-8 to stdout or to --output.
            """
    )

    @Argument(help: "The legacy text file.")
    var file: String

    @Option(name: .long, help: "auto, tcvn3 or vni.")
    var from: Source = .auto

    @Option(name: [.short, .long], help: "Write the converted text here instead of stdout.")
    var output: String?

    @Flag(name: .long, help: "Replace the --output file if it exists.")
    var force = false

    enum Source: String, ExpressibleByArgument, CaseIterable {
        case auto, tcvn3, vni
    }

    func run() async throws {
        let (text, _) = Windows1252.decodeText(try readFileBytes(file))
        let encoding: LegacyVietnameseEncoding
        switch from {
        case .tcvn3: encoding = .tcvn3
        case .vni: encoding = .vni
        case .auto:
            switch LegacyVietnamese.detect(text) {
            case .plain:
                printError("\(file): no legacy Vietnamese characters found; written unchanged")
                try emit(NFC.normalize(text))
                return
            case .unicode:
                printError("\(file): already Unicode Vietnamese; written unchanged (NFC)")
                try emit(NFC.normalize(text))
                return
            case .legacy(let detected, let score):
                encoding = detected
                printError("\(file): detected \(detected == .tcvn3 ? "TCVN3 (ABC)" : "VNI Windows") — \(Int((score * 100).rounded()))% of the changed words are valid Vietnamese syllables")
            case .unsure(let tcvn, let vni):
                throw CLIError("\(file): cannot tell the encoding: valid Vietnamese syllables after conversion are \(Int((tcvn * 100).rounded()))% as TCVN3 and \(Int((vni * 100).rounded()))% as VNI; look at the text and pass --from tcvn3 or --from vni")
            }
        }
        try emit(LegacyVietnamese.convert(text, from: encoding))
    }

    private func emit(_ text: String) throws {
        if let output {
            try OutputFile.write(Array(text.utf8), to: output, force: force, inputs: [file])
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
