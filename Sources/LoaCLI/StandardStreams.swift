import Foundation

/// Buffered standard output, so that `--batch` writes in large blocks.
final class OutputBuffer {
    private var buffer: [UInt8] = []
    private let fd: Int32

    init(fd: Int32 = 1) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    /// A line already in bytes (its line end is added).
    func bytes(_ b: [UInt8]) {
        buffer.append(contentsOf: b)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Bytes as they are (lines already ended).
    func raw(_ b: [UInt8]) {
        buffer.append(contentsOf: b)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Bytes as they are (lines already ended), written at once after what is buffered: for
    /// large blocks, which need no copy.
    func writeNow(_ b: UnsafeBufferPointer<UInt8>) {
        flush()
        var offset = 0
        while offset < b.count {
            let n = write(fd, b.baseAddress! + offset, b.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
    }

    func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A file a command writes (`--out`, `-o`). loa never replaces a file it was not told to
/// replace (`--force`), never writes over a file it reads in the same command, and never writes
/// through a symbolic link (a link in a shared directory could point anywhere). The file is
/// created readable by its owner only: exports hold personal data.
enum OutputFile {
    /// Checks `path` and opens it for writing (truncated). `inputs` are the files the command reads.
    static func open(_ path: String, force: Bool, inputs: [String] = []) throws -> FileHandle {
        var st = stat()
        if lstat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFLNK { throw CLIError("\(path): is a symbolic link; loa does not write through links (give the real path)") }
            if (st.st_mode & S_IFMT) == S_IFDIR { throw CLIError("\(path): is a directory, expected a file name") }
            for input in inputs {
                var other = stat()
                if stat(input, &other) == 0 && other.st_dev == st.st_dev && other.st_ino == st.st_ino {
                    throw CLIError("\(path): is \(input), which this command reads; write to another file")
                }
            }
            if !force { throw CLIError("\(path): exists; loa does not replace it unless told to (--force)") }
        }
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | (force ? 0 : O_EXCL), 0o600)
        guard fd >= 0 else { throw CLIError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Writes `bytes` to `path` under the same rules.
    static func write(_ bytes: [UInt8], to path: String, force: Bool, inputs: [String] = []) throws {
        let handle = try open(path, force: force, inputs: inputs)
        handle.write(Data(bytes))
        try handle.close()
    }
}
