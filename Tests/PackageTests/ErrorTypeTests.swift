import Foundation
import TestSupport
import XCTest

/// Errors are typed per layer: each module constructs only error types it declares itself (a
/// lower layer's error passes through, or is re-made as the module's own with the place in the
/// module's file added, never under a third layer's name), and
/// every error type conforms to `FlashNumericsError`, whose one-line text the command line and
/// the C ABI print the same way.
final class ErrorTypeTests: XCTestCase {
  /// Error types of the toolchain and the argument parser that a module may construct.
  static let foreign: Set<String> = ["ValidationError", "CocoaError", "DecodingError", "EncodingError", "CleanExit"]

  /// Each module's Swift sources, comments removed: module name → file name → text.
  static func sources() throws -> [String: [String: String]] {
    var out: [String: [String: String]] = [:]
    let root = Repository.url("Sources")
    for module in try FileManager.default.contentsOfDirectory(atPath: root.path) {
      let folder = root.appendingPathComponent(module)
      let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
      for file in files where file.pathExtension == "swift" {
        let text = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
          .map { line in line.firstRange(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line) }.joined(separator: "\n")
        out[module, default: [:]][file.lastPathComponent] = text
      }
    }
    return out
  }

  /// Types whose declaration lists `Error` or `FlashNumericsError` among its conformances:
  /// type name → (module, conformance list).
  static func errorTypes(_ sources: [String: [String: String]]) -> [String: (module: String, conformances: [String])] {
    var out: [String: (String, [String])] = [:]
    for (module, files) in sources {
      for text in files.values {
        for m in text.matches(of: /(?m)^\s*(?:public\s+|internal\s+)?(?:struct|enum|class|protocol)\s+(\w+)\s*:\s*([^{]+)\{/) {
          let list = m.2.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
          if list.contains("Error") || list.contains("FlashNumericsError") { out[String(m.1)] = (module, list) }
        }
      }
    }
    return out
  }

  /// "Module/File.swift: Type" for each construction `Type(` of an error type that `module`
  /// neither declares nor may use (``foreign``).
  static func foreignConstructions(_ sources: [String: [String: String]]) -> [String] {
    let declared = errorTypes(sources)
    var out: [String] = []
    for (module, files) in sources {
      for (file, text) in files {
        for m in text.matches(of: /\b([A-Z]\w*Error)\(/) {
          let name = String(m.1)
          guard !foreign.contains(name) else { continue }
          if declared[name]?.module != module { out.append("\(module)/\(file): \(name)") }
        }
      }
    }
    return out.sorted()
  }

  func testEachModuleConstructsOnlyItsOwnErrors() throws {
    let sources = try Self.sources()
    XCTAssertGreaterThan(sources.count, 10, "the modules were found")
    XCTAssertEqual(Self.foreignConstructions(sources), [])
  }

  func testEveryErrorTypeIsAFlashNumericsError() throws {
    let types = Self.errorTypes(try Self.sources())
    for name in ["AttentionError", "FormatError", "NPYError", "ReferenceError", "MeasurementError", "ExperimentFileError",
                 "TensorFileError", "ResultsError", "BaselineError", "KernelBridgeError", "SlurmScriptError", "ReportError",
                 "InputError", "CallError"] {
      XCTAssertNotNil(types[name], "\(name) is declared")
    }
    for (name, t) in types where name != "FlashNumericsError" {
      XCTAssertTrue(t.conformances.contains("FlashNumericsError"), "\(t.module).\(name) conforms to \(t.conformances), not FlashNumericsError")
    }
  }

  /// The check can fail: an attention error made in Experiments, or an error type of a module's
  /// own that is not a FlashNumericsError, is seen.
  func testTheChecksSeeAForeignOrPlainError() throws {
    var sources = try Self.sources()
    sources["Experiments", default: [:]]["Injected.swift"] = "func f() throws { throw AttentionError(\"x\") }\nstruct LocalError: Error {}\n"
    XCTAssertEqual(Self.foreignConstructions(sources), ["Experiments/Injected.swift: AttentionError"])
    XCTAssertEqual(Self.errorTypes(sources)["LocalError"]?.conformances, ["Error"])
  }
}
