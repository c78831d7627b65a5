import Attention
import LowPrecision
import XCTest

/// Top-left alignment and additive biases (PyTorch's `is_causal` and `attn_mask`), against the
/// textbook oracle.
final class AttentionBiasTests: XCTestCase {
  func run(_ x: AttentionInputs, _ plan: PrecisionPlan, _ algorithm: AttentionAlgorithm, _ options: AttentionOptions) throws -> [Double] {
    try EmulatedAttention.run(AttentionOperands(x), plan: plan, algorithm: algorithm, options: options).values
  }

  let algorithms: [AttentionAlgorithm] = [.naive, .blocked(BlockSchedule(blockRows: 8, blockColumns: 8)),
                                          .blocked(BlockSchedule(blockColumns: 13, reverseOrder: true))]

  func testTopLeftAlignmentPutsQueryIAtKeyI() throws {
    for (nq, nk) in [(23, 41), (41, 23), (17, 17)] {
      let x = randomInputs(AttentionShape(batch: 2, seqLenQ: nq, seqLenK: nk, headsQ: 4, headsKV: 2, headDim: 16), seed: 11)
      let masks: [(AttentionMask, (Int, Int) -> Bool)] = [
        (AttentionMask(causal: true, alignment: .topLeft), { i, j in j <= i }),
        (AttentionMask(windowLeft: 4, windowRight: 2, alignment: .topLeft), { i, j in j >= i - 4 && j <= i + 2 }),
      ]
      for (mask, allowed) in masks {
        let expected = textbookAttention(x, allowed: allowed)
        for algorithm in algorithms {
          let o = try run(x, .fp64, algorithm, AttentionOptions(mask: mask))
          XCTAssertLessThan(maxAbsDifference(o, expected), 1e-13, "\(nq)x\(nk) \(mask.name) \(algorithm.name)")
        }
      }
    }
    XCTAssertEqual(AttentionMask(causal: true, alignment: .topLeft).name, "causal+top-left")
  }

  func testAdditiveBiasBroadcastAndBooleanMasks() throws {
    let shape = AttentionShape(batch: 2, seqLenQ: 9, seqLenK: 30, headsQ: 4, headsKV: 1, headDim: 8)
    let x = randomInputs(shape, seed: 12)
    var rng = SplitMix64(seed: 3)
    // Per (head, query, key), broadcast over the batch; a third of the keys dropped.
    let values = (0..<(4 * 9 * 30)).map { _ -> Double in Double.random(in: 0..<1, using: &rng) < 0.33 ? -.infinity : Double.random(in: -2..<2, using: &rng) }
    let bias = try AttentionBias(values: values, strides: [0, 9 * 30, 30, 1])
    let oracle: (Int, Int, Int, Int) -> Double = { _, h, i, j in values[(h * 9 + i) * 30 + j] }
    let expected = textbookAttention(x, scale: 0.7, bias: oracle)
    for algorithm in algorithms {
      let o = try run(x, .fp64, algorithm, AttentionOptions(softmaxScale: 0.7, bias: bias))
      XCTAssertLessThan(maxAbsDifference(o, expected), 1e-13, algorithm.name)
      let o32 = try run(x, .fp32, algorithm, AttentionOptions(softmaxScale: 0.7, bias: bias))
      XCTAssertLessThan(maxAbsDifference(o32, expected), 1e-5, algorithm.name)
    }
    // A row whose keys are all dropped is 0; the bias combines with a causal mask.
    var dropped = values
    for j in 0..<30 { dropped[(1 * 9 + 4) * 30 + j] = -.infinity }
    let o = try run(x, .fp32, .naive, AttentionOptions(mask: AttentionMask(causal: true, alignment: .topLeft),
                                                       bias: try AttentionBias(values: dropped, strides: [0, 270, 30, 1])))
    let expectedCausal = textbookAttention(x, allowed: { i, j in j <= i }, bias: { _, h, i, j in dropped[(h * 9 + i) * 30 + j] })
    XCTAssertLessThan(maxAbsDifference(o, expectedCausal), 1e-5)
    for b in 0..<2 { for c in 0..<8 { XCTAssertEqual(o[((b * 9 + 4) * 4 + 1) * 8 + c], 0) } }
  }

  func testBiasExtentsAreChecked() throws {
    let shape = AttentionShape(seqLenQ: 4, seqLenK: 5, headDim: 8)
    let x = randomInputs(shape, seed: 13)
    let short = try AttentionBias(values: Array(repeating: 0, count: 19), strides: [0, 0, 5, 1])
    XCTAssertThrowsError(try run(x, .fp32, .naive, AttentionOptions(bias: short)))
    XCTAssertThrowsError(try AttentionBias(values: [0], strides: [0, 0, -1, 1]))
    let huge = try AttentionBias(values: [0], strides: [0, 0, Int.max / 2, 1])
    XCTAssertThrowsError(try run(x, .fp32, .naive, AttentionOptions(bias: huge)))
  }

  /// PyTorch's "masked" value is the float32 minimum, not −∞: padding keys carry it, and a row of
  /// only such keys attends to them evenly. No overflow, no NaN, in every plan and block size.
  func testFloat32MinimumBiasesMaskWithoutOverflow() throws {
    let shape = AttentionShape(batch: 1, seqLenQ: 4, seqLenK: 40, headsQ: 2, headsKV: 1, headDim: 16)
    let x = randomInputs(shape, seed: 14)
    let lowest = -Double(Float.greatestFiniteMagnitude)
    let padded = (0..<(4 * 40)).map { $0 % 40 < 12 ? lowest : 0 }     // left padding: keys 0...11 masked
    let expected = textbookAttention(x, bias: { _, _, _, j in j < 12 ? -.infinity : 0 })
    let everything = Array(repeating: lowest, count: 4 * 40)            // every key masked: uniform weights
    let sameScores = textbookAttention(x, scale: 1e-300)
    for plan in [PrecisionPlan.fp64, .fp32, .flash16(.bf16)] {
      for algorithm in [AttentionAlgorithm.naive, .blocked(BlockSchedule(blockColumns: 4)), .blocked(BlockSchedule(blockColumns: 64))] {
        let o = try run(x, plan, algorithm, AttentionOptions(bias: try AttentionBias(matrix: padded, seqLenK: 40)))
        XCTAssertFalse(o.contains(where: \.isNaN), "\(plan.summary) \(algorithm.name)")
        XCTAssertLessThan(maxAbsDifference(o, expected), plan == .fp64 ? 1e-13 : 2e-2, "\(plan.summary) \(algorithm.name)")
        let all = try run(x, plan, algorithm, AttentionOptions(bias: try AttentionBias(matrix: everything, seqLenK: 40)))
        XCTAssertFalse(all.contains(where: \.isNaN), "\(plan.summary) \(algorithm.name)")
        XCTAssertLessThan(maxAbsDifference(all, sameScores), plan == .fp64 ? 1e-13 : 2e-2, "\(plan.summary) \(algorithm.name)")
      }
    }
  }
}
