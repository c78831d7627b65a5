#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The C math library (correctly rounded on the operations IEEE requires, glibc's on the others),
/// named apart from members such as `FA3Schedule.exp2`. This module and those above it use it
/// instead of Foundation, so that the C ABI library links no Foundation.
public enum LibM {
  @inlinable public static func exp(_ x: Double) -> Double { cExp(x) }
  @inlinable public static func log(_ x: Double) -> Double { cLog(x) }
  @inlinable public static func cos(_ x: Double) -> Double { cCos(x) }
  @inlinable public static func floor(_ x: Double) -> Double { x.rounded(.down) }
  @inlinable public static func exp2(_ x: Double) -> Double { cExp2(x) }
  @inlinable public static func log2(_ x: Double) -> Double { cLog2(x) }
  @inlinable public static func log10(_ x: Double) -> Double { cLog10(x) }
  @inlinable public static func tanh(_ x: Double) -> Double { cTanh(x) }
}

@usableFromInline func cExp(_ x: Double) -> Double { exp(x) }
@usableFromInline func cLog(_ x: Double) -> Double { log(x) }
@usableFromInline func cCos(_ x: Double) -> Double { cos(x) }
@usableFromInline func cExp2(_ x: Double) -> Double { exp2(x) }
@usableFromInline func cLog2(_ x: Double) -> Double { log2(x) }
@usableFromInline func cLog10(_ x: Double) -> Double { log10(x) }
@usableFromInline func cTanh(_ x: Double) -> Double { tanh(x) }

/// Seconds on a monotonic clock (for timing runs).
public func monotonicSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// The value of environment variable `name`, if set.
public func environmentValue(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
