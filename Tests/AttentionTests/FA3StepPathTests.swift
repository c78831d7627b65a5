import Attention
import Hopper
import XCTest

/// The FA3 schedule's two implementations — sixteen tensor-core chains in AVX2 lanes and MUFU ex2
/// eight lanes at a time (``HopperStepPath/avx2``), and one chain at a time in SSE2 with the
/// scalar ex2 (``HopperStepPath/sse2``, the reference) — give the same O and LSE bits on cases that reach every branch of the kernel:
/// each element type, unequal head dims and dims that fill no whole lane group, GQA, causal masks, splits, KV-cache
/// lengths, softcap, e5m2 P, the FP32 tensor-core and IEEE-exp2 variants, NaN codes and codes whose steps
/// leave the vector window (huge and tiny values).
final class FA3StepPathTests: XCTestCase {
  func testAVX2ChainsEqualSSE2Chains() throws {
    try XCTSkipUnless(HopperStepPath.fastest == .avx2, "this CPU has no AVX2: only the SSE2 path runs")
    var cases: [(FA3Case, (inout FA3Schedule) -> Void)] = [
      (FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 70, seqLenK: 300, seed: 1), { _ in }),
      (FA3Case(element: .bf16, headDim: 64, seqLenQ: 65, seqLenK: 190, heads: 4, kvHeads: 2, causal: true, seed: 2), { _ in }),
      (FA3Case(element: .fp16, headDim: 96, seqLenQ: 33, seqLenK: 129, distribution: "gaussian", seed: 3), { _ in }),
      (FA3Case(element: .e4m3fn, headDim: 192, seqLenQ: 40, seqLenK: 250, causal: true, seed: 4, valueHeadDim: 128), { _ in }),
      (FA3Case(element: .bf16, headDim: 128, seqLenQ: 1, seqLenK: 700, batch: 2, heads: 4, kvHeads: 1, seed: 5, numSplits: 3), { _ in }),
      (FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 3, seqLenK: 400, batch: 3, seed: 6, cacheSeqLens: [17, 400, 233]), { _ in }),
      (FA3Case(element: .bf16, headDim: 128, seqLenQ: 50, seqLenK: 120, seed: 7, softcap: 30), { _ in }),
      (FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 50, seqLenK: 260, seed: 8, nanCodes: 5), { _ in }),
      (FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 30, seqLenK: 200, hadamard: true, seed: 9), { $0.fp8ProbabilityFormat = .e5m2 }),
      (FA3Case(element: .bf16, headDim: 64, seqLenQ: 30, seqLenK: 100, seed: 10), { $0.blocks.reverseOrder = false; $0.flushSubnormals = false }),
    ]
    cases.append((FA3Case(element: .fp16, headDim: 64, seqLenQ: 20, seqLenK: 90, seed: 11), { _ in }))
    cases.append((FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 20, seqLenK: 150, seed: 12), { $0.tensorCore = .fp32FMA }))
    cases.append((FA3Case(element: .bf16, headDim: 64, seqLenQ: 20, seqLenK: 150, seed: 13), { $0.exp2 = .ieee; $0.rowSumLanes = 2 }))
    // Head dims that fill no whole group of sixteen lanes (Q/K 24, padded to 32; V 40).
    cases.append((FA3Case(element: .bf16, headDim: 24, seqLenQ: 20, seqLenK: 70, seed: 14, valueHeadDim: 40), { _ in }))
    var checked = 0
    for (c, adjust) in cases {
      var inputs = try c.inputs()
      var schedule = FA3Schedule.fa3(for: inputs)
      adjust(&schedule)
      let sse2 = try FA3Forward.run(inputs, schedule: schedule, threads: 2, steps: .sse2)
      let avx2 = try FA3Forward.run(inputs, schedule: schedule, threads: 2, steps: .avx2)
      XCTAssertEqual(avx2.o, sse2.o, "\(c): O bits")
      XCTAssertEqual(avx2.lse.map(\.bitPattern), sse2.lse.map(\.bitPattern), "\(c): LSE bits")
      // The same case with extreme codes in K and V (the largest finite, the least subnormal,
      // and their negatives): steps whose alignment point leaves the vector window.
      let extremes: [UInt16] = inputs.element == .e4m3fn ? [0x7E, 0xFE, 0x01, 0x81] : inputs.element == .bf16 ? [0x7F7F, 0xFF7F, 0x0001, 0x8001] : [0x7BFF, 0xFBFF, 0x0001, 0x8001]
      for i in stride(from: 3, to: inputs.k.count, by: 97) { inputs.k[i] = extremes[i % 4] }
      for i in stride(from: 5, to: inputs.v.count, by: 89) { inputs.v[i] = extremes[(i / 3) % 4] }
      let sse2x = try FA3Forward.run(inputs, schedule: schedule, threads: 1, steps: .sse2)
      let avx2x = try FA3Forward.run(inputs, schedule: schedule, threads: 1, steps: .avx2)
      XCTAssertEqual(avx2x.o, sse2x.o, "\(c) with extreme codes: O bits")
      XCTAssertEqual(avx2x.lse.map(\.bitPattern), sse2x.lse.map(\.bitPattern), "\(c) with extreme codes: LSE bits")
      XCTAssertNotEqual(avx2x.o, avx2.o, "\(c): the extreme codes should change O")
      checked += 1
    }
    XCTAssertEqual(checked, cases.count)
  }
}
