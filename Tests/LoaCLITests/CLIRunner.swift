import Foundation

/// Runs the built `loa` binary, the way scripts use it.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["LOA_BINARY"] { return URL(fileURLWithPath: path) }
        // The test bundle sits beside the products it was built with.
        for candidate in [Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("loa"),
                          packageRoot.appendingPathComponent(".build/debug/loa")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        return packageRoot.appendingPathComponent(".build/debug/loa")
    }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], directory: String? = nil) throws -> CLIResult {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Input written, and errors read, beside reading the output: a large input and a large
        // output cannot fill their pipes and wait on each other.
        let writer = input.fileHandleForWriting
        let inputData = stdin.map { Data($0.utf8) }
        let wrote = DispatchSemaphore(value: 0)
        Thread {
            if let inputData { try? writer.write(contentsOf: inputData) }
            try? writer.close()
            wrote.signal()
        }.start()
        final class Collected: @unchecked Sendable { var data = Data() }
        let errors = Collected()
        let readErrors = DispatchSemaphore(value: 0)
        let errHandle = err.fileHandleForReading
        Thread {
            errors.data = errHandle.readDataToEndOfFile()
            readErrors.signal()
        }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        wrote.wait()
        readErrors.wait()
        let errData = errors.data
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts the binary in the background (stdout and stderr to files).
    static func spawn(_ arguments: [String], environment: [String: String] = [:], log: String) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)!
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    static func json(_ line: Substring) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func temporaryFile(_ bytes: [UInt8], name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}
