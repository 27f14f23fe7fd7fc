import LoaCore

/// Minimal JSON for the CLI's line protocols: writing objects, and reading one JSON string per line.
/// Hand-written because `--batch` must stream millions of lines quickly.
struct JSONObject {
    private(set) var text = "{"
    private var first = true

    private mutating func key(_ k: String) {
        if !first { text += "," }
        first = false
        text += "\""
        text += k
        text += "\":"
    }

    mutating func add(_ k: String, _ v: String) { key(k); JSONText.appendString(v, to: &text) }
    mutating func add(_ k: String, _ v: String?) { if let v { add(k, v) } else { key(k); text += "null" } }
    mutating func add(_ k: String, _ v: Int) { key(k); text += String(v) }
    mutating func add(_ k: String, _ v: Bool) { key(k); text += v ? "true" : "false" }
    mutating func add(_ k: String, object: JSONObject) { key(k); text += object.finished }
    mutating func add(_ k: String, strings: [String]) {
        key(k)
        text += "["
        for (i, s) in strings.enumerated() { if i > 0 { text += "," }; JSONText.appendString(s, to: &text) }
        text += "]"
    }
    mutating func add(_ k: String, objects: [JSONObject]) {
        key(k)
        text += "[" + objects.map(\.finished).joined(separator: ",") + "]"
    }

    var finished: String { text + "}" }
}

enum JSONText {
    static func appendString(_ s: String, to out: inout String) { out += JSONString.quoted(s) }

    enum DecodeError: Error, CustomStringConvertible {
        case notAString
        case invalid(String)
        var description: String {
            switch self {
            case .notAString: "expected a JSON string (the text in double quotes)"
            case .invalid(let why): why
            }
        }
    }

    /// Decodes a line holding exactly one JSON string (surrounding spaces allowed), with the core's
    /// strict JSON reader.
    static func decodeString(_ line: Substring) throws(DecodeError) -> String {
        let value: JSONValue
        do { value = try JSONValue.parse(Array(line.utf8)) } catch { throw .invalid(error.description) }
        guard let s = value.stringValue else { throw .notAString }
        return s
    }
}

/// A growing byte buffer written through a pointer: no uniqueness or bounds checks per byte, for
/// output written in millions of small pieces (`inspect text --json --batch`).
struct ByteWriter: ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        start = .allocate(capacity: capacity)
    }

    deinit { start.deallocate() }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: start, count: count) }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        p.update(from: start, count: count)
        start.deallocate()
        start = p
        capacity = c
    }

    @inline(__always)
    mutating func append(_ b: UInt8) {
        reserve(1)
        start[count] = b
        count += 1
    }

    mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let base = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (start + count).update(from: base, count: p.count)
        count += p.count
    }

    mutating func append(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func append(_ a: [UInt8]) { a.withUnsafeBufferPointer { append($0) } }

    /// A whole number's decimal digits.
    mutating func appendNumber(_ n: Int) {
        if n < 0 { append(0x2D) }
        var v = n.magnitude
        var length = 1
        var t = v
        while t >= 10 { t /= 10; length += 1 }
        reserve(length)
        var k = count + length
        repeat { k -= 1; start[k] = 0x30 + UInt8(v % 10); v /= 10 } while v > 0
        count += length
    }

    /// UTF-8 bytes as a quoted JSON string (the escapes of `JSONString.append`).
    mutating func appendJSONString(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        // Most strings need no escape: copied between their quotes in one pass.
        reserve(bytes.count + 2)
        var k = count
        start[k] = 0x22
        k += 1
        var plain = true
        for b in bytes {
            if b < 0x20 || b == 0x22 || b == 0x5C { plain = false; break }
            start[k] = b
            k += 1
        }
        if plain {
            start[k] = 0x22
            count = k + 1
            return
        }
        // Something to escape: what was copied is dropped, and the core's writer does it.
        var escaped: [UInt8] = []
        JSONString.append(utf8: bytes, to: &escaped)
        append(escaped)
    }
}
