/// Audio as voice campaigns carry it: WAV files read and written as bytes (no I/O here), G.711,
/// and what a recording is checked for. Decoding other containers and resampling are done by
/// kept tools at the edge (sox, ffmpeg: `LoaOperations.VoiceAudio`); everything that decides
/// whether a recording is fit to send is here, in the core.

/// What a file's first bytes say it is.
public enum AudioContainer: String, Sendable, Equatable {
    case wav, mp3, ogg, flac, m4a, unknown

    public static func detect(_ bytes: [UInt8]) -> AudioContainer {
        func starts(_ s: String, at offset: Int = 0) -> Bool {
            let b = Array(s.utf8)
            return bytes.count >= offset + b.count && Array(bytes[offset..<offset + b.count]) == b
        }
        if starts("RIFF") && starts("WAVE", at: 8) { return .wav }
        if starts("ID3") || (bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) { return .mp3 }
        if starts("OggS") { return .ogg }
        if starts("fLaC") { return .flac }
        if starts("ftyp", at: 4) { return .m4a }
        return .unknown
    }
}

/// How a WAV file's samples are coded.
public enum WAVCodec: String, Sendable, Equatable {
    /// Linear PCM, 8 (unsigned), 16, 24 or 32 bits.
    case pcm
    /// IEEE float, 32 or 64 bits.
    case float
    /// G.711 A-law (8 bits).
    case alaw
    /// G.711 µ-law (8 bits).
    case ulaw
}

public struct AudioError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A WAV file read into samples.
public struct WAVAudio: Sendable, Equatable {
    public var codec: WAVCodec
    public var sampleRate: Int
    public var channels: Int
    public var bitsPerSample: Int
    /// Interleaved samples, from −1 to 1.
    public var samples: [Float]

    public var frames: Int { channels == 0 ? 0 : samples.count / channels }
    public var duration: Double { sampleRate == 0 ? 0 : Double(frames) / Double(sampleRate) }

    public init(codec: WAVCodec, sampleRate: Int, channels: Int, bitsPerSample: Int, samples: [Float]) {
        self.codec = codec
        self.sampleRate = sampleRate
        self.channels = channels
        self.bitsPerSample = bitsPerSample
        self.samples = samples
    }

    /// Reads a RIFF/WAVE file: PCM (8/16/24/32 bits), float (32/64), A-law, µ-law, plain or
    /// WAVE_FORMAT_EXTENSIBLE. Errors say what was found.
    public static func read(_ b: [UInt8]) throws(AudioError) -> WAVAudio {
        guard AudioContainer.detect(b) == .wav else {
            let kind = AudioContainer.detect(b)
            throw AudioError(kind == .unknown ? "not a WAV file (no RIFF/WAVE header)" : "a \(kind.rawValue.uppercased()) file, not WAV")
        }
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var i = 12
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)? = nil
        var data: Range<Int>? = nil
        while i + 8 <= b.count {
            let id = String(decoding: b[i..<i + 4], as: UTF8.self)
            let size = u32(i + 4)
            let start = i + 8
            let end = min(b.count, start + size)
            if id == "fmt " {
                guard size >= 16, start + 16 <= b.count else { throw AudioError("WAV fmt chunk too short (\(size) bytes)") }
                var tag = u16(start)
                if tag == 0xFFFE, size >= 40, start + 26 <= b.count { tag = u16(start + 24) }   // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                format = (tag, u16(start + 2), u32(start + 4), u16(start + 14))
            } else if id == "data" {
                data = start..<end
                if format != nil { break }
            }
            i = start + size + (size & 1)
        }
        guard let format else { throw AudioError("WAV file without a fmt chunk") }
        guard let data else { throw AudioError("WAV file without a data chunk") }
        guard (1...8).contains(format.channels) else { throw AudioError("WAV file with \(format.channels) channels") }
        guard (1000...384_000).contains(format.rate) else { throw AudioError("WAV sample rate \(format.rate) Hz is not a real recording's") }
        let codec: WAVCodec
        switch (format.tag, format.bits) {
        case (1, 8), (1, 16), (1, 24), (1, 32): codec = .pcm
        case (3, 32), (3, 64): codec = .float
        case (6, 8): codec = .alaw
        case (7, 8): codec = .ulaw
        default: throw AudioError("WAV coding \(format.tag) with \(format.bits) bits is not supported (PCM 8/16/24/32, float 32/64, A-law or µ-law)")
        }
        let width = format.bits / 8
        let count = (data.count / (width * format.channels)) * format.channels
        var out = [Float](repeating: 0, count: count)
        var p = data.lowerBound
        for k in 0..<count {
            switch (codec, width) {
            case (.pcm, 1): out[k] = (Float(b[p]) - 128) / 128
            case (.pcm, 2): out[k] = Float(Int16(bitPattern: UInt16(b[p]) | UInt16(b[p + 1]) << 8)) / 32768
            case (.pcm, 3): out[k] = Float(Int32(bitPattern: UInt32(b[p]) << 8 | UInt32(b[p + 1]) << 16 | UInt32(b[p + 2]) << 24) >> 8) / 8_388_608
            case (.pcm, 4): out[k] = Float(Int32(bitPattern: UInt32(b[p]) | UInt32(b[p + 1]) << 8 | UInt32(b[p + 2]) << 16 | UInt32(b[p + 3]) << 24)) / 2_147_483_648
            case (.float, 4): out[k] = Float(bitPattern: UInt32(b[p]) | UInt32(b[p + 1]) << 8 | UInt32(b[p + 2]) << 16 | UInt32(b[p + 3]) << 24)
            case (.float, 8):
                var bits: UInt64 = 0
                for j in 0..<8 { bits |= UInt64(b[p + j]) << (8 * j) }
                out[k] = Float(Double(bitPattern: bits))
            case (.alaw, _): out[k] = Float(G711.alawToLinear(b[p])) / 32768
            case (.ulaw, _): out[k] = Float(G711.ulawToLinear(b[p])) / 32768
            default: break
            }
            // Found by fuzzing: a float file may hold NaN or infinities, which no recording has.
            if codec == .float, !out[k].isFinite {
                throw AudioError("WAV float sample \(k / format.channels + 1) is not a number (NaN or infinite): the file is damaged")
            }
            p += width
        }
        return WAVAudio(codec: codec, sampleRate: format.rate, channels: format.channels, bitsPerSample: format.bits, samples: out)
    }
}

/// Telephone audio: 8 kHz mono, 16-bit samples; what loa keeps and converts for each carrier.
public struct TelephoneAudio: Sendable, Equatable {
    public static let sampleRate = 8000
    public var samples: [Int16]

    public init(samples: [Int16]) { self.samples = samples }

    /// From a WAV already at 8 kHz mono; nil for any other rate or channel count (resample first).
    public init?(_ wav: WAVAudio) {
        guard wav.sampleRate == Self.sampleRate, wav.channels == 1 else { return nil }
        samples = wav.samples.map { $0.isFinite ? Int16(clamping: Int((max(-1, min(1, $0)) * 32768).rounded())) : 0 }
    }

    public var duration: Double { Double(samples.count) / Double(Self.sampleRate) }

    /// The format a carrier takes (`voice.audio_format` in its file).
    public enum Format: String, Sendable, CaseIterable {
        /// WAV, 8 kHz mono, 16-bit linear PCM.
        case wav
        /// WAV, 8 kHz mono, G.711 A-law.
        case alaw
        /// WAV, 8 kHz mono, G.711 µ-law.
        case ulaw
    }

    /// The file a carrier gets, in `format`.
    public func wavFile(_ format: Format = .wav) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8 & 0xFF)) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16 & 0xFFFF) }
        let width = format == .wav ? 2 : 1
        let dataSize = samples.count * width
        let fmtSize = format == .wav ? 16 : 18
        let factSize = format == .wav ? 0 : 12
        out.append(contentsOf: Array("RIFF".utf8))
        u32(4 + (8 + fmtSize) + factSize + 8 + dataSize + (dataSize & 1))
        out.append(contentsOf: Array("WAVEfmt ".utf8))
        u32(fmtSize)
        u16(format == .wav ? 1 : format == .alaw ? 6 : 7)
        u16(1)
        u32(Self.sampleRate)
        u32(Self.sampleRate * width)
        u16(width)
        u16(8 * width)
        if format != .wav {
            u16(0)   // cbSize
            out.append(contentsOf: Array("fact".utf8))
            u32(4)
            u32(samples.count)
        }
        out.append(contentsOf: Array("data".utf8))
        u32(dataSize)
        out.reserveCapacity(out.count + dataSize + 1)
        switch format {
        case .wav: for s in samples { u16(Int(UInt16(bitPattern: s))) }
        case .alaw: for s in samples { out.append(G711.linearToAlaw(s)) }
        case .ulaw: for s in samples { out.append(G711.linearToUlaw(s)) }
        }
        if dataSize & 1 == 1 { out.append(0) }
        return out
    }
}

/// ITU-T G.711 A-law and µ-law, as in the reference implementation (Sun's g711.c), which sox and
/// every telephone switch agree with.
public enum G711 {
    static let alawSegmentEnds: [Int] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]
    static let ulawSegmentEnds: [Int] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]

    static func segment(_ value: Int, _ ends: [Int]) -> Int { ends.firstIndex { value <= $0 } ?? 8 }

    public static func linearToAlaw(_ sample: Int16) -> UInt8 {
        var v = Int(sample) >> 3
        let mask: Int
        if v >= 0 { mask = 0xD5 } else { mask = 0x55; v = -v - 1 }
        let seg = segment(v, alawSegmentEnds)
        if seg >= 8 { return UInt8(0x7F ^ mask) }
        var a = seg << 4
        a |= seg < 2 ? (v >> 1) & 0xF : (v >> seg) & 0xF
        return UInt8(a ^ mask)
    }

    public static func alawToLinear(_ code: UInt8) -> Int16 {
        let a = Int(code ^ 0x55)
        var t = (a & 0xF) << 4
        let seg = (a & 0x70) >> 4
        switch seg {
        case 0: t += 8
        case 1: t += 0x108
        default: t += 0x108; t <<= seg - 1
        }
        return Int16(a & 0x80 != 0 ? t : -t)
    }

    public static func linearToUlaw(_ sample: Int16) -> UInt8 {
        var v = Int(sample) >> 2
        let mask: Int
        if v < 0 { v = -v; mask = 0x7F } else { mask = 0xFF }
        v = min(v, 8159) + (0x84 >> 2)
        let seg = segment(v, ulawSegmentEnds)
        if seg >= 8 { return UInt8(0x7F ^ mask) }
        return UInt8(((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask)
    }

    public static func ulawToLinear(_ code: UInt8) -> Int16 {
        let u = Int(~code)
        var t = ((u & 0xF) << 3) + 0x84
        t <<= (u & 0x70) >> 4
        return Int16(u & 0x80 != 0 ? 0x84 - t : t - 0x84)
    }
}
