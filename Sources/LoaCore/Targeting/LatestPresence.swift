/// Rule 2's "most recent wins": for each (carrier, subscriber), the latest presence at or before
/// the run time. One flat open-addressing array of 40-byte slots (no per-entry allocation, one
/// cache miss per row on average) sized for tens of millions of rows.
public struct LatestPresenceTable: @unchecked Sendable {
    struct Slot {
        var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64
        /// Seconds since `since`.
        var seen: UInt32
        /// (carrier + 1) << 24 | cell id; 0 marks an empty slot.
        var tag: UInt32
    }

    private var slots: [Slot]
    private var mask: Int
    /// Times are stored relative to this instant (the window's start).
    public let since: Int64
    public private(set) var count = 0

    /// Cell ids must stay below this (they are packed into 24 bits).
    public static let maxCellID: Int32 = (1 << 24) - 1

    /// - Parameters:
    ///   - expected: how many distinct subscribers to plan for; the table grows past it if needed.
    ///   - since: the earliest `seenAt` that will be offered (the window's start).
    ///   - adviseMemory: called with the slot memory before it is first written, so that the
    ///     caller can ask the OS for huge pages (random access over hundreds of MB is TLB-bound).
    public init(expected: Int, since: Int64 = 0, adviseMemory: ((UnsafeMutableRawBufferPointer) -> Void)? = nil) {
        var capacity = 16
        while capacity * 2 < expected * 3 { capacity <<= 1 }
        slots = [Slot](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            adviseMemory?(UnsafeMutableRawBufferPointer(buffer))
            buffer.initialize(repeating: Slot(w0: 0, w1: 0, w2: 0, w3: 0, seen: 0, tag: 0))
            initialized = capacity
        }
        mask = capacity - 1
        self.since = since
        self.adviseMemory = adviseMemory
    }

    private let adviseMemory: ((UnsafeMutableRawBufferPointer) -> Void)?

    /// Offers one presence row; keeps it if it is the subscriber's latest so far. Ties on time go
    /// to the higher cell id, so that the result does not depend on row order.
    @inline(__always)
    public mutating func offer(carrier c: UInt8, subscriber p: Pseudonym, cell id: Int32, seenAt t: Int64) {
        precondition(id >= 0 && id <= Self.maxCellID && t >= since && t - since <= Int64(UInt32.max))
        if count * 3 >= (mask + 1) * 2 { grow() }
        let tagCarrier = UInt32(c &+ 1) << 24
        let tag = tagCarrier | UInt32(id)
        let seen = UInt32(t - since)
        var i = Int(truncatingIfNeeded: (p.w1 ^ (UInt64(c) &* 0x9E3779B97F4A7C15)) >> 7) & mask
        slots.withUnsafeMutableBufferPointer { s in
            while true {
                let existing = s[i].tag
                if existing == 0 {
                    s[i] = Slot(w0: p.w0, w1: p.w1, w2: p.w2, w3: p.w3, seen: seen, tag: tag)
                    count += 1
                    return
                }
                if existing & 0xFF00_0000 == tagCarrier && s[i].w1 == p.w1 && s[i].w0 == p.w0 && s[i].w2 == p.w2 && s[i].w3 == p.w3 {
                    if seen > s[i].seen || (seen == s[i].seen && tag > existing) { s[i].seen = seen; s[i].tag = tag }
                    return
                }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func grow() {
        var bigger = LatestPresenceTable(expected: (mask + 1) * 2, since: since, adviseMemory: adviseMemory)
        forEach { c, p, id, t in bigger.offer(carrier: c, subscriber: p, cell: id, seenAt: t) }
        self = bigger
    }

    public func forEach(_ body: (_ carrier: UInt8, _ subscriber: Pseudonym, _ cell: Int32, _ seenAt: Int64) throws -> Void) rethrows {
        for slot in slots where slot.tag != 0 {
            try body(UInt8(slot.tag >> 24) - 1, Pseudonym(w0: slot.w0, w1: slot.w1, w2: slot.w2, w3: slot.w3),
                     Int32(slot.tag & 0xFF_FFFF), since + Int64(slot.seen))
        }
    }
}

/// The latest presence per subscriber in parts that share no carrier (a subscriber is a carrier
/// and a pseudonym, so no subscriber is in two parts): the store scans carriers side by side, one
/// part per core, and nothing needs merging.
public struct LatestPresence: Sendable {
    public let parts: [LatestPresenceTable]

    public init(_ parts: [LatestPresenceTable]) { self.parts = parts }

    public var count: Int { parts.reduce(0) { $0 + $1.count } }

    public func forEach(_ body: (_ carrier: UInt8, _ subscriber: Pseudonym, _ cell: Int32, _ seenAt: Int64) throws -> Void) rethrows {
        for part in parts { try part.forEach(body) }
    }
}
