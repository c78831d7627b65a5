extension Array where Element == Double {
  /// The median: the middle value, or the mean of the two middle values for an even count; NaN
  /// when empty. The one median of tables and reports (seed spreads, paired ratios, summaries).
  public var median: Double {
    let v = sorted()
    guard !v.isEmpty else { return .nan }
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
  }
}
