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
        .library(name: "LoaCore", targets: ["LoaCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Pure domain: no Foundation, no I/O, no clock.
        .target(name: "LoaCore", swiftSettings: settings),
        // System libraries: SQLite (raw C API, for bulk import speed) and libcrypto (HMAC-SHA256).
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Reference data shipped with loa: administrative units after the 2025 reform.
        .target(name: "LoaReference", dependencies: ["LoaCore"], resources: [.copy("Resources")], swiftSettings: settings),
        // Storage: SQLite store, imports, presence queries; keyed pseudonyms.
        .target(name: "LoaStore", dependencies: ["LoaCore", "CSQLite3", "COpenSSL"], swiftSettings: settings),
        .executableTarget(
            name: "LoaCLI",
            dependencies: [
                "LoaCore", "LoaReference", "LoaStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(name: "LoaBench", dependencies: ["LoaCore", "LoaStore", "LoaReference"], swiftSettings: settings),
        .testTarget(name: "LoaCoreTests", dependencies: ["LoaCore"], swiftSettings: settings),
        .testTarget(name: "LoaStoreTests", dependencies: ["LoaStore", "LoaCore", "LoaReference"], swiftSettings: settings),
        .testTarget(name: "LoaCLITests", dependencies: ["LoaCLI"], swiftSettings: settings),
    ]
)
