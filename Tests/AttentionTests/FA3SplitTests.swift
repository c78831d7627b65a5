import Attention
import Foundation
import Hopper
import LowPrecision
import XCTest

/// The kernel's split decisions against worked cases, and the split, cache, varlen and unequal
/// head-dim paths against textbook attention on the same values. (Bit-exactness with the real
/// kernel is replayed from `Fixtures/fa3-kernel` by ``FA3ForwardTests``.)
final class FA3SplitTests: XCTestCase {
  // MARK: The host heuristic, against cases worked by hand from its definition

  func testHeuristicWaveEfficiency() {
    // 48 tiles on 108 SMs: efficiencies 0.44, 0.89, 0.67, 0.89, …, 1.0 at 9 splits; the first within
    // 85 % of the best is 2.
    XCTAssertEqual(FA3Splits.heuristic(totalMBlocks: 48, smCount: 108, nBlocks: 64, mBlocks: 1, bytesPerKVHead: 0, causal: false, maxSplits: 128), 2)
    // One tile on 132 SMs: efficiency s/132 grows with s up to min(128, 132, blocks) = 30 blocks; 85 % of 30/132 needs 26.
    XCTAssertEqual(FA3Splits.heuristic(totalMBlocks: 1, smCount: 132, nBlocks: 30, mBlocks: 1, bytesPerKVHead: 0, causal: false, maxSplits: 128), 26)
    // At most 4 K/V blocks: no split ("never for hdim 128 and seqlen_k 512").
    XCTAssertEqual(FA3Splits.heuristic(totalMBlocks: 1, smCount: 132, nBlocks: 4, mBlocks: 1, bytesPerKVHead: 0, causal: false, maxSplits: 128), 1)
    // 80 % of the SMs filled: one split, unless a KV head exceeds 50 MB of L2 with many query tiles and no mask.
    XCTAssertEqual(FA3Splits.heuristic(totalMBlocks: 106, smCount: 132, nBlocks: 1000, mBlocks: 1, bytesPerKVHead: 0, causal: false, maxSplits: 128), 1)
    let big = 120 * 1024 * 1024
    XCTAssertEqual(FA3Splits.heuristic(totalMBlocks: 300, smCount: 132, nBlocks: 1000, mBlocks: 300, bytesPerKVHead: big, causal: false, maxSplits: 128), 3)
    XCTAssertEqual(FA3Splits.heuristic(totalMBlocks: 300, smCount: 132, nBlocks: 1000, mBlocks: 300, bytesPerKVHead: big, causal: true, maxSplits: 128), 1)
  }

  func testDevicePassOfVarlenLaunches() {
    let tiles = FA3KernelTiles(rows: 128, columns: 176)
    // One entry of 100 blocks: 100·1.1/132 rounds up to 1 block per SM, so the bound decides.
    XCTAssertEqual(FA3Splits.dynamicSplits(queries: [1], keys: [100 * 176], group: 1, kvHeads: 1, tiles: tiles, upperBound: 40, smCount: 132), [40])
    // 8 KV heads, entries of 264 and 10 blocks: ⌈274·1.1·8/132⌉ = 19 blocks per SM → ⌈264/19⌉ = 14 and 1.
    XCTAssertEqual(FA3Splits.dynamicSplits(queries: [1, 1], keys: [264 * 176, 10 * 176], group: 4, kvHeads: 8, tiles: tiles, upperBound: 64,
                                           smCount: 132), [14, 1])
    // An upper bound of 1, or more than 992 entries: one split each.
    XCTAssertEqual(FA3Splits.dynamicSplits(queries: [1], keys: [99_999], group: 1, kvHeads: 1, tiles: tiles, upperBound: 1, smCount: 132), [1])
    XCTAssertEqual(Set(FA3Splits.dynamicSplits(queries: Array(repeating: 1, count: 993), keys: Array(repeating: 5000, count: 993), group: 1,
                                               kvHeads: 1, tiles: tiles, upperBound: 8, smCount: 132)), [1])
  }

  func testPlanOfAFlashAttnFuncCall() throws {
    // bf16 d128, 4 heads over 1 KV head, 3 queries × 3000 keys, one entry: PackGQA rows 12 → one tile;
    // ⌈3000/176⌉ = 18 blocks; 1 tile on 132 SMs → the smallest s ≥ 0.85·18 is 16.
    let inputs = try FA3Case(element: .bf16, headDim: 128, seqLenQ: 3, seqLenK: 3000, heads: 4, kvHeads: 1, numSplits: 0).inputs()
    let plan = FA3Forward.splitPlan(inputs, schedule: .fa3(for: inputs))
    XCTAssertEqual(plan.launched, 16)
    XCTAssertEqual(plan.perBatch, [16])
    XCTAssertTrue(plan.combines(0))
    var fewer = FA3Schedule.fa3(for: inputs)
    fewer.smCount = 8  // 1 tile on 8 SMs: efficiency s/8 up to 8 splits; 7/8 is within 85 % of 1
    XCTAssertEqual(FA3Forward.splitPlan(inputs, schedule: fewer).launched, 7)
  }

  func testSplitBlockRangesPartitionTheTile() {
    let tiles = FA3KernelTiles(rows: 128, columns: 128)
    for (keys, splits, causal, row) in [(1000, 3, false, 0), (1000, 7, false, 5), (129, 16, false, 0), (5000, 5, true, 700), (300, 4, true, 0)] {
      let ranges = (0..<splits).map {
        FA3Splits.blocks(split: $0, of: splits, row: row, head: 1, group: 2, keys: keys, seqLenQ: 800, causal: causal, tiles: tiles)
      }
      let covered = ranges.flatMap { Array($0) }
      // Disjoint, in order, and together the tile's blocks: all of them, or up to its causal bound.
      XCTAssertEqual(covered, Array(0..<(covered.last.map { $0 + 1 } ?? 0)), "\(keys) keys, \(splits) splits")
      let packedEnd = ((row * 2 + 1) / 128 + 1) * 128
      let bound = causal ? min((keys + 127) / 128, max(0, ((packedEnd - 1) / 2 + 1 + keys - 800 + 127) / 128)) : (keys + 127) / 128
      XCTAssertEqual(covered.count, bound, "\(keys) keys, \(splits) splits, causal \(causal)")
      // ⌈blocks / splits⌉ per split: the non-empty ones are full but the last.
      let per = (bound + splits - 1) / splits
      for r in ranges.dropLast() where !r.isEmpty { XCTAssertTrue(r.count == per || r.upperBound == bound) }
    }
  }

  // MARK: Against textbook attention

  /// Relative RMSE of O against textbook attention of the same values (per-entry keys), and
  /// the largest LSE error; each path must be as accurate as the plain kernel (bf16 < 1 %).
  func check(_ inputs: FA3Inputs, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let out = try FA3Forward.run(inputs, schedule: .fa3(for: inputs), threads: 2)
    let (o, lse) = Self.textbook(inputs)
    let got = out.o.map { FloatFormat.bf16.decode(UInt32($0)) }
    XCTAssertEqual(got.count, o.count, label, file: file, line: line)
    let error = zip(got, o).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, norm = o.reduce(0) { $0 + $1 * $1 }
    XCTAssertLessThan((error / norm).squareRoot(), inputs.element == .bf16 ? 0.01 : 0.15, label, file: file, line: line)
    for i in lse.indices where lse[i].isFinite { XCTAssertEqual(Double(out.lse[i]), lse[i], accuracy: 1e-3, "\(label) LSE[\(i)]", file: file, line: line) }
    for i in lse.indices where !lse[i].isFinite { XCTAssertEqual(out.lse[i], -.infinity, "\(label) LSE[\(i)] of an entry without keys") }
  }

  func testSplitsCachesAndValueHeadDimsAgreeWithTextbookAttention() throws {
    let cases = [
      FA3Case(element: .bf16, headDim: 128, seqLenQ: 40, seqLenK: 2000, heads: 4, kvHeads: 2, causal: true, seed: 1, numSplits: 5),
      FA3Case(element: .bf16, headDim: 64, seqLenQ: 1, seqLenK: 3000, batch: 3, heads: 8, kvHeads: 2, seed: 2, numSplits: 0,
              cacheSeqLens: [3000, 0, 517]),
      FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 2, seqLenK: 1500, batch: 2, heads: 2, distribution: "gaussian", seed: 3,
              numSplits: 0, cacheSeqLens: [1500, 77]),
      FA3Case(element: .bf16, headDim: 192, seqLenQ: 30, seqLenK: 400, heads: 2, seed: 4, numSplits: 3, valueHeadDim: 128),
      FA3Case(element: .bf16, headDim: 64, seqLenQ: 20, seqLenK: 300, heads: 2, causal: true, seed: 5, valueHeadDim: 512),
    ]
    for c in cases { try check(try c.inputs(), c.description) }
  }

  func testSoftcapAgreesWithTextbookAttention() throws {
    // Softcaps where tanh bends the scores (0.5, 2) and where it hardly does (30), on every path.
    let cases = [
      FA3Case(element: .bf16, headDim: 128, seqLenQ: 70, seqLenK: 300, heads: 4, kvHeads: 2, causal: true, seed: 11, softcap: 0.5),
      FA3Case(element: .bf16, headDim: 64, seqLenQ: 1, seqLenK: 1800, batch: 2, heads: 4, seed: 12, numSplits: 0,
              cacheSeqLens: [1800, 250], softcap: 2),
      FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 50, seqLenK: 500, heads: 2, seed: 13, numSplits: 3, softcap: 2),
      FA3Case(element: .e4m3fn, headDim: 256, seqLenQ: 33, seqLenK: 90, heads: 2, causal: true, distribution: "gaussian", seed: 14, softcap: 30),
    ]
    for c in cases { try check(try c.inputs(), c.description) }
    // The test can fail: without the cap, a softcap of 0.5 is far from its textbook value.
    var uncapped = try cases[0].inputs()
    let capped = Self.textbook(uncapped).0
    uncapped.softcap = 0
    let o = try FA3Forward.run(uncapped, schedule: .fa3(for: uncapped)).o.map { FloatFormat.bf16.decode(UInt32($0)) }
    let error = zip(o, capped).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, norm = capped.reduce(0) { $0 + $1 * $1 }
    XCTAssertGreaterThan((error / norm).squareRoot(), 0.05)
  }

  /// `cache_batch_idx`: entry b reads cache entry idx[b] — the same bits as the caches gathered
  /// by hand — and the index is checked.
  func testCacheBatchIndex() throws {
    let queries = try FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 2, seqLenK: 300, batch: 3, heads: 4, kvHeads: 2, seed: 21).inputs()
    let cache = try FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 2, seqLenK: 300, batch: 2, heads: 4, kvHeads: 2, seed: 22).inputs()
    var indexed = queries
    (indexed.k, indexed.v, indexed.kvBatch, indexed.cacheBatchIdx) = (cache.k, cache.v, 2, [1, 0, 1])
    indexed.cacheSeqLens = [300, 17, 120]
    indexed.numSplits = 0
    var byHand = indexed
    let row = 300 * 2 * 64
    byHand.k = Array(cache.k[row...]) + Array(cache.k[..<row]) + Array(cache.k[row...])
    byHand.v = Array(cache.v[row...]) + Array(cache.v[..<row]) + Array(cache.v[row...])
    (byHand.kvBatch, byHand.cacheBatchIdx) = (3, nil)
    let a = try FA3Forward.run(indexed, schedule: .fa3(for: indexed), threads: 2)
    XCTAssertEqual(a, try FA3Forward.run(byHand, schedule: .fa3(for: byHand), threads: 2))
    XCTAssertNotEqual(a.o, try FA3Forward.run(queries, schedule: .fa3(for: queries)).o)
    for (idx, says) in [([1, 0], "batch = 3 values"), ([0, 2, 1], "in 0...1"), ([-1, 0, 0], "in 0...1")] {
      var bad = indexed
      bad.cacheBatchIdx = idx
      XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains(says), "\($0)") }
    }
    var missing = indexed
    missing.cacheBatchIdx = nil
    XCTAssertThrowsError(try missing.validate()) { XCTAssertTrue("\($0)".contains("give cache_batch_idx"), "\($0)") }
  }

  func testSoftcapSwitchAndChecks() throws {
    let c = FA3Case(element: .bf16, headDim: 64, seqLenQ: 20, seqLenK: 100, seed: 15)
    let plain = try FA3Forward.run(try c.inputs(), schedule: .fa3(element: .bf16, headDim: 64, causal: false, seqLenQ: 20))
    var inputs = try c.inputs()
    inputs.softcap = 1e-50  // rounds to float32 0: off, as in the kernel
    XCTAssertNil(inputs.kernelSoftcap)
    XCTAssertEqual(try FA3Forward.run(inputs, schedule: .fa3(for: inputs)), plain)
    inputs.softcap = 3
    var ieee = FA3Schedule.fa3(for: inputs)
    let capped = try FA3Forward.run(inputs, schedule: ieee)
    XCTAssertNotEqual(capped.o, plain.o)
    ieee.tanh = .ieee  // the GPU's tanh.approx differs from tanh in the last bits, and so do some outputs
    XCTAssertNotEqual(try FA3Forward.run(inputs, schedule: ieee).o, capped.o)
    for bad in [-1, -.leastNonzeroMagnitude, .nan, .infinity] as [Double] {
      inputs.softcap = bad
      XCTAssertThrowsError(try inputs.validate()) { XCTAssertTrue("\($0)".contains("softcap must be finite and ≥ 0"), "\($0)") }
    }
    var json = c
    json.softcap = 2.5
    let decoded = try JSONDecoder().decode(FA3Case.self, from: Data(#"{"element":"bf16","head_dim":64,"seq_len_q":20,"seq_len_k":100,"seed":15,"softcap":2.5}"#.utf8))
    XCTAssertEqual(decoded, json)
    XCTAssertTrue(json.description.hasSuffix("-softcap2.5-s15"))
    XCTAssertNotEqual(try json.inputs().fingerprint, try c.inputs().fingerprint)
  }

  func testSplitsChangeBitsButNotTheResult() throws {
    let c = FA3Case(element: .bf16, headDim: 128, seqLenQ: 8, seqLenK: 3000, heads: 2, distribution: "gaussian", seed: 9)
    var inputs = try c.inputs()
    let one = try FA3Forward.run(inputs, schedule: .fa3(for: inputs))
    inputs.numSplits = 7
    let seven = try FA3Forward.run(inputs, schedule: .fa3(for: inputs))
    XCTAssertNotEqual(one.o, seven.o, "a different reduction order leaves some bits different")
    for (a, b) in zip(one.lse, seven.lse) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    for (a, b) in zip(one.o, seven.o) {
      XCTAssertEqual(FloatFormat.bf16.decode(UInt32(a)), FloatFormat.bf16.decode(UInt32(b)), accuracy: 1e-2)
    }
  }

  func testVarlenIsEachSequenceAlone() throws {
    // Without splits each sequence is a batch of one under the launch's tiles (longest query > 1).
    let lengthsQ = [5, 0, 130, 40], lengthsK = [300, 20, 0, 700]
    let c = FA3Case(element: .bf16, headDim: 96, seqLenQ: 130, seqLenK: 700, batch: 4, heads: 4, kvHeads: 2, seed: 6)
    let full = try c.inputs()
    var q: [UInt16] = [], k: [UInt16] = [], v: [UInt16] = []
    let (h, hk, d) = (4, 2, 96)
    for b in 0..<4 {
      q += full.q[(b * 130 * h * d)..<((b * 130 + lengthsQ[b]) * h * d)]
      k += full.k[(b * 700 * hk * d)..<((b * 700 + lengthsK[b]) * hk * d)]
      v += full.v[(b * 700 * hk * d)..<((b * 700 + lengthsK[b]) * hk * d)]
    }
    func offsets(_ l: [Int]) -> [Int] { l.reduce(into: [0]) { $0.append($0.last! + $1) } }
    let varlen = FA3VarlenInputs(element: .bf16, cuSeqLensQ: offsets(lengthsQ), cuSeqLensK: offsets(lengthsK), heads: h, kvHeads: hk,
                                 headDim: d, q: q, k: k, v: v, causal: true)
    let out = try FA3Forward.run(varlen, threads: 2)
    let schedule = FA3Schedule.fa3(element: .bf16, headDim: d, causal: true, seqLenQ: 130)
    var row = 0
    for b in 0..<4 where lengthsQ[b] > 0 {
      defer { row += lengthsQ[b] }
      let o = Array(out.o[(row * h * d)..<((row + lengthsQ[b]) * h * d)])
      if lengthsK[b] == 0 {
        XCTAssertTrue(o.allSatisfy { $0 == 0 })
        XCTAssertEqual(out.lse[row], -.infinity)
        continue
      }
      let alone = FA3Inputs(element: .bf16, batch: 1, seqLenQ: lengthsQ[b], seqLenK: lengthsK[b], heads: h, kvHeads: hk, headDim: d,
                            q: Array(q[(row * h * d)..<((row + lengthsQ[b]) * h * d)]),
                            k: Array(k[(offsets(lengthsK)[b] * hk * d)..<(offsets(lengthsK)[b + 1] * hk * d)]),
                            v: Array(v[(offsets(lengthsK)[b] * hk * d)..<(offsets(lengthsK)[b + 1] * hk * d)]), causal: true)
      let single = try FA3Forward.run(alone, schedule: schedule)
      XCTAssertEqual(single.o, o, "sequence \(b)")
      for head in 0..<h {
        XCTAssertEqual(Array(out.lse[(head * 175 + row)..<(head * 175 + row + lengthsQ[b])]).map(\.bitPattern),
                       Array(single.lse[(head * lengthsQ[b])..<((head + 1) * lengthsQ[b])]).map(\.bitPattern), "sequence \(b) head \(head)")
      }
    }
  }

  func testInfInAMaskedBlockOfTheTileGivesNaN() throws {
    // bf16 d 128, causal 112 × 162: one query tile of 128 rows, K/V blocks of 128 keys. +Inf in V at
    // key 129, channel 49: rows 0…78 cannot see key 129, but their tile runs block 1 (keys 128…161),
    // where their P of 0 meets the Inf: 0 · Inf = NaN in channel 49, as the H200 gives. The other
    // channels stay finite.
    var inputs = try FA3Case(element: .bf16, headDim: 128, seqLenQ: 112, seqLenK: 162, heads: 1, causal: true,
                             distribution: "gaussian", seed: 2).inputs()
    inputs.v[129 * 128 + 49] = 0x7F80
    let out = try FA3Forward.run(inputs, schedule: .fa3(for: inputs))
    for row in 0..<79 {
      XCTAssertEqual(out.o[row * 128 + 49], 0x7FFF, "row \(row)")
      XCTAssertTrue((0..<128).filter { $0 != 49 }.allSatisfy { out.o[row * 128 + $0] & 0x7F80 != 0x7F80 }, "row \(row)")
    }
  }

  func testInputChecks() throws {
    let good = try FA3Case(element: .bf16, headDim: 64, seqLenQ: 1, seqLenK: 100, batch: 2, cacheSeqLens: [100, 3]).inputs()
    func expectInvalid(_ says: String, _ change: (inout FA3Inputs) -> Void) {
      var bad = good
      change(&bad)
      XCTAssertThrowsError(try bad.validate(), says) { XCTAssertTrue("\($0)".contains(says), "\($0)") }
    }
    XCTAssertNoThrow(try good.validate())
    expectInvalid("cache_seqlens must be in 0...100") { $0.cacheSeqLens = [101, 3] }
    expectInvalid("batch = 2 values") { $0.cacheSeqLens = [1] }
    expectInvalid("num_splits must be in 0...256") { $0.numSplits = -1 }
    expectInvalid("num_splits") { $0.numSplits = 257 }
    expectInvalid("V head dim") { $0.valueHeadDim = 520 }
    XCTAssertThrowsError(try FA3Inputs.checkHeadDims(128, 96, element: .bf16))
    XCTAssertThrowsError(try FA3Inputs.checkHeadDims(64, 128, element: .e4m3fn))
    XCTAssertNoThrow(try FA3Inputs.checkHeadDims(192, 128, element: .e4m3fn))
    XCTAssertNoThrow(try FA3Inputs.checkHeadDims(64, 512, element: .bf16))
    let decreasing = FA3VarlenInputs(element: .bf16, cuSeqLensQ: [0, 3, 2], cuSeqLensK: [0, 1, 2], heads: 1, kvHeads: 1, headDim: 64,
                                     q: [], k: [], v: [])
    XCTAssertThrowsError(try decreasing.validate()) { XCTAssertTrue("\($0)".contains("must not decrease"), "\($0)") }
  }

  func testInvarianceFindsTheSplitBoundaries() throws {
    var c = FA3Invariance.Configuration()
    (c.heads, c.kvHeads, c.keys, c.batchSizes, c.cacheLengths) = (4, 2, 2048, [1, 64], [2048, 4096])
    let r = try FA3Invariance.run(c, threads: 2)
    XCTAssertEqual(r.rows.map(\.batch), [1, 1, 64, 64])
    XCTAssertEqual(r.rows[0].oBitsEqual, 1)
    // Different split counts for the probe change its bits; equal counts keep them.
    for row in r.rows.dropFirst() {
      let sameSplits = row.probeSplits == r.rows[0].probeSplits
      if sameSplits { XCTAssertEqual(row.oBitsEqual, 1) }
    }
    XCTAssertFalse(r.invariant, "a batch of 64 takes fewer splits than a batch of 1 on this shape")
    c.numSplits = 1
    XCTAssertTrue(try FA3Invariance.run(c, threads: 2).invariant, "without splits the probe's bits never change")
  }

  /// O (b, s, h, dv) and LSE (b, h, s) in Double with per-entry keys, bottom-right causal mask
  /// (a row with no key: O = 0, LSE = −∞).
  static func textbook(_ inputs: FA3Inputs) -> ([Double], [Double]) {
    let x = inputs.values()
    let (b, sq, sk, h, hk, d, dv) = (inputs.batch, inputs.seqLenQ, inputs.seqLenK, inputs.heads, inputs.kvHeads, inputs.headDim, inputs.valueHeadDim)
    var o = [Double](repeating: 0, count: b * sq * h * dv), lse = [Double](repeating: -.infinity, count: b * h * sq)
    for bi in 0..<b { for hi in 0..<h { for i in 0..<sq {
      let keys = inputs.keys(batch: bi)
      let kh = hi / (h / hk)
      let last = inputs.causal ? min(keys - 1, i + keys - sq) : keys - 1
      guard last >= 0 else { continue }
      var s = [Double](repeating: 0, count: last + 1)
      for j in 0...last {
        var dot = 0.0
        for c in 0..<d { dot += x.q.values[((bi * sq + i) * h + hi) * d + c] * x.k.values[((bi * sk + j) * hk + kh) * d + c] }
        s[j] = dot * inputs.scale
        if inputs.softcap > 0 { s[j] = inputs.softcap * Foundation.tanh(s[j] / inputs.softcap) }  // the definition
      }
      let m = s.max()!
      let e = s.map { Foundation.exp($0 - m) }
      let l = e.reduce(0, +)
      lse[(bi * h + hi) * sq + i] = m + Foundation.log(l)
      for c in 0..<dv {
        var acc = 0.0
        for j in 0...last { acc += e[j] * x.v.values[((bi * sk + j) * hk + kh) * dv + c] }
        o[((bi * sq + i) * h + hi) * dv + c] = acc / l
      }
    } } }
    return (o, lse)
  }
}

/// Kernel-design what-ifs on the FA3 schedule: a stale row maximum (FlashAttention-4's
/// rescale threshold), P in e5m2, and the lint that flags P past its format's range.
final class FA3WhatIfTests: XCTestCase {
  func testAStaleMaximumIsExactArithmeticButOverflowsE4M3() throws {
    // bf16: a stale maximum changes bits but not the mathematics (P ≤ 2^4 stays in range).
    let c = FA3Case(element: .bf16, headDim: 64, seqLenQ: 64, seqLenK: 900, heads: 2, distribution: "gaussian", seed: 3)
    var inputs = try c.inputs()
    inputs.softmaxScale = 2 / 8.0  // logits of standard deviation 2
    var stale = FA3Schedule.fa3(for: inputs)
    stale.rescaleThreshold = 4
    let fresh = try FA3Forward.run(inputs, schedule: .fa3(for: inputs)), kept = try FA3Forward.run(inputs, schedule: stale)
    XCTAssertNotEqual(fresh.o, kept.o)
    for (a, b) in zip(fresh.o, kept.o) {
      XCTAssertEqual(FloatFormat.bf16.decode(UInt32(a)), FloatFormat.bf16.decode(UInt32(b)), accuracy: 2e-2)
    }
    for (a, b) in zip(fresh.lse, kept.lse) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    var zero = FA3Schedule.fa3(for: inputs)
    zero.rescaleThreshold = 0  // never stale: the kernel's bits
    XCTAssertEqual(try FA3Forward.run(inputs, schedule: zero).o, fresh.o)

    // e4m3fn with offset 8 and threshold 4: P up to 2^12 is clamped at 448 in e4m3 but not in e5m2,
    // so e4m3 P is the worse one; with threshold 0.75 the order is restored.
    var fp8 = try FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 128, seqLenK: 640, heads: 2, distribution: "gaussian", seed: 4).inputs()
    fp8.softmaxScale = 2 / 8.0
    let reference = FA3SplitTests.textbook(fp8).0
    func error(threshold: Float, _ format: FA3Schedule.FP8Probability) throws -> Double {
      var s = FA3Schedule.fa3(for: fp8)
      (s.rescaleThreshold, s.fp8ProbabilityFormat) = (threshold, format)
      let o = try FA3Forward.run(fp8, schedule: s).o.map { FloatFormat.bf16.decode(UInt32($0)) }
      let e = zip(o, reference).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, r = reference.reduce(0) { $0 + $1 * $1 }
      return (e / r).squareRoot()
    }
    XCTAssertGreaterThan(try error(threshold: 4, .e4m3fn), 2 * (try error(threshold: 4, .e5m2)))
    XCTAssertLessThan(try error(threshold: 0.75, .e4m3fn), try error(threshold: 0.75, .e5m2))
  }

  func testPolynomialExp2ForP() throws {
    // FA4's CUDA-core exp2 for P: degree 5 stays as accurate as MUFU.EX2 (bf16 output), degree 0
    // (2^⌊x⌋) does not; the schedule refuses other degrees.
    let inputs = try FA3Case(element: .bf16, headDim: 64, seqLenQ: 50, seqLenK: 400, heads: 2, distribution: "gaussian", seed: 8).inputs()
    let (reference, _) = FA3SplitTests.textbook(inputs)
    func error(_ degree: Int?) throws -> Double {
      var s = FA3Schedule.fa3(for: inputs)
      s.exp2Polynomial = degree
      let o = try FA3Forward.run(inputs, schedule: s).o.map { FloatFormat.bf16.decode(UInt32($0)) }
      let e = zip(o, reference).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, r = reference.reduce(0) { $0 + $1 * $1 }
      return (e / r).squareRoot()
    }
    let mufu = try error(nil), five = try error(5), zero = try error(0)
    XCTAssertLessThan(five, 1.5 * mufu)
    XCTAssertGreaterThan(zero, 10 * mufu)
    var s = FA3Schedule.fa3(for: inputs)
    XCTAssertThrowsError(try s.set("exp2Polynomial", to: "6"))
    XCTAssertNoThrow(try s.set("exp2Polynomial", to: "none"))
  }

  func testLintFlagsPBeyondItsFormat() {
    var s = FA3Schedule.fa3(element: .e4m3fn, headDim: 128, causal: false, seqLenQ: 2)
    XCTAssertEqual(s.lint(element: .e4m3fn), [], "the kernel's P ≤ 2^8 = 256 fits e4m3fn's 448")
    s.rescaleThreshold = 4
    XCTAssertEqual(s.probabilityRange(element: .e4m3fn).largestP, 4096)
    XCTAssertEqual(s.lint(element: .e4m3fn).count, 1)
    s.rescaleThreshold = 0.75  // 2^8.75 ≈ 430.5 < 448
    XCTAssertEqual(s.lint(element: .e4m3fn), [])
    s.rescaleThreshold = 4
    s.fp8ProbabilityFormat = .e5m2
    XCTAssertEqual(s.lint(element: .e4m3fn), [], "e5m2 holds 2^12")
    var offset = FA3Schedule.fa3(element: .e4m3fn, headDim: 128, causal: false, seqLenQ: 2)
    offset.probabilityOffset = 9  // 512 > 448
    XCTAssertEqual(offset.lint(element: .e4m3fn).count, 1)
    XCTAssertThrowsError(try offset.set("rescaleThreshold", to: "-1"))
    XCTAssertThrowsError(try offset.set("fp8ProbabilityFormat", to: "e3m4"))
  }
}
