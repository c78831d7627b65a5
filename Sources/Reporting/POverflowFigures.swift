import Experiments
import Measurement

extension POverflowTable {
  /// The report's figures: the ratio e4m3 / e5m2 (median over seeds, band from the smallest to
  /// the largest seed) against σ at the largest N, and against N mod Bc at σ = 1; one series per
  /// variant, log y axis.
  public func figures() -> [SweepReport.Figure] {
    func series(_ rows: [Row], x: (Row) -> Double) -> [SVGLineChart.Series] {
      configuration.variants.enumerated().map { i, v in
        let mine = rows.filter { $0.variant == v }.sorted { x($0) < x($1) }
        return SVGLineChart.Series(
          label: v.name, points: mine.map { (x($0), $0.ratios.median) }, color: i, marker: i,
          band: mine.map { (x($0), $0.ratios.min() ?? .nan, $0.ratios.max() ?? .nan) })
      }
    }
    let largest = configuration.seqLens.max() ?? 0
    let sizes = rows.filter { $0.cell.section == .sizes && $0.cell.seqLen == largest }
    let residues = rows.filter { $0.cell.section == .residue }
    var out: [SweepReport.Figure] = []
    if !sizes.isEmpty {
      let chart = SVGLineChart(title: "e4m3 P / e5m2 P against the logits' spread, N = \(largest)", xLabel: "σ of the logits",
                               yLabel: "relative L2 error, e4m3 P ÷ e5m2 P", xScale: .linear, yScale: .log10,
                               series: series(sizes) { $0.cell.logitStd })
      out.append(SweepReport.Figure(fileName: "fp8-p-overflow-sigma.svg", svg: chart.svg(),
                                    caption: "The error of O with e4m3 P over that with e5m2 P against σ at N = \(largest), per variant: the median over seeds, the band from the smallest to the largest seed; above 1 e4m3 is worse."))
    }
    if residues.count > configuration.variants.count {
      let chart = SVGLineChart(title: "e4m3 P / e5m2 P against N mod Bc (Bc = \(blockColumns)), σ = 1",
                               xLabel: "keys in the first key block visited (N mod Bc; 0: a full block)",
                               yLabel: "relative L2 error, e4m3 P ÷ e5m2 P", xScale: .linear, yScale: .log10,
                               series: series(residues) { Double($0.cell.seqLen % blockColumns) })
      out.append(SweepReport.Figure(fileName: "fp8-p-overflow-residue.svg", svg: chart.svg(),
                                    caption: "The same ratio against the number of keys in the first key block the kernel visits, at σ = 1: the median over seeds and the band from the smallest to the largest seed."))
    }
    return out
  }
}
