import Foundation
import LoaFuzzTargets

#if LOA_FUZZ
// Built by ops/fuzz.sh with -sanitize=fuzzer,address -D LOA_FUZZ: libFuzzer calls this for each
// input; the target is named by LOA_FUZZ_TARGET.
let fuzzTarget = ProcessInfo.processInfo.environment["LOA_FUZZ_TARGET"] ?? "segments"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    FuzzTargets.run(fuzzTarget, bytes)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

// SwiftPM links an executable's entry point as `<Module>_main`: libFuzzer's driver runs from it.
@_cdecl("LoaFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzOne)
}
#else
/// Without libFuzzer: `loa-fuzz TARGET FILE…` runs files through a target (a crash found by the
/// fuzzer, replayed under a debugger).
@main
struct ReplayFuzzInputs {
    static func main() throws {
        let args = CommandLine.arguments.dropFirst()
        guard let target = args.first, FuzzTargets.names.contains(target), args.count >= 2 else {
            FileHandle.standardError.write(Data("usage: loa-fuzz TARGET FILE… (targets: \(FuzzTargets.names.joined(separator: ", ")))\n".utf8))
            exit(2)
        }
        for file in args.dropFirst() {
            FuzzTargets.run(target, [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
            print("\(file): ok")
        }
    }
}
#endif
