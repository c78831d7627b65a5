import Hopper

/// The inputs of the kernel's variable-length form (`flash_attn_varlen_func`): sequences packed
/// one after another, `cuSeqLensQ` and `cuSeqLensK` (batch + 1 non-decreasing offsets from 0)
/// marking where each starts.
///
/// Q is (totalQ, heads, headDim), K (totalK, kvHeads, headDim), V (totalK, kvHeads,
/// valueHeadDim), C order; codes as in ``FA3Inputs``. Descales are (batch, kvHeads).
/// `maxSeqLenQ` and `maxSeqLenK` are the call's (they pick the tiles and size the split
/// heuristic; `nil`: the longest sequence).
public struct FA3VarlenInputs: Sendable {
  public var element: FA3Inputs.Element
  public var cuSeqLensQ: [Int], cuSeqLensK: [Int]
  public var maxSeqLenQ: Int?, maxSeqLenK: Int?
  public var heads: Int, kvHeads: Int, headDim: Int, valueHeadDim: Int
  public var q: [UInt16], k: [UInt16], v: [UInt16]
  public var qDescale: [Float]?, kDescale: [Float]?, vDescale: [Float]?
  public var causal: Bool
  public var softmaxScale: Double?
  /// The kernel's `num_splits` (1 by default in `flash_attn_varlen_func`; 0: the heuristic, with
  /// per-sequence counts as for ``FA3Inputs/cacheSeqLens``).
  public var numSplits: Int
  /// The kernel's `softcap` (0: off), as ``FA3Inputs/softcap``.
  public var softcap: Double

  public init(element: FA3Inputs.Element, cuSeqLensQ: [Int], cuSeqLensK: [Int], maxSeqLenQ: Int? = nil, maxSeqLenK: Int? = nil,
              heads: Int, kvHeads: Int, headDim: Int, valueHeadDim: Int? = nil, q: [UInt16], k: [UInt16], v: [UInt16],
              qDescale: [Float]? = nil, kDescale: [Float]? = nil, vDescale: [Float]? = nil, causal: Bool = false,
              softmaxScale: Double? = nil, numSplits: Int = 1, softcap: Double = 0) {
    self.element = element
    self.cuSeqLensQ = cuSeqLensQ
    self.cuSeqLensK = cuSeqLensK
    self.maxSeqLenQ = maxSeqLenQ
    self.maxSeqLenK = maxSeqLenK
    self.heads = heads
    self.kvHeads = kvHeads
    self.headDim = headDim
    self.valueHeadDim = valueHeadDim ?? headDim
    self.q = q
    self.k = k
    self.v = v
    self.qDescale = qDescale
    self.kDescale = kDescale
    self.vDescale = vDescale
    self.causal = causal
    self.softmaxScale = softmaxScale
    self.numSplits = numSplits
    self.softcap = softcap
  }

  public var batch: Int { cuSeqLensQ.count - 1 }
  public var totalQ: Int { cuSeqLensQ.last ?? 0 }
  public var totalK: Int { cuSeqLensK.last ?? 0 }
  func length(_ cu: [Int], _ b: Int) -> Int { cu[b + 1] - cu[b] }
  var longestQ: Int { maxSeqLenQ ?? (0..<batch).map { length(cuSeqLensQ, $0) }.max() ?? 0 }
  var longestK: Int { maxSeqLenK ?? (0..<batch).map { length(cuSeqLensK, $0) }.max() ?? 0 }

  /// Checks the offsets (batch + 1 each, from 0, non-decreasing, ending at the packed lengths),
  /// the maxima (at least every sequence's length) and then each sequence as ``FA3Inputs``.
  public func validate() throws(AttentionError) {
    guard cuSeqLensQ.count >= 2, cuSeqLensQ.count == cuSeqLensK.count else {
      throw AttentionError("FA3 varlen: cu_seqlens_q and cu_seqlens_k must both have batch + 1 ≥ 2 values, got \(cuSeqLensQ.count) and \(cuSeqLensK.count)")
    }
    for (name, cu) in [("cu_seqlens_q", cuSeqLensQ), ("cu_seqlens_k", cuSeqLensK)] {
      guard cu[0] == 0 else { throw AttentionError("FA3 varlen: \(name) must start at 0, got \(cu[0])") }
      if let i = (1..<cu.count).first(where: { cu[$0] < cu[$0 - 1] }) {
        throw AttentionError("FA3 varlen: \(name) must not decrease, got \(cu[i - 1]) then \(cu[i]) at [\(i)]")
      }
    }
    guard heads >= 1, kvHeads >= 1, heads % kvHeads == 0 else {
      throw AttentionError("FA3 varlen: heads (\(heads)) must be a positive multiple of kv_heads (\(kvHeads))")
    }
    try FA3Inputs.checkHeadDims(headDim, valueHeadDim, element: element)
    guard q.count == totalQ * heads * headDim else {
      throw AttentionError("FA3 varlen: Q must have cu_seqlens_q[-1]·heads·head_dim = \(totalQ * heads * headDim) codes, got \(q.count)")
    }
    guard k.count == totalK * kvHeads * headDim, v.count == totalK * kvHeads * valueHeadDim else {
      throw AttentionError("FA3 varlen: K and V must have cu_seqlens_k[-1]·kv_heads·head_dim = \(totalK * kvHeads * headDim) and \(totalK * kvHeads * valueHeadDim) codes, got \(k.count) and \(v.count)")
    }
    let longest = ((0..<batch).map { length(cuSeqLensQ, $0) }.max() ?? 0, (0..<batch).map { length(cuSeqLensK, $0) }.max() ?? 0)
    for (name, m) in [("max_seqlen_q", maxSeqLenQ), ("max_seqlen_k", maxSeqLenK)] {
      if let m, m > ResourceLimits.tensorElements {
        throw AttentionError("FA3 varlen: \(name) must be at most \(ResourceLimits.tensorElements) (the tensor limit), got \(m)")
      }
    }
    if let m = maxSeqLenQ, m < longest.0 { throw AttentionError("FA3 varlen: max_seqlen_q (\(m)) is below the longest query sequence (\(longest.0))") }
    if let m = maxSeqLenK, m < longest.1 { throw AttentionError("FA3 varlen: max_seqlen_k (\(m)) is below the longest key sequence (\(longest.1))") }
    guard (0...FA3Splits.largest).contains(numSplits) else {
      throw AttentionError("FA3: num_splits must be in 0...\(FA3Splits.largest) (0: the kernel's heuristic), got \(numSplits)")
    }
    for (name, d) in [("q", qDescale), ("k", kDescale), ("v", vDescale)] {
      if let d, d.count != batch * kvHeads {
        throw AttentionError("FA3: \(name)_descale must have batch × kv_heads = \(batch * kvHeads) values, got \(d.count)")
      }
    }
  }

  /// Sequence `b` as a batch of one.
  func entry(_ b: Int) -> FA3Inputs {
    let (q0, q1, k0, k1) = (cuSeqLensQ[b], cuSeqLensQ[b + 1], cuSeqLensK[b], cuSeqLensK[b + 1])
    func slice(_ d: [Float]?) -> [Float]? { d.map { Array($0[(b * kvHeads)..<((b + 1) * kvHeads)]) } }
    return FA3Inputs(element: element, batch: 1, seqLenQ: q1 - q0, seqLenK: k1 - k0, heads: heads, kvHeads: kvHeads, headDim: headDim,
                     q: Array(q[(q0 * heads * headDim)..<(q1 * heads * headDim)]),
                     k: Array(k[(k0 * kvHeads * headDim)..<(k1 * kvHeads * headDim)]),
                     v: Array(v[(k0 * kvHeads * valueHeadDim)..<(k1 * kvHeads * valueHeadDim)]),
                     qDescale: slice(qDescale), kDescale: slice(kDescale), vDescale: slice(vDescale), causal: causal,
                     softmaxScale: softmaxScale ?? 1 / Double(headDim).squareRoot(), numSplits: numSplits, valueHeadDim: valueHeadDim, softcap: softcap)
  }
}

/// The varlen kernel's outputs: O (totalQ, heads, valueHeadDim) bits and the LSE (heads, totalQ).
public struct FA3VarlenOutput: Sendable, Equatable {
  public var o: [UInt16]
  public var lse: [Float]
}

extension FA3Forward {
  /// The kernel's varlen launch, bit for bit: each sequence runs as a batch of one with the
  /// launch's tiles (from `maxSeqLenQ`) and, with splits, its own split count from the device
  /// pass over all sequences (``FA3Splits``). A sequence without keys gives O = 0 and
  /// LSE = −∞; without any keys at all the call gives O = 0 and LSE = +∞, as the kernel.
  public static func run(_ inputs: FA3VarlenInputs, schedule: FA3Schedule? = nil, threads: Int = 1) throws(AttentionError) -> FA3VarlenOutput {
    try inputs.validate()
    let (h, dv, totalQ) = (inputs.heads, inputs.valueHeadDim, inputs.totalQ)
    var out = FA3VarlenOutput(o: Array(repeating: 0, count: totalQ * h * dv), lse: Array(repeating: 0, count: h * totalQ))
    if inputs.totalK == 0 {
      for i in out.lse.indices { out.lse[i] = .infinity }
      return out
    }
    let s = schedule ?? FA3Schedule.fa3(element: inputs.element, headDim: inputs.headDim, valueHeadDim: dv, causal: inputs.causal,
                                         seqLenQ: inputs.longestQ)
    let causal = inputs.causal && inputs.longestQ != 1
    let launched = FA3Splits.launchedSplits(inputs.numSplits, element: inputs.element, headDim: inputs.headDim, valueHeadDim: dv,
                                            seqLenQ: inputs.longestQ, seqLenK: inputs.longestK, batch: inputs.batch, heads: h,
                                            kvHeads: inputs.kvHeads, causal: causal, varlen: true, smCount: s.smCount)
    let perEntry = FA3Splits.dynamicSplits(queries: (0..<inputs.batch).map { inputs.length(inputs.cuSeqLensQ, $0) },
                                           keys: (0..<inputs.batch).map { inputs.length(inputs.cuSeqLensK, $0) },
                                           group: h / inputs.kvHeads, kvHeads: inputs.kvHeads,
                                           tiles: FA3KernelTiles(rows: s.blocks.blockRows, columns: s.blocks.blockColumns),
                                           upperBound: launched, smCount: s.smCount)
    for b in 0..<inputs.batch where inputs.length(inputs.cuSeqLensQ, b) > 0 {
      let entry = inputs.entry(b)
      let q0 = inputs.cuSeqLensQ[b]
      guard entry.seqLenK > 0 else {
        for head in 0..<h { for i in 0..<entry.seqLenQ { out.lse[head * totalQ + q0 + i] = -.infinity } }
        continue
      }
      // Variable-length queries always run packed (PackGQA).
      let plan = FA3SplitPlan(launched: launched, perBatch: [perEntry[b]], varlen: true, packGQA: true)
      let result = try run(entry, schedule: s, plan: plan, threads: threads)
      for i in result.o.indices { out.o[q0 * h * dv + i] = result.o[i] }
      for head in 0..<h { for i in 0..<entry.seqLenQ { out.lse[head * totalQ + q0 + i] = result.lse[head * entry.seqLenQ + i] } }
    }
    return out
  }
}
