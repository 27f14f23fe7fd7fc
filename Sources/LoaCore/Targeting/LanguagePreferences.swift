/// Stated languages by subscriber, held compactly for selection at national scale: millions of
/// preferences in an open-addressing table of 20 bytes a slot (the carrier and the first 128
/// bits of the pseudonym as the key, an interned language as the value), instead of a dictionary
/// of 33-byte keys and strings (about 3× the memory and several times the time to look up).
///
/// Pseudonyms are HMAC-SHA256 outputs: their first 64 bits place a slot, and two different
/// subscribers of one carrier would need equal 128-bit prefixes to be confused (a chance of
/// about n²/2¹²⁹, nil for any store).
public struct LanguagePreferences: Sendable {
    /// The languages stated, each once; a slot refers to one by its index + 1.
    public private(set) var languages: [String] = []
    private var indexOfLanguage: [String: UInt32] = [:]
    private var first: [UInt64]
    private var second: [UInt64]
    /// 0: empty; else carrier index + 1 in the high 16 bits, language index + 1 in the low 16.
    private var tags: [UInt32]
    private var mask: Int
    /// Slots in use: subscribers with a statement, a withdrawn one included.
    public private(set) var count = 0
    /// Slots whose statement was withdrawn (`withdraw`): no language, until a later statement.
    private var withdrawn = 0
    /// Subscribers with a stated language.
    public var stated: Int { count - withdrawn }

    public init(expected: Int = 0) {
        var capacity = 1024
        while capacity < expected + expected / 2 + 16 { capacity <<= 1 }
        first = [UInt64](repeating: 0, count: capacity)
        second = [UInt64](repeating: 0, count: capacity)
        tags = [UInt32](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// The language stated by `subscriber` of the carrier with index `carrier` (the store's carrier index).
    public mutating func set(_ language: String, carrier: UInt8, subscriber: Pseudonym) {
        set(languageNumber: number(of: language), carrier: carrier, subscriber: subscriber)
    }

    /// A language's number in this table (added when new), for `set(languageNumber:…)`: a loader
    /// that knows its languages by number sets millions of statements without a string each.
    public mutating func number(of language: String) -> UInt32 {
        if let i = indexOfLanguage[language] { return i }
        precondition(languages.count < 0xFFFE, "too many distinct languages")
        languages.append(language)
        indexOfLanguage[language] = UInt32(languages.count)
        return UInt32(languages.count)
    }

    /// The language numbered `languageIndex` (from `number(of:)`) stated by `subscriber`.
    public mutating func set(languageNumber languageIndex: UInt32, carrier: UInt8, subscriber: Pseudonym) {
        if (count + 1) * 3 > tags.count * 2 { grow() }
        let owner = UInt32(carrier) + 1
        let (slot, found) = find(owner, carrier, subscriber)
        if found {
            if tags[slot] & 0xFFFF == 0 { withdrawn -= 1 }
        } else {
            first[slot] = subscriber.w0
            second[slot] = subscriber.w1
            count += 1
        }
        tags[slot] = owner << 16 | languageIndex   // a later statement replaces the earlier one
    }

    /// `subscriber` withdrew their statement: no stated language from now on (a later statement
    /// gives one again).
    public mutating func withdraw(carrier: UInt8, subscriber: Pseudonym) {
        let owner = UInt32(carrier) + 1
        let (slot, found) = find(owner, carrier, subscriber)
        guard found, tags[slot] & 0xFFFF != 0 else { return }
        tags[slot] = owner << 16
        withdrawn += 1
    }

    @inline(__always)
    public func language(carrier: UInt8, subscriber: Pseudonym) -> String? {
        if count == 0 { return nil }
        let (slot, found) = find(UInt32(carrier) + 1, carrier, subscriber)
        let language = found ? Int(tags[slot] & 0xFFFF) : 0
        return language == 0 ? nil : languages[language - 1]
    }

    /// The slot holding `subscriber` of the carrier `owner` - 1, or else the empty slot where it
    /// would go (the table is never full).
    @inline(__always)
    private func find(_ owner: UInt32, _ carrier: UInt8, _ subscriber: Pseudonym) -> (slot: Int, found: Bool) {
        var slot = home(carrier, subscriber.w0)
        while tags[slot] != 0 {
            if tags[slot] >> 16 == owner && first[slot] == subscriber.w0 && second[slot] == subscriber.w1 { return (slot, true) }
            slot = (slot + 1) & mask
        }
        return (slot, false)
    }

    /// A subscriber's first slot: the high bits of the pseudonym's first word (uniform: it is an
    /// HMAC), shifted by a fixed offset per carrier. Statements read in key order (the store's
    /// order) then fill the table from one end to the other instead of at random: a load of
    /// millions touches each cache line once.
    @inline(__always)
    func home(_ carrier: UInt8, _ w0: UInt64) -> Int {
        let bits = UInt64(mask.nonzeroBitCount)
        return Int(truncatingIfNeeded: (w0 >> (64 - bits)) &+ ((UInt64(carrier) &* 0x9E37_79B9_7F4A_7C15) >> (64 - bits))) & mask
    }

    private mutating func grow() {
        let old = (first, second, tags)
        let capacity = tags.count * 2
        first = [UInt64](repeating: 0, count: capacity)
        second = [UInt64](repeating: 0, count: capacity)
        tags = [UInt32](repeating: 0, count: capacity)
        mask = capacity - 1
        for i in old.2.indices where old.2[i] != 0 {
            var slot = home(UInt8((old.2[i] >> 16) - 1), old.0[i])
            while tags[slot] != 0 { slot = (slot + 1) & mask }
            first[slot] = old.0[i]
            second[slot] = old.1[i]
            tags[slot] = old.2[i]
        }
    }
}
