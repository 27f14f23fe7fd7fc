// swift-tools-version:6.1
import PackageDescription

// One settings list for every target (swift-log style).
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "loa",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "loa", targets: ["LoaCLI"]),
        .executable(name: "loa-bench", targets: ["LoaBench"]),
        .executable(name: "loa-fuzz", targets: ["LoaFuzz"]),
        .library(name: "LoaCore", targets: ["LoaCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Pure domain: no Foundation, no I/O, no clock.
        .target(name: "LoaCore", swiftSettings: settings),
        // System libraries: SQLite (raw C API, for bulk import speed) and libcrypto (HMAC-SHA256).
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // PostgreSQL client library (synchronous, COPY for bulk presence): the national-scale store.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // libcurl through non-variadic static inline wrappers (curl_easy_setopt is variadic).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Keyed pseudonyms, signatures, hashes and sealed contact numbers over libcrypto.
        .target(name: "LoaCrypto", dependencies: ["LoaCore", "COpenSSL"], swiftSettings: settings),
        // Carrier gateways: batch-http and Kannel wire formats, the libcurl transport, the dispatcher.
        .target(name: "LoaCarriers", dependencies: ["LoaCore", "LoaCrypto", "CCurl",
                                            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")], swiftSettings: settings),
        // The HTTP side of loa (Hummingbird): delivery receipts now; the console and metrics next.
        .target(
            name: "LoaServer",
            dependencies: [
                "LoaCore", "LoaCrypto", "LoaCarriers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: settings
        ),
        // A carrier's side of batch-http, for demos (`loa carrier-sim`), tests and benchmarks.
        .target(
            name: "LoaCarrierSimulator",
            dependencies: [
                "LoaCore", "LoaCrypto", "LoaCarriers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: settings
        ),
        // Reference data shipped with loa: administrative units after the 2025 reform.
        .target(name: "LoaReference", dependencies: ["LoaCore"], resources: [.copy("Resources")], swiftSettings: settings),
        // Storage: one store over SQLite (embedded) or PostgreSQL; imports, presence, dispatch state, leases.
        .target(name: "LoaStore", dependencies: ["LoaCore", "LoaCrypto", "CSQLite3", "CLibPQ"], swiftSettings: settings),
        // What an operator does, as library calls (the CLI maps flags to them; the console will too):
        // audience selection with its refusals, the dispatch gate, planning in parts.
        .target(name: "LoaOperations", dependencies: ["LoaCore", "LoaCrypto", "LoaStore", "LoaCarriers",
                                               .product(name: "Yams", package: "Yams")], swiftSettings: settings),
        // The operator console (`loa serve --console`): server-rendered pages, SVG charts and maps,
        // sessions and roles, /metrics; everything it does is a LoaOperations or store call.
        .target(
            name: "LoaConsole",
            dependencies: [
                "LoaCore", "LoaCrypto", "LoaStore", "LoaOperations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "LoaCLI",
            dependencies: [
                "LoaCore", "LoaCrypto", "LoaReference", "LoaStore", "LoaOperations", "LoaCarriers", "LoaServer", "LoaCarrierSimulator", "LoaConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "LoaBench",
            dependencies: ["LoaCore", "LoaCrypto", "LoaStore", "LoaReference", "LoaCarriers", "LoaServer", "LoaCarrierSimulator",
                           .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: settings
        ),
        .testTarget(name: "LoaCoreTests", dependencies: ["LoaCore"], swiftSettings: settings),
        // Scratch stores for the contract tests: a SQLite file or a fresh PostgreSQL database.
        .target(name: "LoaTestSupport", dependencies: ["LoaStore", "LoaCore", "LoaCrypto", "LoaReference"], path: "Tests/LoaTestSupport", swiftSettings: settings),
        .testTarget(name: "LoaStoreTests", dependencies: ["LoaStore", "LoaCore", "LoaCrypto", "LoaReference", "LoaTestSupport"], swiftSettings: settings),
        .testTarget(name: "LoaCarriersTests", dependencies: ["LoaCarriers", "LoaServer", "LoaCarrierSimulator", "LoaStore", "LoaCore", "LoaCrypto", "LoaTestSupport", "LoaOperations", "LoaReference",
                                                             .product(name: "Hummingbird", package: "hummingbird")], swiftSettings: settings),
        .testTarget(name: "LoaConsoleTests", dependencies: ["LoaConsole", "LoaCarriers", "LoaServer", "LoaCrypto", "LoaOperations", "LoaStore", "LoaCore", "LoaReference", "LoaTestSupport",
                                                            .product(name: "Hummingbird", package: "hummingbird")], swiftSettings: settings),
        .testTarget(name: "LoaOperationsTests", dependencies: ["LoaOperations", "LoaStore", "LoaCore", "LoaCrypto", "LoaReference", "LoaTestSupport"], swiftSettings: settings),
        .testTarget(name: "LoaCLITests", dependencies: ["LoaCLI", "LoaTestSupport"], swiftSettings: settings),
        // Fuzz targets: under libFuzzer (ops/fuzz.sh builds loa-fuzz with -sanitize=fuzzer,address),
        // and their corpus replayed by every test run.
        .target(name: "LoaFuzzTargets", dependencies: ["LoaCore", "LoaOperations", "LoaCarriers", "LoaReference"], swiftSettings: settings),
        .executableTarget(name: "LoaFuzz", dependencies: ["LoaFuzzTargets"], swiftSettings: settings),
        .testTarget(name: "LoaFuzzTests", dependencies: ["LoaFuzzTargets"], swiftSettings: settings),
    ]
)
