import Foundation

/// Heatmaps of one value over a two-axis grid, one panel per series, as a standalone SVG
/// document: cells coloured on a shared log10 scale (a colour bar says which colour is which
/// value), each cell also printed as a number, so the figure reads without the colours. A
/// missing or non-positive value is a grey cell marked `—`.
public struct SVGHeatmap: Sendable {
  public struct Panel: Sendable {
    public var title: String
    /// values[row][column], in the units of ``SVGHeatmap/valueLabel``.
    public var values: [[Double]]
    public init(title: String, values: [[Double]]) {
      self.title = title
      self.values = values
    }
  }

  public var title: String
  public var rowLabel: String, columnLabel: String, valueLabel: String
  public var rows: [String], columns: [String]
  public var panels: [Panel]

  public init(title: String, rowLabel: String, columnLabel: String, valueLabel: String, rows: [String], columns: [String], panels: [Panel]) {
    self.title = title
    self.rowLabel = rowLabel
    self.columnLabel = columnLabel
    self.valueLabel = valueLabel
    self.rows = rows
    self.columns = columns
    self.panels = panels
  }

  /// Viridis at 5 stops (perceptually uniform, colour-blind safe), interpolated in RGB.
  static let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]

  /// The colour of `t` ∈ [0, 1].
  static func colour(_ t: Double) -> String {
    let u = max(0, min(1, t)) * Double(stops.count - 1)
    let i = min(Int(u), stops.count - 2), w = u - Double(i)
    let (a, b) = (stops[i], stops[i + 1])
    func mix(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * w).rounded()) }
    return String(format: "#%02X%02X%02X", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
  }

  public func svg() -> String {
    let cell = (w: max(58.0, 7.0 * Double(columns.map(\.count).max() ?? 4)), h: 26.0)
    let rowTitle = 10 + 7.0 * Double(rows.map(\.count).max() ?? 4)
    let panelWidth = rowTitle + cell.w * Double(columns.count) + 24
    let perLine = max(1, min(panels.count, Int(1100 / panelWidth)))
    let lines = (panels.count + perLine - 1) / perLine
    let panelHeight = 44 + cell.h * Double(rows.count) + 40
    let width = 40 + panelWidth * Double(perLine) + 90, height = 50 + panelHeight * Double(lines)
    let positive = panels.flatMap { $0.values.flatMap { $0 } }.filter { $0 > 0 && $0.isFinite }
    let lo = Foundation.log10(positive.min() ?? 1), hi = Foundation.log10(positive.max() ?? 10)
    let span = hi - lo > 1e-12 ? hi - lo : 1
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    func esc(_ s: String) -> String { SVGLineChart.escape(s) }
    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" \
      font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(esc(title))</text>

      """
    for (p, panel) in panels.enumerated() {
      let x0 = 40 + panelWidth * Double(p % perLine), y0 = 44 + panelHeight * Double(p / perLine)
      s += "<text x=\"\(f(x0 + rowTitle + cell.w * Double(columns.count) / 2))\" y=\"\(f(y0))\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\">\(esc(panel.title))</text>\n"
      for (c, name) in columns.enumerated() {
        s += "<text x=\"\(f(x0 + rowTitle + cell.w * (Double(c) + 0.5)))\" y=\"\(f(y0 + 16))\" text-anchor=\"middle\">\(esc(name))</text>\n"
      }
      for (r, name) in rows.enumerated() {
        let y = y0 + 22 + cell.h * Double(r)
        s += "<text x=\"\(f(x0 + rowTitle - 6))\" y=\"\(f(y + cell.h / 2 + 4))\" text-anchor=\"end\">\(esc(name))</text>\n"
        for c in columns.indices {
          let v = r < panel.values.count && c < panel.values[r].count ? panel.values[r][c] : .nan
          let x = x0 + rowTitle + cell.w * Double(c)
          let shown = v > 0 && v.isFinite
          let t = shown ? (Foundation.log10(v) - lo) / span : 0
          s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cell.w))\" height=\"\(f(cell.h))\" fill=\"\(shown ? Self.colour(t) : "#cccccc")\" stroke=\"white\"/>\n"
          let text = shown ? String(format: "%.2e", v) : "—"
          s += "<text x=\"\(f(x + cell.w / 2))\" y=\"\(f(y + cell.h / 2 + 4))\" text-anchor=\"middle\" fill=\"\(shown && t < 0.6 ? "white" : "black")\">\(text)</text>\n"
        }
      }
      s += "<text x=\"\(f(x0 + rowTitle + cell.w * Double(columns.count) / 2))\" y=\"\(f(y0 + 22 + cell.h * Double(rows.count) + 18))\" text-anchor=\"middle\" font-size=\"12\">\(esc(columnLabel))</text>\n"
      s += "<text transform=\"translate(\(f(x0 - 4)) \(f(y0 + 22 + cell.h * Double(rows.count) / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">\(esc(rowLabel))</text>\n"
    }
    // Colour bar: log10 scale from the smallest to the largest value.
    let bx = width - 70, by = 50.0, bh = min(220, height - 90)
    for k in 0..<40 {
      let t = Double(k) / 39
      s += "<rect x=\"\(f(bx))\" y=\"\(f(by + bh * (1 - t) - bh / 40))\" width=\"14\" height=\"\(f(bh / 40 + 0.5))\" fill=\"\(Self.colour(t))\"/>\n"
    }
    for (t, v) in [(0.0, lo), (0.5, (lo + hi) / 2), (1.0, hi)] {
      s += "<text x=\"\(f(bx + 18))\" y=\"\(f(by + bh * (1 - t) + 4))\">\(String(format: "%.1e", Foundation.pow(10, v)))</text>\n"
    }
    s += "<text x=\"\(f(bx))\" y=\"\(f(by + bh + 18))\" font-size=\"10\">\(esc(valueLabel)) (log)</text>\n"
    return s + "</svg>\n"
  }
}
