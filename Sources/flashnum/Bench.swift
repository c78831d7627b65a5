import ArgumentParser
import Dispatch
import Foundation
import Measurement
import Attention
import Experiments

/// `flashnum bench`: speed and memory, with peers timed in the same run.
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks (release builds only give meaningful figures).",
    discussion: """
      Every subcommand prints Markdown tables; with --json it prints one JSON array of flat rows \
      instead (the tables' figures, one row per measurement, peers included).
      """,
    subcommands: [BenchConvert.self, BenchMMA.self, BenchAttention.self, BenchScaling.self])
}

/// Median wall time of `runs` executions of `body`, in nanoseconds.
func medianNanoseconds(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
  var times: [Double] = []
  for _ in 0..<runs {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start))
  }
  times.sort()
  return times[times.count / 2]
}

/// A bench's output: Markdown lines as they come, or (with `--json`) flat rows printed as one
/// JSON array at the end.
final class BenchOutput {
  let json: Bool
  private var rows: [JSONText] = []
  init(json: Bool) { self.json = json }

  /// A Markdown line (not printed with --json).
  func line(_ text: String = "") { if !json { print(text) } }

  /// A row of the JSON array (collected with --json; its text fields go to stderr as progress,
  /// since stdout stays empty until the end).
  func row(_ fields: [(String, JSONText)]) {
    rows.append(.object(fields))
    if json {
      let label = fields.compactMap { if case .string(let s) = $0.1 { return s } else { return nil } }.joined(separator: " ")
      note("bench: [\(rows.count)] \(label)")
    }
  }

  /// Prints the JSON array (with --json).
  func finish() { if json { print(JSONText.array(rows).document, terminator: "") } }
}

/// Runs `python3 script args` and parses the last line of its output as a JSON object; the
/// failure is the reason, in one line.
func runPythonPeer(_ script: String, _ args: [String]) -> Result<[String: Any], InputError> {
  guard FileManager.default.fileExists(atPath: script) else { return .failure(InputError("\(script) not found (run from the repository root or pass --scripts)")) }
  switch Subprocess.run("python3", [script] + args) {
  case .failure(let e): return .failure(InputError(e.description))
  case .success(let r):
    let last = r.output.split(separator: "\n").last.map(String.init) ?? ""
    guard r.status == 0 else { return .failure(InputError(last.isEmpty ? "exit \(r.status)" : last)) }
    guard let object = (try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String: Any] else {
      return .failure(InputError("no JSON line from \(script)"))
    }
    return .success(object)
  }
}
