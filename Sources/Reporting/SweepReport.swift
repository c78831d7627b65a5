import Experiments
import Foundation

/// A Markdown report of sweep results: a summary table per scheme, RMSE tables against
/// sequence length and outlier magnitude, and SVG figures of the same.
///
/// Aggregation: where a table cell or a figure marker stands for several points (seeds, head
/// dims, masks, …), it shows their geometric mean (errors span decades; the geometric mean is
/// the mean of log-errors), and the text says over what. Medians and worst cases in the summary
/// are over all of a scheme's points.
public struct SweepReport: Sendable {
  public var results: SweepResults
  /// The report's name: files are `NAME.md` and `NAME-*.svg`.
  public var name: String

  public init(results: SweepResults, name: String) {
    self.results = results
    self.name = name
  }

  /// A figure: file name, SVG text, caption.
  public struct Figure: Sendable {
    public var fileName: String
    public var svg: String
    public var caption: String
  }

  var rows: [SweepRow] { results.rows }

  var multipleAlgorithms: Bool { Set(rows.map(\.algorithm)).count > 1 }

  /// The series a row belongs to: the scheme, with the algorithm when there are several.
  func seriesName(_ r: SweepRow) -> String { multipleAlgorithms ? "\(r.scheme) (\(r.algorithm))" : r.scheme }

  /// Series in first-appearance order.
  var seriesNames: [String] {
    var seen: [String] = []
    for r in rows where !seen.contains(seriesName(r)) { seen.append(seriesName(r)) }
    return seen
  }

  static func geometricMean(_ v: [Double]) -> Double {
    let positive = v.filter { $0 > 0 && $0.isFinite }
    guard positive.count == v.count, !v.isEmpty else { return v.contains(0) ? 0 : .nan }
    return Foundation.exp(positive.reduce(0) { $0 + Foundation.log($1) } / Double(positive.count))
  }

  static func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }

  static func sci(_ x: Double) -> String { x.isFinite ? String(format: "%.3e", x) : (x.isNaN ? "—" : "∞") }

  /// The axes other than `axis` that vary among `rows`, for captions.
  func varyingAxes(except axis: String, _ rows: [SweepRow]) -> [String] {
    var out: [String] = []
    func check(_ name: String, _ values: [String]) { if name != axis && Set(values).count > 1 { out.append(name) } }
    check("seeds", rows.map { "\($0.seed)" })
    check("sequence lengths", rows.map { "\($0.seqLen)" })
    check("head dims", rows.map { "\($0.headDim)" })
    check("masks", rows.map { $0.causal ? "c" : "n" })
    check("batch sizes", rows.map { "\($0.batch)" })
    check("head counts", rows.map { "\($0.heads)" })
    check("distributions", rows.map(\.distribution))
    return out
  }

  /// Geometric-mean RMSE per (series, x) over `rows`.
  func curve(_ rows: [SweepRow], x: (SweepRow) -> Double) -> [(series: String, points: [(x: Double, y: Double)])] {
    seriesNames.compactMap { name in
      let mine = rows.filter { seriesName($0) == name }
      guard !mine.isEmpty else { return nil }
      let xs = Array(Set(mine.map(x))).sorted()
      return (name, xs.map { v in (v, Self.geometricMean(mine.filter { x($0) == v }.compactMap { $0.metrics["rmse"] })) })
    }
  }

  /// The chart series of a curve: colour per scheme, marker per algorithm, dashed when Q and K
  /// are Hadamard-rotated.
  func chartSeries(_ data: [(series: String, points: [(x: Double, y: Double)])]) -> [SVGLineChart.Series] {
    let schemes = orderedUnique(rows.map(\.scheme)), algorithms = orderedUnique(rows.map(\.algorithm))
    return data.map { d in
      let r = rows.first { seriesName($0) == d.series }!
      return SVGLineChart.Series(label: d.series, points: d.points, dashed: r.incoherentProcessing,
                                 color: schemes.firstIndex(of: r.scheme), marker: algorithms.firstIndex(of: r.algorithm) ?? 0)
    }
  }

  /// The groups a figure is split by: one per distribution kind (and per distribution for the
  /// sequence-length figures), so unlike inputs are never averaged together.
  public func figures() -> [Figure] {
    guard results.metrics.contains("rmse") else { return [] }
    var out: [Figure] = []
    let distributions = orderedUnique(rows.map(\.distribution))
    if Set(rows.map(\.seqLen)).count > 1 {
      for (i, d) in distributions.enumerated() {
        let mine = rows.filter { $0.distribution == d }
        let data = curve(mine, x: { Double($0.seqLen) })
        let series = chartSeries(data)
        let ys = data.flatMap { $0.points.map(\.y) }
        let chart = SVGLineChart(title: "RMSE vs sequence length — \(d)", xLabel: "sequence length N (tokens, log scale)",
                                 yLabel: "RMSE vs reference (output units)", xScale: .log2,
                                 yScale: SVGLineChart.scale(for: ys) == .log10 ? .log10 : .linear, series: series)
        let over = varyingAxes(except: "sequence lengths", mine)
        out.append(Figure(fileName: "\(name)-rmse-vs-seqlen\(distributions.count > 1 ? "-\(i + 1)" : "").svg", svg: chart.svg(),
                          caption: "RMSE against sequence length, inputs \(d)"
                            + (over.isEmpty ? "" : "; each marker is the geometric mean over \(over.joined(separator: ", "))")
                            + ". Colour: scheme; marker: algorithm; dashed: Q and K Hadamard-rotated (incoherent processing)."))
      }
    }
    for kind in orderedUnique(rows.map(\.distributionKind)) where kind != "gaussian" {
      let mine = rows.filter { $0.distributionKind == kind }
      guard Set(mine.map(\.outlierMagnitude)).count > 1 else { continue }
      let data = curve(mine, x: { $0.outlierMagnitude })
      let series = chartSeries(data)
      let xs = data.flatMap { $0.points.map(\.x) }, ys = data.flatMap { $0.points.map(\.y) }
      let unit = ["fa3-outliers": "outlier standard deviation", "channel-outliers": "channel factor (×)",
                  "attention-sinks": "sink score added (scaled-score units)"][kind] ?? "magnitude"
      let xScale = SVGLineChart.scale(for: xs)
      let chart = SVGLineChart(title: "RMSE vs outlier magnitude — \(kind)", xLabel: "\(unit)\(xScale == .log10 ? ", log scale" : "")",
                               yLabel: "RMSE vs reference (output units)", xScale: xScale,
                               yScale: SVGLineChart.scale(for: ys) == .log10 ? .log10 : .linear, series: series)
      let over = varyingAxes(except: "distributions", mine)
      out.append(Figure(fileName: "\(name)-rmse-vs-outliers-\(kind).svg", svg: chart.svg(),
                        caption: "RMSE against the outlier magnitude of \(kind) inputs"
                          + (over.isEmpty ? "" : "; each marker is the geometric mean over \(over.joined(separator: ", "))")
                          + ". Colour: scheme; marker: algorithm; dashed: Q and K Hadamard-rotated (incoherent processing)."))
    }
    return out
  }

  func orderedUnique(_ v: [String]) -> [String] {
    var seen: [String] = []
    for x in v where !seen.contains(x) { seen.append(x) }
    return seen
  }

  /// The Markdown report; figures are referenced by file name (same directory).
  public func markdown(figures: [Figure]) -> String {
    let p = { (k: String) in results.provenance(k) ?? "—" }
    var s = "# Experiment \(p("experiment_name"))\n\n"
    if let d = results.provenance("experiment_description"), !d.isEmpty { s += "\(d)\n\n" }
    s += "Points: \(rows.count) of \(p("grid_points")) in the grid. Reference: \(p("reference")) (MPFR: working precision in bits). "
    s += "Tool \(p("tool_version")), commit \(p("git_commit")); machine: \(p("machine_cpu")), \(p("machine_cores")) cores. "
    s += "Experiment fingerprint \(p("experiment_fingerprint")).\n\n"
    if let hosts = results.provenance("merged_hosts"), let tasks = results.provenance("merged_tasks") {
      s += "Merged: \(tasks) on \(hosts) hosts.\n\n"
    }
    s += "Metrics (`ErrorMetrics`): RMSE, max abs in output units; relative Frobenius ‖o − r‖/‖r‖; SQNR in dB; "
    s += "ULP in units in the last place of the scheme's output format.\n\n"

    // Summary.
    s += "## Summary per scheme\n\n"
    let m = results.metrics
    var header = "| scheme | algorithm | points |"
    var rule = "|---|---|---|"
    let summaryColumns: [(String, String, ([Double]) -> Double)] = [
      ("rmse", "RMSE median", Self.median), ("rmse", "RMSE max", { $0.max() ?? .nan }),
      ("relative_frobenius", "rel. Frobenius median", Self.median), ("max_abs", "max abs (worst)", { $0.max() ?? .nan }),
      ("sqnr_db", "SQNR median (dB)", Self.median), ("cosine", "cosine (worst)", { $0.min() ?? .nan }),
      ("max_ulp", "max ULP (worst)", { $0.max() ?? .nan }), ("mean_ulp", "mean ULP median", Self.median),
    ].filter { m.contains($0.0) }
    for c in summaryColumns { header += " \(c.1) |"; rule += "---|" }
    s += header + "\n" + rule + "\n"
    for (scheme, algorithm) in orderedPairs() {
      let mine = rows.filter { $0.scheme == scheme && $0.algorithm == algorithm }
      var line = "| \(scheme) | \(algorithm) | \(mine.count) |"
      for c in summaryColumns {
        let v = c.2(mine.compactMap { $0.metrics[c.0] })
        line += " " + (c.0 == "sqnr_db" ? (v.isFinite ? String(format: "%.1f", v) : Self.sci(v))
                      : c.0 == "cosine" ? String(format: "%.6f", v) : Self.sci(v)) + " |"
      }
      s += line + "\n"
    }

    // RMSE pivots.
    if m.contains("rmse") {
      if Set(rows.map(\.seqLen)).count > 1 {
        for d in orderedUnique(rows.map(\.distribution)) {
          let mine = rows.filter { $0.distribution == d }
          s += "\n## RMSE vs sequence length — \(d)\n\n"
          s += pivot(mine, columns: Array(Set(mine.map(\.seqLen))).sorted().map(Double.init), label: { "N=\(Int($0))" },
                     x: { Double($0.seqLen) })
          let over = varyingAxes(except: "sequence lengths", mine)
          if !over.isEmpty { s += "\nGeometric mean over \(over.joined(separator: ", ")).\n" }
        }
      }
      for kind in orderedUnique(rows.map(\.distributionKind)) where kind != "gaussian" {
        let mine = rows.filter { $0.distributionKind == kind }
        guard Set(mine.map(\.outlierMagnitude)).count > 1 else { continue }
        s += "\n## RMSE vs outlier magnitude — \(kind)\n\n"
        s += pivot(mine, columns: Array(Set(mine.map(\.outlierMagnitude))).sorted(), label: { SVGLineChart.number($0) },
                   x: { $0.outlierMagnitude })
        let over = varyingAxes(except: "distributions", mine)
        if !over.isEmpty { s += "\nGeometric mean over \(over.joined(separator: ", ")).\n" }
      }
    }
    if !figures.isEmpty {
      s += "\n## Figures\n\n"
      for f in figures { s += "![\(f.caption)](\(f.fileName))\n\n*\(f.caption)*\n\n" }
    }
    return s
  }

  func orderedPairs() -> [(String, String)] {
    var seen: [(String, String)] = []
    for r in rows where !seen.contains(where: { $0 == (r.scheme, r.algorithm) }) { seen.append((r.scheme, r.algorithm)) }
    return seen
  }

  func pivot(_ rows: [SweepRow], columns: [Double], label: (Double) -> String, x: (SweepRow) -> Double) -> String {
    var s = "| scheme | algorithm |" + columns.map { " \(label($0)) |" }.joined() + "\n"
    s += "|---|---|" + String(repeating: "---|", count: columns.count) + "\n"
    for (scheme, algorithm) in orderedPairs() {
      let mine = rows.filter { $0.scheme == scheme && $0.algorithm == algorithm }
      guard !mine.isEmpty else { continue }
      s += "| \(scheme) | \(algorithm) |"
      for c in columns {
        let v = mine.filter { x($0) == c }.compactMap { $0.metrics["rmse"] }
        s += " " + (v.isEmpty ? "—" : Self.sci(Self.geometricMean(v))) + " |"
      }
      s += "\n"
    }
    return s
  }
}
