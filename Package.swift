// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "FlashNumerics",
  products: [
    .library(name: "LowPrecision", targets: ["LowPrecision"]),
    .library(name: "Precise", targets: ["Precise"]),
    .library(name: "Interop", targets: ["Interop"]),
    .library(name: "MatrixMultiply", targets: ["MatrixMultiply"]),
    .library(name: "Attention", targets: ["Attention"]),
    .library(name: "Reference", targets: ["Reference"]),
    .library(name: "Analysis", targets: ["Analysis"]),
    .executable(name: "flashnum", targets: ["flashnum"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: [
    // MPFR (and GMP) from the system, found through pkg-config.
    .systemLibrary(
      name: "CMPFR",
      pkgConfig: "mpfr",
      providers: [.apt(["libmpfr-dev", "libgmp-dev"])]),
    // OpenSSL's libcrypto, used by the tests only (SHA-256 fingerprints of exhaustive tables).
    .systemLibrary(
      name: "CLibCrypto",
      pkgConfig: "libcrypto",
      providers: [.apt(["libssl-dev"])]),
    // Lane-wise conversions and maxima that Swift's SIMD types do not lower to one instruction,
    // and FMA3 loops chosen at run time (the package itself is built for baseline x86-64).
    .target(name: "CVectorShims"),
    .target(name: "LowPrecision", exclude: ["README.md"]),
    .target(name: "Precise", dependencies: ["CMPFR"], exclude: ["README.md"]),
    .target(name: "Interop", dependencies: ["Attention"], exclude: ["README.md"]),
    .target(name: "MatrixMultiply", dependencies: ["LowPrecision", "CVectorShims"], exclude: ["README.md"]),
    .target(name: "Attention", dependencies: ["LowPrecision", "MatrixMultiply"], exclude: ["README.md"]),
    .target(name: "Reference", dependencies: ["Attention", "MatrixMultiply", "Precise"], exclude: ["README.md"]),
    .target(name: "Analysis", dependencies: ["Attention", "Reference", "LowPrecision", "Yams"], exclude: ["README.md"]),
    .executableTarget(
      name: "flashnum",
      dependencies: [
        "LowPrecision", "Precise", "Interop", "MatrixMultiply", "Attention", "Reference", "Analysis",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      exclude: ["README.md"]),
    .testTarget(name: "LowPrecisionTests", dependencies: ["LowPrecision", "Precise", "CLibCrypto", "Interop"], exclude: ["Fixtures"]),
    .testTarget(name: "PreciseTests", dependencies: ["Precise"]),
    .testTarget(name: "InteropTests", dependencies: ["Interop"]),
    .testTarget(name: "MatrixMultiplyTests", dependencies: ["MatrixMultiply", "LowPrecision", "Interop", "Precise"], exclude: ["Fixtures"]),
    .testTarget(name: "AttentionTests", dependencies: ["Attention", "LowPrecision", "MatrixMultiply", "Precise", "Interop"], exclude: ["Fixtures"]),
    .testTarget(name: "ReferenceTests", dependencies: ["Reference", "Attention"]),
    .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Attention", "Reference", "LowPrecision"]),
    .testTarget(name: "flashnumTests", dependencies: ["Interop", "LowPrecision"]),
  ],
  swiftLanguageModes: [.v6]
)
