import Foundation
import LoaCore

/// Voice campaigns in the store: each language's clip kept once by its SHA-256 (shared by every
/// dispatcher node), and what reports say of calls.
extension Store {
    /// A clip the store holds.
    public struct StoredClip: Sendable, Equatable {
        public var language: String
        public var sha256: String
        public var durationMs: Int
        public var source: String
    }

    /// Keeps a campaign's clip for `language` (the WAV kept once however many campaigns use it).
    /// A clip already recorded for the campaign and language is not replaced: what was planned
    /// with it is what goes.
    public func saveCampaignAudio(campaign: String, language: String, wav: [UInt8], sha256: String, durationMs: Int, source: String) throws -> StoredClip {
        try db.transaction {
            if let existing = try campaignAudio(campaign).first(where: { $0.language == language }) { return existing }
            let now = Self.nowSeconds()
            if try db.scalarInt("SELECT count(*) FROM audio_clips WHERE sha256 = ?", [.text(sha256)]) == 0 {
                try db.run("INSERT INTO audio_clips (sha256, duration_ms, wav, created_at) VALUES (?, ?, ?, ?)",
                           [.text(sha256), .int(Int64(durationMs)), .blob(wav), .int(now)])
            }
            try db.run("INSERT INTO campaign_audio (campaign, language, sha256, source) VALUES (?, ?, ?, ?)",
                       [.text(campaign), .text(language), .text(sha256), .text(source)])
            return StoredClip(language: language, sha256: sha256, durationMs: durationMs, source: source)
        }
    }

    /// A campaign's clips, by language.
    public func campaignAudio(_ campaign: String) throws -> [StoredClip] {
        try db.query("""
            SELECT a.language, a.sha256, c.duration_ms, a.source FROM campaign_audio a JOIN audio_clips c ON c.sha256 = a.sha256
            WHERE a.campaign = ? ORDER BY a.language
            """, [.text(campaign)]) { StoredClip(language: $0.text(0), sha256: $0.text(1), durationMs: $0.int(2), source: $0.text(3)) }
    }

    /// What reports add for a voice campaign, per group: people reached (answered or listened to
    /// the end), those who listened to the end, calls made, seconds listened.
    public struct CallFact: Sendable, Equatable {
        public var carrier: String
        public var commune: Int?
        public var language: String
        public var reached: Int
        public var completed: Int
        public var people: Int
        public var attempts: Int
        public var listened: Int
    }

    public func callFacts(campaign: String) throws -> [CallFact] {
        try db.query("""
            SELECT carrier, commune, language,
                   sum(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END),
                   sum(CASE WHEN state = 'delivered' AND reason = 'completed' THEN 1 ELSE 0 END),
                   sum(CASE WHEN attempts IS NOT NULL OR state IN ('accepted', 'delivered', 'failed', 'no-receipt', 'unknown') THEN 1 ELSE 0 END),
                   coalesce(sum(attempts), 0), coalesce(sum(listened), 0)
            FROM messages WHERE campaign = ? AND encoding = 'voice' GROUP BY carrier, commune, language
            """, [.text(campaign)]) {
            CallFact(carrier: $0.text(0), commune: $0.isNull(1) ? nil : $0.int(1), language: $0.text(2), reached: $0.int(3), completed: $0.int(4),
                     people: $0.int(5), attempts: $0.int(6), listened: $0.int(7))
        }
    }
}
