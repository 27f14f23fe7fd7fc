/// Rule 2's "most recent wins": for each (carrier, subscriber), the latest presence at or before
/// the run time. A flat open-addressing table (no per-entry allocation) sized for tens of
/// millions of rows.
public struct LatestPresenceTable: Sendable {
    // Slot arrays. carrier 0 marks an empty slot (carriers are stored +1).
    private var w0: [UInt64], w1: [UInt64], w2: [UInt64], w3: [UInt64]
    private var carrier: [UInt8]
    private var seenAt: [Int64]
    private var cell: [Int32]
    private var mask: Int
    public private(set) var count = 0

    /// `expected`: how many distinct subscribers to plan for; the table grows past it if needed.
    public init(expected: Int) {
        var capacity = 16
        while capacity < expected + expected / 2 { capacity <<= 1 }
        w0 = [UInt64](repeating: 0, count: capacity); w1 = w0; w2 = w0; w3 = w0
        carrier = [UInt8](repeating: 0, count: capacity)
        seenAt = [Int64](repeating: 0, count: capacity)
        cell = [Int32](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// Offers one presence row; keeps it if it is the subscriber's latest so far. Ties on time go
    /// to the higher cell id, so that the result does not depend on row order.
    @inline(__always)
    public mutating func offer(carrier c: UInt8, subscriber p: Pseudonym, cell id: Int32, seenAt t: Int64) {
        if count * 3 >= (mask + 1) * 2 { grow() }
        let key = c &+ 1
        var i = Int(truncatingIfNeeded: (p.w0 ^ UInt64(key) &* 0x9E3779B97F4A7C15) >> 1) & mask
        while true {
            let k = carrier[i]
            if k == 0 {
                carrier[i] = key; w0[i] = p.w0; w1[i] = p.w1; w2[i] = p.w2; w3[i] = p.w3
                seenAt[i] = t; cell[i] = id
                count += 1
                return
            }
            if k == key && w0[i] == p.w0 && w1[i] == p.w1 && w2[i] == p.w2 && w3[i] == p.w3 {
                if t > seenAt[i] || (t == seenAt[i] && id > cell[i]) { seenAt[i] = t; cell[i] = id }
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        var bigger = LatestPresenceTable(expected: (mask + 1) * 2)
        forEach { c, p, id, t in bigger.offer(carrier: c, subscriber: p, cell: id, seenAt: t) }
        self = bigger
    }

    public func forEach(_ body: (_ carrier: UInt8, _ subscriber: Pseudonym, _ cell: Int32, _ seenAt: Int64) throws -> Void) rethrows {
        for i in 0...mask where carrier[i] != 0 {
            try body(carrier[i] - 1, Pseudonym(w0: w0[i], w1: w1[i], w2: w2[i], w3: w3[i]), cell[i], seenAt[i])
        }
    }
}
