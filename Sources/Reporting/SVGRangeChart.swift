import Foundation

/// A dot-and-range chart as a standalone SVG document: one column per category (labelled below,
/// numbered), per category a vertical line over a range, a filled dot at its median and, when
/// given, a hollow diamond at a second value (a published number, say). The y axis is
/// logarithmic (base 10) or linear; values that cannot be drawn on it are left out.
public struct SVGRangeChart: Sendable {
  public struct Column: Sendable {
    public var label: String
    public var median: Double
    public var low: Double
    public var high: Double
    /// A second value drawn as a hollow diamond (`nil`: none).
    public var other: Double?
    public init(label: String, median: Double, low: Double, high: Double, other: Double? = nil) {
      self.label = label
      self.median = median
      self.low = low
      self.high = high
      self.other = other
    }
  }

  public var title: String
  public var yLabel: String
  /// What the filled dot and range are, and what the diamond is (legend).
  public var rangeLabel: String
  public var otherLabel: String
  public var logScale: Bool
  public var columns: [Column]

  public init(title: String, yLabel: String, rangeLabel: String, otherLabel: String, logScale: Bool, columns: [Column]) {
    self.title = title
    self.yLabel = yLabel
    self.rangeLabel = rangeLabel
    self.otherLabel = otherLabel
    self.logScale = logScale
    self.columns = columns
  }

  /// The SVG document.
  public func svg(columnWidth: Double = 90, plotHeight: Double = 300) -> String {
    let axis = SVGLineChart(title: "", xLabel: "", yLabel: "", xScale: .linear, yScale: logScale ? .log10 : .linear, series: [])
    let scale: SVGLineChart.Scale = logScale ? .log10 : .linear
    let values = columns.flatMap { [$0.median, $0.low, $0.high] + ($0.other.map { [$0] } ?? []) }
      .filter { axis.plottable($0, scale) }
    let lo = values.min() ?? 1, hi = values.max() ?? 1
    let ticks = axis.ticks(lo, hi, scale)
    let t = { (v: Double) in axis.transform(v, scale) ?? 0 }
    let bottomValue = min(t(lo), ticks.map { t($0.0) }.min() ?? t(lo)), topValue = max(t(hi), ticks.map { t($0.0) }.max() ?? t(hi))
    let span = topValue - bottomValue > 0 ? topValue - bottomValue : 1
    let left = 78.0, top = 40.0, bottom = 150.0, right = 24.0
    let width = left + columnWidth * Double(columns.count) + right, height = top + plotHeight + bottom
    func y(_ v: Double) -> Double { top + plotHeight * (1 - (t(v) - bottomValue) / span) }
    func f(_ x: Double) -> String { String(format: "%.1f", x) }
    var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s += "<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(SVGLineChart.escape(title))</text>\n"
    s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>\n"
    for (v, label, major) in ticks where axis.plottable(v, scale) {
      let yy = y(v)
      s += "<line x1=\"\(f(left - (major ? 6 : 3)))\" y1=\"\(f(yy))\" x2=\"\(f(left + columnWidth * Double(columns.count)))\" y2=\"\(f(yy))\" stroke=\"\(major ? "#ddd" : "#f2f2f2")\"/>\n"
      if major { s += "<text x=\"\(f(left - 9))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(SVGLineChart.label(label))</text>\n" }
    }
    s += "<text transform=\"translate(18,\(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(SVGLineChart.escape(yLabel))</text>\n"
    for (i, c) in columns.enumerated() {
      let x = left + columnWidth * (Double(i) + 0.5)
      if axis.plottable(c.low, scale) && axis.plottable(c.high, scale) {
        s += "<line x1=\"\(f(x))\" y1=\"\(f(y(c.low)))\" x2=\"\(f(x))\" y2=\"\(f(y(c.high)))\" stroke=\"#1f77b4\" stroke-width=\"3\"/>\n"
      }
      if axis.plottable(c.median, scale) { s += "<circle cx=\"\(f(x))\" cy=\"\(f(y(c.median)))\" r=\"5\" fill=\"#1f77b4\"/>\n" }
      if let o = c.other, axis.plottable(o, scale) {
        let yy = y(o)
        s += "<path d=\"M \(f(x + 14)) \(f(yy - 6)) L \(f(x + 20)) \(f(yy)) L \(f(x + 14)) \(f(yy + 6)) L \(f(x + 8)) \(f(yy)) Z\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n"
      }
      s += "<text transform=\"translate(\(f(x + 4)),\(f(top + plotHeight + 10))) rotate(40)\" text-anchor=\"start\">\(i + 1). \(SVGLineChart.escape(c.label))</text>\n"
    }
    let legendY = height - 14
    s += "<circle cx=\"\(f(left))\" cy=\"\(f(legendY - 4))\" r=\"5\" fill=\"#1f77b4\"/><text x=\"\(f(left + 10))\" y=\"\(f(legendY))\">\(SVGLineChart.escape(rangeLabel))</text>\n"
    if columns.contains(where: { $0.other != nil }) {
      let x = left + 7.2 * Double(rangeLabel.count) + 40
      s += "<path d=\"M \(f(x)) \(f(legendY - 10)) L \(f(x + 6)) \(f(legendY - 4)) L \(f(x)) \(f(legendY + 2)) L \(f(x - 6)) \(f(legendY - 4)) Z\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>"
      s += "<text x=\"\(f(x + 12))\" y=\"\(f(legendY))\">\(SVGLineChart.escape(otherLabel))</text>\n"
    }
    return s + "</svg>\n"
  }
}
