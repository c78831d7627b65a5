import Measurement
import Reference
import Experiments
import ArgumentParser
import Attention
import Foundation
import ToolIdentity

/// `flashnum regress`: the regression gate for quantization schemes.
struct Regress: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Fail (exit 1) when a scheme's error exceeds its pinned baseline.",
    discussion: """
      Runs every entry of the baseline (a shipped scheme on one configuration: sequence length, head \
      dim, heads, causal, distribution sparse-outliers|gaussian, seed, algorithm naive|blocked|blocked-hopper-tiles), measures \
      RMSE, relative Frobenius error and max abs error against the MPFR reference, and compares each \
      with its pinned value: worse means now > pinned·(1 + tolerance) + absoluteTolerance. Prints a \
      table of what got worse and exits 1; exit 0 when nothing did. --update rewrites the pinned \
      values with today's (after a deliberate change; review the diff).
      """)

  @Option(help: "Baseline JSON file (default: the shipped baseline, Reports/baselines/shipped-schemes.json of the checkout the tool was built from).")
  var baseline: String?
  @Flag(help: "Rewrite the baseline's pinned values with the measured ones.") var update = false
  @Option(name: .customLong("reference-bits"), help: "MPFR precision of the reference.") var referenceBits = 64
  @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
  @Flag(help: "Print the measured rows as a JSON object on stdout (exit 1 still when one is worse).") var json = false

  func validate() throws {
    try checkThreads(threads)
    try checkCount(referenceBits, ReferenceAttention.precisions, "--reference-bits")
  }

  /// The shipped baseline of the checkout this binary was built from, or, where that checkout is
  /// gone, the same path under the working folder.
  static var shippedBaseline: String {
    let shipped = (ToolIdentity.sourceRoot as NSString).appendingPathComponent("Reports/baselines/shipped-schemes.json")
    return FileManager.default.fileExists(atPath: shipped) ? shipped : "Reports/baselines/shipped-schemes.json"
  }

  func run() throws {
    let baseline = self.baseline ?? Self.shippedBaseline
    let pinned: RegressionBaseline
    pinned = try RegressionBaseline.load(baseline)
    let result: (rows: [RegressionGate.Row], measured: RegressionBaseline)
    do {
      result = try RegressionGate.run(pinned, referenceBits: referenceBits, threads: max(1, threads)) { note("regress: \($0)") }
    }
    if update {
      var measured = result.measured
      measured.provenance = pinned.provenanceNow(path: baseline)
      try SweepResults.writeAtomically(RegressionGate.encode(measured), to: baseline)
      if json {
        print(JSONText.object([("baseline", .string(baseline)), ("updated", .bool(true)), ("entries", .int(pinned.entries.count))]).document,
              terminator: "")
      } else {
        print("regress: \(baseline) rewritten with the measured values of \(pinned.entries.count) entries; review the diff before committing")
      }
      return
    }
    if json {
      print(JSONText.object([
        ("baseline", .string(baseline)), ("tolerance", .double(pinned.tolerance)), ("absolute_tolerance", .double(pinned.absoluteTolerance)),
        ("passed", .bool(!result.rows.contains(where: \.worse))),
        ("rows", .array(result.rows.map { r in
          .object([("scheme", .string(r.scheme)), ("configuration", .string(r.configuration)), ("metric", .string(r.metric)),
                   ("pinned", .double(r.pinned)), ("now", .double(r.now)), ("worse", .bool(r.worse))])
        })),
      ]).document, terminator: "")
      if result.rows.contains(where: \.worse) { throw ExitCode(1) }
      return
    }
    let worse = RegressionGate.regressions(result.rows, tolerance: pinned.tolerance)
    let better = result.rows.filter { !$0.worse && $0.change < -pinned.tolerance }.count
    if worse.isEmpty {
      print("regress: all \(result.rows.count) metrics of \(pinned.entries.count) entries within their pinned values"
            + " (tolerance \(pinned.tolerance * 100) % + \(pinned.absoluteTolerance))"
            + (better > 0 ? "; \(better) improved beyond the tolerance (consider --update)" : ""))
      return
    }
    print("regress: \(result.rows.filter(\.worse).count) metrics got worse than pinned in \(baseline) "
          + "(tolerance \(pinned.tolerance * 100) % + \(pinned.absoluteTolerance)):\n")
    print(worse, terminator: "")
    throw ExitCode(1)
  }
}
