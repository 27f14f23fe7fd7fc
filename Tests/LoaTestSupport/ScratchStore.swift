import Foundation
import LoaStore

/// The engines a store contract test runs against. PostgreSQL is the server `./ops/test.sh`
/// starts on 127.0.0.1 and names in LOA_TEST_POSTGRES_URL; each test gets its own database.
public enum StoreEngine: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// SQLite always; PostgreSQL when a test server is configured, or when LOA_REQUIRE_POSTGRES=1
    /// (set by ops/test.sh) so that a missing server fails the tests instead of skipping them.
    public static var available: [StoreEngine] {
        let env = ProcessInfo.processInfo.environment
        return env["LOA_TEST_POSTGRES_URL"] != nil || env["LOA_REQUIRE_POSTGRES"] == "1" ? [.sqlite, .postgres] : [.sqlite]
    }

    /// A fresh, empty store location: a file in a new directory, or a new database on the server.
    public func scratchLocation() throws -> String {
        let tag = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        switch self {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loa-test-\(tag)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return "\(dir)/loa.sqlite"
        case .postgres:
            guard let server = ProcessInfo.processInfo.environment["LOA_TEST_POSTGRES_URL"] else {
                throw StoreError.input("LOA_TEST_POSTGRES_URL is not set: run the tests through ./ops/test.sh, which starts PostgreSQL")
            }
            let url = PostgresDatabase.url(server, database: "loa_test_\(tag)")
            try PostgresDatabase.createDatabase(url: url)
            return url
        }
    }
}
