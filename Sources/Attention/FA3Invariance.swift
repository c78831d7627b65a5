import LowPrecision

/// Batch invariance of the FlashAttention-3 kernel: whether one request's output bits depend on
/// what else is in the batch or on the KV cache's allocated length, answered on the emulator.
///
/// The split heuristics (``FA3Splits``) read the batch size, the other entries' key counts and
/// the cache's length, and a different split count changes the order of the softmax's
/// reductions. The probe is one request — its queries, its keys and values, its key count —
/// placed as entry 0 of batches of each size (the other entries with seeded key counts in
/// 1...keys) and of caches of each length; every run is compared with the first. The other
/// entries enter the kernel's decisions only through their key counts, so the probe's rows are
/// computed alone under the plan of the whole batch (rows never interact).
public struct FA3Invariance: Sendable {
  /// What to vary and the probe's sizes.
  public struct Configuration: Sendable {
    public var element: FA3Inputs.Element = .bf16
    public var headDim = 128
    public var heads = 32
    public var kvHeads = 8
    /// Query rows per request (1 for decode).
    public var seqLenQ = 1
    /// The probe's keys (its `cache_seqlens` entry, or its seqlen_k without a cache).
    public var keys = 4096
    /// Batch sizes to place the probe in.
    public var batchSizes = [1, 2, 4, 8, 16, 32, 64]
    /// Cache lengths (the K/V tensors' seqlen; each at least `keys`); without `kvcache` the
    /// probe's keys are all there is and this must be `[keys]`.
    public var cacheLengths: [Int] = [4096]
    /// `flash_attn_with_kvcache` (cache_seqlens given) or `flash_attn_func`.
    public var kvcache = true
    /// The kernel's `num_splits` (0: its heuristic).
    public var numSplits = 0
    public var causal = false
    public var seed: UInt64 = 0
    public var smCount = FA3Splits.hopperSMCount
    public init() {}
  }

  /// One run: the launch, the probe's split count and its agreement with the first run.
  public struct Row: Sendable {
    public var batch: Int, cacheLength: Int
    public var launchedSplits: Int, probeSplits: Int
    /// Probe outputs with bits equal to the first run's, as a fraction (O and LSE).
    public var oBitsEqual: Double, lseBitsEqual: Double
    /// The largest O difference from the first run, in codes of the output format (two values
    /// of opposite signs are as many codes apart as they are from zero together).
    public var maxULP: Int
    /// The largest O difference from the first run, in output units.
    public var maxAbs: Double
  }

  public var configuration: Configuration
  public var rows: [Row]

  /// Whether every run gave the probe the same bits.
  public var invariant: Bool { rows.allSatisfy { $0.oBitsEqual == 1 && $0.lseBitsEqual == 1 } }

  /// Runs every (batch size, cache length) pair, batch sizes outermost.
  public static func run(_ c: Configuration, threads: Int = 1) throws(AttentionError) -> FA3Invariance {
    guard !c.batchSizes.isEmpty, !c.cacheLengths.isEmpty else { throw AttentionError("invariance: give at least one batch size and cache length") }
    guard c.batchSizes.allSatisfy({ (1...992).contains($0) }) else { throw AttentionError("invariance: batch sizes must be in 1...992") }
    guard c.keys >= 1, c.cacheLengths.allSatisfy({ $0 >= c.keys }) else {
      throw AttentionError("invariance: cache lengths must be at least the probe's keys (\(c.keys))")
    }
    guard c.kvcache || c.cacheLengths == [c.keys] else {
      throw AttentionError("invariance: without a KV cache the probe's keys are the whole K/V; give no other cache length")
    }
    try ResourceLimits.checkTensor("the probe's K and V", [("cache length", c.cacheLengths.max()!), ("kv heads", c.kvHeads), ("head dim", c.headDim)])
    try ResourceLimits.checkTensor("the probe's Q", [("seqlen q", c.seqLenQ), ("heads", c.heads), ("head dim", c.headDim)])
    var rng = SplitMix64(seed: c.seed)
    let format = c.element.format
    func codes(_ n: Int) -> [UInt16] {
      (0..<n).map { _ in
        // N(0, 1) by Box–Muller from two uniforms; quantized by RNE (saturating for e4m3fn).
        let u1 = Double(rng.next() >> 11 | 1) / 9007199254740992, u2 = Double(rng.next() >> 11) / 9007199254740992
        let x = (-2 * LibM.log(u1)).squareRoot() * LibM.cos(2 * Double.pi * u2)
        return UInt16(format.encode(x, Rounding(.nearestEven, overflow: c.element == .e4m3fn ? .saturate : .infinity)))
      }
    }
    let (d, h, hk, sq) = (c.headDim, c.heads, c.kvHeads, c.seqLenQ)
    let probeQ = codes(sq * h * d), probeK = codes(c.keys * hk * d), probeV = codes(c.keys * hk * d)
    // The other entries enter only through their key counts (the split heuristics read nothing
    // else of them), so the probe's rows are computed alone, under the whole batch's plan.
    let fillerKeys = (0..<(c.batchSizes.max()! - 1)).map { _ in 1 + Int(rng.next() % UInt64(c.keys)) }
    var rows: [Row] = []
    var first: FA3Output?
    for b in c.batchSizes {
      for length in c.cacheLengths {
        var k = [UInt16](repeating: 0, count: length * hk * d), v = k
        for i in probeK.indices { (k[i], v[i]) = (probeK[i], probeV[i]) }
        let lens = [c.keys] + fillerKeys.prefix(b - 1).map { min($0, length) }
        let batch = FA3Inputs(element: c.element, batch: b, seqLenQ: sq, seqLenK: length, heads: h, kvHeads: hk, headDim: d,
                              q: [], k: [], v: [], causal: c.causal, numSplits: c.numSplits, cacheSeqLens: c.kvcache ? lens : nil)
        var schedule = FA3Schedule.fa3(for: batch)
        schedule.smCount = c.smCount
        let plan = FA3Forward.splitPlan(batch, schedule: schedule)
        let probeInputs = FA3Inputs(element: c.element, batch: 1, seqLenQ: sq, seqLenK: length, heads: h, kvHeads: hk, headDim: d,
                                    q: probeQ, k: k, v: v, causal: c.causal, numSplits: c.numSplits,
                                    cacheSeqLens: c.kvcache ? [c.keys] : nil)
        let probe = try FA3Forward.run(probeInputs, schedule: schedule,
                                       plan: FA3SplitPlan(launched: plan.launched, perBatch: [plan.perBatch[0]], varlen: plan.varlen,
                                                          packGQA: plan.packGQA),
                                       threads: threads)
        let base = first ?? probe
        if first == nil { first = probe }
        var equal = 0, worst = 0, worstAbs = 0.0
        let out = c.element.outputFormat
        for (x, y) in zip(probe.o, base.o) {
          if x == y { equal += 1 } else {
            worst = max(worst, FA3Output.codeDistance(x, y))
            worstAbs = max(worstAbs, abs(out.decode(UInt32(x)) - out.decode(UInt32(y))))
          }
        }
        let lseEqual = zip(probe.lse, base.lse).filter { $0.bitPattern == $1.bitPattern }.count
        rows.append(Row(batch: b, cacheLength: length, launchedSplits: plan.launched, probeSplits: plan.perBatch[0],
                        oBitsEqual: Double(equal) / Double(probe.o.count), lseBitsEqual: Double(lseEqual) / Double(probe.lse.count),
                        maxULP: worst, maxAbs: worstAbs))
      }
    }
    return FA3Invariance(configuration: c, rows: rows)
  }
}
