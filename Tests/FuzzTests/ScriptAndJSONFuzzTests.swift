import Attention
import Experiments
import Foundation
import LowPrecision
import TestSupport
import XCTest

/// Random values thrown at the Slurm script generator, and random JSON objects at the duplicate
/// key scan, each against an oracle built alongside the input.
final class ScriptAndJSONFuzzTests: XCTestCase {
  /// Strings from an alphabet of what a shell or sbatch would read specially.
  func hostile(_ rng: inout SplitMix64) -> String {
    let alphabet: [String] = ["a", "/", " ", "\n", "\r", "\t", "\0", "'", "\"", "\\", "$(", ")", "`", ";", "&", "|", "#", "=", "-", "\u{2028}",
                              "\u{85}", "\u{7F}", "é", "*", "~", "{", "}"]
    return (0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
  }

  func testSlurmScriptsKeepTheirLines() throws {
    let plain = SlurmScripts(experimentFile: "/e.yaml", out: "/res", binary: "/bin/flashnum", name: "e", tasks: 4, cpusPerTask: 1,
                             partition: "p", time: "1:00", mem: "1G", sbatchLines: ["--account=a"])
    let template = (ScriptLines.shapes(try plain.arrayScript()), ScriptLines.shapes(try plain.mergeScript()))
    var rng = SplitMix64(seed: 27)
    var accepted = 0
    for _ in 0..<4000 {
      var s = plain
      let v = hostile(&rng)
      switch rng.next() % 8 {
      case 0: s.experimentFile = "/" + v
      case 1: s.out = "/" + v
      case 2: s.binary = "/" + v
      case 3: s.name = v
      case 4: s.partition = v
      case 5: s.time = v
      case 6: s.mem = v
      default: s.sbatchLines = ["--" + v]
      }
      guard let array = try? s.arrayScript(), let merge = try? s.mergeScript() else { continue }
      accepted += 1
      XCTAssertEqual(ScriptLines.shapes(array), template.0, v.debugDescription)
      XCTAssertEqual(ScriptLines.shapes(merge), template.1, v.debugDescription)
    }
    XCTAssertGreaterThan(accepted, 100)
  }

  func testDuplicateKeyScanAgreesWithConstruction() throws {
    var rng = SplitMix64(seed: 28)
    let names = ["a", "b", "key", "é", "x y"]
    /// The key as JSON text, sometimes through escapes (`\u` for every character, or `\/`).
    func spelled(_ key: String) -> String {
      switch rng.next() % 3 {
      case 0: return "\"" + key.unicodeScalars.map { String(format: "\\u%04x", $0.value) }.joined() + "\""
      default: return "\"" + key + "\""
      }
    }
    func value(_ depth: Int, _ duplicate: inout Bool) -> String {
      switch depth > 2 ? 0 : rng.next() % 4 {
      case 0: return ["1", "\"s\"", "null", "[1, \"a\"]", "\"a\\\"b\""][Int(rng.next() % 5)]
      case 1: return "[" + (0..<Int(rng.next() % 3)).map { _ in value(depth + 1, &duplicate) }.joined(separator: ", ") + "]"
      default:
        var keys: [String] = []
        var parts: [String] = []
        for _ in 0..<Int(rng.next() % 4) {
          let k = names[Int(rng.next() % UInt64(names.count))]
          if keys.contains(k) { duplicate = true }
          keys.append(k)
          parts.append(spelled(k) + ": " + value(depth + 1, &duplicate))
        }
        return "{" + parts.joined(separator: ", ") + "}"
      }
    }
    var found = 0
    for _ in 0..<3000 {
      var duplicate = false
      let text = "{\"top\": " + value(0, &duplicate) + "}"
      XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(text.utf8)), text)
      XCTAssertEqual(duplicateJSONKey(in: Data(text.utf8)) != nil, duplicate, text)
      if duplicate { found += 1 }
    }
    XCTAssertGreaterThan(found, 100)
  }

  /// Keys are compared as JSON compares them (code units): "é" precomposed and decomposed are
  /// two keys; and an object of 200 000 keys is scanned in linear time.
  func testDuplicateKeyScanCodeUnitsAndScale() throws {
    XCTAssertNil(duplicateJSONKey(in: Data("{\"\u{E9}\": 1, \"e\u{301}\": 2}".utf8)))
    XCTAssertEqual(duplicateJSONKey(in: Data("{\"\u{E9}\": 1, \"\\u00e9\": 2}".utf8)), "\u{E9}")
    let big = "{" + (0..<200_000).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + "}"
    let start = Date()
    XCTAssertNil(duplicateJSONKey(in: Data(big.utf8)))
    XCTAssertEqual(duplicateJSONKey(in: Data((big.dropLast() + ", \"k7\": 0}").utf8)), "k7")
    XCTAssertLessThan(Date().timeIntervalSince(start), 20, "linear, not quadratic, in the number of keys")
  }
}
