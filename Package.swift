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
    ],
    targets: [
        // Pure domain: no Foundation, no I/O, no clock.
        .target(name: "LoaCore", swiftSettings: settings),
        .executableTarget(
            name: "LoaCLI",
            dependencies: ["LoaCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: settings
        ),
        .executableTarget(name: "LoaBench", dependencies: ["LoaCore"], swiftSettings: settings),
        .testTarget(name: "LoaCoreTests", dependencies: ["LoaCore"], swiftSettings: settings),
        .testTarget(name: "LoaCLITests", dependencies: ["LoaCLI"], swiftSettings: settings),
    ]
)
