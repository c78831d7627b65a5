import Attention
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LowPrecision

/// Error metrics of an output against a reference (both as `Double`s, same count).
///
/// | metric | definition | unit |
/// |---|---|---|
/// | `rmse` | `√(Σ (o − r)² / n)` | units of the output |
/// | `relativeFrobenius` | `‖o − r‖₂ / ‖r‖₂` | dimensionless |
/// | `maxAbs` | `max |o − r|` | units of the output |
/// | `cosine` | `⟨o, r⟩ / (‖o‖₂ ‖r‖₂)` | dimensionless, 1 = same direction |
/// | `sqnrDB` | `10 log₁₀(‖r‖₂² / ‖o − r‖₂²)` | dB (∞ when equal) |
/// | `maxULP`, `meanULP` | distance in codes of the output format between `o` and the reference rounded to that format (RNE) | units in the last place of the output format |
///
/// Sums are formed in `Double` over the whole tensor in index order (deterministic).
public struct ErrorMetrics: Hashable, Sendable, Codable {
  public var count: Int
  public var rmse: Double
  public var relativeFrobenius: Double
  public var maxAbs: Double
  public var cosine: Double
  public var sqnrDB: Double
  public var maxULP: Double?
  public var meanULP: Double?

  /// Metrics of `output` against `reference`; ULP distances when `format` is given (the
  /// output's values must be values of that format).
  public init(output: [Double], reference: [Double], format: NumberFormat? = nil) {
    precondition(output.count == reference.count, "metrics: counts differ")
    count = output.count
    var se = 0.0, sr = 0.0, so = 0.0, dot = 0.0, mx = 0.0
    for (o, r) in zip(output, reference) {
      let e = o - r
      se += e * e; sr += r * r; so += o * o; dot += o * r
      mx = max(mx, abs(e))
    }
    let n = Double(max(count, 1))
    rmse = (se / n).squareRoot()
    relativeFrobenius = sr > 0 ? (se / sr).squareRoot() : (se == 0 ? 0 : .infinity)
    maxAbs = mx
    cosine = so > 0 && sr > 0 ? dot / (so * sr).squareRoot() : (so == sr ? 1 : 0)
    sqnrDB = se == 0 ? .infinity : 10 * LibM.log10(sr / se)
    if let format {
      var maxU = 0.0, sumU = 0.0
      for (o, r) in zip(output, reference) {
        let u = Double(format.ulpDistance(o, format.round(r)))
        maxU = max(maxU, u); sumU += u
      }
      maxULP = maxU
      meanULP = sumU / n
    }
  }
}

extension ErrorMetrics {
  /// The metrics' names in every file and on the command line (snake_case), in table order.
  public static let names = ["rmse", "relative_frobenius", "max_abs", "cosine", "sqnr_db", "max_ulp", "mean_ulp"]

  /// The metric called `name` (``names``); `nil` for an unknown name or a ULP metric measured
  /// without a format.
  public subscript(name: String) -> Double? {
    switch name {
    case "rmse": rmse
    case "relative_frobenius": relativeFrobenius
    case "max_abs": maxAbs
    case "cosine": cosine
    case "sqnr_db": sqnrDB
    case "max_ulp": maxULP
    case "mean_ulp": meanULP
    default: nil
    }
  }
}

extension NumberFormat {
  /// The number of representable values of this format strictly between `a` and `b`, plus
  /// one (0 when equal): the ULP distance, counting ±0 as one point.
  public func ulpDistance(_ a: Double, _ b: Double) -> Int {
    abs(ordinal(a) - ordinal(b))
  }

  /// A monotone integer index of the values of this format (±0 share 0).
  func ordinal(_ x: Double) -> Int {
    switch self {
    case .fp64:
      let bits = Int(bitPattern: UInt(x.magnitude.bitPattern))
      return x.sign == .minus ? -bits : bits
    case .fp32:
      let bits = Int(Float(x).magnitude.bitPattern)
      return x.sign == .minus ? -bits : bits
    case .low(let f, let r):
      let code = f.encode(x, r)
      let magnitude = Int(code & f.magnitudeMask)
      return code & f.signMask != 0 ? -magnitude : magnitude
    }
  }
}
