// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tracepipe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tracepipe", targets: ["tracepipe"]),
        .executable(name: "codec-bench", targets: ["codec-bench"]),
        .executable(name: "pipeline-bench", targets: ["pipeline-bench"]),
        .executable(name: "grpc-load", targets: ["grpc-load"]),
        .library(name: "TraceModel", targets: ["TraceModel"]),
        .library(name: "TracePipe", targets: ["TracePipe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The data model and its wire codecs; no dependencies so it builds fast and stays portable.
        .target(name: "TraceModel"),
        // The system zlib (Debian: zlib1g-dev) for gzip/deflate bodies.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libdeflate compresses export bodies ~2.4x faster than zlib; loaded at run time (a fresh
        // machine has libdeflate.so.0 but not its header), zlib when it is missing.
        .target(name: "CDeflate", linkerSettings: [.linkedLibrary("dl")]),
        // glibc's malloc.h: heap statistics and malloc_trim, for the platform area.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(
            name: "TracePipe",
            dependencies: [
                "TraceModel",
                "CZlib",
                "CDeflate",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // What the executable knows of the machine it runs on (/proc, the cgroup, glibc's
        // heap), handed to the library as `ProcessStatistics`.
        .target(name: "TracePipePlatform", dependencies: ["TracePipe", "CMalloc"]),
        .executableTarget(
            name: "tracepipe",
            dependencies: [
                "TracePipe",
                "TracePipePlatform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "codec-bench", dependencies: ["TraceModel"]),
        .executableTarget(
            name: "pipeline-bench",
            dependencies: ["TraceModel", "TracePipe", "TracePipePlatform", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .executableTarget(
            name: "grpc-load",
            dependencies: [
                "TraceModel", "TracePipe", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Test helpers shared by the test targets (and grpc-load): fake Tempos, certificates, small
        // HTTP and gRPC clients.
        .target(
            name: "TestSupport",
            dependencies: [
                "TraceModel", "TracePipe",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "TraceModelTests", dependencies: ["TraceModel", "TestSupport"], exclude: ["Golden", "Corpus"]),
        .testTarget(
            name: "TracePipeTests",
            dependencies: [
                "TracePipe", "TestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "TracePipePlatformTests", dependencies: ["TracePipePlatform"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TraceModel", "TracePipe", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
