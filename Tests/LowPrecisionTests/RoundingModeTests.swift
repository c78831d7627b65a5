import LowPrecision
import Precise
import XCTest

/// Every deterministic rounding mode, every preset, both overflow policies, against MPFR:
/// all boundary cases (each grid point, each midpoint, and their float32 and float64
/// neighbours, around zero, the subnormal range and the overflow threshold) plus random inputs
/// (float32 bit patterns, float32 in the format's range, and float64 inputs that must not be
/// rounded twice).
final class RoundingModeTests: XCTestCase {
  /// Random inputs per (format, mode, policy); 9 formats × 6 modes give ≥ 10^7 in all.
  static let randomCount = 200_000

  func testAllPresetsAllModesAgainstMPFR() {
    let jobs = FloatFormat.presets.flatMap { f in RoundingMode.deterministic.map { (f, $0) } }
    let failures = parallelMap(jobs.count) { k -> [String] in
      let (format, mode) = jobs[k]
      let oracle = MPFROracle(format)
      var failures: [String] = []
      let inputs = Self.boundaryInputs(format, oracle.grid) + Self.randomInputs(format, seed: UInt64(k))
      for overflow in OverflowPolicy.allCases {
        let rounding = Rounding(mode, overflow: overflow)
        guard (try? format.validate(rounding)) != nil else { continue }
        for x in inputs {
          if x.isNaN && !format.hasNaN { continue }
          let got = format.encode(x, rounding)
          let want = oracle.encode(x, rounding)
          let bothNaN = format.isNaN(got) && format.isNaN(want)
          if got != want && !bothNaN && failures.count < 5 {
            failures.append("\(format) \(mode.name) \(overflow): \(x) (\(x.bitPattern.hex)) gave 0x\(String(got, radix: 16)), MPFR 0x\(String(want, radix: 16))")
          }
        }
      }
      return failures
    }.flatMap { $0 }
    XCTAssertEqual(failures, [])
  }

  /// Grid points, midpoints, the beyond-max point, their float32 and float64 neighbours,
  /// both signs, and values far below the least subnormal.
  static func boundaryInputs(_ format: FloatFormat, _ grid: GridOracle) -> [Double] {
    var points = grid.values + [grid.beyond, grid.beyond * 2, grid.values.last! * 1024]
    for i in 0..<grid.values.count {
      let hi = i + 1 < grid.values.count ? grid.values[i + 1] : grid.beyond
      points.append((grid.values[i] + hi) / 2)
    }
    points += [grid.values.count > 1 ? grid.values[1] / 4 : 1e-300, 1e-300, Double.leastNonzeroMagnitude]
    var out: [Double] = []
    for p in points where p.isFinite {
      let f = Float(p)
      out += [p, p.nextUp, p.nextDown, Double(f), Double(f.nextUp), Double(f.nextDown)]
    }
    return out.filter(\.isFinite).flatMap { [$0, -$0] } + [.infinity, -.infinity, .nan, 0, -0.0]
  }

  static func randomInputs(_ format: FloatFormat, seed: UInt64) -> [Double] {
    var rng = TestRandom(seed: seed)
    let lowExp = format.minExponent - format.fractionBits - 3
    let highExp = Int(format.maxFinite.exponent) + 3
    return (0..<randomCount).map { i -> Double in
      switch i % 3 {
      case 0: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())))
      case 1:
        let e = Int(rng.next() % UInt64(highExp - lowExp + 1)) + lowExp
        let f = Float(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: e,
                      significand: 1 + Float(rng.next() >> 41) / Float(1 << 23))
        return Double(f)
      default:
        let e = Int(rng.next() % UInt64(highExp - lowExp + 1)) + lowExp
        return Double(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: e,
                      significand: 1 + Double(rng.next() >> 12) / Double(1 << 52))
      }
    }
  }

  /// A float64 input just above a midpoint must round up even though its float32 rounding
  /// is the midpoint itself (which would then tie to even, downward): no double rounding.
  func testNoDoubleRoundingFromDouble() {
    let rne = Rounding(.nearestEven, overflow: .nan)
    // e4m3fn: 1.0625 is the midpoint of 1.0 and 1.125 (tie → 1.0, even).
    let justAbove = 1.0625 + 0x1p-40
    XCTAssertEqual(Double(Float(justAbove)), 1.0625)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(1.0625, rne), 0x38)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(justAbove, rne), 0x39)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(Float(justAbove), rne), 0x38)
  }

  /// Closed forms of the overflow thresholds named in the documentation.
  func testOverflowThresholds() {
    let nan = Rounding(.nearestEven, overflow: .nan), sat = Rounding(.nearestEven, overflow: .saturate)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(464.0, nan), 0x7E)        // tie → 448 (even)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(464.0.nextUp, nan), 0x7F) // → NaN
    XCTAssertEqual(FloatFormat.e4m3fn.encode(1e30, sat), 0x7E)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(-Double.infinity, sat), 0xFE)
    XCTAssertEqual(FloatFormat.e4m3fn.encode(Double.nan, sat), 0x7F)
    let inf = Rounding(.nearestEven, overflow: .infinity)
    XCTAssertEqual(FloatFormat.e5m2.encode(61440.0, inf), 0x7C)         // tie → 2^16 (even) → inf
    XCTAssertEqual(FloatFormat.e5m2.encode(61440.0.nextDown, inf), 0x7B)
    XCTAssertEqual(FloatFormat.fp16.encode(65520.0, inf), 0x7C00)
    XCTAssertEqual(FloatFormat.e4m3.encode(248.0, inf), 0x78)           // IEEE-style e4m3: tie → 256 → inf
    let rz = Rounding(.towardZero, overflow: .infinity)
    XCTAssertEqual(FloatFormat.fp16.encode(1e9, rz), 0x7BFF)            // IEEE: RZ never overflows to inf
    XCTAssertEqual(FloatFormat.e8m0.encode(0.0, nan), 0xFF)
    XCTAssertEqual(FloatFormat.e8m0.encode(0x1p-140, nan), 0x00)
    XCTAssertEqual(FloatFormat.e8m0.encode(1.5, nan), 0x80)             // tie 1 | 2 → even code 0x80 (2.0)
    XCTAssertEqual(FloatFormat.e2m1.encode(100.0, sat), 0x7)
    XCTAssertThrowsError(try FloatFormat.e4m3fn.validate(inf))
    XCTAssertThrowsError(try FloatFormat.e2m1.validate(nan))
  }
}

extension UInt64 {
  var hex: String { "0x" + String(self, radix: 16) }
}
