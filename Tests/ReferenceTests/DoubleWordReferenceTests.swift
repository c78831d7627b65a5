import Attention
import Foundation
import Reference
import XCTest

/// The double-word reference: its bound holds against MPFR at 256 bits, it certifies Double
/// precision on ordinary inputs, its outputs are the MPFR reference's, and it does not depend on
/// the thread count or on the FMA build.
final class DoubleWordReferenceTests: XCTestCase {
  static let cases: [(AttentionShape, InputDistribution, AttentionMask)] = [
    (AttentionShape(seqLenQ: 40, headDim: 32), .paperOutliers, .none),
    (AttentionShape(batch: 2, seqLenQ: 24, seqLenK: 37, headsQ: 4, headsKV: 2, headDim: 16), .gaussian(std: 3), AttentionMask(causal: true)),
    (AttentionShape(seqLenQ: 64, headDim: 64), .channelOutliers(channels: 4, factor: 30), .none),
    (AttentionShape(seqLenQ: 48, headDim: 32), .attentionSinks(keys: 2, strength: 12), AttentionMask(causal: true)),
    // Scores far apart: most keys fall below exp(−300) and are dropped.
    (AttentionShape(seqLenQ: 20, headDim: 8), .gaussian(std: 40), .none),
    // Head dims that are not multiples of four (the dot product's tail lanes).
    (AttentionShape(seqLenQ: 19, headDim: 7), .paperOutliers, AttentionMask(causal: true)),
  ]

  func testBoundHoldsAgainstMPFRAt256Bits() throws {
    for (n, (shape, distribution, mask)) in Self.cases.enumerated() {
      let x = AttentionInputs.generate(shape, distribution, seed: UInt64(n + 11))
      let options = AttentionOptions(mask: mask)
      let (out, bound, _) = try ReferenceAttention.doubleWord(x, options: options, threads: 2)
      let truth = try ReferenceAttention.compute(x, options: options, precision: 256).values
      var violations = 0
      for (i, (o, t)) in zip(out.values, truth).enumerated() where abs(o - t) > bound.absoluteErrors[i] + o.ulp + t.ulp {
        violations += 1
      }
      XCTAssertEqual(violations, 0, "case \(n)")
      XCTAssertGreaterThanOrEqual(bound.certifiedBits, ReferenceAttention.fallbackBits, "case \(n)")
      // The returned Doubles are the 256-bit reference's nearest Doubles but for rare ties of rounding.
      let differing = zip(out.values, truth).filter { $0 != $1 }.count
      XCTAssertLessThanOrEqual(differing, out.values.count / 1000 + 1, "case \(n)")
    }
  }

  func testEqualsTheMPFRReferenceAndDoesNotDependOnThreadsOrBuild() throws {
    let x = AttentionInputs.generate(AttentionShape(batch: 1, seqLenQ: 96, headsQ: 2, headDim: 64), .paperOutliers, seed: 5)
    let one = try ReferenceAttention.doubleWord(x, threads: 1)
    let two = try ReferenceAttention.doubleWord(x, threads: 2)
    let base = try ReferenceAttention.doubleWord(x, threads: 2, kernels: .baseline)
    XCTAssertEqual(one.output.values, two.output.values)
    XCTAssertEqual(one.output.values, base.output.values)
    XCTAssertEqual(one.bound.absoluteErrors, base.bound.absoluteErrors)
    XCTAssertEqual(one.fallbackRows, 0)
    let mpfr = try ReferenceAttention.bounded(x, precision: 128, threads: 2)
    XCTAssertEqual(one.output.values, mpfr.output.values)
  }

  /// A row whose output cancels to (almost) nothing cannot be certified in double-word
  /// arithmetic: it is redone in MPFR, and the bound still holds.
  func testUncertifiedRowsAreRedoneInMPFR() throws {
    // Two keys with equal scores and V = (1, −1 + 2^-60): O = 2^-61 exactly, below the pairs' reach.
    let q = try AttentionTensor(batch: 1, seqLen: 2, heads: 1, headDim: 1, values: [1, 0.5])
    let k = try AttentionTensor(batch: 1, seqLen: 2, heads: 1, headDim: 1, values: [0.25, 0.25])
    let v = try AttentionTensor(batch: 1, seqLen: 2, heads: 1, headDim: 1, values: [1, -1 + 0x1p-52])
    let x = AttentionInputs(q: q, k: k, v: v)
    let (out, bound, redone) = try ReferenceAttention.doubleWord(x)
    XCTAssertEqual(redone, 2)
    XCTAssertEqual(out.values, [0x1p-53, 0x1p-53])
    XCTAssertGreaterThanOrEqual(bound.certifiedBits, 53)
  }

  func testRejectsWhatTheMPFRReferenceRejects() throws {
    var x = AttentionInputs.generate(AttentionShape(seqLenQ: 2, headDim: 4), .gaussian(std: 1), seed: 3)
    x.v.values[1] = .nan
    XCTAssertThrowsError(try ReferenceAttention.doubleWord(x))
    x.v.values[1] = 0x1p401
    XCTAssertThrowsError(try ReferenceAttention.doubleWord(x)) { XCTAssertTrue("\($0)".contains("outside")) }
  }
}
