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
    distributions: [{kind: fa3-outliers, outlier_std: [3, 30], probability: 0.02}]
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
    let figures = report.figures()
    // One RMSE-vs-length figure per distribution, one RMSE-vs-outlier-magnitude figure.
    XCTAssertEqual(figures.count, 3)
    for f in figures {
      XCTAssertTrue(f.svg.hasPrefix("<svg"))
      XCTAssertTrue(f.svg.contains("RMSE vs reference (output units)"))
      for s in ["bf16 (blocked)", "fa3-fp8-per-head-hadamard (fa3)"] { XCTAssertTrue(f.svg.contains(s), "legend lacks \(s)") }
    }
    XCTAssertTrue(figures[0].svg.contains("sequence length N (tokens, log scale)"))
    XCTAssertTrue(figures[2].svg.contains("outlier standard deviation"))
    let md = report.markdown(figures: figures)
    XCTAssertTrue(md.contains("| fa3-fp8-per-head-hadamard | fa3 | 8 |"), md)
    XCTAssertTrue(md.contains("| scheme | algorithm | N=16 | N=32 |"), md)
    XCTAssertTrue(md.contains("![RMSE against sequence length"), md)
    // A table cell is the geometric mean of its points.
    let cell = results.rows.filter { $0.scheme == "bf16" && $0.algorithm == "blocked" && $0.seqLen == 16 && $0.outlierMagnitude == 3 }
    XCTAssertEqual(cell.count, 2)
    let g = (cell[0].metrics["rmse"]! * cell[1].metrics["rmse"]!).squareRoot()
    XCTAssertTrue(md.contains(String(format: "| bf16 | blocked | %.3e |", g)), md)
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
