import LowPrecision
import XCTest

final class StochasticRoundingTests: XCTestCase {
  /// With given random words the result is deterministic: it must equal the grid oracle's
  /// rule (round away from the lower-magnitude neighbour iff ⌊r·2^B⌋ + R ≥ 2^B).
  func testMatchesTheDocumentedRuleForEveryRandomWord() {
    var rng = TestRandom(seed: 7)
    for format in FloatFormat.presets where format.hasNaN {
      let oracle = GridOracle(format)
      let inputs = RoundingModeTests.randomInputs(format, seed: rng.next()).filter(\.isFinite)
      for bits in [1, 2, 3, 8, 16, 23, 32] {
        let rounding = Rounding(.stochastic(randomBits: bits), overflow: format.naturalOverflow)
        for x in inputs.prefix(20_000) {
          let r = rng.next()
          let got = format.encode(x, rounding, random: r)
          let want = oracle.expected(x, rounding, random: r)
          if got != want && !(format.isNaN(got) && format.isNaN(want)) {
            XCTFail("\(format) B=\(bits) x=\(x) R=\(r): \(got) vs \(want)")
            return
          }
        }
      }
    }
  }

  /// Unbiasedness: the mean of many stochastic roundings of x equals x within 5 standard
  /// errors, when x's fractional position is a multiple of 2^-B (no truncated bits).
  func testUnbiasedWithEnoughBits() {
    let format = FloatFormat.bf16
    let rounding = Rounding(.stochastic(randomBits: 16), overflow: .infinity)
    let stream = StochasticStream(seed: 2024)
    for x in [1.0 + 0.3 * 0x1p-7, -3.0 - 0.71 * 0x1p-6, 1e-39 * 1.37, 12345.678] {
      let n = 200_000
      var sum = 0.0, sumSq = 0.0
      for i in 0..<n {
        let v = format.decode(format.encode(x, rounding, random: stream.word(at: i)))
        sum += v
        sumSq += v * v
      }
      let mean = sum / Double(n)
      let sd = (sumSq / Double(n) - mean * mean).squareRoot()
      // The truncation bias with 16 bits is below 2^-16 steps: negligible against 5 SE here.
      XCTAssertLessThan(abs(mean - x), 5 * sd / Double(n).squareRoot() + abs(x) * 0x1p-30, "x = \(x)")
    }
  }

  /// The documented effect of few random bits: with B bits the probability of rounding away
  /// is ⌊r·2^B⌋/2^B, so with B = 1 a value 0.3 of the way up never rounds away, and with
  /// B = 2 it does so with probability 1/4.
  func testFewRandomBitsBiasTowardZero() {
    let format = FloatFormat.e4m3fn
    let x = 1.0 + 0.3 * 0.125  // e4m3fn step at 1.0 is 0.125
    let stream = StochasticStream(seed: 99)
    func fractionUp(_ bits: Int) -> Double {
      let rounding = Rounding(.stochastic(randomBits: bits), overflow: .nan)
      let n = 100_000
      let ups = (0..<n).filter { format.encode(x, rounding, random: stream.word(at: $0)) == 0x39 }.count
      return Double(ups) / Double(n)
    }
    XCTAssertEqual(fractionUp(1), 0)
    XCTAssertEqual(fractionUp(2), 0.25, accuracy: 0.01)
    XCTAssertEqual(fractionUp(3), 0.25, accuracy: 0.01)   // ⌊0.3·8⌋/8 = 2/8
    XCTAssertEqual(fractionUp(20), 0.3, accuracy: 0.01)
    // Exact values never move.
    let rounding = Rounding(.stochastic(randomBits: 8), overflow: .nan)
    XCTAssertTrue((0..<1000).allSatisfy { format.encode(1.125, rounding, random: stream.word(at: $0)) == 0x39 })
  }

  /// The random stream depends only on (seed, index).
  func testStreamIsCounterBased() {
    let a = StochasticStream(seed: 5), b = StochasticStream(seed: 5), c = StochasticStream(seed: 6)
    XCTAssertEqual((0..<100).map(a.word(at:)), (0..<100).reversed().map(b.word(at:)).reversed())
    XCTAssertNotEqual(a.word(at: 3), c.word(at: 3))
  }
}
