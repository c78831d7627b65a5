import Attention
import LowPrecision
import Precise
import XCTest

final class QuantizationTests: XCTestCase {
  func tensor(_ values: [Double], seqLen: Int, heads: Int = 1, headDim: Int) throws -> AttentionTensor {
    try AttentionTensor(batch: 1, seqLen: seqLen, heads: heads, headDim: headDim, values: values)
  }

  func testQuotientIsRoundedOnceAgainstMPFR() {
    var rng = SplitMix64(seed: 1)
    for f in [FloatFormat.e4m3fn, .e5m2, .bf16, .fp16] {
      let format = NumberFormat.rne(f, overflow: .saturate)
      for _ in 0..<20000 {
        let x = Double.random(in: -500...500, using: &rng)
        let s = Double(Float.random(in: 0.01...3, using: &rng))
        // MPFR: the exact quotient to 200 bits (faithful enough: its error cannot move a rounding
        // of a ≤ 11-bit format unless the quotient is a midpoint, which is then exact).
        let q = BigFloat.divide(BigFloat(x), BigFloat(s), precision: 200)
        let expected = f.decode(f.round(approximation: q.value.double(), errorSign: q.value.double() == 0 ? 0 : {
          let diff = BigFloat.subtract(q.value, BigFloat(q.value.double()), precision: 200).value
          return diff.signum
        }(), Rounding(.nearestEven, overflow: .saturate)))
        XCTAssertEqual(format.roundQuotient(x, s), expected, "\(f.name) \(x)/\(s)")
      }
    }
  }

  func testScaleGranularities() throws {
    // 2 tokens × 2 heads × 4 channels; amax per row 1, 2, 3, 4 (row order (s, h)).
    let values: [Double] = [1, 0, 0, 0,  0, -2, 0, 0,  0, 0, 3, 0,  0, 0, 0, -4]
    let t = try tensor(values, seqLen: 2, heads: 2, headDim: 4)
    let max = FloatFormat.e4m3fn.maxFinite
    func scales(_ g: ScaleGranularity) throws -> [Double] {
      try QuantizationScheme(format: .rne(.e4m3fn, overflow: .saturate), granularity: g).quantize(t).rowScales!
    }
    let f = { (a: Double) in Double(Float(a / max)) }
    XCTAssertEqual(try scales(.perTensor), [f(4), f(4), f(4), f(4)])
    XCTAssertEqual(try scales(.perHead), [f(3), f(4), f(3), f(4)])        // head 0: rows 1, 3
    XCTAssertEqual(try scales(.perToken), [f(1), f(2), f(3), f(4)])
    XCTAssertEqual(try scales(.perBlock(rows: 1)), [f(1), f(2), f(3), f(4)])
    XCTAssertEqual(try scales(.perBlock(rows: 2)), try scales(.perHead))
    // The largest magnitude of each group maps to the format's largest value (±1 rounding).
    let q = try QuantizationScheme(format: .rne(.e4m3fn, overflow: .saturate), granularity: .perToken).quantize(t)
    XCTAssertEqual(q.codes.values[15], -448)
    // Dequantized values are within half an e4m3 step (2^-4 relative) of the inputs.
    for (a, b) in zip(q.dequantized().values, values) { XCTAssertEqual(a, b, accuracy: abs(b) * 0x1p-4 + 1e-12) }
  }

  func testMXScaleRules() {
    let f = FloatFormat.e4m3fn   // max 448 = 1.75·2^8, emax 8
    XCTAssertEqual(MXScaleRule.floor.exponent(amax: 1, format: f), -8)
    XCTAssertEqual(MXScaleRule.floor.exponent(amax: 1.9, format: f), -8)
    XCTAssertEqual(MXScaleRule.ceil.exponent(amax: 1, format: f), -8)
    XCTAssertEqual(MXScaleRule.ceil.exponent(amax: 1.01, format: f), -7)
    // rceil: smallest k with 448·2^k ≥ amax.
    XCTAssertEqual(MXScaleRule.rceil.exponent(amax: 448, format: f), 0)
    XCTAssertEqual(MXScaleRule.rceil.exponent(amax: 449, format: f), 1)
    XCTAssertEqual(MXScaleRule.rceil.exponent(amax: 1, format: f), -8)   // 448·2^-8 = 1.75 ≥ 1 > 0.875
    // even: amax rounded to e4m3 precision first (1.9375 → 2).
    XCTAssertEqual(MXScaleRule.even.exponent(amax: 1.9375, format: f), -7)
    XCTAssertEqual(MXScaleRule.even.exponent(amax: 1.8, format: f), -8)
    XCTAssertEqual(MXScaleRule.floor.exponent(amax: 0x1p-200, format: f), -127)   // clamped to E8M0
  }

  func testMXQuantizationUsesPowerOfTwoBlocksAndSaturates() throws {
    // One row of 64 = two MX blocks; block 0 amax 500 (floor rule saturates it), block 1 amax 0.5.
    var values = [Double](repeating: 0.25, count: 64)
    values[3] = 500
    values[40] = -0.5
    let t = try tensor(values, seqLen: 1, headDim: 64)
    let q = try QuantizationScheme(format: .rne(.e4m3fn), granularity: .mx(blockSize: 32, rule: .floor)).quantize(t)
    XCTAssertNil(q.rowScales)
    XCTAssertEqual(q.mxExponents, [0, -9])
    XCTAssertEqual(q.codes.values[3], 448)        // saturated
    XCTAssertEqual(q.codes.values[40], -0.5)
    XCTAssertEqual(q.codes.values[0], 0.25)
  }

  func testDistributionsAreSeededAndShaped() {
    let shape = AttentionShape(seqLenQ: 256, headsQ: 4, headDim: 128)
    let a = AttentionInputs.generate(shape, .paperOutliers, seed: 3)
    XCTAssertEqual(a, AttentionInputs.generate(shape, .paperOutliers, seed: 3))
    XCTAssertNotEqual(a.q.values, AttentionInputs.generate(shape, .paperOutliers, seed: 4).q.values)
    // N(0,1) + N(0,100)·Bernoulli(0.001): variance 1 + 100·0.001 = 1.1; |x| > 6 is about
    // 0.1%·P(|N(0,10)|>6) ≈ 0.055% (normal part alone: 2e-9).
    let all = a.q.values + a.k.values + a.v.values
    let n = Double(all.count)
    let mean = all.reduce(0, +) / n
    let variance = all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
    XCTAssertEqual(mean, 0, accuracy: 0.02)
    XCTAssertEqual(variance, 1.1, accuracy: 0.1)
    let big = Double(all.filter { abs($0) > 6 }.count) / n
    XCTAssertEqual(big, 0.00055, accuracy: 0.0002)
    // Gaussian: no outliers.
    let g = AttentionInputs.generate(shape, .gaussian(std: 1), seed: 3)
    XCTAssertEqual(g.q.values.filter { abs($0) > 6 }.count, 0)
  }

  func testChannelOutliersAndSinks() {
    let shape = AttentionShape(seqLenQ: 64, headDim: 32)
    let c = AttentionInputs.generate(shape, .channelOutliers(channels: 2, factor: 50), seed: 1)
    let chosen = AttentionInputs.outlierChannels(count: 2, headDim: 32, seed: 1)
    XCTAssertEqual(chosen.count, 2)
    let rms = (0..<32).map { ch in ((0..<64).reduce(0.0) { $0 + pow(c.k.values[c.k.index(0, $1, 0, ch)], 2) } / 64).squareRoot() }
    for ch in 0..<32 { XCTAssertEqual(rms[ch] > 10, chosen.contains(ch), "channel \(ch) rms \(rms[ch])") }
    // Sinks: key 0's scaled score beats the others by about `strength`.
    let s = AttentionInputs.generate(shape, .attentionSinks(keys: 1, strength: 8), seed: 2)
    var wins = 0
    for i in 0..<64 {
      func score(_ j: Int) -> Double {
        (0..<32).reduce(0.0) { $0 + s.q.values[s.q.index(0, i, 0, $1)] * s.k.values[s.k.index(0, j, 0, $1)] } / 32.0.squareRoot()
      }
      if (1..<64).allSatisfy({ score(0) > score($0) }) { wins += 1 }
    }
    XCTAssertGreaterThan(wins, 60)
  }
}

/// The scalings and roundings that scheme files add: per-channel, NVFP4-style two levels and
/// stochastic storage rounding, against their definitions.
final class DataSchemeQuantizationTests: XCTestCase {
  func tensor(_ seqLen: Int, _ headDim: Int, heads: Int = 1, seed: UInt64 = 1) throws -> AttentionTensor {
    var rng = SplitMix64(seed: seed)
    let values = (0..<(seqLen * heads * headDim)).map { i in Double.random(in: -1...1, using: &rng) * (i % headDim == 3 ? 40 : 1) }
    return try AttentionTensor(batch: 1, seqLen: seqLen, heads: heads, headDim: headDim, values: values)
  }

  func testPerChannelScalesArePowersOfTwoPerChannel() throws {
    let t = try tensor(50, 16, heads: 2)
    let q = try QuantizationScheme(format: .rne(.e4m3fn, overflow: .saturate), granularity: .perChannel).quantize(t)
    XCTAssertNil(q.rowScales)
    for h in 0..<2 { for c in 0..<16 {
      let indices = (0..<50).map { t.rowIndex(0, $0, h) + c }
      let amax = indices.map { abs(t.values[$0]) }.max()!
      // The definition: s = 2^⌈log2(amax / 448)⌉, stored value = RNE(x / s)·s.
      var k = Int((amax / 448).exponent)
      if Double(sign: .plus, exponent: k, significand: 1) * 448 < amax { k += 1 }
      let s = Double(sign: .plus, exponent: k, significand: 1)
      for i in indices {
        XCTAssertEqual(q.codes.values[i], FloatFormat.e4m3fn.decode(FloatFormat.e4m3fn.encode(t.values[i] / s, Rounding(.nearestEven, overflow: .saturate))) * s)
      }
      XCTAssertLessThanOrEqual(indices.map { abs(q.codes.values[$0]) }.max()!, 448 * s)
    } }
  }

  func testTwoLevelScalesAsNVFP4() throws {
    let t = try tensor(8, 32)
    let q = try QuantizationScheme(format: .rne(.e2m1, overflow: .saturate), granularity: .twoLevel(blockSize: 16)).quantize(t)
    let amax = t.values.map(abs).max()!
    let tensorScale = Double(Float(amax / (6 * 448)))
    XCTAssertEqual(q.rowScales, Array(repeating: tensorScale, count: 8))
    for start in stride(from: 0, to: t.values.count, by: 16) {
      let block = start..<(start + 16)
      let blockScale = FloatFormat.e4m3fn.decode(FloatFormat.e4m3fn.encode(t.values[block].map(abs).max()! / (6 * tensorScale),
                                                                          Rounding(.nearestEven, overflow: .saturate)))
      for i in block {
        let code = FloatFormat.e2m1.decode(FloatFormat.e2m1.encode(t.values[i] / (blockScale * tensorScale), Rounding(.nearestEven, overflow: .saturate)))
        XCTAssertEqual(q.codes.values[i], code * blockScale, "element \(i)")
        XCTAssertEqual(Double(Float(q.codes.values[i])), q.codes.values[i], "the stored value is an FP32 number")
      }
    }
    // Dequantized values stay within half an e2m1 step (0.5 at the top binade) of the block's scale.
    let d = q.dequantized().values
    XCTAssertLessThan(zip(d, t.values).map { abs($0 - $1) }.max()!, amax / 6)
    XCTAssertThrowsError(try QuantizationScheme(format: .rne(.bf16), granularity: .twoLevel(blockSize: 16)).quantize(t))
    XCTAssertThrowsError(try QuantizationScheme(format: .rne(.e2m1, overflow: .saturate), granularity: .twoLevel(blockSize: 12)).quantize(t))
  }

  func testStochasticStorageRoundingIsSeededAndUnbiased() throws {
    let format = NumberFormat.low(.e4m3fn, Rounding(.stochastic(randomBits: 16), overflow: .saturate))
    // 0.3 lies between e4m3 neighbours 0.28125 and 0.3125: rounded up with probability 0.6.
    let t = try AttentionTensor(batch: 1, seqLen: 4000, heads: 1, headDim: 8, values: Array(repeating: 0.3, count: 32000))
    let a = try QuantizationScheme(format: format, stochasticSeed: 5).quantize(t, stream: 2)
    let b = try QuantizationScheme(format: format, stochasticSeed: 5).quantize(t, stream: 2)
    let c = try QuantizationScheme(format: format, stochasticSeed: 6).quantize(t, stream: 2)
    let other = try QuantizationScheme(format: format, stochasticSeed: 5).quantize(t, stream: 3)
    XCTAssertEqual(a.codes.values, b.codes.values)
    XCTAssertNotEqual(a.codes.values, c.codes.values)
    XCTAssertNotEqual(a.codes.values, other.codes.values)
    XCTAssertTrue(a.codes.values.allSatisfy { $0 == 0.28125 || $0 == 0.3125 })
    let up = Double(a.codes.values.filter { $0 == 0.3125 }.count) / 32000
    XCTAssertEqual(up, 0.6, accuracy: 0.015)  // binomial σ ≈ 0.003
    let mean = a.codes.values.reduce(0, +) / 32000
    XCTAssertEqual(mean, 0.3, accuracy: 0.0005)
  }
}
