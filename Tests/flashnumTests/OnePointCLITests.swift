import Attention
import Foundation
import NPY
import XCTest

/// One measured point — `fa3-fp8-per-head-hadamard` with the FA3 kernel's tiles (`blocked-hopper-tiles`) on
/// FA3 outlier inputs, seed 3 — run through `sweep`, `table paper-rmse`, `regress` and `attention`: every
/// command draws the same inputs and rotation and must give the same output and metrics.
final class OnePointCLITests: CLITestCase {
  let (n, d, seed) = (192, 64, UInt64(3))

  /// The RMSE of `flashnum attention`'s output against `flashnum reference`'s, both on the
  /// point's inputs written as float64 `.npy` files (sums in index order, as the tool forms them).
  func attentionRMSE() throws -> (rmse: Double, o: [Float]) {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: n, headsQ: 1, headDim: d), .paperOutliers, seed: seed)
    for (name, t) in [("q", x.q), ("k", x.k), ("v", x.v)] {
      _ = try write(NPYArray(shape: t.shape, float64: t.values), "\(name).npy")
    }
    let io = ["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy")]
    let a = try run(["attention"] + io + ["--scheme", "fa3-fp8-per-head-hadamard", "--algorithm", "blocked-hopper-tiles",
                                          "--seed", "\(seed)", "--out", path("o.npy")])
    XCTAssertEqual(a.status, 0, a.stderr)
    let r = try run(["reference"] + io + ["--precision-bits", "64", "--no-certify", "--out", path("ref.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    let o = try XCTUnwrap(NPYFile.read(path("o.npy")).float32), ref = try XCTUnwrap(NPYFile.read(path("ref.npy")).values)
    var se = 0.0
    for (x, y) in zip(o, ref) { se += (Double(x) - y) * (Double(x) - y) }
    return ((se / Double(o.count)).squareRoot(), o)
  }

  /// The first number after `"key": ` in JSON text, parsed by Swift (correctly rounded).
  func number(_ key: String, in text: String) throws -> Double {
    let after = try XCTUnwrap(text.range(of: "\"\(key)\": ")).upperBound
    let digits = text[after...].prefix { "0123456789.eE+-".contains($0) }
    return try XCTUnwrap(Double(digits), "\(key): '\(digits)'")
  }

  func testOneHadamardPointGivesOneAnswerInEveryCommand() throws {
    // sweep
    let experiment = """
      name: one
      schemes: [fa3-fp8-per-head-hadamard]
      algorithms: [blocked-hopper-tiles]
      seq_len: \(n)
      head_dim: \(d)
      distributions: [sparse-outliers]
      seeds: [\(seed)]
      reference: {kind: mpfr, bits: 64}
      """
    try experiment.write(toFile: path("one.yaml"), atomically: true, encoding: .utf8)
    let s = try run(["sweep", path("one.yaml"), "--out-dir", path("results"), "--quiet"])
    XCTAssertEqual(s.status, 0, s.stderr)
    let results = try String(contentsOfFile: path("results/one.json"), encoding: .utf8)
    let sweep = try number("rmse", in: results), sweepMaxAbs = try number("max_abs", in: results)

    // table paper-rmse: the row "FA3 FP8, no block quantization" is the same scheme and algorithm.
    let t = try run(["table", "paper-rmse", "--seq-len", "\(n)", "--head-dim", "\(d)", "--heads", "1", "--seeds", "\(seed)",
                     "--rotation-seeds", "\(seed)", "--reference-bits", "64", "--format", "json"])
    XCTAssertEqual(t.status, 0, t.stderr)
    let rows = t.stdout.components(separatedBy: "\"method\"")
    let tableRow = try XCTUnwrap(rows.first { $0.contains("\"scheme\": \"fa3-fp8-per-head-hadamard\"") })
    XCTAssertTrue(tableRow.contains("\"algorithm\": \"blocked-hopper-tiles\""), tableRow)

    // regress: a baseline of this one point, pinned by --update.
    let baseline = """
      {"description": "one point", "tolerance": 0, "absolute_tolerance": 0, "entries": [
        {"scheme": "fa3-fp8-per-head-hadamard", "algorithm": "blocked-hopper-tiles", "seq_len": \(n), "head_dim": \(d), "heads": 1,
         "causal": false, "distribution": "sparse-outliers", "seed": \(seed), "metrics": {}}]}
      """
    try baseline.write(toFile: path("baseline.json"), atomically: true, encoding: .utf8)
    let g = try run(["regress", "--baseline", path("baseline.json"), "--update"])
    XCTAssertEqual(g.status, 0, g.stderr)
    let pinned = try String(contentsOfFile: path("baseline.json"), encoding: .utf8)

    // attention (and reference) from the command line, on the same inputs and seed.
    let (cli, _) = try attentionRMSE()

    XCTAssertEqual(try number("rmse", in: tableRow), sweep)
    XCTAssertEqual(try number("max_abs", in: tableRow), sweepMaxAbs)
    XCTAssertEqual(try number("rmse", in: pinned), sweep)
    XCTAssertEqual(try number("max_abs", in: pinned), sweepMaxAbs)
    XCTAssertEqual(cli, sweep)
    XCTAssertGreaterThan(sweep, 0)
  }
}
