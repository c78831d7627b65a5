import MatrixMultiply
import Precise
import XCTest

final class ExactAccumulatorTests: XCTestCase {
  /// MPFR's correctly rounded sum of exact products, as the oracle.
  func mpfrDot(_ a: [Double], _ b: [Double], precision: Int) -> BigFloat {
    BigFloat.dot(a, b, precision: precision).value
  }

  /// Accumulates `Σ a·b` and checks the digits equal MPFR's exact dot product (4400 bits hold
  /// any sum of products of `Double`s exactly); returns the accumulator and the exact value.
  @discardableResult
  func assertExactDot(_ a: [Double], _ b: [Double], _ message: String, line: UInt = #line) -> (ExactAccumulator, BigFloat) {
    var acc = ExactAccumulator()
    for (x, y) in zip(a, b) { acc.addProduct(x, y) }
    let exact = mpfrDot(a, b, precision: 4400)
    let (negative, words) = acc.magnitudeDigits()
    let mine = BigFloat.fromWords(words, exponent: ExactAccumulator.baseExponent, negative: negative, precision: 4400)
    XCTAssertEqual(mine.ternary, 0, message, line: line)
    XCTAssertTrue(mine.value == exact, message, line: line)
    return (acc, exact)
  }

  func testSumsAndProductsAreExact() {
    var rng = SplitMix64Like(seed: 7)
    for trial in 0..<300 {
      let n = 1 + trial % 40
      // Wide exponent spreads and cancellation: terms and their negations at random scales.
      var a: [Double] = [], b: [Double] = []
      for i in 0..<n {
        let e = Int(rng.next() % 400) - 200
        let x = Double(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: e,
                       significand: 1 + Double(rng.next() >> 12) * 0x1p-52)
        let y = Double(sign: .plus, exponent: Int(rng.next() % 100) - 50, significand: 1 + Double(rng.next() >> 12) * 0x1p-52)
        a.append(x); b.append(y)
        if i % 3 == 0 { a.append(-x); b.append(y * (1 + 0x1p-52)) }
      }
      let (acc, exact) = assertExactDot(a, b, "trial \(trial)")
      // Read-outs rounded once.
      XCTAssertEqual(acc.double(), exact.double())
      XCTAssertEqual(acc.float(), Float(BigFloat.rounded(exact, precision: 24).value.double()), "trial \(trial)")
    }
  }

  /// The whole `Double` range: subnormal × subnormal (2^-2148) up to the largest × largest, mixed.
  func testProductsOverTheWholeDoubleRangeAreExact() {
    var rng = SplitMix64Like(seed: 11)
    let extremes: [Double] = [.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                              Double.leastNormalMagnitude.nextDown, 0x1.fffffffffffffp-1000, 1, -0.0]
    for trial in 0..<200 {
      var a: [Double] = [], b: [Double] = []
      for _ in 0..<(1 + trial % 25) {
        func draw() -> Double {
          if rng.next() % 4 == 0 { return extremes[Int(rng.next() % UInt64(extremes.count))] * (rng.next() & 1 == 0 ? 1 : -1) }
          let x = Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)   // any finite magnitude
          return rng.next() & 1 == 0 ? x : -x
        }
        a.append(draw()); b.append(draw())
      }
      assertExactDot(a, b, "trial \(trial): \(a) · \(b)")
    }
  }

  /// One accumulator reset and reused over many sums (positive, negative, cancelling to zero, at
  /// distant scales) reads out exactly like a fresh one: the in-use digit range, the ranged
  /// read-outs and `reset` lose nothing.
  func testResetAndReuseMatchFreshAccumulators() {
    var rng = SplitMix64Like(seed: 19)
    var reused = ExactAccumulator()
    for trial in 0..<300 {
      reused.reset()
      var fresh = ExactAccumulator()
      let scale = Int(rng.next() % 1600) - 800
      var terms: [(Double, Double)] = []
      for _ in 0..<(1 + trial % 30) {
        let x = Double(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: scale + Int(rng.next() % 120) - 60,
                       significand: 1 + Double(rng.next() >> 12) * 0x1p-52)
        let y = Double(sign: .plus, exponent: Int(rng.next() % 40) - 20, significand: 1 + Double(rng.next() >> 12) * 0x1p-52)
        terms.append((x, y))
        if trial % 5 == 0 { terms.append((-x, y)) }   // exact cancellation: a zero sum
      }
      for (x, y) in terms {
        reused.addProduct(x, y); fresh.addProduct(x, y)
        if rng.next() % 4 == 0 { reused.add(x); fresh.add(x) }
      }
      let exact = mpfrDot(terms.map(\.0), terms.map(\.1), precision: 4400)
      let (rn, rw) = reused.magnitudeDigits(), (fn, fw) = fresh.magnitudeDigits()
      XCTAssertEqual(rn, fn, "trial \(trial)")
      XCTAssertEqual(rw, fw, "trial \(trial)")
      XCTAssertEqual(reused.double(), fresh.double(), "trial \(trial)")
      XCTAssertEqual(reused.isZero, fresh.isZero, "trial \(trial)")
      let ranged = reused.withMagnitudeWords { BigFloat.fromWords($1, exponent: $2, negative: $0, precision: 4400) }
      let full = BigFloat.fromWords(fw, exponent: ExactAccumulator.baseExponent, negative: fn, precision: 4400)
      XCTAssertTrue(ranged.value == full.value, "trial \(trial)")
      if trial % 5 != 0 { XCTAssertTrue(exact.isZero || !reused.isZero, "trial \(trial)") }
    }
  }

  func testFloatRoundingBreaksTiesWithTheErrorSign() {
    // 1 + 2^-24 is the midpoint between 1 and 1 + 2^-23; a tiny extra term decides.
    var up = ExactAccumulator(); up.add(1); up.add(0x1p-24); up.add(0x1p-80)
    var down = ExactAccumulator(); down.add(1); down.add(0x1p-24); down.add(-0x1p-80)
    var tie = ExactAccumulator(); tie.add(1); tie.add(0x1p-24)
    XCTAssertEqual(up.float(), 1 + 0x1p-23)
    XCTAssertEqual(down.float(), 1)
    XCTAssertEqual(tie.float(), 1)   // ties to even
    var zero = ExactAccumulator(); zero.add(3); zero.add(-3)
    XCTAssertTrue(zero.isZero)
    XCTAssertEqual(zero.double(), 0)
    var inf = ExactAccumulator(); inf.add(.infinity); inf.add(1)
    XCTAssertEqual(inf.double(), .infinity)
    inf.add(-.infinity)
    XCTAssertTrue(inf.double().isNaN)
  }

  func testAccumulationModels() {
    var rng = SplitMix64Like(seed: 3)
    for _ in 0..<200 {
      let n = Int(rng.next() % 64) + 1
      let a = (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) * 0.37 }
      let b = (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) * 1e-3 }
      let c = Float(Int(rng.next() % 100)) * 0.1
      // Sequential: a chain of FMAs.
      var seq = c
      for i in 0..<n { seq = seq.addingProduct(a[i], b[i]) }
      // Pairwise: products rounded, balanced tree.
      func tree(_ s: Int, _ m: Int) -> Float { m == 1 ? a[s] * b[s] : tree(s, (m + 1) / 2) + tree(s + (m + 1) / 2, m - (m + 1) / 2) }
      let pair = c + tree(0, n)
      let exact = BigFloat.sum([BigFloat.dot(a.map(Double.init), b.map(Double.init), precision: 400).value, BigFloat(Double(c))],
                               precision: 24).value.double()
      a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
        XCTAssertEqual(Accumulation.fp32Sequential.dot(initial: c, pa.baseAddress!, pb.baseAddress!, count: n), seq)
        XCTAssertEqual(Accumulation.fp32Pairwise.dot(initial: c, pa.baseAddress!, pb.baseAddress!, count: n), pair)
        XCTAssertEqual(Double(Accumulation.fp32Exact.dot(initial: c, pa.baseAddress!, pb.baseAddress!, count: n)), exact)
      } }
    }
  }
}

/// A local SplitMix64 (the tests' own generator).
struct SplitMix64Like {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
