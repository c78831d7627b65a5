import Attention
import Foundation
import Reference
import XCTest

final class ReferenceTests: XCTestCase {
  /// Plain FP64 attention, with a compensated (Neumaier) sum so that it is good to ~1e-15.
  func fp64Attention(_ x: AttentionInputs, causal: Bool = false) -> [Double] {
    let d = x.q.headDim, group = x.q.heads / x.k.heads
    var out: [Double] = []
    for b in 0..<x.q.batch { for i in 0..<x.q.seqLen { for h in 0..<x.q.heads {
      let hk = h / group
      let last = causal ? min(x.k.seqLen - 1, i + x.k.seqLen - x.q.seqLen) : x.k.seqLen - 1
      if last < 0 { out += Array(repeating: 0, count: d); continue }
      let s = (0...last).map { j in
        (0..<d).reduce(0.0) { $0 + x.q.values[x.q.index(b, i, h, $1)] * x.k.values[x.k.index(b, j, hk, $1)] } / Double(d).squareRoot()
      }
      let m = s.max()!
      let e = s.map { exp($0 - m) }
      let l = e.reduce(0, +)
      for c in 0..<d { out.append((0...last).reduce(0.0) { $0 + e[$1] * x.v.values[x.v.index(b, $1, hk, c)] } / l) }
    } } }
    return out
  }

  func testAgreesWithFP64OnWellConditionedCases() throws {
    let shape = AttentionShape(batch: 2, seqLenQ: 17, seqLenK: 29, headsQ: 4, headsKV: 2, headDim: 16)
    let x = AttentionInputs.generate(shape, .gaussian(std: 0.5), seed: 1)
    for causal in [false, true] {
      let options = AttentionOptions(mask: AttentionMask(causal: causal))
      let r = try ReferenceAttention.compute(x, options: options, precision: 128, threads: 2)
      let f = fp64Attention(x, causal: causal)
      for (a, b) in zip(r.values, f) { XCTAssertEqual(a, b, accuracy: 2e-15 * max(1, abs(b))) }
    }
  }

  func testCertificateIsHonest() throws {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 8, seqLenK: 40, headDim: 32), .paperOutliers, seed: 2)
    let (out, good) = try ReferenceAttention.certified(x, precision: 128, threads: 1)
    XCTAssertTrue(good.certifiesDouble)
    XCTAssertGreaterThanOrEqual(good.agreedBits, 100)
    // 24 bits cannot certify float64 outputs.
    let (low, bad) = try ReferenceAttention.certified(x, precision: 24, threads: 1)
    XCTAssertFalse(bad.certifiesDouble)
    XCTAssertLessThan(bad.agreedBits, 30)
    XCTAssertGreaterThan(bad.agreedBits, 10)
    XCTAssertEqual(low.values.count, out.values.count)
  }

  func testCorrectlyRoundedOnAClosedForm() throws {
    // Three equal scores and V = (1, 0, 0): O = 1/3, whose nearest Double is 1.0/3.0.
    let q = try AttentionTensor(batch: 1, seqLen: 1, heads: 1, headDim: 1, values: [1])
    let k = try AttentionTensor(batch: 1, seqLen: 3, heads: 1, headDim: 1, values: [0, 0, 0])
    let v = try AttentionTensor(batch: 1, seqLen: 3, heads: 1, headDim: 1, values: [1, 0, 0])
    let r = try ReferenceAttention.compute(AttentionInputs(q: q, k: k, v: v), precision: 64)
    XCTAssertEqual(r.values, [1.0 / 3.0])   // the Double nearest 1/3
  }

  func testRejectsOutOfRangeInputs() throws {
    var x = AttentionInputs.generate(AttentionShape(seqLenQ: 2, headDim: 4), .gaussian(std: 1), seed: 3)
    x.k.values[0] = 0x1p-500
    XCTAssertThrowsError(try ReferenceAttention.compute(x)) { XCTAssertTrue("\($0)".contains("outside")) }
    XCTAssertThrowsError(try ReferenceAttention.compute(x, precision: 8))
  }
}

/// The a-priori error bound holds against a reference four times as precise, and is not vacuous.
final class ReferenceBoundTests: XCTestCase {
  func testBoundHoldsAgainstAFourTimesMorePreciseReference() throws {
    let cases: [(AttentionShape, InputDistribution, AttentionMask)] = [
      (AttentionShape(seqLenQ: 40, headDim: 32), .paperOutliers, .none),
      (AttentionShape(batch: 2, seqLenQ: 24, seqLenK: 37, headsQ: 4, headsKV: 2, headDim: 16), .gaussian(std: 3), AttentionMask(causal: true)),
      (AttentionShape(seqLenQ: 64, headDim: 64), .channelOutliers(channels: 4, factor: 30), .none),
      (AttentionShape(seqLenQ: 48, headDim: 32), .attentionSinks(keys: 2, strength: 12), AttentionMask(causal: true)),
    ]
    for (n, (shape, distribution, mask)) in cases.enumerated() {
      let x = AttentionInputs.generate(shape, distribution, seed: UInt64(n))
      let options = AttentionOptions(mask: mask)
      for p in [53, 64, 96] {
        let (out, bound) = try ReferenceAttention.bounded(x, options: options, precision: p, threads: 2)
        let truth = try ReferenceAttention.compute(x, options: options, precision: 4 * p).values
        var violations = 0
        for (i, (o, t)) in zip(out.values, truth).enumerated() {
          // Both results are rounded to Double once more: allow one ulp of each.
          if abs(o - t) > bound.absoluteErrors[i] + o.ulp + t.ulp { violations += 1 }
        }
        XCTAssertEqual(violations, 0, "case \(n), p = \(p)")
        XCTAssertGreaterThan(bound.certifiedBits, p - 30, "case \(n), p = \(p): bound too loose to be useful")
        XCTAssertLessThanOrEqual(bound.certifiedBits, p)
      }
    }
  }

  /// The bound finds what a rerun finds: outputs it certifies to b bits agree with the 2p run to
  /// about b bits, and the bounded run's outputs are the plain run's.
  func testBoundedOutputsEqualThePlainRun() throws {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 50, headDim: 32), .paperOutliers, seed: 7)
    let (out, bound) = try ReferenceAttention.bounded(x, precision: 80)
    XCTAssertEqual(out.values, try ReferenceAttention.compute(x, precision: 80).values)
    let (_, certificate) = try ReferenceAttention.certified(x, precision: 80)
    XCTAssertLessThanOrEqual(bound.certifiedBits, certificate.agreedBits + 1)
  }
}

final class ReferenceMaskTests: XCTestCase {
  /// A boolean bias drops the same keys as the equivalent mask: the MPFR and double-word
  /// references give the same bits both ways; any other bias is refused.
  func testBooleanBiasEqualsTheMaskAndOtherBiasesAreRefused() throws {
    let shape = AttentionShape(batch: 1, seqLenQ: 6, seqLenK: 11, headsQ: 2, headsKV: 1, headDim: 8)
    let x = AttentionInputs.generate(shape, .gaussian(std: 1), seed: 21)
    let causal = AttentionOptions(mask: AttentionMask(causal: true, alignment: .topLeft))
    var values = [Double](repeating: 0, count: 6 * 11)
    for i in 0..<6 { for j in 0..<11 where j > i { values[i * 11 + j] = -.infinity } }
    let biased = AttentionOptions(bias: try AttentionBias(matrix: values, seqLenK: 11))
    XCTAssertEqual(try ReferenceAttention.compute(x, options: causal).values, try ReferenceAttention.compute(x, options: biased).values)
    XCTAssertEqual(try ReferenceAttention.doubleWord(x, options: causal).output.values,
                   try ReferenceAttention.doubleWord(x, options: biased).output.values)
    values[3] = 0.5
    let additive = AttentionOptions(bias: try AttentionBias(matrix: values, seqLenK: 11))
    XCTAssertThrowsError(try ReferenceAttention.compute(x, options: additive))
    XCTAssertThrowsError(try ReferenceAttention.doubleWord(x, options: additive))
  }
}
