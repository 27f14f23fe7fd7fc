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
    /// Names carry the test process's id: the scratch stores of test runs that have ended are
    /// removed by the next run's first scratch store (so a developer's disk and server do not fill).
    public func scratchLocation() throws -> String {
        _ = ScratchCleanup.once
        let tag = "\(getpid())_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
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

/// Removes the scratch stores (`loa-test-PID_…` directories, `loa_test_PID_…` databases) of
/// test processes that are no longer running.
enum ScratchCleanup {
    static let once: Void = {
        func ended(_ name: Substring) -> Bool {
            guard let pid = Int32(name.prefix { $0 != "_" }), pid > 0 else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
        let temporary = FileManager.default.temporaryDirectory
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where entry.hasPrefix("loa-test-") {
            if ended(entry.dropFirst("loa-test-".count)) { try? FileManager.default.removeItem(at: temporary.appendingPathComponent(entry)) }
        }
        guard let server = ProcessInfo.processInfo.environment["LOA_TEST_POSTGRES_URL"],
              let admin = try? PostgresDatabase(url: PostgresDatabase.url(server, database: "postgres")),
              let names = try? admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'loa_test_%'", [], row: { $0.text(0) }) else { return }
        for name in names where ended(name.dropFirst("loa_test_".count)) {
            try? PostgresDatabase.dropDatabase(url: PostgresDatabase.url(server, database: name))
        }
    }()
}
