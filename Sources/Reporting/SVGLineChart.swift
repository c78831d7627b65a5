import Foundation

/// A line chart as a standalone SVG document: axes with ticks and labels, optional log scales,
/// one line with markers per series (each with a band, e.g. the spread over seeds), a legend
/// beside the plot. Series are offset sideways by a few pixels each (``dodge``) and their
/// markers are hollow shapes of their own, so curves that coincide stay visible.
///
/// Log axes put ticks at the powers of 10 (or of 2 on a base-2 x axis) inside the data range,
/// with minor ticks at 2…9 × 10^k; points with a non-positive value on a log axis are left
/// out (their series is broken there), as are points with a non-finite coordinate, one of
/// magnitude above 10^300 (``largestPlotted``) or, on a log axis, below 10^-300, so every axis
/// span and tick is finite and every tick loop short.
public struct SVGLineChart: Sendable {
  public struct Series: Sendable {
    public var label: String
    public var points: [(x: Double, y: Double)]
    /// Dashed line (e.g. the Hadamard-rotated variant of a scheme).
    public var dashed: Bool
    /// Index into the colour cycle (`nil`: the series' position).
    public var color: Int?
    /// 0 circle, 1 square, 2 diamond, 3 triangle, 4 inverted triangle, 5 cross, 6 plus,
    /// 7 filled circle (cycles).
    public var marker: Int
    /// A shaded band per x (`lo` … `hi`, data units), drawn behind the line; empty for none.
    public var band: [(x: Double, lo: Double, hi: Double)]
    public init(label: String, points: [(x: Double, y: Double)], dashed: Bool = false, color: Int? = nil, marker: Int = 0,
                band: [(x: Double, lo: Double, hi: Double)] = []) {
      self.label = label
      self.points = points
      self.dashed = dashed
      self.color = color
      self.marker = marker
      self.band = band
    }
  }

  public enum Scale: Sendable { case linear, log10, log2 }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var xScale: Scale
  public var yScale: Scale
  public var series: [Series]

  public init(title: String, xLabel: String, yLabel: String, xScale: Scale, yScale: Scale, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.xScale = xScale
    self.yScale = yScale
    self.series = series
  }

  /// The colour cycle (colour-blind-safe, Okabe–Ito and Tableau).
  static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                        "#8C564B", "#7F7F7F", "#BCBD22", "#9467BD", "#17BECF"]

  /// `.log10` for positive values spanning a factor of 20 or more, else `.linear`.
  public static func scale(for values: [Double]) -> Scale {
    let positive = values.filter { $0 > 0 }
    guard positive.count == values.count, let lo = positive.min(), let hi = positive.max(), lo > 0 else { return .linear }
    return hi / lo >= 20 ? .log10 : .linear
  }

  /// The number of marker shapes.
  public static let markerCount = 8

  /// A marker centred at (x, y): hollow shapes (white fill, coloured outline) but the last.
  static func marker(_ kind: Int, _ x: Double, _ y: Double, _ colour: String) -> String {
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    let open = "fill=\"white\" stroke=\"\(colour)\" stroke-width=\"1.5\""
    let line = "stroke=\"\(colour)\" stroke-width=\"2\""
    switch kind % markerCount {
    case 1: return "<rect x=\"\(f(x - 3.5))\" y=\"\(f(y - 3.5))\" width=\"7\" height=\"7\" \(open)/>\n"
    case 2: return "<polygon points=\"\(f(x)),\(f(y - 5)) \(f(x + 5)),\(f(y)) \(f(x)),\(f(y + 5)) \(f(x - 5)),\(f(y))\" \(open)/>\n"
    case 3: return "<polygon points=\"\(f(x)),\(f(y - 5)) \(f(x + 4.5)),\(f(y + 3.5)) \(f(x - 4.5)),\(f(y + 3.5))\" \(open)/>\n"
    case 4: return "<polygon points=\"\(f(x)),\(f(y + 5)) \(f(x + 4.5)),\(f(y - 3.5)) \(f(x - 4.5)),\(f(y - 3.5))\" \(open)/>\n"
    case 5: return "<path d=\"M\(f(x - 4)),\(f(y - 4))L\(f(x + 4)),\(f(y + 4))M\(f(x - 4)),\(f(y + 4))L\(f(x + 4)),\(f(y - 4))\" \(line)/>\n"
    case 6: return "<path d=\"M\(f(x - 5)),\(f(y))L\(f(x + 5)),\(f(y))M\(f(x)),\(f(y - 5))L\(f(x)),\(f(y + 5))\" \(line)/>\n"
    case 7: return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"3.5\" fill=\"\(colour)\"/>\n"
    default: return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"3.5\" \(open)/>\n"
    }
  }

  /// Pixels series `i` of `n` is moved sideways: spread over at most ±9 px around the true x.
  public static func dodge(_ i: Int, of n: Int) -> Double {
    guard n > 1 else { return 0 }
    let step = min(4, 18 / Double(n - 1))
    return (Double(i) - Double(n - 1) / 2) * step
  }

  /// The largest magnitude a plotted coordinate may have.
  public static let largestPlotted = 1e300

  /// Whether a data coordinate is drawn: finite, of magnitude at most ``largestPlotted``, and
  /// at least 1/``largestPlotted`` on a log axis.
  func plottable(_ v: Double, _ s: Scale) -> Bool {
    v.isFinite && abs(v) <= Self.largestPlotted && (s == .linear || v >= 1 / Self.largestPlotted)
  }

  /// The coordinate on the scale's axis (`nil` for a non-positive value on a log axis).
  func transform(_ v: Double, _ s: Scale) -> Double? {
    switch s {
    case .linear: v
    case .log10: v > 0 ? Foundation.log10(v) : nil
    case .log2: v > 0 ? Foundation.log2(v) : nil
    }
  }

  /// Ticks (value, label, major) covering [lo, hi] (in data units).
  func ticks(_ lo: Double, _ hi: Double, _ s: Scale) -> [(Double, String, Bool)] {
    switch s {
    case .log2:
      let a = Int(Foundation.floor(Foundation.log2(lo) + 1e-9)), b = Int(Foundation.ceil(Foundation.log2(hi) - 1e-9))
      let step = max(1, (b - a + 7) / 8)
      return stride(from: a, through: b, by: step).map { k in
        let v = Foundation.pow(2, Double(k))
        return (v, v >= 1 ? String(format: "%.0f", v) : "2^\(k)", true)
      }
    case .log10:
      let a = Int(Foundation.floor(Foundation.log10(lo) + 1e-9)), b = Int(Foundation.ceil(Foundation.log10(hi) - 1e-9))
      var out: [(Double, String, Bool)] = []
      for k in a...max(a, b) {
        let base = Foundation.pow(10, Double(k))
        out.append((base, Self.power(k), true))
        if b - a <= 4 { for m in 2...9 where Double(m) * base <= Foundation.pow(10, Double(b)) { out.append((Double(m) * base, "", false)) } }
      }
      return out
    case .linear:
      // Ticks are k·step for whole k, counted rather than accumulated: a step below the values'
      // ulp (a span of a few ulps) still ends, and there are at most about 7 of them.
      let span = hi - lo > 0 ? hi - lo : max(abs(hi), 1)
      let raw = span / 5
      let mag = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
      let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
      let first = Foundation.floor(lo / step), last = Foundation.floor(hi / step + 1e-9)
      guard step > 0, step.isFinite, first.isFinite, last.isFinite, last >= first, last - first <= 20 else {
        return [(lo, Self.number(lo), true), (hi, Self.number(hi), true)]
      }
      return (0...Int(last - first)).map { i in ((first + Double(i)) * step, Self.number((first + Double(i)) * step), true) }
    }
  }

  static func power(_ k: Int) -> String {
    (0...3).contains(k) ? "1" + String(repeating: "0", count: k) : "10^\(k)"   // 1, 10, 100, 1000, then 10^k
  }

  static func number(_ v: Double) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 1e-3 && abs(v) < 1e5 {
      var s = String(format: "%.4f", v)
      while s.hasSuffix("0") { s.removeLast() }
      if s.hasSuffix(".") { s.removeLast() }
      return s
    }
    return String(format: "%.1e", v)
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }

  /// `10^k` labels as SVG text with a superscript.
  static func label(_ s: String) -> String {
    guard let r = s.range(of: "^") else { return escape(s) }
    return escape(String(s[..<r.lowerBound])) + "<tspan baseline-shift=\"super\" font-size=\"9\">\(escape(String(s[r.upperBound...])))</tspan>"
  }

  /// The SVG document.
  /// The SVG document: a plot area of `plotWidth` × `height − 96` px, the legend to its right.
  public func svg(plotWidth: Double = 500, height: Double = 440) -> String {
    let legendWidth = 50 + 7.2 * Double(series.map(\.label.count).max() ?? 10)
    let left = 78.0, right = legendWidth + 20, top = 40.0, bottom = 56.0
    let width = left + plotWidth + right
    let pw = width - left - right, ph = height - top - bottom
    let xs = series.flatMap { $0.points.map(\.x) }.filter { plottable($0, xScale) }
    let ys = (series.flatMap { $0.points.map(\.y) } + series.flatMap { $0.band.flatMap { [$0.lo, $0.hi] } }).filter { plottable($0, yScale) }
    var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1)
    var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
    if x0 == x1 { (x0, x1) = xScale == .linear ? (x0 - 1, x1 + 1) : (x0 / 2, x1 * 2) }
    if y0 == y1 { (y0, y1) = yScale == .linear ? (y0 - 1, y1 + 1) : (y0 / 2, y1 * 2) }
    if yScale == .log10 {   // whole decades
      y0 = Foundation.pow(10, Foundation.floor(Foundation.log10(y0)))
      y1 = Foundation.pow(10, Foundation.ceil(Foundation.log10(y1)))
    } else if yScale == .linear {
      let pad = (y1 - y0) * 0.05
      y0 -= pad; y1 += pad
    }
    if xScale == .linear {
      let pad = (x1 - x0) * 0.03
      x0 -= pad; x1 += pad
    } else {
      x0 /= xScale == .log2 ? 1.15 : 1.1; x1 *= xScale == .log2 ? 1.15 : 1.1
    }
    let tx0 = transform(x0, xScale)!, tx1 = transform(x1, xScale)!
    let ty0 = transform(y0, yScale)!, ty1 = transform(y1, yScale)!
    func px(_ x: Double) -> Double { left + (transform(x, xScale)! - tx0) / (tx1 - tx0) * pw }
    func py(_ y: Double) -> Double { top + ph - (transform(y, yScale)! - ty0) / (ty1 - ty0) * ph }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" \
      font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(f(left + pw / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(Self.escape(title))</text>

      """
    // Grid and ticks.
    for (v, text, major) in ticks(x0, x1, xScale) where v >= x0 * (1 - 1e-12) && v <= x1 * (1 + 1e-12) {
      let x = px(v)
      s += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + ph))\" stroke=\"\(major ? "#dddddd" : "#f0f0f0")\"/>\n"
      s += "<line x1=\"\(f(x))\" y1=\"\(f(top + ph))\" x2=\"\(f(x))\" y2=\"\(f(top + ph + (major ? 6 : 3)))\" stroke=\"black\"/>\n"
      if !text.isEmpty { s += "<text x=\"\(f(x))\" y=\"\(f(top + ph + 20))\" text-anchor=\"middle\">\(Self.label(text))</text>\n" }
    }
    for (v, text, major) in ticks(y0, y1, yScale) where v >= y0 * (1 - 1e-12) && v <= y1 * (1 + 1e-12) || (yScale == .linear && v >= y0 && v <= y1) {
      let y = py(v)
      s += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"\(major ? "#dddddd" : "#f0f0f0")\"/>\n"
      s += "<line x1=\"\(f(left - (major ? 6 : 3)))\" y1=\"\(f(y))\" x2=\"\(f(left))\" y2=\"\(f(y))\" stroke=\"black\"/>\n"
      if !text.isEmpty { s += "<text x=\"\(f(left - 9))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.label(text))</text>\n" }
    }
    s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"black\"/>\n"
    s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\" font-size=\"13\">\(Self.escape(xLabel))</text>\n"
    s += "<text transform=\"translate(18 \(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">\(Self.escape(yLabel))</text>\n"
    // Bands first (behind every line), then the series.
    for (i, series) in series.enumerated() where !series.band.isEmpty {
      let colour = Self.palette[(series.color ?? i) % Self.palette.count]
      let shift = Self.dodge(i, of: self.series.count)
      let band = series.band.sorted { $0.x < $1.x }.filter { plottable($0.x, xScale) && plottable($0.lo, yScale) && plottable($0.hi, yScale) }
      guard band.count > 1 else { continue }
      let upper = band.map { "\(f(px($0.x) + shift)),\(f(py($0.hi)))" }, lower = band.reversed().map { "\(f(px($0.x) + shift)),\(f(py($0.lo)))" }
      s += "<polygon fill=\"\(colour)\" fill-opacity=\"0.13\" stroke=\"none\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
    }
    for (i, series) in series.enumerated() {
      let colour = Self.palette[(series.color ?? i) % Self.palette.count]
      let dash = series.dashed ? " stroke-dasharray=\"6 4\"" : ""
      let shift = Self.dodge(i, of: self.series.count)
      for b in series.band where plottable(b.x, xScale) && plottable(b.lo, yScale) && plottable(b.hi, yScale) && b.hi > b.lo {
        s += "<line x1=\"\(f(px(b.x) + shift))\" y1=\"\(f(py(b.lo)))\" x2=\"\(f(px(b.x) + shift))\" y2=\"\(f(py(b.hi)))\" stroke=\"\(colour)\" stroke-width=\"1\"/>\n"
      }
      var runs: [[(Double, Double)]] = [[]]
      for p in series.points.sorted(by: { $0.x < $1.x }) {
        if plottable(p.x, xScale), plottable(p.y, yScale) { runs[runs.count - 1].append((px(p.x) + shift, py(p.y))) }
        else if !runs[runs.count - 1].isEmpty { runs.append([]) }
      }
      for run in runs where !run.isEmpty {
        if run.count > 1 {
          s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(run.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>\n"
        }
        for (x, y) in run { s += Self.marker(series.marker, x, y, colour) }
      }
      // Legend entry.
      let ly = top + 10 + Double(i) * 20
      let lx = left + pw + 16
      s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 26))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
      s += Self.marker(series.marker, lx + 13, ly, colour)
      s += "<text x=\"\(f(lx + 32))\" y=\"\(f(ly + 4))\">\(Self.escape(series.label))</text>\n"
    }
    return s + "</svg>\n"
  }
}
