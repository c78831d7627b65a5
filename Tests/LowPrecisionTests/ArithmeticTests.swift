import LowPrecision
import Precise
import XCTest

/// Emulated +, −, ×, ÷ (all operand pairs of the 8-bit formats), √ (all operands), fma and the
/// 16-bit formats (random operands), every deterministic mode, against MPFR.
final class ArithmeticTests: XCTestCase {
  enum Op: String, CaseIterable { case add, subtract, multiply, divide }

  static func apply(_ op: Op, _ f: FloatFormat, _ a: UInt32, _ b: UInt32, _ r: Rounding) -> UInt32 {
    switch op {
    case .add: f.add(a, b, r)
    case .subtract: f.subtract(a, b, r)
    case .multiply: f.multiply(a, b, r)
    case .divide: f.divide(a, b, r)
    }
  }

  static func mpfr(_ op: Op, _ x: BigFloat, _ y: BigFloat) -> (Int, PreciseRounding) -> Rounded {
    switch op {
    case .add: { BigFloat.add(x, y, precision: $0, $1) }
    case .subtract: { BigFloat.subtract(x, y, precision: $0, $1) }
    case .multiply: { BigFloat.multiply(x, y, precision: $0, $1) }
    case .divide: { BigFloat.divide(x, y, precision: $0, $1) }
    }
  }

  func check(_ format: FloatFormat, pairs: [(UInt32, UInt32)], label: String) {
    let jobs = Op.allCases.flatMap { op in RoundingMode.deterministic.map { (op, $0) } }
    let failures = parallelMap(jobs.count) { k -> [String] in
      let (op, mode) = jobs[k]
      let oracle = MPFROracle(format)
      var failures: [String] = []
      for overflow in [format.naturalOverflow, .saturate] {
        let rounding = Rounding(mode, overflow: overflow)
        for (a, b) in pairs {
          let x = format.decode(a), y = format.decode(b)
          let exact = Self.mpfr(op, BigFloat(x), BigFloat(y))
          if !format.hasNaN && exact(64, .nearestEven).value.isNaN { continue }  // would trap: no NaN
          let want = oracle.expected(rounding, exact)
          let got = Self.apply(op, format, a, b, rounding)
          if got != want && !(format.isNaN(got) && format.isNaN(want)) && failures.count < 5 {
            failures.append("\(format) \(op) \(mode.name) \(overflow): \(x) (0x\(String(a, radix: 16))), \(y) (0x\(String(b, radix: 16))) gave 0x\(String(got, radix: 16)), MPFR 0x\(String(want, radix: 16))")
          }
        }
      }
      return failures
    }.flatMap { $0 }
    XCTAssertEqual(failures, [], label)
  }

  func allPairs(_ f: FloatFormat) -> [(UInt32, UInt32)] {
    let n = UInt32(f.codeCount)
    return (0..<n).flatMap { a in (0..<n).map { (a, $0) } }
  }

  func testE4M3FNAllPairs() { check(.e4m3fn, pairs: allPairs(.e4m3fn), label: "e4m3fn") }
  func testE5M2AllPairs() { check(.e5m2, pairs: allPairs(.e5m2), label: "e5m2") }
  func testFnuzAndIEEEStyleE4M3AllPairs() {
    for f in [FloatFormat.e4m3fnuz, .e5m2fnuz, .e4m3] { check(f, pairs: allPairs(f), label: f.name) }
  }
  func testScaleAndFP4AllPairs() {
    for f in [FloatFormat.e8m0, .e2m1] { check(f, pairs: allPairs(f), label: f.name) }
  }

  func testSixteenBitRandomPairs() {
    for f in [FloatFormat.bf16, .fp16] {
      var rng = TestRandom(seed: UInt64(f.bitWidth + f.exponentBits))
      // Raw random codes, plus operands of nearby magnitude (where cancellation happens).
      let pairs: [(UInt32, UInt32)] = (0..<20_000).map { i in
        let a = UInt32(truncatingIfNeeded: rng.next()) & 0xFFFF
        let b = i % 2 == 0 ? UInt32(truncatingIfNeeded: rng.next()) & 0xFFFF
          : (a ^ UInt32(truncatingIfNeeded: rng.next() & 0x80FF))
        return (a, b)
      }
      check(f, pairs: pairs, label: f.name)
    }
  }

  func testSquareRootAndFMA() {
    for f in [FloatFormat.e4m3fn, .e5m2, .bf16, .fp16] {
      let oracle = MPFROracle(f)
      var rng = TestRandom(seed: 11)
      let roots: [UInt32] = f.bitWidth <= 8 ? Array(0..<256) : (0..<5000).map { _ in UInt32(truncatingIfNeeded: rng.next()) & 0xFFFF }
      for mode in RoundingMode.deterministic {
        let rounding = Rounding(mode, overflow: f.naturalOverflow)
        for a in roots {
          let x = BigFloat(f.decode(a))
          let want = oracle.expected(rounding) { BigFloat.squareRoot(x, precision: $0, $1) }
          let got = f.squareRoot(a, rounding)
          if got != want && !(f.isNaN(got) && f.isNaN(want)) { XCTFail("\(f) sqrt \(mode.name) \(f.decode(a)): \(got) vs \(want)"); return }
        }
        for i in 0..<20_000 {
          let mask = UInt32(f.codeCount - 1)
          let a = UInt32(truncatingIfNeeded: rng.next()) & mask, b = UInt32(truncatingIfNeeded: rng.next()) & mask
          var c = UInt32(truncatingIfNeeded: rng.next()) & mask
          if i % 2 == 0 {
            // c near −a·b: cancellation.
            c = f.encode(-(f.decode(a) * f.decode(b)), Rounding(.nearestEven, overflow: .saturate)) ^ (UInt32(truncatingIfNeeded: rng.next()) & 1)
          }
          let (x, y, z) = (BigFloat(f.decode(a)), BigFloat(f.decode(b)), BigFloat(f.decode(c)))
          let want = oracle.expected(rounding) { BigFloat.fusedMultiplyAdd(x, y, z, precision: $0, $1) }
          let got = f.fusedMultiplyAdd(a, b, c, rounding)
          if got != want && !(f.isNaN(got) && f.isNaN(want)) {
            XCTFail("\(f) fma \(mode.name) \(f.decode(a)) \(f.decode(b)) \(f.decode(c)): \(got) vs \(want)"); return
          }
        }
      }
    }
  }

  func testValueTypes() {
    let a = E4M3FN(1.5), b = E4M3FN(0.375)
    XCTAssertEqual((a + b).float, 1.875)
    XCTAssertEqual((a * a).float, 2.25)
    XCTAssertEqual((E4M3FN(448) + E4M3FN(32)).isNaN, true)  // 480 overflows to NaN (e4m3fn)
    XCTAssertEqual(E5M2(60000).float, 57344)
    XCTAssertEqual(E5M2(62000).isInfinite, true)
    XCTAssertEqual(BFloat16(1.0 / 3.0).bitPattern, 0x3EAB)
    XCTAssertEqual(BFloat16(2).squareRoot().float, Float(BFloat16(Float(2).squareRoot()).float))
    XCTAssertTrue(E4M3FN(-0.0) == E4M3FN(0.0))
    XCTAssertNotEqual(E4M3FN(-0.0).bitPattern, E4M3FN(0.0).bitPattern)
    XCTAssertTrue(E4M3FN(1) < E4M3FN(2))
    XCTAssertFalse(E4M3FN(bitPattern: 0x7F) == E4M3FN(bitPattern: 0x7F))  // NaN
  }
}
