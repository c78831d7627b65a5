import Hopper
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LowPrecision
import MatrixMultiply

/// The FlashAttention-3 Hopper forward kernel, operation for operation (docs/fa3-forward.md; every choice is a parameter of ``FA3Schedule``). Per query row, with sl2 the exp2 scale:
///
/// ```
/// sl2 = fl(fl(scale)·log2 e)  [FP8: fl(sl2 · fl(q_descale·k_descale))]
///   softcap c > 0: sl2 = fl(c·log2 e), sc = fl(fl(scale) / c)  [FP8: fl(sc · fl(q_descale·k_descale))]
/// m = −∞, lane sums = 0, O = +0
/// for each K/V block, last to first:
///   S = Q·Kᵀ (tensor-core chain over the head dim, C = +0)
///   softcap: S = tanh.approx(S ⊗ sc)  (MUFU.TANH; the c of c·tanh is in sl2)
///   S = −∞ where masked
///   m' = max(m, S);  scale = ex2((m ⊖ m')·sl2) unless first
///   ms = fma(m', sl2, −offset);  P = ex2(fma(S, sl2, −ms))
///   lane q: sum_q = fma(scale, sum_q, P[c0]) ⊕ P[c1] ⊕ …  (first block: P[c0] ⊕ …)
///   O = O ⊗ scale unless first;  O = chain(round(P) · V; C = O)
/// l = (sum_0 ⊕ sum_2) ⊕ (sum_1 ⊕ sum_3);  inv = rcp(l) (0 if l is 0 or NaN)
/// O_out = round_bf16(O ⊗ (FP8 ? inv ⊗ v_descale : inv))
/// LSE = fma(m, sl2 ⊗ ln2, lg2(l ⊗ 2^−offset) ⊗ ln2)  (−∞ if l is 0 or NaN)
/// ```
///
/// FP32 operations are `.ftz`; P is rounded to bf16/fp16 (RNE) or e4m3fn (RNE, saturating); a NaN
/// output is written as the canonical `0x7FFF`. With splits (``FA3Splits``: `numSplits`, and the
/// per-entry counts of `cacheSeqLens` launches) each split runs the loop above over its own
/// blocks from a fresh state and keeps O ⊗ (inv [⊗ v_descale]) in FP32 with its LSE, and
/// ``FA3Combine`` merges the splits. Rows are independent: the work is split into (batch, head,
/// rows) tasks over `threads` workers, and the bits do not depend on the count. `seqLenK == 0`
/// gives O = 0 and LSE = +∞ (the kernel's host-side fill); an entry without keys, O = 0 and
/// LSE = −∞.
public enum FA3Forward {
  /// The kernel's outputs for `inputs` under `schedule` (``FA3Schedule/fa3(for:)`` for the kernel's own).
  /// `steps` picks the implementation of the tensor-core chains (same bits either way; `.avx2`
  /// needs the CPU's AVX2 and falls back to `.sse2` without it).
  public static func run(_ inputs: FA3Inputs, schedule: FA3Schedule, threads: Int = 1,
                         steps: HopperStepPath = .fastest) throws(AttentionError) -> FA3Output {
    try run(inputs, schedule: schedule, plan: nil, threads: threads, steps: steps)
  }

  /// ``run(_:schedule:threads:)`` with the split plan given (one entry of a varlen launch,
  /// whose split counts come from all entries) or, when `nil`, the one `inputs` imply.
  static func run(_ given: FA3Inputs, schedule: FA3Schedule, plan: FA3SplitPlan?, threads: Int,
                  steps: HopperStepPath = .fastest) throws(AttentionError) -> FA3Output {
    try given.validate()
    let inputs = given.gatheringCacheEntries()
    try schedule.validate()
    guard threads >= 1 else { throw AttentionError("threads must be at least 1, got \(threads)") }
    let kk = inputs.element == .e4m3fn ? 32 : 16
    if schedule.tensorCore == .hopper && schedule.blocks.blockColumns % kk != 0 {
      throw AttentionError("FA3: kBlockN (\(schedule.blocks.blockColumns)) must be a multiple of the instruction's k = \(kk)")
    }
    let dv = inputs.valueHeadDim
    var out = FA3Output(o: [UInt16](repeating: 0, count: inputs.batch * inputs.seqLenQ * inputs.heads * dv),
                        lse: [Float](repeating: inputs.seqLenK == 0 ? .infinity : 0, count: inputs.batch * inputs.heads * inputs.seqLenQ))
    if inputs.seqLenK == 0 { return out }
    let kernel = FA3RowKernel(inputs, schedule, plan: plan ?? splitPlan(inputs, schedule: schedule), steps: steps)
    out.o.withUnsafeMutableBufferPointer { oBuffer in
      out.lse.withUnsafeMutableBufferPointer { lseBuffer in
        nonisolated(unsafe) let o = oBuffer.baseAddress!, lse = lseBuffer.baseAddress!
        RowTasks.run(batch: inputs.batch, heads: inputs.heads, seqLen: inputs.seqLenQ, rowsPerTask: FA3RowKernel.rowsPerTask, threads: threads,
                     scratch: { FA3RowKernel.Scratch(kernel) }) { b, h, rows, scratch in
          kernel.rows(b, h, rows, &scratch, o: o, lse: lse)
        }
      }
    }
    return out
  }

  /// The split plan the kernel would use for `inputs` under `schedule` (its tiles and SM count).
  public static func splitPlan(_ inputs: FA3Inputs, schedule: FA3Schedule) -> FA3SplitPlan {
    FA3Splits.plan(inputs, tiles: FA3KernelTiles(rows: schedule.blocks.blockRows, columns: schedule.blocks.blockColumns),
                   smCount: schedule.smCount)
  }
}

/// Query rows of ``FA3Forward``, on operands split once per call. A task's rows (at most
/// ``rowsPerTask``) visit each K/V block in turn, so that the block stays in cache across them;
/// every row keeps its own state (max, lane sums, O) and runs exactly the one-row algorithm.
struct FA3RowKernel: Sendable {
  static let rowsPerTask = 64

  let inputs: FA3Inputs
  let schedule: FA3Schedule
  let fp8: Bool
  /// Instruction k (32 FP8, 16 BF16/FP16), head dim padded to a multiple of it, keys padded to
  /// whole blocks.
  let kk: Int, paddedDim: Int, paddedKeys: Int, blockCount: Int
  /// The Q·Kᵀ instruction, and the P·V one (the same but for an e5m2 P, ``FA3Schedule/fp8ProbabilityFormat``).
  let step: HopperStep, pvStep: HopperStep
  /// Sixteen chains at a time in AVX2 lanes (``HopperStep/laneChains(_:_:steps:acc:general:)``),
  /// or one chain at a time on the SSE2 rows below; only for the Hopper tensor core.
  let laneSteps: Bool
  /// AVX2 path: the softmax's FP32 operations on vectors (O's rescale, the four row-sum lanes),
  /// and MUFU ex2 of a whole block at once (``MUFU/ex2(multiplyAdd:_:_:fused:flushSubnormals:into:vector:)``)
  /// when the schedule uses it.
  let vectorSoftmax: Bool, vectorExp2: Bool
  /// SSE2 path: split K rows (batch, kvHead, key, paddedDim) and transposed V (batch, kvHead,
  /// channel, paddedKeys); empty on the AVX2 path.
  let kSplit: HopperOperandRows, vSplit: HopperOperandRows
  /// AVX2 path: K by groups of L = ``HopperStep/laneCount`` keys, interleaved (batch, kvHead,
  /// key / L, paddedDim, key % L), and V by groups of L channels (batch, kvHead, channel / L,
  /// paddedKeys, channel % L), padded
  /// with code 0; empty on the SSE2 path.
  let kLanes: HopperOperandRows, vLanes: HopperOperandRows
  /// Groups of ``HopperStep/laneCount`` channels of O.
  let channelGroups: Int
  /// The same values as Floats, for the IEEE tensor-core variant.
  let kValues: [Float], vValues: [Float]  // empty unless the tensor core is .fp32FMA
  /// Split P codes (the P format's table), P's format and the inputs' (Q's) format.
  let pTable: [HopperOperand]
  let pFormat: FloatFormat, qFormat: FloatFormat
  let group: Int
  /// How the K/V blocks are split per batch entry, and the combine kernel's configuration.
  let plan: FA3SplitPlan
  let combine: FA3Combine

  /// One task's state: split Q rows, per-row max, lane sums and O accumulators (FP32 bits), and
  /// one block's scores and probabilities (reused row after row).
  struct Scratch {
    /// Split Q rows and P, read by both paths (contiguous; their codes feed the general steps).
    let q: HopperOperandRows, pSplit: HopperOperandRows  // reference types: filled in place
    var qValues: [Float]
    var s: [Float], p: [Float]
    var pValues: [Float]
    var o: [UInt32]
    var m: [Float]
    var laneSums: [Float]
    var pCodes8: [UInt8], pCodes16: [UInt16]
    /// Split partials of the task's rows: O (FP32) at ((split · rowsPerTask + r) · valueHeadDim + c)
    /// and the LSE at (split · rowsPerTask + r); sized on first use.
    var partialO: [Float] = [], partialLSE: [Float] = []

    mutating func reserveSplits(_ splits: Int, rows: Int, headDim: Int) {
      if partialLSE.count < splits * rows {
        partialLSE = Array(repeating: 0, count: splits * rows)
        partialO = Array(repeating: 0, count: splits * rows * headDim)
      }
    }

    init(_ k: FA3RowKernel) {
      let rows = FA3RowKernel.rowsPerTask
      q = HopperOperandRows(zeros: rows * k.paddedDim, table: k.step.aTable)
      qValues = Array(repeating: 0, count: rows * k.paddedDim)
      let n = k.schedule.blocks.blockColumns
      s = Array(repeating: 0, count: n)
      p = Array(repeating: 0, count: n)
      pSplit = HopperOperandRows(zeros: n, table: k.pTable)
      pValues = Array(repeating: 0, count: n)
      o = Array(repeating: 0, count: rows * k.inputs.valueHeadDim)
      m = Array(repeating: 0, count: rows)
      laneSums = Array(repeating: 0, count: rows * k.schedule.rowSumLanes)
      pCodes8 = Array(repeating: 0, count: n)
      pCodes16 = Array(repeating: 0, count: n)
    }
  }

  init(_ inputs: FA3Inputs, _ schedule: FA3Schedule, plan: FA3SplitPlan, steps: HopperStepPath) {
    self.inputs = inputs
    self.schedule = schedule
    fp8 = inputs.element == .e4m3fn
    kk = fp8 ? 32 : 16
    paddedDim = (inputs.headDim + kk - 1) / kk * kk
    blockCount = (inputs.seqLenK + schedule.blocks.blockColumns - 1) / schedule.blocks.blockColumns
    paddedKeys = blockCount * schedule.blocks.blockColumns
    let hopper = HopperStep(fp8 ? .wgmmaE4M3E4M3K32 : inputs.element == .bf16 ? .wgmmaBF16K16 : .wgmmaF16K16)
    step = hopper
    let e5m2P = fp8 && schedule.fp8ProbabilityFormat == .e5m2
    pvStep = e5m2P ? HopperStep(.wgmmaE5M2E4M3K32) : hopper
    qFormat = inputs.element.format
    pFormat = e5m2P ? .e5m2 : inputs.element.format
    pTable = pvStep.aTable
    group = inputs.heads / inputs.kvHeads
    self.plan = plan
    combine = FA3Combine(valueHeadDim: inputs.valueHeadDim, launchedSplits: plan.launched)
    let (b, n, hk, d, dv) = (inputs.batch, inputs.seqLenK, inputs.kvHeads, inputs.headDim, inputs.valueHeadDim)
    let avx2 = steps == .avx2 && HopperStepPath.fastest == .avx2
    laneSteps = avx2 && schedule.tensorCore == .hopper
    vectorSoftmax = avx2
    vectorExp2 = avx2 && schedule.exp2 == .mufu && schedule.exp2Polynomial == nil
    let L = HopperStep.laneCount
    channelGroups = (dv + L - 1) / L
    let split = !laneSteps
    let ks = HopperOperandRows(zeros: split ? b * hk * n * paddedDim : 0, table: hopper.bTable)
    let vs = HopperOperandRows(zeros: split ? b * hk * dv * paddedKeys : 0, table: hopper.bTable)
    let kl = HopperOperandRows(zeros: laneSteps ? b * hk * paddedKeys * paddedDim : 0, table: hopper.bTable, codes: false)
    let vl = HopperOperandRows(zeros: laneSteps ? b * hk * channelGroups * L * paddedKeys : 0, table: hopper.bTable, codes: false)
    let floats = schedule.tensorCore == .fp32FMA
    var kv = [Float](repeating: 0, count: floats ? b * hk * n * paddedDim : 0), vv = [Float](repeating: 0, count: floats ? b * hk * dv * paddedKeys : 0)
    let format = inputs.element.format
    for bi in 0..<b { for h in 0..<hk { for key in 0..<n {
      for c in 0..<d {
        let source = ((bi * n + key) * hk + h) * d + c
        let kIndex = ((bi * hk + h) * n + key) * paddedDim + c
        if split { ks.set(kIndex, code: Int(inputs.k[source]), table: hopper.bTable) }
        if laneSteps { kl.set((((bi * hk + h) * paddedKeys + key - key % L) * paddedDim + c * L) + key % L, code: Int(inputs.k[source]), table: hopper.bTable) }
        if floats { kv[kIndex] = Float(format.decode(UInt32(inputs.k[source]))) }
      }
      for c in 0..<dv {
        let source = ((bi * n + key) * hk + h) * dv + c
        let vIndex = ((bi * hk + h) * dv + c) * paddedKeys + key
        if split { vs.set(vIndex, code: Int(inputs.v[source]), table: hopper.bTable) }
        if laneSteps { vl.set((((bi * hk + h) * channelGroups + c / L) * paddedKeys + key) * L + c % L, code: Int(inputs.v[source]), table: hopper.bTable) }
        if floats { vv[vIndex] = Float(format.decode(UInt32(inputs.v[source]))) }
      }
    } } }
    kSplit = ks
    vSplit = vs
    kLanes = kl
    vLanes = vl
    kValues = kv
    vValues = vv
  }

  // FP32 CUDA-core operations, .ftz or not.
  @inline(__always) func add(_ a: Float, _ b: Float) -> Float { schedule.flushSubnormals ? FlushToZero.add(a, b) : a + b }
  @inline(__always) func mul(_ a: Float, _ b: Float) -> Float { schedule.flushSubnormals ? FlushToZero.multiply(a, b) : a * b }
  @inline(__always) func fma(_ a: Float, _ b: Float, _ c: Float) -> Float {
    schedule.flushSubnormals ? FlushToZero.fma(a, b, c) : c.addingProduct(a, b)
  }
  /// `a·b + c`, fused or with the product rounded first.
  @inline(__always) func multiplyAdd(_ a: Float, _ b: Float, _ c: Float, fused: Bool) -> Float {
    fused ? fma(a, b, c) : add(mul(a, b), c)
  }
  @inline(__always) func exp2(_ x: Float) -> Float {
    schedule.exp2 == .mufu ? MUFU.ex2(x) : flushedIfFTZ(Float(LibM.exp2(Double(x))))
  }
  func reciprocal(_ x: Float) -> Float { schedule.reciprocal == .mufu ? MUFU.rcp(x) : flushedIfFTZ(1 / x) }
  func log2(_ x: Float) -> Float { schedule.log2 == .mufu ? MUFU.lg2(x) : Float(LibM.log2(Double(flushedIfFTZ(x)))) }
  @inline(__always) func flushedIfFTZ(_ x: Float) -> Float { schedule.flushSubnormals ? MUFU.flushed(x) : x }

  /// The exp2 scale sl2 for (batch, kv head): the host's fl(fl(scale)·log2 e), then for FP8 the
  /// device's fl(sl2·fl(qd·kd)). With a softcap c: the host's fl(c·log2 e), for every element.
  func exp2Scale(_ b: Int, _ kvHead: Int) -> Float {
    let log2e = 1.4426950408889634
    if let softcap = inputs.kernelSoftcap { return Float(Double(softcap) * log2e) }
    let scale = Float(inputs.scale)
    guard fp8 else { return Float(Double(scale) * log2e) }
    let (qd, kd) = descales(b, kvHead)
    if schedule.descalesInExp2 { return mul(Float(Double(scale) * log2e), mul(qd, kd)) }
    return Float(Double(mul(mul(scale, qd), kd)) * log2e)
  }

  /// The softcap's score factor for (batch, kv head), `nil` without a softcap: the host's
  /// fl(fl(scale) / c), then for FP8 the device's fl(factor·fl(qd·kd)).
  func softcapFactor(_ b: Int, _ kvHead: Int) -> Float? {
    guard let softcap = inputs.kernelSoftcap else { return nil }
    let factor = Float(inputs.scale) / softcap
    guard fp8 else { return factor }
    let (qd, kd) = descales(b, kvHead)
    return mul(factor, mul(qd, kd))
  }

  /// The FP8 Q and K descales of (batch, kv head); 1 when not given.
  func descales(_ b: Int, _ kvHead: Int) -> (Float, Float) {
    (inputs.qDescale?[b * inputs.kvHeads + kvHead] ?? 1, inputs.kDescale?[b * inputs.kvHeads + kvHead] ?? 1)
  }

  /// Softcap's tanh: MUFU.TANH, or (``FA3Schedule/tanh`` = ieee) tanh in Double rounded once.
  @inline(__always) func tanh(_ x: Float) -> Float {
    schedule.tanh == .mufu ? MUFU.tanh(x) : Float(LibM.tanh(Double(x)))
  }

  /// Computes query rows `rows` (at most ``rowsPerTask``) of batch `b`, head `h`: writes O's bits
  /// into `o` (batch, seqLenQ, heads, valueHeadDim) and the LSE into `lse` (batch, heads, seqLenQ).
  /// Without splits each row runs over all K/V blocks and is finished in place; with splits each
  /// split's block range gives a partial O and LSE per row, merged by ``FA3Combine``.
  func rows(_ b: Int, _ h: Int, _ rows: Range<Int>, _ scratch: inout Scratch,
            o: UnsafeMutablePointer<UInt16>, lse: UnsafeMutablePointer<Float>) {
    precondition(rows.count <= Self.rowsPerTask)
    let d = inputs.headDim
    let kvHead = h / group
    let sl2 = exp2Scale(b, kvHead)
    let capFactor = softcapFactor(b, kvHead)
    for (r, i) in rows.enumerated() {
      let qBase = ((b * inputs.seqLenQ + i) * inputs.heads + h) * d
      for c in 0..<paddedDim {
        let code = c < d ? Int(inputs.q[qBase + c]) : 0
        scratch.q.set(r * paddedDim + c, code: code, table: step.aTable)
        scratch.qValues[r * paddedDim + c] = c < d ? Float(qFormat.decode(UInt32(code))) : 0
      }
    }
    let keys = inputs.keys(batch: b)
    let dv = inputs.valueHeadDim
    func out(_ i: Int) -> UnsafeMutablePointer<UInt16> { o + ((b * inputs.seqLenQ + i) * inputs.heads + h) * dv }
    func lseIndex(_ i: Int) -> Int { (b * inputs.heads + h) * inputs.seqLenQ + i }
    let combines = plan.combines(b)
    let splits = combines ? plan.perBatch[b] : 1
    let tiles = FA3KernelTiles(rows: schedule.blocks.blockRows, columns: schedule.blocks.blockColumns)
    func range(_ split: Int, _ i: Int) -> Range<Int> {
      FA3Splits.blocks(split: split, of: splits, row: i, head: h, group: group, keys: keys, seqLenQ: inputs.seqLenQ,
                       causal: inputs.kernelCausal, tiles: tiles, packed: plan.packGQA)
    }
    if combines { scratch.reserveSplits(splits, rows: Self.rowsPerTask, headDim: dv) }
    for split in 0..<splits {
      // The rows of one kernel tile share a block range; consecutive rows with the same range run together.
      var start = rows.lowerBound
      while start < rows.upperBound {
        let blocks = range(split, start)
        var end = start + 1
        while end < rows.upperBound && range(split, end) == blocks { end += 1 }
        sweep(blocks, rows: start..<end, task: rows, b: b, kvHead: kvHead, keys: keys, sl2: sl2, softcap: capFactor, &scratch)
        for i in start..<end {
          let r = i - rows.lowerBound
          let (s, value) = finish(row: r, b: b, kvHead: kvHead, sl2: sl2, &scratch)
          if combines {
            let slot = split * Self.rowsPerTask + r
            for c in 0..<dv { scratch.partialO[slot * dv + c] = mul(Float(bitPattern: scratch.o[r * dv + c]), s) }
            scratch.partialLSE[slot] = value
          } else {
            let target = out(i)
            for c in 0..<dv { target[c] = FA3Combine.encode(mul(Float(bitPattern: scratch.o[r * dv + c]), s), inputs.element.outputFormat) }
            lse[lseIndex(i)] = value
          }
        }
        start = end
      }
    }
    guard combines else { return }
    for (r, i) in rows.enumerated() {
      let partialLSE = (0..<splits).map { scratch.partialLSE[$0 * Self.rowsPerTask + r] }
      lse[lseIndex(i)] = scratch.partialO.withUnsafeBufferPointer { partial in
        combine.combine(lse: partialLSE, dv: dv, partial: { partial[($0 * Self.rowsPerTask + r) * dv + $1] },
                        format: inputs.element.outputFormat, into: out(i))
      }
    }
  }

  /// Runs rows `rows` (a part of the task `task`) from a fresh state over K/V `blocks` (their
  /// tile's, ``FA3Splits/blocks(split:of:row:head:group:keys:seqLenQ:causal:tiles:packed:)``), in
  /// the kernel's order. A row visits every block of its tile's range, also those its causal mask
  /// hides entirely: P is then 0, which leaves finite state as it is but turns an Inf or NaN in V
  /// into NaN, as on the GPU.
  func sweep(_ blocks: Range<Int>, rows: Range<Int>, task: Range<Int>, b: Int, kvHead: Int, keys: Int, sl2: Float,
             softcap: Float?, _ scratch: inout Scratch) {
    let dv = inputs.valueHeadDim
    let lanes = schedule.rowSumLanes
    for i in rows {
      let r = i - task.lowerBound
      scratch.m[r] = -.infinity
      for q in 0..<lanes { scratch.laneSums[r * lanes + q] = 0 }
      for c in 0..<dv { scratch.o[r * dv + c] = 0 }
    }
    // Causal (bottom-right aligned): key j is masked for query i when j > i + keys − seqLenQ.
    func lastKey(_ i: Int) -> Int { inputs.causal ? i + keys - inputs.seqLenQ : keys - 1 }
    var first = true
    for block in schedule.blocks.reverseOrder ? Array(blocks.reversed()) : Array(blocks) {
      for i in rows {
        visit(block, first: first, row: i - task.lowerBound, keys: keys, lastKey: lastKey(i), sl2: sl2, softcap: softcap,
              head: b * inputs.kvHeads + kvHead, &scratch)
      }
      first = false
    }
  }

  /// One K/V block for row `r` of (batch, kv head) `head`: scores (softcapped when `softcap`, the
  /// score factor, is given), running max and rescale, probabilities, lane sums, O.
  func visit(_ block: Int, first: Bool, row r: Int, keys n: Int, lastKey: Int, sl2: Float, softcap: Float?, head: Int,
             _ scratch: inout Scratch) {
    let (d, bn) = (inputs.valueHeadDim, schedule.blocks.blockColumns)  // d: O's channels
    let offset = Float(schedule.probabilityOffset)
    let lanes = schedule.rowSumLanes
    let key0 = block * bn
    let m = scratch.m[r]
    // 1. Scores, raw (unscaled), −∞ where masked (past the entry's keys or past lastKey: the unmasked
    // keys are the block's first `valid`), two keys' chains at a time.
    let valid = max(0, min(bn, n - key0, lastKey - key0 + 1))
    let kHead = head * inputs.seqLenK * paddedDim, vHead = head * d * paddedKeys
    var c = laneSteps ? scoreLanes(&scratch, row: r, head: head, key0: key0, valid: valid) : 0
    while c + 1 < valid {
      let (s0, s1) = scorePair(&scratch, r * paddedDim, kHead + (key0 + c) * paddedDim, kHead + (key0 + c + 1) * paddedDim)
      scratch.s[c] = s0
      scratch.s[c + 1] = s1
      c += 2
    }
    if c < valid { scratch.s[c] = score(&scratch, r * paddedDim, kHead + (key0 + c) * paddedDim) }
    // Softcap before the mask (the kernel's order; masked scores become −∞ either way).
    if let softcap { for c in 0..<valid { scratch.s[c] = tanh(mul(scratch.s[c], softcap)) } }
    for c in valid..<bn { scratch.s[c] = -.infinity }
    // 2. Running max (FMNMX.FTZ) and the rescale factor.
    var mNew = m
    for c in 0..<bn { mNew = max(mNew, flushedIfFTZ(scratch.s[c])) }
    // A stale maximum (FA4-style, ``FA3Schedule/rescaleThreshold``): kept while the block raises it
    // by less than the threshold in log2 units; the rescale below is then by ex2(0) = 1, exactly.
    if !first, let threshold = schedule.rescaleThreshold, m != -.infinity, mul(add(mNew, -m), sl2) < threshold { mNew = m }
    var scale: Float = 1
    if !first {
      let current = mNew == -.infinity ? 0 : mNew
      scale = exp2(mul(add(m, -current), sl2))
    }
    let ms = mNew == -.infinity ? 0 : multiplyAdd(mNew, sl2, -offset, fused: schedule.fusedExponentArgument)
    if vectorExp2 {
      scratch.s.withUnsafeBufferPointer { s in
        scratch.p.withUnsafeMutableBufferPointer { p in
          MUFU.ex2(multiplyAdd: s, sl2, -ms, fused: schedule.fusedExponentArgument, flushSubnormals: schedule.flushSubnormals, into: p)
        }
      }
    } else {
      for c in 0..<bn {
        let x = multiplyAdd(scratch.s[c], sl2, -ms, fused: schedule.fusedExponentArgument)
        scratch.p[c] = schedule.exp2Polynomial.map { SoftwareExp2.ex2(x, degree: $0) } ?? exp2(x)
      }
    }
    // 3. Row sum of the unrounded P, in lanes.
    if vectorSoftmax && lanes == 4 && bn % 8 == 0 && schedule.flushSubnormals {
      laneSumsOfFour(&scratch, row: r, first: first, scale: scale)
    } else { for q in 0..<lanes {
      var sum = scratch.laneSums[r * lanes + q]
      var firstInLane = true
      // Lane q takes the column pairs 2q, 2q + 1 of every 2·lanes columns, in order.
      for pair in stride(from: 2 * q, to: bn, by: 2 * lanes) { for c in pair..<min(pair + 2, bn) {
        if firstInLane && !first {
          sum = multiplyAdd(scale, sum, scratch.p[c], fused: schedule.blocks.fusedRowSumRescale)
        } else {
          sum = firstInLane ? scratch.p[c] : add(sum, scratch.p[c])
        }
        firstInLane = false
      } }
      if firstInLane && !first { sum = mul(scale, sum) }  // a lane with no column (bn < 2·lanes)
      scratch.laneSums[r * lanes + q] = sum
    } }
    // 4. O ← O ⊗ scale, then O += round(P)·V.
    if !first { scaleO(&scratch, row: r, by: scale) }
    roundProbabilities(&scratch)
    c = laneSteps ? accumulateLanes(&scratch, row: r, head: head, key0: key0) : 0
    while c + 1 < d {
      let (o0, o1) = accumulateValuesPair(&scratch, vHead + c * paddedKeys + key0, vHead + (c + 1) * paddedKeys + key0,
                                          scratch.o[r * d + c], scratch.o[r * d + c + 1])
      scratch.o[r * d + c] = o0
      scratch.o[r * d + c + 1] = o1
      c += 2
    }
    if c < d { scratch.o[r * d + c] = accumulateValues(&scratch, vHead + c * paddedKeys + key0, scratch.o[r * d + c]) }
    scratch.m[r] = mNew
  }

  /// Step 3 of ``visit`` for four lanes, `.ftz`, and a block of whole groups of eight columns:
  /// lane q takes columns 8j + 2q and 8j + 2q + 1, in order, so the four lanes advance together.
  func laneSumsOfFour(_ scratch: inout Scratch, row r: Int, first: Bool, scale: Float) {
    let bn = schedule.blocks.blockColumns
    var sums = SIMD4<Float>(scratch.laneSums[(4 * r)..<(4 * r + 4)])
    scratch.p.withUnsafeBufferPointer { p in
      for j in 0..<(bn / 8) {
        let even = SIMD4(p[8 * j], p[8 * j + 2], p[8 * j + 4], p[8 * j + 6])
        let odd = SIMD4(p[8 * j + 1], p[8 * j + 3], p[8 * j + 5], p[8 * j + 7])
        if j > 0 {
          sums = FlushToZero.add(sums, even)
        } else if first {
          sums = even
        } else {
          for q in 0..<4 { sums[q] = multiplyAdd(scale, sums[q], even[q], fused: schedule.blocks.fusedRowSumRescale) }
        }
        sums = FlushToZero.add(sums, odd)
      }
    }
    for q in 0..<4 { scratch.laneSums[4 * r + q] = sums[q] }
  }

  /// O ← O ⊗ `scale` for row `r` (FP32 bits; on vectors on the AVX2 path).
  func scaleO(_ scratch: inout Scratch, row r: Int, by scale: Float) {
    let d = inputs.valueHeadDim
    scratch.o.withUnsafeMutableBufferPointer { o in
      o.baseAddress!.withMemoryRebound(to: Float.self, capacity: o.count) { base in
        FlushToZero.multiply(UnsafeMutableBufferPointer(start: base + r * d, count: d), by: scale,
                             flushSubnormals: schedule.flushSubnormals, vector: vectorSoftmax)
      }
    }
  }

  /// Row `r`'s epilogue: the factor O is multiplied by (1/l, times the V descale for FP8) and
  /// the LSE.
  func finish(row r: Int, b: Int, kvHead: Int, sl2: Float, _ scratch: inout Scratch) -> (scale: Float, lse: Float) {
    let lanes = schedule.rowSumLanes
    // Butterfly reduction of the lanes (shfl-xor lanes/2, …, 1; lane 0's value).
    var sums = Array(scratch.laneSums[(r * lanes)..<((r + 1) * lanes)])
    var stride = lanes / 2
    while stride >= 1 {
      sums = sums.indices.map { add(sums[$0], sums[$0 ^ stride]) }
      stride /= 2
    }
    let l = sums[0]
    let m = scratch.m[r]
    let inv: Float = (l == 0 || l.isNaN) ? 0 : reciprocal(l)
    let vd = fp8 ? (inputs.vDescale?[b * inputs.kvHeads + kvHead] ?? 1) : 1
    let s = fp8 ? mul(inv, vd) : inv
    let l2 = schedule.probabilityOffset == 0 ? l : mul(l, Float(sign: .plus, exponent: -schedule.probabilityOffset, significand: 1))
    if l2 == 0 || l2.isNaN { return (s, -.infinity) }
    let ln2 = Float(0.6931471805599453)
    return (s, fma(m, mul(sl2, ln2), mul(log2(l2), ln2)))
  }

  /// S for one key: Q·K over the head dim, C = +0 first.
  @inline(__always)
  func score(_ scratch: inout Scratch, _ qRow: Int, _ kRow: Int) -> Float {
    switch schedule.tensorCore {
    case .hopper:
      var acc: UInt32 = 0
      for start in stride(from: 0, to: paddedDim, by: kk) {
        acc = step(scratch.q.pointer(qRow + start), kSplit.pointer(kRow + start), c: acc)
      }
      return Float(bitPattern: acc)
    case .fp32FMA:
      return scratch.qValues.withUnsafeBufferPointer { q in kValues.withUnsafeBufferPointer { k in
        FusedMultiplyAdd.chain(initial: 0, q.baseAddress! + qRow, k.baseAddress! + kRow, count: paddedDim)
      } }
    }
  }

  /// S for two keys: ``score(_:_:_:)`` twice, the two independent chains interleaved so that
  /// their tensor-core steps overlap.
  @inline(__always)
  func scorePair(_ scratch: inout Scratch, _ qRow: Int, _ kRow0: Int, _ kRow1: Int) -> (Float, Float) {
    guard case .hopper = schedule.tensorCore else { return (score(&scratch, qRow, kRow0), score(&scratch, qRow, kRow1)) }
    var acc0: UInt32 = 0, acc1: UInt32 = 0
    for start in stride(from: 0, to: paddedDim, by: kk) {
      let q = scratch.q.pointer(qRow + start)
      acc0 = step(q, kSplit.pointer(kRow0 + start), c: acc0)
      acc1 = step(q, kSplit.pointer(kRow1 + start), c: acc1)
    }
    return (Float(bitPattern: acc0), Float(bitPattern: acc1))
  }

  /// The AVX2 path's scores: S for the block's keys `key0 + c`, ``HopperStep/laneCount`` keys'
  /// chains at a time, for every such group that holds an unmasked key (c < `valid`). Returns `valid`.
  func scoreLanes(_ scratch: inout Scratch, row r: Int, head: Int, key0: Int, valid: Int) -> Int {
    let steps = paddedDim / kk
    let n = inputs.seqLenK, hk = inputs.kvHeads, d = inputs.headDim
    let q = scratch.q.lanePointer(r * paddedDim)
    let L = HopperStep.laneCount
    for group in stride(from: 0, to: valid, by: L) {
      var acc = SIMD16<UInt32>(repeating: 0)
      step.laneChains(q, kLanes.lanePointer((head * paddedKeys + key0 + group) * paddedDim), steps: steps, acc: &acc) { j, lane, c in
        let key = key0 + group + lane
        guard key < n else { return 0 }
        let dims = (j * kk)..<((j + 1) * kk)
        let (bi, h) = head.quotientAndRemainder(dividingBy: hk)
        let a = dims.map { UInt32(scratch.q.pointer(r * paddedDim).codes[$0]) }
        let b = dims.map { $0 < d ? UInt32(inputs.k[((bi * n + key) * hk + h) * d + $0]) : 0 }
        return step.instruction.step(a[...], b[...], c: c)
      }
      for lane in 0..<min(L, valid - group) { scratch.s[group + lane] = Float(bitPattern: acc[lane]) }
    }
    return valid
  }

  /// The AVX2 path's O += round(P)·V for row `r`: ``HopperStep/laneCount`` channels' chains at a time over the
  /// block's keys from `key0`, C = O. Returns O's channel count.
  func accumulateLanes(_ scratch: inout Scratch, row r: Int, head: Int, key0: Int) -> Int {
    let (dv, bn) = (inputs.valueHeadDim, schedule.blocks.blockColumns)
    let n = inputs.seqLenK, hk = inputs.kvHeads
    let pRows = scratch.pSplit, p = pRows.lanePointer(0)
    let L = HopperStep.laneCount
    scratch.o.withUnsafeMutableBufferPointer { oBuffer in
      let o = oBuffer.baseAddress! + r * dv
      for group in 0..<channelGroups {
        // O's channels of the group as one vector (a partial last group lane by lane).
        let width = min(L, dv - L * group), channels = o + L * group
        var acc = SIMD16<UInt32>(repeating: 0)
        if width == L {
          acc = UnsafeRawPointer(channels).loadUnaligned(as: SIMD16<UInt32>.self)
        } else {
          for lane in 0..<width { acc[lane] = channels[lane] }
        }
        pvStep.laneChains(p, vLanes.lanePointer(((head * channelGroups + group) * paddedKeys + key0) * L), steps: bn / kk, acc: &acc) { j, lane, c in
          let channel = L * group + lane
          guard channel < dv else { return 0 }
          let keys = (j * kk)..<((j + 1) * kk)
          let (bi, h) = head.quotientAndRemainder(dividingBy: hk)
          let a = keys.map { UInt32(pRows.pointer(0).codes[$0]) }
          let b = keys.map { key0 + $0 < n ? UInt32(inputs.v[((bi * n + key0 + $0) * hk + h) * dv + channel]) : 0 }
          return pvStep.instruction.step(a[...], b[...], c: c)
        }
        if width == L {
          UnsafeMutableRawPointer(channels).storeBytes(of: acc, as: SIMD16<UInt32>.self)
        } else {
          for lane in 0..<width { channels[lane] = acc[lane] }
        }
      }
    }
    return dv
  }

  /// Rounds the block's P to the P format (RNE; e4m3fn saturating unless switched off).
  func roundProbabilities(_ scratch: inout Scratch) {
    let n = schedule.blocks.blockColumns
    if fp8 {
      let rounding = Rounding(.nearestEven, overflow: schedule.saturateProbabilities ? .saturate : .nan)
      scratch.p.withUnsafeBufferPointer { p in
        scratch.pCodes8.withUnsafeMutableBufferPointer { pFormat.encode(p, into: $0, rounding) }
      }
      scratch.pCodes8.withUnsafeBufferPointer { scratch.pSplit.set(from: 0, codes: $0, table: pTable) }
      if schedule.tensorCore == .fp32FMA {
        for c in 0..<n { scratch.pValues[c] = Float(pFormat.decode(UInt32(scratch.pCodes8[c]))) }
      }
    } else {
      scratch.p.withUnsafeBufferPointer { p in
        scratch.pCodes16.withUnsafeMutableBufferPointer { pFormat.encode(p, into: $0, Rounding(.nearestEven, overflow: .infinity)) }
      }
      scratch.pCodes16.withUnsafeBufferPointer { scratch.pSplit.set(from: 0, codes: $0, table: pTable) }
      if schedule.tensorCore == .fp32FMA {
        for c in 0..<n { scratch.pValues[c] = Float(pFormat.decode(UInt32(scratch.pCodes16[c]))) }
      }
    }
  }

  /// One O channel: chain over the block's keys, C = O.
  @inline(__always)
  func accumulateValues(_ scratch: inout Scratch, _ vRow: Int, _ o: UInt32) -> UInt32 {
    switch schedule.tensorCore {
    case .hopper:
      var acc = o
      for start in stride(from: 0, to: schedule.blocks.blockColumns, by: kk) {
        acc = pvStep(scratch.pSplit.pointer(start), vSplit.pointer(vRow + start), c: acc)
      }
      return acc
    case .fp32FMA:
      return scratch.pValues.withUnsafeBufferPointer { p in vValues.withUnsafeBufferPointer { v in
        FusedMultiplyAdd.chain(initial: Float(bitPattern: o), p.baseAddress!, v.baseAddress! + vRow, count: schedule.blocks.blockColumns)
      } }.bitPattern
    }
  }

  /// Two O channels: ``accumulateValues(_:_:_:)`` twice, the two independent chains interleaved.
  @inline(__always)
  func accumulateValuesPair(_ scratch: inout Scratch, _ vRow0: Int, _ vRow1: Int, _ o0: UInt32, _ o1: UInt32) -> (UInt32, UInt32) {
    guard case .hopper = schedule.tensorCore else {
      return (accumulateValues(&scratch, vRow0, o0), accumulateValues(&scratch, vRow1, o1))
    }
    var acc0 = o0, acc1 = o1
    for start in stride(from: 0, to: schedule.blocks.blockColumns, by: kk) {
      let p = scratch.pSplit.pointer(start)
      acc0 = pvStep(p, vSplit.pointer(vRow0 + start), c: acc0)
      acc1 = pvStep(p, vSplit.pointer(vRow1 + start), c: acc1)
    }
    return (acc0, acc1)
  }
}
