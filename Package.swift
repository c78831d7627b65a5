// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "FlashNumerics",
  products: [
    .library(name: "Diagnostics", targets: ["Diagnostics"]),
    .library(name: "NPY", targets: ["NPY"]),
    .library(name: "LowPrecision", targets: ["LowPrecision"]),
    .library(name: "Precise", targets: ["Precise"]),
    .library(name: "Hopper", targets: ["Hopper"]),
    .library(name: "MatrixMultiply", targets: ["MatrixMultiply"]),
    .library(name: "Attention", targets: ["Attention"]),
    .library(name: "Reference", targets: ["Reference"]),
    .library(name: "Measurement", targets: ["Measurement"]),
    .library(name: "Experiments", targets: ["Experiments"]),
    .library(name: "Reporting", targets: ["Reporting"]),
    .executable(name: "flashnum", targets: ["flashnum"]),
    // The C ABI (flashnumerics.h) as a shared library, for the Python package.
    .library(name: "FlashNumericsC", type: .dynamic, targets: ["FlashNumericsC"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
  ],
  targets: [
    // MPFR (and GMP) from the system, found through pkg-config.
    .systemLibrary(
      name: "CMPFR",
      pkgConfig: "mpfr",
      providers: [.apt(["libmpfr-dev", "libgmp-dev"])]),
    // OpenSSL's libcrypto: SHA-256 of input files in provenance, and of exhaustive tables in tests.
    .systemLibrary(
      name: "CLibCrypto",
      pkgConfig: "libcrypto",
      providers: [.apt(["libssl-dev"])]),
    // Lane-wise conversions and maxima that Swift's SIMD types do not lower to one instruction,
    // and FMA3 loops chosen at run time (the package itself is built for baseline x86-64).
    .target(name: "CVectorShims"),
    // The C ABI's declarations (flashnumerics.h): the structs the library's functions take, seen
    // by the Swift implementation and read by the Python binding.
    .systemLibrary(name: "CFlashNumericsABI"),
    // Writes the commit being built into ToolIdentity before every build.
    .plugin(name: "ToolCommit", capability: .buildTool()),
    // The data flow, bottom to top (each module depends only on modules above it in this list).
    .target(name: "ToolIdentity", exclude: ["README.md"], plugins: ["ToolCommit"]),
    .target(name: "Diagnostics", exclude: ["README.md"]),
    .target(name: "NPY", dependencies: ["Diagnostics"], exclude: ["README.md"]),
    .target(name: "LowPrecision", dependencies: ["Diagnostics", "CVectorShims"], exclude: ["README.md"]),
    .target(name: "Precise", dependencies: ["CMPFR"], exclude: ["README.md"]),
    .target(name: "Hopper", dependencies: ["LowPrecision", "CVectorShims"], exclude: ["README.md"]),
    .target(name: "MatrixMultiply", dependencies: ["CVectorShims"], exclude: ["README.md"]),
    .target(name: "Attention", dependencies: ["Diagnostics", "LowPrecision", "Hopper", "MatrixMultiply"], exclude: ["README.md"]),
    .target(name: "Reference", dependencies: ["Diagnostics", "Attention", "MatrixMultiply", "Precise", "CVectorShims"], exclude: ["README.md"]),
    .target(name: "Measurement", dependencies: ["Diagnostics", "Attention", "Reference", "LowPrecision"], exclude: ["README.md"]),
    .target(name: "Experiments", dependencies: ["Diagnostics", "Measurement", "Attention", "Reference", "MatrixMultiply", "LowPrecision", "NPY", "ToolIdentity",
                                          "CLibCrypto", "Yams", "ZIPFoundation"],
            exclude: ["README.md"]),
    .target(name: "Reporting", dependencies: ["Diagnostics", "Experiments", "Measurement"], exclude: ["README.md"]),
    .target(name: "FlashNumericsC", dependencies: ["Diagnostics", "CFlashNumericsABI", "LowPrecision", "Hopper", "Attention", "Reference", "Measurement", "ToolIdentity"],
            exclude: ["README.md"]),
    .executableTarget(
      name: "flashnum",
      dependencies: [
        "Diagnostics", "NPY", "LowPrecision", "Hopper", "Attention", "Reference", "Measurement", "Experiments", "Reporting", "ToolIdentity",
        "CVectorShims",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      exclude: ["README.md"]),
    .testTarget(name: "NPYTests", dependencies: ["NPY"]),
    .testTarget(name: "LowPrecisionTests", dependencies: ["LowPrecision", "Precise", "CLibCrypto"]),
    .testTarget(name: "PreciseTests", dependencies: ["Precise"]),
    .testTarget(name: "HopperTests", dependencies: ["Hopper", "LowPrecision", "NPY"], exclude: ["Fixtures"]),
    .testTarget(name: "MatrixMultiplyTests", dependencies: ["MatrixMultiply", "LowPrecision", "Precise"]),
    .testTarget(name: "AttentionTests", dependencies: ["Attention", "LowPrecision", "Hopper", "MatrixMultiply", "Precise", "NPY"],
                exclude: ["Fixtures"]),
    .testTarget(name: "ReferenceTests", dependencies: ["Reference", "Attention"]),
    .testTarget(name: "MeasurementTests", dependencies: ["Measurement", "Attention", "Reference", "LowPrecision"]),
    .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Measurement", "Attention", "Reference", "LowPrecision", "NPY", "TestSupport"]),
    .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Experiments", "TestSupport"]),
    .testTarget(name: "flashnumTests", dependencies: ["NPY", "LowPrecision", "Attention", "ZIPFoundation", "ToolIdentity", "TestSupport"]),
    // What the tests share: the repository's root, found one way.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    // The package itself: declared target dependencies equal the imports.
    .testTarget(name: "PackageTests", dependencies: ["TestSupport"]),
    // Mutation fuzzing of every parser of user files (bounded in cases and seconds).
    .testTarget(name: "FuzzTests", dependencies: ["NPY", "Experiments", "Attention", "LowPrecision", "ZIPFoundation", "TestSupport"], exclude: ["Seeds"]),
  ],
  swiftLanguageModes: [.v6]
)
