import Foundation
import TestSupport
import XCTest

/// The package's declared target dependencies equal what each target imports, so the module
/// graph in Package.swift is the graph of the code (and the README's module table can trust it).
final class TargetDependencyTests: XCTestCase {
  /// Modules every target may import without declaring them (the toolchain's).
  static let toolchain: Set<String> = ["Foundation", "FoundationEssentials", "XCTest", "Glibc", "Darwin", "Dispatch", "PackagePlugin",
                                       "Synchronization"]

  /// Each target of Package.swift: name, kind, declared dependencies (module names; a product's
  /// name is its module's here).
  static func targets(_ manifest: String) -> [(name: String, kind: String, dependencies: Set<String>, path: String?)] {
    var result: [(String, String, Set<String>, String?)] = []
    var rest = Substring(manifest)
    let kinds = [".target(", ".testTarget(", ".executableTarget(", ".systemLibrary(", ".plugin("]
    while let start = kinds.compactMap({ k in rest.range(of: k).map { (k, $0) } }).min(by: { $0.1.lowerBound < $1.1.lowerBound }) {
      // The call's text up to its balanced closing parenthesis.
      var depth = 0, end = start.1.upperBound
      for i in rest[start.1.lowerBound...].indices {
        if rest[i] == "(" { depth += 1 }
        if rest[i] == ")" { depth -= 1; if depth == 0 { end = i; break } }
      }
      let call = rest[start.1.upperBound..<end]
      rest = rest[end...]
      guard let name = call.firstMatch(of: /name:\s*"(\w+)"/)?.1 else { continue }
      var dependencies = Set<String>()
      if let list = call.firstMatch(of: /dependencies:\s*\[([^\]]*)\]/)?.1 {
        for m in list.matches(of: /(?:\.product\(name:\s*)?"(\w+)"(?:,\s*package:\s*"[\w-]+"\))?/) { dependencies.insert(String(m.1)) }
      }
      let path = call.firstMatch(of: /path:\s*"([^"]+)"/).map { String($0.1) }
      result.append((String(name), String(start.0.dropFirst().dropLast()), dependencies, path))
    }
    return result
  }

  /// The modules the Swift files under `folder` import.
  static func imports(_ folder: URL) throws -> Set<String> {
    var found = Set<String>()
    let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
    for file in files where file.pathExtension == "swift" {
      for m in try String(contentsOf: file, encoding: .utf8).matches(of: /(?m)^(?:@testable\s+)?import\s+(\w+)/) { found.insert(String(m.1)) }
    }
    return found.subtracting(toolchain)
  }

  func testDeclaredDependenciesEqualImports() throws {
    let manifest = try String(contentsOf: Repository.url("Package.swift"), encoding: .utf8)
    let targets = Self.targets(manifest)
    XCTAssertGreaterThan(targets.filter { $0.kind == "target" }.count, 10, "the manifest's targets were found")
    for t in targets where ["target", "testTarget", "executableTarget"].contains(t.kind) {
      let folder = Repository.url(t.path ?? ((t.kind == "testTarget" ? "Tests/" : "Sources/") + t.name))
      let imported = try Self.imports(folder)
      XCTAssertEqual(imported.sorted(), t.dependencies.sorted(),
                     "\(t.name): imported but not declared \(imported.subtracting(t.dependencies).sorted()), "
                       + "declared but not imported \(t.dependencies.subtracting(imported).sorted())")
    }
  }

  /// The check can fail: a manifest with a dependency dropped disagrees with the imports.
  func testADroppedDependencyIsSeen() throws {
    let manifest = try String(contentsOf: Repository.url("Package.swift"), encoding: .utf8)
    let edited = manifest.replacingOccurrences(of: "name: \"Reporting\", dependencies: [\"Diagnostics\", \"Experiments\", ", with: "name: \"Reporting\", dependencies: [\"Diagnostics\", ")
    XCTAssertNotEqual(edited, manifest)
    let reporting = try XCTUnwrap(Self.targets(edited).first { $0.name == "Reporting" })
    XCTAssertNotEqual(try Self.imports(Repository.url("Sources/Reporting")), reporting.dependencies)
  }
}
