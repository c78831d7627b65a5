import Precise
import XCTest

/// The MPFR binding against closed forms and independent computations.
final class BigFloatTests: XCTestCase {
  func testExactConversionsAndArithmetic() {
    let third = BigFloat.divide(BigFloat(1.0), BigFloat(3.0), precision: 200, .down).value
    XCTAssertEqual(third.precision, 200)
    XCTAssertEqual(third.double(), 1.0 / 3.0)
    XCTAssertEqual(third.double(.down), (1.0 / 3.0))
    XCTAssertEqual(third.double(.up), (1.0 / 3.0).nextUp)
    // (1/3 rounded down to 200 bits) · 3, exact at 400 bits, is just below 1.
    let one = BigFloat.multiply(third, BigFloat(3.0), precision: 400).value
    XCTAssertLessThan(one, BigFloat(1.0))
    XCTAssertEqual(one.double(), 1.0)
    XCTAssertEqual(BigFloat(-2.5).signum, -1)
    XCTAssertTrue(BigFloat(-0.0).isSignMinus)
    XCTAssertTrue(BigFloat(precision: 10).isNaN)
    XCTAssertEqual(BigFloat("0x1.8p3", precision: 53)?.double(), 12)
    XCTAssertNil(BigFloat("1.5x", precision: 53))
    XCTAssertEqual(BigFloat(12345).double(), 12345)
  }

  func testTernaryValues() {
    XCTAssertEqual(BigFloat.add(BigFloat(1.0), BigFloat(2.0), precision: 53).ternary, 0)
    let up = BigFloat.divide(BigFloat(2.0), BigFloat(3.0), precision: 10, .up)
    XCTAssertGreaterThan(up.ternary, 0)
    let down = BigFloat.divide(BigFloat(2.0), BigFloat(3.0), precision: 10, .down)
    XCTAssertLessThan(down.ternary, 0)
    XCTAssertLessThan(down.value, up.value)
  }

  func testTranscendentalsAgainstClosedForms() {
    let p = 256
    XCTAssertEqual(BigFloat.exp2(BigFloat(10.0), precision: p).value.double(), 1024)
    XCTAssertEqual(BigFloat.exp2(BigFloat(-0.5), precision: p).value.double(), 0.5.squareRoot())
    XCTAssertEqual(BigFloat.log(BigFloat.exp(BigFloat(1.25), precision: p).value, precision: p).value.double(), 1.25)
    XCTAssertEqual(BigFloat.squareRoot(BigFloat(2.0), precision: p).value.double(), 2.0.squareRoot())
    // e to 20 digits.
    XCTAssertTrue(BigFloat.exp(BigFloat(1.0), precision: p).value.text(digits: 20).hasPrefix("2.718281828459045235"))
    // A correctly rounded exp at 53 bits equals Double's exp in the (vast) majority of cases
    // and is never more than one ulp from it.
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<1000 {
      let x = Double.random(in: -20...20, using: &rng)
      let e = BigFloat.exp(BigFloat(x), precision: 53).value.double()
      XCTAssertLessThanOrEqual(abs(e - Foundation.exp(x)), e.ulp)
    }
  }

  func testExactSumAndDot() {
    // Catastrophic cancellation: the exact sum is 1, the naive double sum is 0.
    let terms = [1e100, 1.0, -1e100]
    XCTAssertEqual(terms.reduce(0, +), 0)
    XCTAssertEqual(BigFloat.sum(terms.map { BigFloat($0) }, precision: 53).value.double(), 1)
    // Dot product: exact (2^30+1)(2^30−1) − 2^60 = −1; in doubles 2^60 − 1 rounds to 2^60.
    let a = [0x1p30 + 1, -0x1p30], b = [0x1p30 - 1, 0x1p30]
    XCTAssertEqual(a[0] * b[0] + a[1] * b[1], 0)
    XCTAssertEqual(BigFloat.dot(a, b, precision: 53).value.double(), -1)
    // Random dot products against a Kahan-free long-double-like reference: products split
    // exactly with fma, summed in 2048-bit MPFR must agree with an exact rational check.
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<200 {
      let n = Int.random(in: 1...64, using: &rng)
      let x = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
      let y = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
      // Error-free: p + e = x·y exactly.
      var parts: [BigFloat] = []
      for (u, v) in zip(x, y) {
        let p = u * v
        parts += [BigFloat(p), BigFloat((-p).addingProduct(u, v))]
      }
      let reference = BigFloat.sum(parts, precision: 53).value.double()
      XCTAssertEqual(BigFloat.dot(x, y, precision: 53).value.double(), reference)
    }
  }

  func testDoubleRoundingToSubnormals() {
    // 2^-1074 · 1.5 rounds to nearest even at the subnormal grid: 2^-1073.
    let x = BigFloat.multiply(BigFloat(Double.leastNonzeroMagnitude), BigFloat(1.5), precision: 60).value
    XCTAssertEqual(x.double(), 2 * Double.leastNonzeroMagnitude)
    XCTAssertEqual(x.double(.towardZero), Double.leastNonzeroMagnitude)
  }

  func testExponentRangeIsRestored() {
    BigFloat.withExponentRange(minExponent: -10, maxExponent: 10) {
      let tiny = BigFloat.rounded(BigFloat(0x1p-20), precision: 4).subnormalized(.nearestEven)
      XCTAssertTrue(tiny.value.isZero)
    }
    XCTAssertEqual(BigFloat(0x1p-20).double(), 0x1p-20)
  }

  func testValueSemantics() {
    let a = BigFloat(1.5, precision: 80)
    var b = a
    _ = b.subnormalize(ternary: 0, .nearestEven)
    b = b + BigFloat(1.0)
    XCTAssertEqual(a.double(), 1.5)
    XCTAssertEqual(b.double(), 2.5)
  }

  /// The parts of `forEachDoublePart` sum exactly to the value (checked at 9000 bits), have its
  /// sign and at most ⌈p/53⌉ of them; values it cannot split are refused.
  func testDoublePartsSumExactly() {
    var state: UInt64 = 5
    func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
    for precision in [24, 53, 54, 64, 80, 106, 107, 128, 200, 1000] {
      for trial in 0..<60 {
        // A random precision-bit value: a random binary string scaled to 2^(e−1) ≤ |x| < 2^e.
        var x = BigFloat(Double(next() | 1 << 52) * 0x1p-53, precision: precision)
        var bits = 53
        while bits < precision {
          x = BigFloat.add(x, BigFloat(Double(next()) * Foundation.pow(2, -Double(bits + 53))), precision: precision).value
          bits += 53
        }
        let e = Int(next() % 1500) - 750
        x = BigFloat.scaled(trial % 2 == 0 ? x : -x, byPowerOfTwo: e)
        var parts: [Double] = []
        let ok = x.forEachDoublePart { parts.append($0) }
        // Split exactly when every 53-bit chunk, down to the last, is a normal Double.
        let splittable = x.exponent! - 53 * ((precision + 52) / 53) >= -1022
        XCTAssertEqual(ok, splittable, "p=\(precision) e=\(e)")
        if !ok { XCTAssertTrue(parts.isEmpty); continue }
        XCTAssertLessThanOrEqual(parts.count, (precision + 52) / 53)
        XCTAssertTrue(parts.allSatisfy { $0 != 0 && ($0 < 0) == x.isSignMinus }, "p=\(precision)")
        XCTAssertTrue(BigFloat.sum(parts.map { BigFloat($0) }, precision: 9000).value == x, "p=\(precision) e=\(e)")
      }
    }
    var calls = 0
    for refused in [BigFloat(0.0), BigFloat(Double.infinity), BigFloat(Double.nan),
                    BigFloat.scaled(BigFloat(1.0, precision: 80), byPowerOfTwo: 1100),
                    BigFloat.scaled(BigFloat(1.0, precision: 80), byPowerOfTwo: -1000)] {
      XCTAssertFalse(refused.forEachDoublePart { _ in calls += 1 })
    }
    XCTAssertEqual(calls, 0)
  }
}
