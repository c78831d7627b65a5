import Experiments
import Measurement
import Foundation
import Diagnostics

/// A report on incoherent processing from a sweep whose schemes are named `BASE+ROTATION`
/// (`e4m3-per-head+random-hadamard-qk`): one panel per BASE (format and scaling), one series per
/// ROTATION, compared with the panel's `none` on the same inputs.
///
/// Aggregation: for each input seed, the geometric mean of the RMSE over the points that share it
/// (rotation seeds, sequence lengths, …); across input seeds the median and the range. Paired
/// ratios divide, per input seed, a rotation's value by `none`'s on the same inputs, so the spread
/// of the inputs cancels; a ratio above 1 means the rotation made the error larger. The
/// rotation-seed spread is, per point of the grid, the RMSE's range over rotation seeds divided
/// by its median, then the median over points.
public struct RotationReport: Sendable {
  public var results: SweepResults
  public var name: String
  /// The variant every other is compared with.
  public static let baseline = "none"

  public init(results: SweepResults, name: String) throws(ReportError) {
    self.results = results
    self.name = name
    if let bad = results.rows.first(where: { !$0.scheme.contains("+") }) {
      throw ReportError("scheme '\(bad.scheme)' is not named BASE+ROTATION (the rotation report needs every scheme named so)")
    }
    for panel in panels where !variants.contains(Self.baseline) || !rows.contains(where: { Self.split($0.scheme) == (panel, Self.baseline) }) {
      throw ReportError("panel '\(panel)' has no scheme '\(panel)+\(Self.baseline)' to compare with")
    }
  }

  var rows: [SweepRow] { results.rows }

  static func split(_ scheme: String) -> (String, String) {
    let parts = scheme.split(separator: "+", maxSplits: 1)
    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
  }

  static func unique(_ v: [String]) -> [String] {
    var seen: [String] = []
    for x in v where !seen.contains(x) { seen.append(x) }
    return seen
  }

  var panels: [String] { Self.unique(rows.map { Self.split($0.scheme).0 }) }
  var variants: [String] { Self.unique(rows.map { Self.split($0.scheme).1 }) }

  /// Per input seed, the geometric-mean RMSE of `panel+variant` on `distribution`.
  func perSeed(_ panel: String, _ variant: String, _ distribution: String) -> [UInt64: Double] {
    let mine = rows.filter { $0.scheme == "\(panel)+\(variant)" && $0.distribution == distribution }
    return Dictionary(grouping: mine, by: \.seed).mapValues { SweepReport.geometricMean($0.compactMap { $0.metrics["rmse"] }) }
  }

  /// (median, min, max) of `values`; NaNs when empty.
  static func summary(_ values: [Double]) -> (median: Double, min: Double, max: Double) {
    let v = values.filter { !$0.isNaN }
    guard !v.isEmpty else { return (.nan, .nan, .nan) }
    return (v.median, v.min()!, v.max()!)
  }

  /// The paired ratios of `variant` to ``baseline`` per input seed on `distribution`.
  func ratios(_ panel: String, _ variant: String, _ distribution: String) -> [Double] {
    let a = perSeed(panel, variant, distribution), b = perSeed(panel, Self.baseline, distribution)
    return a.keys.sorted().compactMap { s in b[s].map { a[s]! / $0 } }
  }

  static func fmt(_ x: Double) -> String { x.isFinite ? String(format: "%.3g", x) : "—" }

  /// A median paired ratio above this counts as the rotation hurting (below 1/this, helping):
  /// cells within 5 % of 1 are within the seed-to-seed noise of the smallest outliers.
  static let hurtThreshold = 1.05

  /// Per rotation and distribution: the median, smallest and largest of the panels' median
  /// paired ratios, and how many panels it helps and hurts.
  func overview() -> String {
    let kinds = Self.unique(rows.map(\.distributionKind))
    let names: [String] = kinds.flatMap { (k: String) -> [String] in self.distributions(kind: k).map { $0.name } }
    var s = "| rotation |" + names.map { " \($0) |" }.joined()
    s += "\n|---|" + String(repeating: "---|", count: names.count) + "\n"
    for v in variants where v != Self.baseline {
      s += "| \(v) |"
      for d in names {
        let medians = panels.map { Self.summary(ratios($0, v, d)).median }.filter { !$0.isNaN }
        let sum = Self.summary(medians)
        let helps = medians.filter { $0 < 1 / Self.hurtThreshold }.count, hurts = medians.filter { $0 > Self.hurtThreshold }.count
        s += " \(Self.fmt(sum.median)) [\(Self.fmt(sum.min)), \(Self.fmt(sum.max))]; helps \(helps), hurts \(hurts) of \(medians.count) |"
      }
      s += "\n"
    }
    return s
  }

  /// Distributions of one kind, by magnitude.
  func distributions(kind: String) -> [(name: String, magnitude: Double)] {
    var seen: [(String, Double)] = []
    for r in rows where r.distributionKind == kind && !seen.contains(where: { $0.0 == r.distribution }) {
      seen.append((r.distribution, r.outlierMagnitude))
    }
    return seen.sorted { $0.1 < $1.1 }
  }

  /// The rotation-seed spread of `variant` (over every panel, distribution and input seed), or nil.
  func rotationSeedSpread(_ variant: String) -> Double? {
    let mine = rows.filter { Self.split($0.scheme).1 == variant && $0.rotationSeed != nil }
    guard !mine.isEmpty else { return nil }
    let groups = Dictionary(grouping: mine) { "\($0.scheme)|\($0.distribution)|\($0.seed)|\($0.seqLen)|\($0.headDim)|\($0.mask)" }
    let spreads = groups.values.compactMap { g -> Double? in
      let v = g.compactMap { $0.metrics["rmse"] }
      guard v.count > 1 else { return nil }
      return (v.max()! - v.min()!) / v.median
    }
    return spreads.isEmpty ? nil : spreads.median
  }

  /// Figures: per distribution kind with several magnitudes and per panel, RMSE against the
  /// magnitude, one series per rotation, a band over input seeds.
  public func figures() -> [SweepReport.Figure] {
    var out: [SweepReport.Figure] = []
    let unit = ["sparse-outliers": "outlier standard deviation", "channel-outliers": "channel factor (×)",
                "attention-sinks": "sink score added (scaled-score units)"]
    for kind in Self.unique(rows.map(\.distributionKind)) {
      let ds = distributions(kind: kind)
      guard ds.count > 1 else { continue }
      for panel in panels {
        let series = variants.enumerated().map { i, v in
          var points: [(x: Double, y: Double)] = [], band: [(x: Double, lo: Double, hi: Double)] = []
          for d in ds {
            let s = Self.summary(Array(perSeed(panel, v, d.name).values))
            points.append((d.magnitude, s.median))
            band.append((d.magnitude, s.min, s.max))
          }
          return SVGLineChart.Series(label: v, points: points, dashed: v.hasSuffix("-qkv"), color: i, marker: i, band: band)
        }
        let ys = series.flatMap { $0.points.map(\.y) }, xs = ds.map(\.magnitude)
        let chart = SVGLineChart(title: "\(panel): RMSE vs outlier magnitude — \(kind)", xLabel: unit[kind] ?? "magnitude",
                                 yLabel: "RMSE vs reference (output units)", xScale: SVGLineChart.scale(for: xs),
                                 yScale: SVGLineChart.scale(for: ys) == .log10 ? .log10 : .linear, series: series)
        out.append(SweepReport.Figure(
          fileName: "\(name)-\(SweepReport.slug(panel))-\(SweepReport.slug(kind)).svg", svg: chart.svg(),
          caption: "\(panel), \(kind) inputs: RMSE against the outlier magnitude per rotation (dashed: V rotated too); marker: the "
            + "median over input seeds of each seed's geometric mean; band: the smallest to the largest seed."))
        // The same comparison paired per input seed: the inputs' spread cancels.
        let paired = variants.enumerated().map { i, v in
          var points: [(x: Double, y: Double)] = [], band: [(x: Double, lo: Double, hi: Double)] = []
          for d in ds {
            let r = v == Self.baseline ? [1.0] : ratios(panel, v, d.name)
            let sum = Self.summary(r)
            points.append((d.magnitude, sum.median))
            band.append((d.magnitude, sum.min, sum.max))
          }
          return SVGLineChart.Series(label: v == Self.baseline ? "\(v) (= 1)" : v, points: points, dashed: v.hasSuffix("-qkv"),
                                     color: i, marker: i, band: v == Self.baseline ? [] : band)
        }
        let ratioChart = SVGLineChart(title: "\(panel): RMSE ÷ no rotation's, paired — \(kind)", xLabel: unit[kind] ?? "magnitude",
                                      yLabel: "RMSE ÷ RMSE without rotation (same inputs)", xScale: SVGLineChart.scale(for: xs),
                                      yScale: .log10, series: paired)
        out.append(SweepReport.Figure(
          fileName: "\(name)-ratio-\(SweepReport.slug(panel))-\(SweepReport.slug(kind)).svg", svg: ratioChart.svg(),
          caption: "\(panel), \(kind) inputs: each rotation's RMSE divided by no rotation's on the same inputs (below 1 the rotation "
            + "helps); marker: the median over input seeds; band: the smallest to the largest seed."))
      }
    }
    return out
  }

  /// The Markdown report.
  public func markdown(figures: [SweepReport.Figure]) -> String {
    let p = { (k: String) in results.provenance(k) ?? "—" }
    let inputSeeds = Set(rows.map(\.seed)).count, rotationSeeds = Set(rows.compactMap(\.rotationSeed)).count
    var s = "# Incoherent processing: when rotation helps FP8 attention, and when it hurts\n\n"
    if let d = results.provenance("experiment_description"), !d.isEmpty { s += "\(d)\n\n" }
    s += "Points: \(rows.count). Input seeds: \(inputSeeds); rotation seeds (random rotations only, drawn apart from the inputs): "
    s += "\(rotationSeeds). Reference: \(p("reference")). Tool \(p("tool_version")), commit \(p("git_commit"))"
    s += " (tracked files modified: \(p("git_dirty"))); experiment file \(p("experiment_file")) (sha256 \(p("experiment_file_sha256"))).\n\n"
    s += "Panels are schemes named `BASE+ROTATION`: BASE is the storage format and scaling, ROTATION one of "
    s += variants.map { "`\($0)`" }.joined(separator: ", ") + ". Every number below is a median over input seeds of each seed's "
    s += "geometric-mean RMSE (over rotation seeds and any other axis), with the range over input seeds in brackets. Paired "
    s += "ratios divide, per input seed, a rotation's RMSE by `\(Self.baseline)`'s on the same inputs: below 1 the rotation helps, above 1 it hurts.\n\n"

    s += "## Overview\n\nPer rotation and distribution, over the \(panels.count) panels (formats and scalings): the median "
    s += "[smallest, largest] of the panels' median paired ratios to no rotation, and in how many panels the rotation helps "
    s += "(median below \(Self.fmt(1 / Self.hurtThreshold))) or hurts (above \(Self.hurtThreshold)).\n\n" + overview() + "\n"
    s += "## Paired ratio to no rotation\n\n"
    var hurts: [String] = []
    for kind in Self.unique(rows.map(\.distributionKind)) {
      let ds = distributions(kind: kind)
      s += "### \(kind)\n\n| panel | rotation |" + ds.map { " \(kind == "sparse-outliers" ? "std" : "magnitude") \(SVGLineChart.number($0.magnitude)) |" }.joined() + "\n"
      s += "|---|---|" + String(repeating: "---|", count: ds.count) + "\n"
      for panel in panels { for v in variants where v != Self.baseline {
        s += "| \(panel) | \(v) |"
        for d in ds {
          let r = ratios(panel, v, d.name), sum = Self.summary(r)
          s += " \(Self.fmt(sum.median)) [\(Self.fmt(sum.min)), \(Self.fmt(sum.max))] |"
          if sum.median > Self.hurtThreshold { hurts.append("\(panel) + \(v), \(d.name): \(Self.fmt(sum.median)) [\(Self.fmt(sum.min)), \(Self.fmt(sum.max))], worse on \(r.filter { $0 > 1 }.count) of \(r.count) input seeds") }
        }
        s += "\n"
      } }
      s += "\n"
    }
    s += "## Where rotation hurts\n\nEvery cell above whose median paired ratio exceeds \(Self.hurtThreshold) (\(hurts.count) of them):\n\n"
    s += hurts.isEmpty ? "None.\n\n" : hurts.map { "- \($0)" }.joined(separator: "\n") + "\n\n"

    s += "## RMSE\n\n"
    for kind in Self.unique(rows.map(\.distributionKind)) {
      let ds = distributions(kind: kind)
      s += "### \(kind)\n\n| panel | rotation |" + ds.map { " \(SVGLineChart.number($0.magnitude)) |" }.joined() + "\n"
      s += "|---|---|" + String(repeating: "---|", count: ds.count) + "\n"
      for panel in panels { for v in variants {
        s += "| \(panel) | \(v) |"
        for d in ds {
          let sum = Self.summary(Array(perSeed(panel, v, d.name).values))
          s += " \(SweepReport.sci(sum.median)) [\(SweepReport.sci(sum.min)), \(SweepReport.sci(sum.max))] |"
        }
        s += "\n"
      } }
      s += "\n"
    }
    s += "## Rotation-seed spread\n\nPer grid point, the RMSE's range over rotation seeds divided by its median; the median over points.\n\n"
    s += "| rotation | spread |\n|---|---|\n"
    for v in variants { s += "| \(v) | \(rotationSeedSpread(v).map { String(format: "%.1f %%", 100 * $0) } ?? "— (not random)") |\n" }
    if !figures.isEmpty {
      s += "\n## Figures\n\n"
      for f in figures { s += "![\(f.caption)](\(f.fileName))\n\n*\(f.caption)*\n\n" }
    }
    return s
  }
}

/// A results file the report cannot be made from; `description` is one line.
public struct ReportError: FlashNumericsError {
  public let description: String
  public init(_ description: String) { self.description = description }
}
