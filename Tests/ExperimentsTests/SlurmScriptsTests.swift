import Attention
import Experiments
import TestSupport
import XCTest

/// The batch scripts hold only the lines their templates write: hostile values (newlines,
/// carriage returns, quotes, `$()`, backticks, NUL, Unicode line separators) at every option and
/// path are refused, or end up inside single quotes where the shell expands nothing.
final class SlurmScriptsTests: XCTestCase {
  let plain = SlurmScripts(experimentFile: "/data/e.yaml", out: "/data/res", binary: "/opt/flashnum", name: "e", tasks: 3, cpusPerTask: 2,
                           throttle: 2, partition: "short", time: "01:00:00", mem: "2G", sbatchLines: ["--account=lab"])

  func testHostileValuesNeverAddALine() throws {
    let template = (array: ScriptLines.shapes(try plain.arrayScript()), merge: ScriptLines.shapes(try plain.mergeScript()))
    let hostile = ["a\nrm -rf ~", "a\r\nid", "x'; id; echo '", "$(id)", "`id`", "a\0b", "a\u{2028}b", "a\u{85}b", "\"quoted\"", "a b", "\\", "--x=1\nid", "it's", "res%j"]
    var refused = 0, accepted = 0
    for value in hostile {
      for field in 0..<9 {
        var s = plain
        switch field {
        case 0: s.experimentFile = "/data/" + value
        case 1: s.out = "/data/" + value
        case 2: s.binary = "/opt/" + value
        case 3: s.name = value
        case 4: s.partition = value
        case 5: s.time = value
        case 6: s.mem = value
        case 7: s.sbatchLines = [value]
        default: s.sbatchLines = ["--comment=" + value]
        }
        do {
          let (array, merge) = (try s.arrayScript(), try s.mergeScript())
          accepted += 1
          XCTAssertEqual(ScriptLines.shapes(array), template.array, "field \(field) = \(value.debugDescription)")
          XCTAssertEqual(ScriptLines.shapes(merge), template.merge, "field \(field) = \(value.debugDescription)")
          XCTAssertFalse(array.contains("\0") || merge.contains("\0"))
          // In commands, the value only ever appears quoted.
          for line in (array + merge).split(separator: "\n") where !line.hasPrefix("#") && line.contains(value) {
            XCTAssertTrue(line.contains(SlurmScripts.quoted(value)) || line.contains(SlurmScripts.quoted("/data/" + value))
                          || line.contains(SlurmScripts.quoted("/opt/" + value)), "unquoted \(value.debugDescription) in \(line)")
          }
        } catch {
          refused += 1
          XCTAssertFalse("\(error)".contains("\n"), "\(error)")
        }
      }
    }
    XCTAssertGreaterThan(refused, 0)
    XCTAssertGreaterThan(accepted, 0, "quotes and $() in paths are quoted, not refused")
  }

  func testEveryControlCharacterIsRefused() throws {
    for scalar in Array(0..<0x20) + Array(0x7F...0x9F) + [0x2028, 0x2029] {
      var s = plain
      s.partition = "p" + String(Character(Unicode.Scalar(UInt32(scalar))!))
      XCTAssertThrowsError(try s.arrayScript(), String(scalar, radix: 16)) { error in
        XCTAssertTrue("\(error)".contains("--partition"), "\(error)")
      }
    }
  }

  func testQuotingRoundTripsThroughAShell() throws {
    for value in ["plain", "x'; id; echo '", "$(id)", "`id`", "a b", "'", "\"", "\\n"] {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/bin/sh")
      p.arguments = ["-c", "printf %s " + SlurmScripts.quoted(value)]
      let out = Pipe()
      p.standardOutput = out
      try p.run()
      let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      p.waitUntilExit()
      XCTAssertEqual(text, value)
    }
  }
}
