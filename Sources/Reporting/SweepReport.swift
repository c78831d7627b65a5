import Experiments
import Measurement
import Foundation

/// A Markdown report of sweep results: a summary table per scheme, a paired comparison of the
/// schemes across seeds, RMSE tables against sequence length and outlier magnitude, and SVG
/// figures: RMSE curves with the spread over seeds, and heatmaps of every two-axis grid.
///
/// Aggregation: where a table cell or a figure marker stands for several points (seeds, head
/// dims, masks, …), it shows their geometric mean (errors span decades; the geometric mean is
/// the mean of log-errors), and the text says over what. With several seeds, a curve's band and
/// bars run from the smallest to the largest seed's own geometric mean, and the legend gives the
/// seed count. Medians and worst cases in the summary are over all of a scheme's points. Figure
/// files are named by what they show (`NAME-rmse-vs-seqlen-DISTRIBUTION.svg`,
/// `NAME-rmse-heatmap-AXIS-x-AXIS[-DISTRIBUTION].svg`).
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

  public static func geometricMean(_ v: [Double]) -> Double {
    let positive = v.filter { $0 > 0 && $0.isFinite }
    guard positive.count == v.count, !v.isEmpty else { return v.contains(0) ? 0 : .nan }
    return Foundation.exp(positive.reduce(0) { $0 + Foundation.log($1) } / Double(positive.count))
  }


  static func sci(_ x: Double) -> String { x.isFinite ? String(format: "%.3e", x) : (x.isNaN ? "—" : "∞") }

  /// The axes other than `axis` that vary among `rows`, for captions.
  func varyingAxes(except axis: String, _ rows: [SweepRow]) -> [String] {
    var out: [String] = []
    func check(_ name: String, _ values: [String]) { if name != axis && Set(values).count > 1 { out.append(name) } }
    check("seeds", rows.map { "\($0.seed)" })
    check("sequence lengths", rows.map { "\($0.seqLen)" })
    check("head dims", rows.map { "\($0.headDim)" })
    check("masks", rows.map(\.mask))
    check("batch sizes", rows.map { "\($0.batch)" })
    check("head counts", rows.map { "\($0.heads)" })
    check("distributions", rows.map(\.distribution))
    return out
  }

  /// One curve of a figure: geometric-mean RMSE per x, and per x the smallest and largest of the
  /// seeds' own geometric means (empty with one seed).
  public struct Curve: Sendable {
    public var series: String
    public var points: [(x: Double, y: Double)]
    public var band: [(x: Double, lo: Double, hi: Double)]
    public var seeds: Int
  }

  /// Geometric-mean RMSE per (series, x) over `rows`, with the spread over seeds.
  public func curve(_ rows: [SweepRow], x: (SweepRow) -> Double) -> [Curve] {
    seriesNames.compactMap { name in
      let mine = rows.filter { seriesName($0) == name }
      guard !mine.isEmpty else { return nil }
      let xs = Array(Set(mine.map(x))).sorted()
      let seeds = orderedUnique(mine.map { "\($0.seed)" })
      var points: [(x: Double, y: Double)] = [], band: [(x: Double, lo: Double, hi: Double)] = []
      for v in xs {
        let atX = mine.filter { x($0) == v }
        points.append((v, Self.geometricMean(atX.compactMap { $0.metrics["rmse"] })))
        let perSeed = seeds.map { s in Self.geometricMean(atX.filter { "\($0.seed)" == s }.compactMap { $0.metrics["rmse"] }) }
          .filter { $0.isFinite }
        if seeds.count > 1, let lo = perSeed.min(), let hi = perSeed.max() { band.append((v, lo, hi)) }
      }
      return Curve(series: name, points: points, band: band, seeds: seeds.count)
    }
  }

  /// The chart series of curves: colour per scheme, a marker shape of its own per series, dashed
  /// when Q and K are Hadamard-rotated, the seed spread as a band, the seed count in the label.
  public func chartSeries(_ data: [Curve]) -> [SVGLineChart.Series] {
    let schemes = orderedUnique(rows.map(\.scheme))
    return data.enumerated().map { i, d in
      let r = rows.first { seriesName($0) == d.series }!
      return SVGLineChart.Series(label: d.series + (d.seeds > 1 ? " (\(d.seeds) seeds)" : ""), points: d.points, dashed: r.incoherentProcessing,
                                 color: schemes.firstIndex(of: r.scheme), marker: i, band: d.band)
    }
  }

  /// What a curve figure's caption says of its markers and bands.
  func legendText(_ data: [Curve]) -> String {
    let seeds = data.map(\.seeds).max() ?? 1
    return " Colour: scheme; marker: series (shifted sideways a few pixels each, so coinciding curves stay visible); dashed: Q and K"
      + " Hadamard-rotated (incoherent processing)."
      + (seeds > 1 ? " Band and bars: the smallest to the largest of the \(seeds) seeds' geometric means." : "")
  }

  /// A file-name part from a label: lowercase letters, digits and `-`.
  static func slug(_ s: String) -> String {
    var out = ""
    for c in s.lowercased() {
      if c.isLetter || c.isNumber { out.append(c) } else if c == "." { out.append("p") } else if !out.hasSuffix("-") { out.append("-") }
    }
    while out.hasSuffix("-") { out.removeLast() }
    return out
  }

  /// The groups a figure is split by: one per distribution kind (and per distribution for the
  /// sequence-length figures), so unlike inputs are never averaged together.
  public func figures() -> [Figure] {
    guard results.metrics.contains("rmse") else { return [] }
    var out: [Figure] = []
    let distributions = orderedUnique(rows.map(\.distribution))
    if Set(rows.map(\.seqLen)).count > 1 {
      for d in distributions {
        let mine = rows.filter { $0.distribution == d }
        let data = curve(mine, x: { Double($0.seqLen) })
        let series = chartSeries(data)
        let ys = data.flatMap { $0.points.map(\.y) }
        let chart = SVGLineChart(title: "RMSE vs sequence length — \(d)", xLabel: "sequence length N (tokens, log scale)",
                                 yLabel: "RMSE vs reference (output units)", xScale: .log2,
                                 yScale: SVGLineChart.scale(for: ys) == .log10 ? .log10 : .linear, series: series)
        let over = varyingAxes(except: "sequence lengths", mine)
        out.append(Figure(fileName: "\(name)-rmse-vs-seqlen-\(Self.slug(d)).svg", svg: chart.svg(),
                          caption: "RMSE against sequence length, inputs \(d)"
                            + (over.isEmpty ? "" : "; each marker is the geometric mean over \(over.joined(separator: ", "))")
                            + "." + legendText(data)))
      }
    }
    for kind in orderedUnique(rows.map(\.distributionKind)) where kind != "gaussian" {
      let mine = rows.filter { $0.distributionKind == kind }
      guard Set(mine.map(\.outlierMagnitude)).count > 1 else { continue }
      let data = curve(mine, x: { $0.outlierMagnitude })
      let series = chartSeries(data)
      let xs = data.flatMap { $0.points.map(\.x) }, ys = data.flatMap { $0.points.map(\.y) }
      let unit = ["sparse-outliers": "outlier standard deviation", "channel-outliers": "channel factor (×)",
                  "attention-sinks": "sink score added (scaled-score units)"][kind] ?? "magnitude"
      let xScale = SVGLineChart.scale(for: xs)
      let chart = SVGLineChart(title: "RMSE vs outlier magnitude — \(kind)", xLabel: "\(unit)\(xScale == .log10 ? ", log scale" : "")",
                               yLabel: "RMSE vs reference (output units)", xScale: xScale,
                               yScale: SVGLineChart.scale(for: ys) == .log10 ? .log10 : .linear, series: series)
      let over = varyingAxes(except: "distributions", mine)
      out.append(Figure(fileName: "\(name)-rmse-vs-outliers-\(kind).svg", svg: chart.svg(),
                        caption: "RMSE against the outlier magnitude of \(kind) inputs"
                          + (over.isEmpty ? "" : "; each marker is the geometric mean over \(over.joined(separator: ", "))")
                          + "." + legendText(data)))
    }
    return out + heatmaps()
  }

  /// One axis of the grid: its name, file-name part, a row's value (as a label) and the number
  /// that orders the values.
  struct GridAxis: Sendable {
    var name: String, slug: String
    var value: @Sendable (SweepRow) -> String
    var order: @Sendable (SweepRow) -> Double

    /// The axis's values among `rows`, in order.
    func values(in rows: [SweepRow]) -> [String] {
      var seen: [(String, Double)] = []
      for r in rows where !seen.contains(where: { $0.0 == value(r) }) { seen.append((value(r), order(r))) }
      return seen.sorted { $0.1 < $1.1 }.map(\.0)
    }
  }

  /// The grid's axes: those that vary get heatmaps.
  static let axes = [
    GridAxis(name: "sequence length", slug: "seqlen", value: { "N=\($0.seqLen)" }, order: { Double($0.seqLen) }),
    GridAxis(name: "head dim", slug: "headdim", value: { "d=\($0.headDim)" }, order: { Double($0.headDim) }),
    GridAxis(name: "mask", slug: "mask", value: { $0.mask }, order: { $0.mask == "none" ? 0 : $0.mask == "causal" ? 1 : 2 }),
    GridAxis(name: "heads", slug: "heads", value: { "h=\($0.heads)" }, order: { Double($0.heads) }),
    GridAxis(name: "batch", slug: "batch", value: { "b=\($0.batch)" }, order: { Double($0.batch) }),
    GridAxis(name: "outlier magnitude", slug: "outliers", value: { SVGLineChart.number($0.outlierMagnitude) }, order: { $0.outlierMagnitude }),
  ]

  /// Heatmaps of geometric-mean RMSE over every pair of varying grid axes (at most three pairs),
  /// one panel per series, one figure per distribution kind (the outlier-magnitude axis runs
  /// within a kind).
  func heatmaps() -> [Figure] {
    var out: [Figure] = []
    for kind in orderedUnique(rows.map(\.distributionKind)) {
      let mine = rows.filter { $0.distributionKind == kind }
      let varying = Self.axes.filter { a in Set(mine.map(a.value)).count > 1 }
      var pairs: [(Int, Int)] = []
      for i in varying.indices { for j in varying.indices where j > i { pairs.append((i, j)) } }
      for (i, j) in pairs.prefix(3) {
        let (a, b) = (varying[i], varying[j])
        let rowValues = a.values(in: mine), columnValues = b.values(in: mine)
        let panels = seriesNames.compactMap { name -> SVGHeatmap.Panel? in
          let s = mine.filter { seriesName($0) == name }
          guard !s.isEmpty else { return nil }
          return SVGHeatmap.Panel(title: name, values: rowValues.map { rv in
            columnValues.map { cv in Self.geometricMean(s.filter { a.value($0) == rv && b.value($0) == cv }.compactMap { $0.metrics["rmse"] }) }
          })
        }
        // What a cell averages over: whatever differs among the rows of one cell of one series.
        let cells = Dictionary(grouping: mine) { "\(seriesName($0))|\(a.value($0))|\(b.value($0))" }.values
        func differsInACell(_ f: (SweepRow) -> String) -> Bool { cells.contains { Set($0.map(f)).count > 1 } }
        var over = differsInACell({ "\($0.seed)" }) ? ["seeds"] : []
        over += Self.axes.filter { $0.name != a.name && $0.name != b.name && differsInACell($0.value) }.map { $0.name + "s" }
        if differsInACell(\.distribution) { over.append("distributions") }
        let heatmap = SVGHeatmap(title: "RMSE — \(a.name) × \(b.name), \(kind) inputs", rowLabel: a.name, columnLabel: b.name,
                                 valueLabel: "RMSE", rows: rowValues, columns: columnValues, panels: panels)
        out.append(Figure(fileName: "\(name)-rmse-heatmap-\(a.slug)-x-\(b.slug)-\(Self.slug(kind)).svg", svg: heatmap.svg(),
                          caption: "Geometric-mean RMSE over the \(a.name) × \(b.name) grid, \(kind) inputs, one panel per series"
                            + (over.isEmpty ? "" : " (each cell over \(over.joined(separator: ", ")))")
                            + "; colour on a log scale, the value printed in each cell."))
      }
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
    s += "## Summary per scheme and distribution\n\n"
    s += "Medians and worst cases over each scheme's points of one distribution (distributions, and so outlier magnitudes, are "
    s += "never pooled: their effects can point opposite ways).\n\n"
    let m = results.metrics
    var header = "| scheme | algorithm | distribution | points |"
    var rule = "|---|---|---|---|"
    let summaryColumns: [(String, String, ([Double]) -> Double)] = [
      ("rmse", "RMSE median", { $0.median }), ("rmse", "RMSE max", { $0.max() ?? .nan }),
      ("relative_frobenius", "rel. Frobenius median", { $0.median }), ("max_abs", "max abs (worst)", { $0.max() ?? .nan }),
      ("sqnr_db", "SQNR median (dB)", { $0.median }), ("cosine", "cosine (worst)", { $0.min() ?? .nan }),
      ("max_ulp", "max ULP (worst)", { $0.max() ?? .nan }), ("mean_ulp", "mean ULP median", { $0.median }),
    ].filter { m.contains($0.0) }
    for c in summaryColumns { header += " \(c.1) |"; rule += "---|" }
    s += header + "\n" + rule + "\n"
    for (scheme, algorithm) in orderedPairs() { for distribution in orderedUnique(rows.map(\.distribution)) {
      let mine = rows.filter { $0.scheme == scheme && $0.algorithm == algorithm && $0.distribution == distribution }
      guard !mine.isEmpty else { continue }
      var line = "| \(scheme) | \(algorithm) | \(distribution) | \(mine.count) |"
      for c in summaryColumns {
        let v = c.2(mine.compactMap { $0.metrics[c.0] })
        line += " " + (c.0 == "sqnr_db" ? (v.isFinite ? String(format: "%.1f", v) : Self.sci(v))
                      : c.0 == "cosine" ? String(format: "%.6f", v) : Self.sci(v)) + " |"
      }
      s += line + "\n"
    } }

    if m.contains("rmse") { s += pairedComparison() }

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

  /// Paired comparisons on the points that differ only in the scheme (for each algorithm and
  /// each pair of its schemes — every pair with at most 10 schemes, else each against the
  /// first) or only in the algorithm (for each scheme run by several, each algorithm against
  /// the first): per distribution (outlier magnitudes are never pooled: their effects can point
  /// opposite ways) the median and range of RMSE_A / RMSE_B, and on how many seeds A's
  /// geometric-mean RMSE is lower. Points of one series with several rotation seeds enter as
  /// their geometric mean.
  func pairedComparison() -> String {
    let distributions = orderedUnique(rows.map(\.distribution))
    func config(_ r: SweepRow) -> String { "\(r.seqLen) \(r.headDim) \(r.batch) \(r.heads) \(r.mask) \(r.distribution) \(r.seed) \(r.reference)" }
    // (scheme, algorithm) → configuration → (a row, geometric-mean RMSE over its rotation seeds)
    var series: [String: [String: (row: SweepRow, rmse: Double)]] = [:]
    for (key, group) in Dictionary(grouping: rows, by: { "\($0.scheme)|\($0.algorithm)" }) {
      for (c, points) in Dictionary(grouping: group, by: config) {
        series[key, default: [:]][c] = (points[0], Self.geometricMean(points.compactMap { $0.metrics["rmse"] }))
      }
    }
    func line(_ a: String, _ aAlgorithm: String, _ b: String, _ bAlgorithm: String) -> String? {
      var ratios: [(seed: UInt64, distribution: String, a: Double, b: Double)] = []
      for (c, ra) in series["\(a)|\(aAlgorithm)"] ?? [:] {
        guard let rb = series["\(b)|\(bAlgorithm)"]?[c], ra.rmse > 0, rb.rmse > 0, ra.rmse.isFinite, rb.rmse.isFinite else { continue }
        ratios.append((ra.row.seed, ra.row.distribution, ra.rmse, rb.rmse))
      }
      guard !ratios.isEmpty else { return nil }
      let seeds = orderedUnique(ratios.map { "\($0.seed)" })
      let wins = seeds.filter { s in
        let mine = ratios.filter { "\($0.seed)" == s }
        return Self.geometricMean(mine.map(\.a)) < Self.geometricMean(mine.map(\.b))
      }.count
      var text = "| \(a) (\(aAlgorithm)) | \(b) (\(bAlgorithm)) | \(ratios.count) | \(wins) of \(seeds.count) |"
      for d in distributions {
        let r = ratios.filter { $0.distribution == d }.map { $0.a / $0.b }.sorted()
        text += r.isEmpty ? " — |" : " \(String(format: "%.3f", r.median)) [\(String(format: "%.3f", r.first!)), \(String(format: "%.3f", r.last!))] |"
      }
      return text
    }
    var lines: [String] = []
    let algorithms = orderedUnique(rows.map(\.algorithm))
    for algorithm in algorithms {
      let schemes = orderedUnique(rows.filter { $0.algorithm == algorithm }.map(\.scheme))
      var pairs: [(String, String)] = []
      if schemes.count <= 10 {
        for (i, a) in schemes.enumerated() { for b in schemes[(i + 1)...] { pairs.append((a, b)) } }
      } else { for a in schemes.dropFirst() { pairs.append((a, schemes[0])) } }
      lines += pairs.compactMap { line($0.0, algorithm, $0.1, algorithm) }
    }
    for scheme in orderedUnique(rows.map(\.scheme)) {
      let mine = algorithms.filter { a in rows.contains { $0.scheme == scheme && $0.algorithm == a } }
      for other in mine.dropFirst() { if let l = line(scheme, other, scheme, mine[0]) { lines.append(l) } }
    }
    guard !lines.isEmpty else { return "" }
    return "\n## Paired comparison across seeds\n\n"
      + "Pairs of series on the points where only the scheme, or only the algorithm, differs (same inputs and seed): on how many "
      + "seeds A's geometric-mean RMSE is lower, and per distribution RMSE_A / RMSE_B, median [smallest, largest] over the "
      + "points. A ratio below 1 favours A.\n\n"
      + "| A | B | points | seeds A lower |" + distributions.map { " A/B, \($0) |" }.joined() + "\n"
      + "|---|---|---|---|" + String(repeating: "---|", count: distributions.count) + "\n"
      + lines.joined(separator: "\n") + "\n"
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
