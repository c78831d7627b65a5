import Experiments
import Foundation
import Reporting
import XCTest

/// Reports of sweep results: tables of geometric means, figures with labelled log axes.
final class ReportTests: XCTestCase {
  var directory: String!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)").path
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

  static let text = """
    name: report
    seeds: [2]
    reference: {kind: fp64}
    distributions: [{kind: sparse-outliers, outlier_std: [3, 30], probability: 0.02}]
    mask: [none, causal]
    head_dim: 32
    seq_len: [16, 32]
    algorithms: [blocked, fa3]
    schemes: [bf16, fa3-fp8-per-head, fa3-fp8-per-head-hadamard]
    """

  func experiment() throws -> Experiment { try Experiment.parse(Self.text, file: "report.yaml") }

  func testReportHasTablesAndReadableFigures() throws {
    let e = try experiment()
    let results = try Sweep(experiment: e, directory: directory, threads: 2).run()
    let report = SweepReport(results: results, name: "report")
    let all = report.figures()
    // One RMSE-vs-length figure per distribution, one RMSE-vs-outlier-magnitude figure, and a
    // heatmap for each pair of the three varying axes (length, mask, outlier magnitude).
    XCTAssertEqual(all.count, 6)
    XCTAssertEqual(all.map(\.fileName), [
      "report-rmse-vs-seqlen-sparse-outliers-p-0p02-std-3p0.svg", "report-rmse-vs-seqlen-sparse-outliers-p-0p02-std-30p0.svg",
      "report-rmse-vs-outliers-sparse-outliers.svg", "report-rmse-heatmap-seqlen-x-mask-sparse-outliers.svg",
      "report-rmse-heatmap-seqlen-x-outliers-sparse-outliers.svg", "report-rmse-heatmap-mask-x-outliers-sparse-outliers.svg",
    ])
    let figures = Array(all.prefix(3))
    for f in figures {
      XCTAssertTrue(f.svg.hasPrefix("<svg"))
      XCTAssertTrue(f.svg.contains("RMSE vs reference (output units)"))
      for s in ["bf16 (blocked)", "fa3-fp8-per-head-hadamard (fa3)"] { XCTAssertTrue(f.svg.contains(s), "legend lacks \(s)") }
    }
    XCTAssertTrue(figures[0].svg.contains("sequence length N (tokens, log scale)"))
    XCTAssertTrue(figures[2].svg.contains("outlier standard deviation"))
    let md = report.markdown(figures: figures)
    // The summary never pools distributions: 2 lengths × 2 masks per (scheme, algorithm, distribution).
    XCTAssertTrue(md.contains("| fa3-fp8-per-head-hadamard | fa3 | \(results.rows[0].distribution) | 4 |"), md)
    // The kernel schedule against the tiled model, paired per point, beside the scheme pairs.
    XCTAssertTrue(md.contains("| fa3-fp8-per-head (fa3) | fa3-fp8-per-head (blocked) | 8 |"), md)
    XCTAssertTrue(md.contains("| scheme | algorithm | N=16 | N=32 |"), md)
    XCTAssertTrue(md.contains("![RMSE against sequence length"), md)
    // A table cell is the geometric mean of its points.
    let cell = results.rows.filter { $0.scheme == "bf16" && $0.algorithm == "blocked" && $0.seqLen == 16 && $0.outlierMagnitude == 3 }
    XCTAssertEqual(cell.count, 2)
    let g = (cell[0].metrics["rmse"]! * cell[1].metrics["rmse"]!).squareRoot()
    XCTAssertTrue(md.contains(String(format: "| bf16 | blocked | %.3e |", g)), md)
  }

  /// Several seeds: curves carry the spread (band and bars from the smallest to the largest
  /// seed's geometric mean, the count in the legend), every series has its own marker shifted
  /// sideways, heatmap cells are geometric means, and the paired comparison counts seeds.
  func testSeedBandsHeatmapsAndPairedComparison() throws {
    let text = Self.text.replacingOccurrences(of: "seeds: [2]", with: "seeds: [2, 3, 4]")
      .replacingOccurrences(of: "algorithms: [blocked, fa3]", with: "algorithms: [blocked]")
    let results = try Sweep(experiment: try Experiment.parse(text, file: "seeds.yaml"), directory: directory, threads: 2).run()
    let report = SweepReport(results: results, name: "seeds")
    let figures = report.figures()
    let line = try XCTUnwrap(figures.first { $0.fileName.hasPrefix("seeds-rmse-vs-seqlen-") })
    XCTAssertTrue(line.svg.contains("fill-opacity=\"0.13\""), "a band")
    XCTAssertTrue(line.svg.contains("bf16 (3 seeds)"))
    XCTAssertTrue(line.caption.contains("smallest to the largest of the 3 seeds"))
    // The band at one x spans the seeds' own values.
    let data = report.curve(results.rows.filter { $0.distribution == results.rows[0].distribution }, x: { Double($0.seqLen) })
    let bf16 = try XCTUnwrap(data.first { $0.series == "bf16" })
    let at16 = results.rows.filter { $0.scheme == "bf16" && $0.seqLen == 16 && $0.distribution == results.rows[0].distribution }
    let perSeed = [2, 3, 4].map { s in SweepReport.geometricMean(at16.filter { $0.seed == UInt64(s) }.map { $0.metrics["rmse"]! }) }
    XCTAssertEqual(bf16.band.first?.lo, perSeed.min())
    XCTAssertEqual(bf16.band.first?.hi, perSeed.max())
    XCTAssertEqual(bf16.seeds, 3)
    // Markers: three series, three shapes, shifted by −4, 0, +4 px.
    XCTAssertEqual(SVGLineChart.dodge(0, of: 3), -4)
    XCTAssertEqual(SVGLineChart.dodge(2, of: 3), 4)
    XCTAssertEqual(report.chartSeries(data).map(\.marker), [0, 1, 2])
    // A heatmap cell is the geometric mean of its points.
    let heat = try XCTUnwrap(figures.first { $0.fileName == "seeds-rmse-heatmap-seqlen-x-mask-sparse-outliers.svg" })
    let cell = results.rows.filter { $0.scheme == "bf16" && $0.seqLen == 16 && !$0.causal }.map { $0.metrics["rmse"]! }
    XCTAssertEqual(cell.count, 6)
    XCTAssertTrue(heat.svg.contains(String(format: ">%.2e</text>", SweepReport.geometricMean(cell))), "cell value")
    XCTAssertTrue(heat.svg.contains(">N=16</text>") && heat.svg.contains(">causal</text>"))
    // Paired comparison: bf16 beats FP8 per head on every point and seed.
    let md = report.markdown(figures: figures)
    XCTAssertTrue(md.contains("## Paired comparison across seeds"), md)
    XCTAssertTrue(md.contains("| bf16 (blocked) | fa3-fp8-per-head (blocked) | 24 | 3 of 3 |"), md)
    // Per distribution: the median of RMSE_bf16 / RMSE_fp8 over that distribution's 12 points, computed here from the rows.
    for d in Set(results.rows.map(\.distribution)) {
      func rmse(_ scheme: String) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: results.rows.filter { $0.scheme == scheme && $0.distribution == d }
          .map { ("\($0.seqLen) \($0.causal) \($0.seed)", $0.metrics["rmse"]!) })
      }
      let a = rmse("bf16"), b = rmse("fa3-fp8-per-head")
      let r = a.keys.map { a[$0]! / b[$0]! }.sorted()
      XCTAssertEqual(r.count, 12)
      let median = (r[5] + r[6]) / 2
      XCTAssertLessThan(median, 1)
      XCTAssertTrue(md.contains(String(format: "%.3f [%.3f, %.3f]", median, r.first!, r.last!)), "\(d): \(md)")
    }
  }

  /// The rotation layout: panels from `BASE+ROTATION` names, paired ratios to `none` per input
  /// seed computed from the rows, cells where rotation hurts listed, the rotation-seed spread.
  func testRotationReport() throws {
    let text = """
      name: rot
      seeds: [0, 1, 2]
      rotation_seeds: [5, 6]
      reference: {kind: fp64}
      distributions: [{kind: sparse-outliers, outlier_std: [10, 100], probability: 0.01}]
      head_dim: 32
      seq_len: [24]
      algorithms: [blocked]
      schemes: [h+none, h+rh, t+none, t+rh]
      define_schemes:
        - {name: h+none, format: e4m3fn, scaling: per-head, plan: fa3-fp8}
        - {name: h+rh, format: e4m3fn, scaling: per-head, rotation: random-hadamard, plan: fa3-fp8}
        - {name: t+none, format: e5m2, scaling: per-tensor, plan: fa3-fp8}
        - {name: t+rh, format: e5m2, scaling: per-tensor, rotation: {kind: random-hadamard, rotate: qkv}, plan: fa3-fp8}
      """
    let e = try Experiment.parse(text, file: "rot.yaml")
    // Random rotations run once per rotation seed: 2 distributions × 3 seeds × (1 + 2 + 1 + 2).
    XCTAssertEqual(e.points.count, 36)
    XCTAssertEqual(e.pointCount, 36)
    let results = try Sweep(experiment: e, directory: directory, threads: 2).run()
    XCTAssertEqual(Set(results.rows.map(\.key)).count, 36)
    let report = try RotationReport(results: results, name: "rot")
    let md = report.markdown(figures: report.figures())
    // Per panel, for the one kind with two magnitudes: the RMSE and the paired ratio to no rotation.
    XCTAssertEqual(report.figures().map(\.fileName), ["rot-h-sparse-outliers.svg", "rot-ratio-h-sparse-outliers.svg",
                                                       "rot-t-sparse-outliers.svg", "rot-ratio-t-sparse-outliers.svg"])
    for d in Set(results.rows.map(\.distribution)) {
      // Per input seed: the geometric mean over the two rotation seeds, divided by no rotation's value.
      var ratios: [Double] = []
      for seed in UInt64(0)...2 {
        let rotated = results.rows.filter { $0.scheme == "h+rh" && $0.distribution == d && $0.seed == seed }.map { $0.metrics["rmse"]! }
        let plain = results.rows.first { $0.scheme == "h+none" && $0.distribution == d && $0.seed == seed }!.metrics["rmse"]!
        XCTAssertEqual(rotated.count, 2)
        ratios.append((rotated[0] * rotated[1]).squareRoot() / plain)
      }
      ratios.sort()
      let cell = String(format: "%.3g [%.3g, %.3g]", ratios[1], ratios[0], ratios[2])
      XCTAssertTrue(md.contains("| h | rh |") && md.contains(cell), "\(d): \(cell) not in \(md)")
      XCTAssertEqual(md.contains("- h + rh, \(d): \(cell)"), ratios[1] > 1.05, "listed under where rotation hurts exactly when above 1.05")
    }
    XCTAssertTrue(md.contains("| rh | "), md)
    XCTAssertTrue(md.contains("## Overview") && md.contains("of 2 |"), md)
    XCTAssertTrue(md.contains("| none | — (not random) |"), md)
    // Names that do not follow BASE+ROTATION, or a panel without `none`, are refused.
    var bad = results
    bad.rows = bad.rows.filter { $0.scheme != "t+none" }
    XCTAssertThrowsError(try RotationReport(results: bad, name: "x")) { XCTAssertTrue("\($0)".contains("panel 't'"), "\($0)") }
  }

  func testLogAxisTicksArePowersOfTen() {
    let chart = SVGLineChart(title: "t", xLabel: "x", yLabel: "y", xScale: .log2, yScale: .log10,
                             series: [.init(label: "a", points: [(128, 2e-4), (1024, 3e-2)])])
    let svg = chart.svg()
    for label in ["128", "256", "512", "1024"] { XCTAssertTrue(svg.contains(">\(label)</text>"), label) }
    for k in [-4, -3, -2, -1] { XCTAssertTrue(svg.contains(">\(k)</tspan>"), "10^\(k)") }
    XCTAssertEqual(SVGLineChart.scale(for: [1e-4, 2e-2]), .log10)
    XCTAssertEqual(SVGLineChart.scale(for: [1, 5]), .linear)
  }
}
