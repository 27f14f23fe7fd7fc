/// What `inspect text` reports of one text, read straight from its UTF-8 bytes: the measure and
/// the characters outside GSM-7, without building a `String` for the common case. One inspector
/// is reused line after line (its tables stay allocated); not shared between threads.
///
/// The characters are the standard library's (extended grapheme clusters), found without its
/// grapheme breaking wherever that is exact: between two "simple" scalars (see
/// `isSimple`) there is always a character boundary, so only the stretches around other scalars
/// (marks, joiners, variation selectors, regional indicators, Hangul jamo, …) go through the
/// standard library, each stretch from one such boundary to the next.
public struct TextInspector {
    /// The size of the last text inspected.
    public private(set) var measure = TextMeasure(encoding: .gsm7, units: 0, segments: 0, characters: 0)
    /// The last text's characters outside GSM-7, each once, in order of first appearance: the
    /// byte ranges of their first appearance in the bytes inspected (which the caller keeps).
    public private(set) var characters: [Range<Int>] = []

    /// For scalars below U+10000: the inspection in which each was last listed.
    private var listedIn: [UInt16]
    private var inspection: UInt16 = 0
    /// Scalars above U+FFFF listed in this inspection, and the characters of several scalars.
    private var astralListed: [UInt32] = []
    /// The characters of several scalars listed in this inspection (ranges of the bytes inspected).
    private var clusters: [Range<Int>] = []

    public init() {
        listedIn = [UInt16](repeating: 0, count: 0x10000)
    }

    public enum Refusal: Error, Equatable {
        /// Not valid UTF-8: the general path says where.
        case notUTF8
        /// A control character other than a line end (C0, DEL or C1).
        case controlCharacter
        /// The text may change under NFC: normalize it and measure the result instead.
        case mayNeedNormalization
    }

    /// Inspects one text given as UTF-8 bytes; on a refusal, nothing about it is kept and the
    /// caller takes the general way (`String`, NFC, `SMSEncoder.measureNormalizing`).
    public mutating func inspect(_ bytes: UnsafeBufferPointer<UInt8>) -> Refusal? {
        if inspection == UInt16.max {
            for i in listedIn.indices { listedIn[i] = 0 }
            inspection = 0
        }
        inspection += 1
        characters.removeAll(keepingCapacity: true)
        astralListed.removeAll(keepingCapacity: true)
        clusters.removeAll(keepingCapacity: true)
        let scanned = scan(bytes, flags)
        switch scanned {
        case .success(let m):
            measure = m
            return nil
        case .failure(let refusal):
            characters.removeAll(keepingCapacity: true)
            return refusal
        }
    }

    // Per scalar below U+10000: what the scan and the listing need, in one byte.
    private let flags = TextInspector.scalarFlags
    /// Built once, never freed: read through a pointer with no reference counting per line.
    nonisolated(unsafe) private static let scalarFlags: UnsafePointer<UInt8> = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        let ascii = GSM7Alphabet.asciiTable
        for v in 0..<0x10000 where !(0xD800...0xDFFF).contains(v) {
            let u = UInt32(v)
            var f: UInt8 = 0
            if v < 0x80 {
                if ascii[v] != 0xFFFF { f |= ascii[v] & 0x100 != 0 ? ScalarFlag.gsmExtension : ScalarFlag.gsmBasic }
            } else if let code = GSM7Alphabet.nonASCIICode(u) {
                f |= code.septets == 2 ? ScalarFlag.gsmExtension : ScalarFlag.gsmBasic
            }
            var quickCheck = NFC.QuickCheck()
            if quickCheck.accept(u) && quickCheck.lastClass == 0 { f |= ScalarFlag.nfcStable }
            if isSimple(u) { f |= ScalarFlag.simple }
            if isAttaching(u) { f |= ScalarFlag.attaching }
            if (v < 0x20 && v != 0x0A && v != 0x0D) || (0x7F...0x9F).contains(v) { f |= ScalarFlag.control }
            table[v] = f
        }
        let kept = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        kept.initialize(from: table, count: 0x10000)
        return UnsafePointer(kept)
    }()

    /// One pass over the bytes: UTF-8 validity (no overlong forms, surrogates or scalars above
    /// U+10FFFF), control characters (all but LF and CR), the NFC quick check, and the counts
    /// of both encodings with their greedy part splits (as `TextScan`).
    ///
    /// The same pass lists the characters outside GSM-7 (none when the text is GSM-7): a simple
    /// scalar waits, with the marks that follow it, until the next scalar says whether it is a
    /// character of its own; anything else opens a stretch, from the waiting scalar to the next
    /// boundary between two simple scalars (or the end), that the standard library cuts.
    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ table: UnsafePointer<UInt8>) -> Result<TextMeasure, Refusal> {
        // The waiting character (pendingStart < 0: none) and the open stretch (stretchStart < 0: none).
        var pendingStart = -1, pendingEnd = 0, pendingScalar: UInt32 = 0, pendingMarked = false
        var stretchStart = -1, previousSimple = false
        var counts = Counts()
        var quickCheck = NFC.QuickCheck()
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            let at = i
            if b0 >= 0x20 && b0 < 0x7F {
                // Printable ASCII (most of any text), the general steps below made short: one
                // unit, NFC-stable, simple; GSM-7 but for the grave accent.
                i += 1
                counts.add(units: 1, flags: table[Int(b0)])
                quickCheck.lastClass = 0
                if stretchStart >= 0 {
                    if previousSimple {
                        listStretch(bytes, stretchStart, at)
                        stretchStart = -1
                        pendingStart = at; pendingEnd = i; pendingScalar = UInt32(b0); pendingMarked = false
                    } else {
                        previousSimple = true
                    }
                } else {
                    if pendingStart >= 0 && (pendingMarked || pendingScalar >= 0x10000 || table[Int(pendingScalar)] & (ScalarFlag.gsmBasic | ScalarFlag.gsmExtension) == 0) {
                        listPending(bytes, pendingStart, pendingEnd, pendingScalar, pendingMarked)
                    }
                    pendingStart = at; pendingEnd = i; pendingScalar = UInt32(b0); pendingMarked = false
                }
                continue
            }
            let v: UInt32
            if b0 < 0x80 {
                v = UInt32(b0)
                i += 1
            } else {
                @inline(__always) func continuation(_ k: Int) -> Bool { i + k < n && bytes[i + k] & 0xC0 == 0x80 }
                switch b0 {
                case 0xC2...0xDF:
                    guard continuation(1) else { return .failure(.notUTF8) }
                    v = UInt32(b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
                    i += 2
                case 0xE0...0xEF:
                    guard continuation(1), continuation(2) else { return .failure(.notUTF8) }
                    let b1 = bytes[i + 1]
                    if (b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0) { return .failure(.notUTF8) }   // overlong, surrogate
                    v = UInt32(b0 & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)
                    i += 3
                case 0xF0...0xF4:
                    guard continuation(1), continuation(2), continuation(3) else { return .failure(.notUTF8) }
                    let b1 = bytes[i + 1]
                    if (b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90) { return .failure(.notUTF8) }   // overlong, above U+10FFFF
                    v = UInt32(b0 & 0x07) << 18 | UInt32(b1 & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                    i += 4
                default:
                    return .failure(.notUTF8)
                }
            }
            let f: UInt8 = v < 0x10000 ? table[Int(v)] : 0
            if f & ScalarFlag.control != 0 { return .failure(.controlCharacter) }
            counts.add(units: v > 0xFFFF ? 2 : 1, flags: f)
            if f & ScalarFlag.nfcStable != 0 { quickCheck.lastClass = 0 } else if !quickCheck.acceptSlow(v) { return .failure(.mayNeedNormalization) }
            // The characters.
            let isSimple = v < 0x10000 ? f & ScalarFlag.simple != 0 : Self.isSimple(v)
            if stretchStart >= 0 {
                if isSimple && previousSimple {
                    // A boundary before this scalar: the stretch ends; this one waits.
                    listStretch(bytes, stretchStart, at)
                    stretchStart = -1
                    pendingStart = at; pendingEnd = i; pendingScalar = v; pendingMarked = false
                } else {
                    previousSimple = isSimple
                }
            } else if isSimple {
                if pendingStart >= 0 { listPending(bytes, pendingStart, pendingEnd, pendingScalar, pendingMarked) }
                pendingStart = at; pendingEnd = i; pendingScalar = v; pendingMarked = false
            } else if pendingStart >= 0 && pendingScalar != 0x0A && (v < 0x10000 ? f & ScalarFlag.attaching != 0 : Self.isAttaching(v)) {
                pendingEnd = i; pendingMarked = true
            } else {
                stretchStart = pendingStart >= 0 ? pendingStart : at
                pendingStart = -1
                previousSimple = false
            }
        }
        if stretchStart >= 0 { listStretch(bytes, stretchStart, n) }
        if pendingStart >= 0 { listPending(bytes, pendingStart, pendingEnd, pendingScalar, pendingMarked) }
        return .success(counts.measure)
    }

    /// Both encodings' counts and greedy part splits, scalar by scalar (as `TextScan`).
    private struct Counts {
        var isGSM7 = true
        var septets = 0, utf16 = 0, scalars = 0
        var gsmParts = 1, gsmFill = 0, ucsParts = 1, ucsFill = 0

        /// One scalar of `units` UTF-16 units, with its table flags (GSM-7 or not).
        @inline(__always)
        mutating func add(units u: Int, flags f: UInt8) {
            scalars += 1
            utf16 += u
            if ucsFill + u > 67 { ucsParts += 1; ucsFill = u } else { ucsFill += u }
            guard isGSM7 else { return }
            if f & (ScalarFlag.gsmBasic | ScalarFlag.gsmExtension) != 0 {
                let c = f & ScalarFlag.gsmExtension != 0 ? 2 : 1
                septets += c
                if gsmFill + c > 153 { gsmParts += 1; gsmFill = c } else { gsmFill += c }
            } else {
                isGSM7 = false
            }
        }

        var measure: TextMeasure {
            if scalars == 0 { return TextMeasure(encoding: .gsm7, units: 0, segments: 0, characters: 0) }
            if isGSM7 { return TextMeasure(encoding: .gsm7, units: septets, segments: septets <= 160 ? 1 : gsmParts, characters: scalars) }
            return TextMeasure(encoding: .ucs2, units: utf16, segments: utf16 <= 70 ? 1 : ucsParts, characters: scalars)
        }
    }

    /// Scalars that form a character of their own unless a mark, joiner or other extending scalar
    /// follows, and never join the scalar before them: grapheme break property Other (or a
    /// control that is not CR), no Prepend, no Hangul, no Indic conjunct role. Between two of them
    /// there is always a boundary. Checked against the standard library by the tests.
    @inline(__always)
    static func isSimple(_ v: UInt32) -> Bool {
        if v < 0x300 { return v != 0x0D && v != 0xAD }
        switch v {
        case 0x1E00...0x1EFF, 0x4E00...0x9FFF, 0x2010...0x2027, 0x2030...0x205E,
             0x3000...0x3029, 0x3030...0x303F, 0xFF00...0xFF9D, 0xFFA0...0xFFEF,
             0x2190...0x21FF, 0x2300...0x23FF, 0x2600...0x27BF,
             0x1F300...0x1F3FA, 0x1F400...0x1F64F, 0x1F680...0x1F6FF, 0x1F900...0x1F9FF:
            return true
        case 0x0E01...0x0E5B:   // Thai but its vowel and tone marks
            return !(v == 0x0E31 || (0x0E33...0x0E3A).contains(v) || (0x0E47...0x0E4E).contains(v))
        case 0x0E81...0x0EDF:   // Lao but its vowel and tone marks
            return !(v == 0x0EB1 || (0x0EB3...0x0EBC).contains(v) || (0x0EC8...0x0ECE).contains(v))
        default:
            return false
        }
    }

    /// Scalars that never begin a character after a simple scalar other than a line feed
    /// (grapheme break property Extend or SpacingMark, not ZWJ): combining diacritics, variation
    /// selectors, emoji skin tones, Thai and Lao vowel and tone marks. Checked by the tests.
    @inline(__always)
    static func isAttaching(_ v: UInt32) -> Bool {
        switch v {
        case 0x0300...0x036F, 0xFE00...0xFE0F, 0x1F3FB...0x1F3FF, 0x0E31, 0x0E33...0x0E3A, 0x0E47...0x0E4E,
             0x0EB1, 0x0EB3...0x0EBC, 0x0EC8...0x0ECE:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    private mutating func listPending(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ v: UInt32, _ marked: Bool) {
        if marked { listCluster(bytes, start, end) } else { listSingle(v, bytes, start, end) }
    }

    /// A character of several scalars, one of them at least outside GSM-7 (a mark always is).
    private mutating func listCluster(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        let mine = UnsafeBufferPointer(rebasing: bytes[start..<end])
        let length = end - start
        // Characters of several scalars are the same exactly when their bytes are (NFC text).
        if clusters.contains(where: { r in r.count == length && UnsafeBufferPointer(rebasing: bytes[r]).elementsEqual(mine) }) { return }
        characters.append(start..<end)
        clusters.append(start..<end)
    }

    @inline(__always)
    private mutating func listSingle(_ v: UInt32, _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        if v < 0x10000 && flags[Int(v)] & (ScalarFlag.gsmBasic | ScalarFlag.gsmExtension) != 0 { return }
        if v < 0x10000 {
            if listedIn[Int(v)] == inspection { return }
            listedIn[Int(v)] = inspection
        } else {
            if astralListed.contains(v) { return }
            astralListed.append(v)
        }
        characters.append(start..<end)
    }

    /// A stretch that holds scalars other than simple ones: its characters by the standard library.
    private mutating func listStretch(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        let stretch = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        var offset = start
        for ch in stretch {
            let length = ch.utf8.count
            defer { offset += length }
            let scalars = ch.unicodeScalars
            var it = scalars.makeIterator()
            guard let first = it.next() else { continue }
            if it.next() == nil {
                listSingle(first.value, bytes, offset, offset + length)
                continue
            }
            guard scalars.contains(where: { GSM7Alphabet.code(for: $0) == nil }) else { continue }
            listCluster(bytes, offset, offset + length)
        }
    }
}

/// Per scalar below U+10000: what the inspector's pass needs, in one byte.
private enum ScalarFlag {
    static let gsmBasic: UInt8 = 1, gsmExtension: UInt8 = 2, nfcStable: UInt8 = 4, simple: UInt8 = 8,
               attaching: UInt8 = 16, control: UInt8 = 32
}
