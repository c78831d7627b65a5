#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The resource limits every command checks before any work: sizes read from options, files
/// and experiment grids are multiplied with overflow checks and compared with these, so a huge
/// request fails with a message naming it instead of trapping, aborting on allocation or running
/// for days.
///
/// Each limit has a default and can be raised (or lowered) for a whole process through an
/// environment variable holding a positive decimal integer:
///
/// | limit | default | variable |
/// |---|---|---|
/// | ``tensorElements``: elements of one tensor (Q, K, V, O; an array to convert) | 2^28 (2 GiB as `Double`) | `FLASHNUM_MAX_TENSOR_ELEMENTS` |
/// | ``gridPoints``: points of one experiment grid | 10^6 | `FLASHNUM_MAX_GRID_POINTS` |
///
/// A variable that is set but not a positive integer is a bad input (``checkEnvironment()``);
/// the limits then keep their defaults.
public enum ResourceLimits {
  public static let tensorElementsVariable = "FLASHNUM_MAX_TENSOR_ELEMENTS"
  public static let gridPointsVariable = "FLASHNUM_MAX_GRID_POINTS"

  /// The most elements one tensor may hold.
  public static let tensorElements = setting(tensorElementsVariable) ?? 1 << 28
  /// The most points one experiment grid may have.
  public static let gridPoints = setting(gridPointsVariable) ?? 1_000_000

  /// Throws when a limit's variable is set but is not a positive integer.
  public static func checkEnvironment() throws(AttentionError) {
    for name in [tensorElementsVariable, gridPointsVariable] {
      if let text = environmentValue(name), setting(name) == nil {
        throw AttentionError("\(name)='\(text)': expected a positive integer")
      }
    }
  }

  static func setting(_ name: String) -> Int? {
    guard let text = environmentValue(name), let v = Int(text), v > 0 else { return nil }
    return v
  }

  /// The product of `factors`, or `nil` when it overflows `Int`.
  public static func product(_ factors: [Int]) -> Int? {
    var p = 1
    for f in factors {
      let (q, overflow) = p.multipliedReportingOverflow(by: f)
      if overflow { return nil }
      p = q
    }
    return p
  }

  /// Throws unless `factors` (all ≥ 0) multiply to at most ``tensorElements``; `what` names the
  /// tensor, `factorNames` the factors, in the message.
  public static func checkTensor(_ what: String, _ factors: [(String, Int)]) throws(AttentionError) {
    guard let n = product(factors.map(\.1)), n <= tensorElements else {
      throw AttentionError("\(what) would hold \(factors.map { "\($0.0) \($0.1)" }.joined(separator: " × ")) elements, "
                           + "more than the limit of \(tensorElements) per tensor (\(tensorElementsVariable))")
    }
  }
}
