import Experiments
import Measurement

extension PaperRMSETable {
  /// The table as a figure: per method the median RMSE and its range over every input and
  /// rotation seed, and the paper's RMSE as a diamond, on a log axis.
  public func figure() -> SVGRangeChart {
    SVGRangeChart(
      title: "FA3 Table 3 on the emulator: RMSE over \(configuration.seeds.count) input seeds"
        + (rows.contains { $0.rotationSeedSpread != nil } ? " × \(configuration.rotationSeeds.count) rotation seeds" : ""),
      yLabel: "RMSE (output units)", rangeLabel: "median and range over seeds", otherLabel: "the paper's RMSE", logScale: true,
      columns: rows.map { r in
        SVGRangeChart.Column(label: r.method, median: r.rmse, low: r.rmseRange.min, high: r.rmseRange.max, other: r.paperRMSE)
      })
  }
}
