import Foundation
import Testing
import LoaFuzzTargets

/// Every input in the fuzz corpus (`Tests/FuzzCorpus/TARGET/`: seeds, and every crash libFuzzer
/// found, kept as a regression) runs through its target on every test run.
@Suite("The fuzz corpus, replayed")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("FuzzCorpus")

    @Test("each target's corpus runs without a crash or a broken invariant", arguments: FuzzTargets.names)
    func replay(target: String) throws {
        let dir = Self.corpus.appendingPathComponent(target)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(files.count >= 5, "\(target): \(files.count) inputs")
        for file in files {
            FuzzTargets.run(target, [UInt8](try Data(contentsOf: dir.appendingPathComponent(file))))
        }
    }
}
