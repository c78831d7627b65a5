import Attention
import LowPrecision
import MatrixMultiply
import XCTest

final class AttentionTests: XCTestCase {
  let exact = PrecisionPlan.fp64

  func run(_ x: AttentionInputs, _ plan: PrecisionPlan, _ algorithm: AttentionAlgorithm,
           _ options: AttentionOptions = AttentionOptions()) throws -> [Double] {
    try EmulatedAttention.run(AttentionOperands(x), plan: plan, algorithm: algorithm, options: options).values
  }

  // MARK: Closed forms

  func testUniformScoresAverageTheValues() throws {
    // Every key identical → every score equal → O = mean of V rows.
    var x = randomInputs(AttentionShape(seqLenQ: 5, seqLenK: 37, headDim: 8), seed: 1)
    for j in 0..<37 { for c in 0..<8 { x.k.values[x.k.index(0, j, 0, c)] = Double(c) * 0.25 } }
    for algorithm in [AttentionAlgorithm.naive, .blocked(BlockSchedule(blockColumns: 8))] {
      let o = try run(x, exact, algorithm)
      for i in 0..<5 { for c in 0..<8 {
        let mean = (0..<37).reduce(0.0) { $0 + x.v.values[x.v.index(0, $1, 0, c)] } / 37
        XCTAssertEqual(o[(i * 8) + c], mean, accuracy: 1e-14)
      } }
    }
  }

  func testOneHotAttentionSelectsOneValueRow() throws {
    // One key aligned with the query and 1000× larger: P is one-hot up to e^-huge = 0.
    var x = randomInputs(AttentionShape(seqLenQ: 3, seqLenK: 50, headDim: 16), seed: 2)
    for c in 0..<16 {
      for i in 0..<3 { x.q.values[x.q.index(0, i, 0, c)] = 1 }
      for j in 0..<50 { x.k.values[x.k.index(0, j, 0, c)] = j == 17 ? 1000 : 0 }
    }
    for plan in [exact, PrecisionPlan.fp32, .flash16(.bf16)] {
      for algorithm in [AttentionAlgorithm.naive, .blocked(BlockSchedule(blockColumns: 16, reverseOrder: true))] {
        let o = try run(x, plan, algorithm)
        for i in 0..<3 { for c in 0..<16 {
          // P of the chosen key is 1 up to the FFMA's rounding error of m·sl2 (FlashAttention's form).
          let expected = plan.outputFormat.round(x.v.values[x.v.index(0, 17, 0, c)])
          XCTAssertEqual(o[i * 16 + c], expected, accuracy: abs(expected) * 1e-6, "\(plan.summary)")
        } }
      }
    }
  }

  func testIdenticalValueRowsGiveThatRow() throws {
    var x = randomInputs(AttentionShape(seqLenQ: 4, seqLenK: 300, headDim: 8), seed: 3)
    let row = (0..<8).map { Double($0) - 3.5 }
    for j in 0..<300 { for c in 0..<8 { x.v.values[x.v.index(0, j, 0, c)] = row[c] } }
    let o = try run(x, exact, .blocked(BlockSchedule(blockColumns: 64)))
    for i in 0..<4 { for c in 0..<8 { XCTAssertEqual(o[i * 8 + c], row[c], accuracy: 1e-13) } }
  }

  // MARK: Against the textbook oracle

  func testMasksAndGQAAgainstTextbookAttention() throws {
    let shape = AttentionShape(batch: 2, seqLenQ: 23, seqLenK: 41, headsQ: 6, headsKV: 2, headDim: 16)
    let x = randomInputs(shape, seed: 4)
    let offset = 41 - 23
    let masks: [(AttentionMask, (Int, Int) -> Bool)] = [
      (.none, { _, _ in true }),
      (AttentionMask(causal: true), { i, j in j <= i + offset }),
      (AttentionMask(windowLeft: 5, windowRight: 3), { i, j in j >= i + offset - 5 && j <= i + offset + 3 }),
      (AttentionMask(causal: true, windowLeft: 7), { i, j in j <= i + offset && j >= i + offset - 7 }),
    ]
    for (mask, allowed) in masks {
      let expected = textbookAttention(x, allowed: allowed)
      for algorithm in [AttentionAlgorithm.naive, .blocked(BlockSchedule(blockRows: 8, blockColumns: 8)),
                        .blocked(BlockSchedule(blockColumns: 13, reverseOrder: true))] {
        let o = try run(x, exact, algorithm, AttentionOptions(mask: mask))
        XCTAssertLessThan(maxAbsDifference(o, expected), 1e-13, "\(mask.name) \(algorithm.name)")
        // FP32 is close too, but not exact.
        let o32 = try run(x, .fp32, algorithm, AttentionOptions(mask: mask))
        XCTAssertLessThan(maxAbsDifference(o32, expected), 1e-5, "\(mask.name) \(algorithm.name)")
      }
    }
  }

  func testFullyMaskedRowsAreZero() throws {
    // Causal with more queries than keys: the first queries see no key.
    let x = randomInputs(AttentionShape(seqLenQ: 10, seqLenK: 4, headDim: 8), seed: 5)
    let o = try run(x, .fp32, .blocked(BlockSchedule(blockColumns: 2)), AttentionOptions(mask: AttentionMask(causal: true)))
    for i in 0..<6 { for c in 0..<8 { XCTAssertEqual(o[i * 8 + c], 0) } }
    XCTAssertNotEqual(o[6 * 8], 0)
  }

  // MARK: Naive and blocked

  func testNaiveAndBlockedAgreeBitwiseWhenTheyAreTheSameComputation() throws {
    // Naive attention normalized after P·V and blocked attention with one key block perform
    // the same operations in the same order: bitwise equal for every plan.
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 40, seqLenK: 70, headDim: 32), .paperOutliers, seed: 6)
    var exactAccumulation = PrecisionPlan.flash16(.fp16)
    exactAccumulation.scoreAccumulation = .fp32Exact
    exactAccumulation.valueAccumulation = .fp32Exact
    for scheme in ["fp16", "bf16", "fa3-fp8-per-head", "fa3-fp8-per-block-hadamard", "mx-e4m3"] {
      let s = AttentionScheme.named(scheme)!
      let operands = try s.prepare(x, rotationSeed: 1)
      for plan in [s.plan, exactAccumulation] {
        let naive = try EmulatedAttention.run(operands, plan: plan, algorithm: .naive(normalizeBeforePV: false))
        let blocked = try EmulatedAttention.run(operands, plan: plan, algorithm: .blocked(BlockSchedule(blockColumns: 128)))
        XCTAssertEqual(naive.values, blocked.values, scheme)
      }
    }
  }

  func testBlockingChangesBitsButNotTheError() throws {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 64, seqLenK: 256, headDim: 64), .gaussian(std: 1), seed: 7)
    let s = AttentionScheme.named("fp16")!
    let operands = try s.prepare(x, rotationSeed: 0)
    let one = try EmulatedAttention.run(operands, plan: s.plan, algorithm: .blocked(BlockSchedule(blockColumns: 256))).values
    let many = try EmulatedAttention.run(operands, plan: s.plan, algorithm: .blocked(BlockSchedule(blockColumns: 32))).values
    let reverse = try EmulatedAttention.run(operands, plan: s.plan,
                                            algorithm: .blocked(BlockSchedule(blockColumns: 32, reverseOrder: true))).values
    XCTAssertNotEqual(one, many)
    XCTAssertNotEqual(many, reverse)
    let truth = textbookAttention(x)
    // All within a few fp16 ulps of outputs of size ~0.1-1.
    for o in [one, many, reverse] { XCTAssertLessThan(maxAbsDifference(o, truth), 4e-3) }
  }

  func testOutputsDoNotDependOnThreadCount() throws {
    let x = AttentionInputs.generate(AttentionShape(batch: 2, seqLenQ: 50, headsQ: 4, headsKV: 2, headDim: 32), .paperOutliers, seed: 8)
    let s = AttentionScheme.named("fa3-fp8-per-block-hadamard")!
    let operands = try s.prepare(x, rotationSeed: 3)
    let algorithm = AttentionAlgorithm.blocked(BlockSchedule(blockRows: 16, blockColumns: 24, reverseOrder: true))
    let one = try EmulatedAttention.run(operands, plan: s.plan, algorithm: algorithm, options: AttentionOptions(threads: 1))
    for t in [2, 3, 7] {
      let many = try EmulatedAttention.run(operands, plan: s.plan, algorithm: algorithm, options: AttentionOptions(threads: t))
      XCTAssertEqual(one.values, many.values)
    }
  }

  func testFP8OffsetKeepsSmallProbabilities() throws {
    // One key with score 0 (V = 0) and 1000 keys with score −12 in log₂ units (V = 1): their P
    // is ≈ 2^-12, below e4m3fn's least subnormal 2^-9, so without the 2^8 offset they vanish
    // and O = 0; with it they are kept (2^-4 is exact) and O ≈ 1000·2^-12 / (1 + 1000·2^-12).
    let n = 1001
    let q = try AttentionTensor(batch: 1, seqLen: 1, heads: 1, headDim: 1, values: [1])
    let kv = (0..<n).map { $0 == 0 ? 0.0 : -12 * 0.6931471805599453 }
    let k = try AttentionTensor(batch: 1, seqLen: n, heads: 1, headDim: 1, values: kv)
    let v = try AttentionTensor(batch: 1, seqLen: n, heads: 1, headDim: 1, values: (0..<n).map { $0 == 0 ? 0 : 1 })
    let x = AttentionInputs(q: q, k: k, v: v)
    var plan = PrecisionPlan.flashFP8
    plan.outputFormat = .fp32
    let options = AttentionOptions(softmaxScale: 1)
    let truth = 1000 * 0x1p-12 / (1 + 1000 * 0x1p-12)
    let with = try run(x, plan, .blocked(.flash2), options)[0]
    XCTAssertEqual(with, truth, accuracy: truth * 0x1p-4)
    plan.probabilityOffset = 0
    XCTAssertEqual(try run(x, plan, .blocked(.flash2), options)[0], 0)
    // The saturating cast: P·2^8 ≤ 256 never reaches 448, and P·2^9 = 512 saturates to 448.
    plan.probabilityOffset = 9
    plan.probabilityFormat = .rne(.e4m3fn, overflow: .saturate)
    let saturated = try run(x, plan, .blocked(.flash2), options)[0]
    XCTAssertEqual(saturated, 1000 * 0x1p-3 / (512 + 1000 * 0x1p-3), accuracy: 0.02)
  }

  // MARK: Bad inputs

  func testBadInputsThrowOneLineErrors() throws {
    let x = randomInputs(AttentionShape(seqLenQ: 4, headDim: 8), seed: 10)
    var bad = x
    bad.v = try AttentionTensor(batch: 1, seqLen: 5, heads: 1, headDim: 8, values: Array(repeating: 0, count: 40))
    XCTAssertThrowsError(try run(bad, .fp32, .naive)) { XCTAssertTrue("\($0)".contains("K and V sequence lengths differ")) }
    bad = x
    bad.q.values[3] = .nan
    XCTAssertThrowsError(try run(bad, .fp32, .naive)) { XCTAssertTrue("\($0)".contains("non-finite")) }
    bad = x
    bad.q = try AttentionTensor(batch: 1, seqLen: 0, heads: 1, headDim: 8, values: [])
    XCTAssertThrowsError(try run(bad, .fp32, .naive)) { XCTAssertTrue("\($0)".contains("at least 1")) }
    let gqa = randomInputs(AttentionShape(seqLenQ: 4, headsQ: 3, headsKV: 2, headDim: 8), seed: 1)
    XCTAssertThrowsError(try run(gqa, .fp32, .naive)) { XCTAssertTrue("\($0)".contains("multiple")) }
    let mx = QuantizationScheme(format: .rne(.e4m3fn), granularity: .mx(blockSize: 32, rule: .floor))
    XCTAssertThrowsError(try mx.quantize(x.q)) { XCTAssertTrue("\($0)".contains("multiple of 32")) }
    XCTAssertThrowsError(try run(x, .fp32, .blocked(BlockSchedule(blockColumns: 0))))
  }
}
