/// One entry of the audit trail: who did what, when, to which campaign. Entries form a hash
/// chain: each holds the SHA-256 of the one before (`prev`) and of its own canonical form
/// (`hash`), so that an entry edited, removed, inserted or moved breaks the chain where it
/// happened.
///
/// The canonical form (README, "Audit trail") is the JSON object of the fields below with the
/// keys sorted, no spaces, and strings escaped exactly as Python's
/// `json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` does, so that an
/// auditor can check an export without loa:
///
///     {"action":"approve","actor":"Lê Văn B","at":1764723600,"campaign":"bao-so-3","detail":"…","prev":"<64 hex>","seq":7}
///
/// `hash` is the lowercase hex SHA-256 of those UTF-8 bytes; the first entry's `prev` is 64 zeros.
public struct AuditEntry: Sendable, Equatable {
    public var seq: Int64
    public var at: Int64
    public var actor: String
    public var action: String
    public var campaign: String?
    public var detail: String
    public var prev: String
    public var hash: String

    public static let genesis = String(repeating: "0", count: 64)

    public init(seq: Int64, at: Int64, actor: String, action: String, campaign: String?, detail: String, prev: String, hash: String = "") {
        self.seq = seq; self.at = at; self.actor = actor; self.action = action
        self.campaign = campaign; self.detail = detail; self.prev = prev; self.hash = hash
    }

    /// The bytes the entry's hash covers.
    public var canonical: String {
        var out = "{\"action\":" + Self.quote(action) + ",\"actor\":" + Self.quote(actor) + ",\"at\":" + String(at)
        out += ",\"campaign\":" + (campaign.map(Self.quote) ?? "null") + ",\"detail\":" + Self.quote(detail)
        out += ",\"prev\":" + Self.quote(prev) + ",\"seq\":" + String(seq) + "}"
        return out
    }

    /// The export line: the canonical object with its `hash` (keys still sorted).
    public var exportLine: String {
        var c = canonical
        c.removeLast()
        // "hash" sorts between "detail" and "prev"; an auditor pops it before hashing, so its place is free.
        return c + ",\"hash\":" + Self.quote(hash) + "}"
    }

    /// A JSON string as Python's json.dumps(ensure_ascii=False) writes it.
    static func quote(_ s: String) -> String {
        var out: [UInt8] = [0x22]
        out.reserveCapacity(s.utf8.count + 2)
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0..<0x20: out += [0x5C, 0x75, 0x30, 0x30, JSONString.hexDigit(b >> 4), JSONString.hexDigit(b & 0xF)]
            default: out.append(b)
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Where a chain stops being the one that was written.
public enum AuditBreak: Sendable, Equatable, CustomStringConvertible {
    /// The entry's content no longer matches its hash.
    case edited(seq: Int64)
    /// Entries are missing before this one.
    case removed(from: Int64, through: Int64)
    /// An entry that the chain never linked: it does not follow the entry before it.
    case inserted(seq: Int64)
    /// The entry is out of its place (its number comes before the one stored before it).
    case reordered(seq: Int64, after: Int64)
    /// A row written around loa: it carries no hash at all.
    case unchained(row: Int64)
    /// The sealed head is no longer in the chain: entries up to it were removed or rewritten.
    case sealMissing(hash: String)

    public var description: String {
        switch self {
        case .edited(let seq): "entry \(seq) was edited: its content no longer matches its hash"
        case .removed(let from, let through): from == through ? "entry \(from) was removed" : "entries \(from)–\(through) were removed"
        case .inserted(let seq): "entry \(seq) was inserted: its number appears twice, or it does not follow the entry before it"
        case .reordered(let seq, let after): "entry \(seq) was moved: it stands after entry \(after)"
        case .unchained(let row): "row \(row) was written around loa: it carries no hash"
        case .sealMissing(let hash): "the sealed head \(hash) is not in the chain: the trail was truncated or rewritten since it was sealed"
        }
    }

    /// The entry where the break is seen.
    public var seq: Int64? {
        switch self {
        case .edited(let s), .inserted(let s), .reordered(let s, _): s
        case .removed(let from, _): from
        case .unchained, .sealMissing: nil
        }
    }
}

/// Checks a trail, in stored order: the first break, and the head.
public struct AuditVerifier: Sendable {
    public private(set) var entries = 0
    public private(set) var head: AuditEntry?
    public private(set) var result: AuditBreak?

    /// `sha256` gives the lowercase hex digest of a string's UTF-8 bytes; `seal` is a head hash
    /// sealed earlier (`loa audit seal`) that must still be in the chain. `trail` holds each
    /// stored row with its entry (nil: a row without a hash).
    public init(_ trail: [(row: Int64, entry: AuditEntry?)], sha256: (String) -> String, against seal: String? = nil) {
        let seal = seal?.lowercased()
        var sealSeen = false
        // Which numbers come later: a missing number found further on was moved, not removed.
        var later: [Int64: Int] = [:]
        for (_, e) in trail { if let e { later[e.seq, default: 0] += 1 } }
        for (row, entry) in trail {
            guard let entry, !entry.hash.isEmpty else { result = .unchained(row: row); break }
            entries += 1
            let expectedSeq = (head?.seq ?? 0) + 1
            let expectedPrev = head?.hash ?? AuditEntry.genesis
            if sha256(entry.canonical) != entry.hash {
                result = .edited(seq: entry.seq)
            } else if entry.prev != expectedPrev || entry.seq != expectedSeq {
                if entry.seq > expectedSeq && entry.prev != expectedPrev {
                    let missing = expectedSeq..<entry.seq
                    if missing.contains(where: { later[$0] != nil }) {
                        result = .reordered(seq: entry.seq, after: head?.seq ?? 0)
                    } else {
                        result = .removed(from: expectedSeq, through: entry.seq - 1)
                    }
                } else if entry.seq < expectedSeq - 1 {
                    result = .reordered(seq: entry.seq, after: head?.seq ?? 0)
                } else {
                    // The number again (one of the two was put in), or the right number that does
                    // not link to the entry before.
                    result = .inserted(seq: entry.seq)
                }
            }
            if result != nil { break }
            if entry.hash == seal { sealSeen = true }
            later[entry.seq, default: 1] -= 1
            if later[entry.seq] == 0 { later[entry.seq] = nil }
            head = entry
        }
        if result == nil, let seal, !sealSeen { result = .sealMissing(hash: seal) }
    }
}
