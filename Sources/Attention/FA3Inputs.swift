import LowPrecision

/// The exact inputs of one FlashAttention-3 forward call: raw codes in the kernel's layouts.
///
/// Q is (batch, seqLenQ, heads, headDim), K is (batch, seqLenK, kvHeads, headDim), V is (batch,
/// seqLenK, kvHeads, valueHeadDim) and O (batch, seqLenQ, heads, valueHeadDim), C order;
/// `heads` is a multiple of `kvHeads` (GQA: query head h reads KV head h / (heads / kvHeads)).
/// Codes are bf16/fp16 bit patterns or e4m3fn bytes (in the low 8 bits). FP8 descales are
/// float32 (batch, kvHeads), as `q_descale`, `k_descale`, `v_descale` of `flash_attn_func`;
/// `nil` means 1.
public struct FA3Inputs: Sendable {
  /// The element types the kernel is built for.
  public enum Element: String, Hashable, Sendable, CaseIterable, Codable {
    case bf16, fp16, e4m3fn

    public var format: FloatFormat {
      switch self {
      case .bf16: .bf16
      case .fp16: .fp16
      case .e4m3fn: .e4m3fn
      }
    }

    /// The output's format: bf16 for bf16 and e4m3fn inputs, fp16 for fp16.
    public var outputFormat: FloatFormat { self == .fp16 ? .fp16 : .bf16 }
  }

  public var element: Element
  public var batch: Int, seqLenQ: Int, seqLenK: Int, heads: Int, kvHeads: Int, headDim: Int
  /// V's (and O's) head dim: `headDim`, or one of the kernel's unequal pairs
  /// (``checkHeadDims(_:_:element:)``).
  public var valueHeadDim: Int
  public var q: [UInt16], k: [UInt16], v: [UInt16]
  public var qDescale: [Float]?, kDescale: [Float]?, vDescale: [Float]?
  public var causal: Bool
  /// The softmax scale as passed to the kernel (a double, stored there as float32); `nil`
  /// means `headDim^-0.5`.
  public var softmaxScale: Double?
  /// The kernel's `num_splits`: 1 (the default of `flash_attn_func`) runs each query tile over
  /// all K/V blocks; n > 1 divides them among n splits merged by the combine kernel; 0 lets the
  /// kernel's heuristic choose (the default of `flash_attn_with_kvcache`). See ``FA3Splits``.
  public var numSplits = 1
  /// `cache_seqlens` of `flash_attn_with_kvcache`: keys used per batch entry (each at most
  /// `seqLenK`, the cache's length); `nil` uses all `seqLenK`. Giving it selects the kernel's
  /// varlen launch (per-entry split counts).
  public var cacheSeqLens: [Int]?
  /// `softcap` of the kernel (a double, stored there as float32): scores become
  /// softcap·tanh(score·scale/softcap) before the mask; 0 (the default) is off, as is a value
  /// that rounds to float32 zero. See ``FA3Forward``.
  public var softcap: Double = 0
  /// `cache_batch_idx` of `flash_attn_with_kvcache`: batch entry b reads K/V cache entry
  /// `cacheBatchIdx[b]` (entries may repeat or go unused); `nil` reads entry b. K and V then
  /// hold ``kvBatch`` entries. Descales stay per (batch entry, kv head), as the kernel reads them.
  public var cacheBatchIdx: [Int]?
  /// The number of K/V (cache) entries: `batch`, or any count with ``cacheBatchIdx``.
  public var kvBatch: Int

  public init(element: Element, batch: Int, seqLenQ: Int, seqLenK: Int, heads: Int, kvHeads: Int, headDim: Int,
              q: [UInt16], k: [UInt16], v: [UInt16], qDescale: [Float]? = nil, kDescale: [Float]? = nil,
              vDescale: [Float]? = nil, causal: Bool = false, softmaxScale: Double? = nil, numSplits: Int = 1,
              cacheSeqLens: [Int]? = nil, valueHeadDim: Int? = nil, softcap: Double = 0, cacheBatchIdx: [Int]? = nil,
              kvBatch: Int? = nil) {
    self.element = element
    self.batch = batch
    self.seqLenQ = seqLenQ
    self.seqLenK = seqLenK
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
    self.cacheSeqLens = cacheSeqLens
    self.softcap = softcap
    self.cacheBatchIdx = cacheBatchIdx
    self.kvBatch = kvBatch ?? batch
  }

  /// The same call with K and V gathered into batch order (entry b = cache entry
  /// `cacheBatchIdx[b]`) and no index: what the kernel reads, as plain inputs.
  public func gatheringCacheEntries() -> FA3Inputs {
    guard let idx = cacheBatchIdx else { return self }
    var out = self
    let kRow = seqLenK * kvHeads * headDim, vRow = seqLenK * kvHeads * valueHeadDim
    out.k = idx.flatMap { k[($0 * kRow)..<(($0 + 1) * kRow)] }
    out.v = idx.flatMap { v[($0 * vRow)..<(($0 + 1) * vRow)] }
    out.cacheBatchIdx = nil
    out.kvBatch = batch
    return out
  }

  /// The scale used: `softmaxScale` or `headDim^-0.5`.
  public var scale: Double { softmaxScale ?? 1 / Double(headDim).squareRoot() }

  /// The softcap the kernel runs with: `Float(softcap)` when that is above 0, else `nil` (off).
  public var kernelSoftcap: Float? { Float(softcap) > 0 ? Float(softcap) : nil }

  /// The keys batch entry `b` attends to: `cacheSeqLens[b]`, or `seqLenK`.
  public func keys(batch b: Int) -> Int { cacheSeqLens?[b] ?? seqLenK }

  /// The mask the kernel runs: causal with one query row is run as not causal.
  public var kernelCausal: Bool { causal && seqLenQ != 1 }

  /// The kernel's head dims: multiples of 16 (e4m3fn) or 8 (bf16) up to 256.
  public static func checkHeadDim(_ headDim: Int, element: Element) throws(AttentionError) {
    let multiple = element == .e4m3fn ? 16 : 8
    guard headDim >= 1 && headDim <= 256 && headDim % multiple == 0 else {
      throw AttentionError("FA3: head dim must be a multiple of \(multiple) in 1...256 for \(element.rawValue), got \(headDim)")
    }
  }

  /// The head-dim pairs the kernel is built for: equal dims, or V's dim different for 16-bit
  /// inputs with d ≤ 64 and dv ≤ 512, and for any element with d in 129...192 and dv in
  /// 97...128 (each a multiple of 16 for e4m3fn, of 8 otherwise).
  public static func checkHeadDims(_ d: Int, _ dv: Int, element: Element) throws(AttentionError) {
    try checkHeadDim(d, element: element)
    guard dv != d else { return }
    let multiple = element == .e4m3fn ? 16 : 8
    let pair = (d > 128 && d <= 192 && dv > 96 && dv <= 128) || (element != .e4m3fn && d <= 64 && dv <= 512)
    guard pair && dv >= 1 && dv % multiple == 0 else {
      throw AttentionError("FA3: V head dim \(dv) ≠ \(d) is unsupported: the kernel takes Q/K dim in 129...192 with V dim in 97...128, or (16-bit inputs) Q/K dim ≤ 64 with V dim ≤ 512, multiples of \(multiple)")
    }
  }

  /// A softcap is finite and ≥ 0 (0: off), and finite in float32 too (the kernel stores it as
  /// float32; an infinite one would turn every score into NaN).
  public static func checkSoftcap(_ softcap: Double) throws(AttentionError) {
    guard softcap.isFinite && softcap >= 0 && Float(softcap).isFinite else {
      throw AttentionError("FA3: softcap must be finite and ≥ 0 (0: off), also as float32 (at most \(Float.greatestFiniteMagnitude)), got \(softcap)")
    }
  }

  /// Checks what the kernel checks (`flash_api.cpp`), with one line per problem.
  public func validate() throws(AttentionError) {
    guard batch >= 1, seqLenQ >= 1, seqLenK >= 0, heads >= 1, kvHeads >= 1 else {
      throw AttentionError("FA3: batch, seqlen_q, heads and kv_heads must be positive and seqlen_k ≥ 0 (got \(batch), \(seqLenQ), \(heads), \(kvHeads), \(seqLenK))")
    }
    guard heads % kvHeads == 0 else { throw AttentionError("FA3: heads (\(heads)) must be a multiple of kv_heads (\(kvHeads))") }
    try Self.checkHeadDims(headDim, valueHeadDim, element: element)
    guard q.count == batch * seqLenQ * heads * headDim else { throw AttentionError("FA3: Q has \(q.count) codes, expected \(batch * seqLenQ * heads * headDim)") }
    if let idx = cacheBatchIdx {
      guard idx.count == batch else { throw AttentionError("FA3: cache_batch_idx must have batch = \(batch) values, got \(idx.count)") }
      guard kvBatch >= 1 else { throw AttentionError("FA3: the K/V cache must have at least one entry") }
      if let bad = idx.first(where: { !(0..<kvBatch).contains($0) }) {
        throw AttentionError("FA3: cache_batch_idx must be in 0...\(kvBatch - 1) (the cache's entries), got \(bad)")
      }
    } else if kvBatch != batch {
      throw AttentionError("FA3: K and V have \(kvBatch) entries and Q has \(batch); give cache_batch_idx to pick a cache entry per batch entry")
    }
    guard k.count == kvBatch * seqLenK * kvHeads * headDim && v.count == kvBatch * seqLenK * kvHeads * valueHeadDim else {
      throw AttentionError("FA3: K and V must have \(kvBatch * seqLenK * kvHeads * headDim) and \(kvBatch * seqLenK * kvHeads * valueHeadDim) codes, got \(k.count) and \(v.count)")
    }
    if element == .e4m3fn, let bad = (q + k + v).first(where: { $0 > 0xFF }) {
      throw AttentionError("FA3: e4m3fn codes are bytes, got \(bad)")
    }
    for (name, d) in [("q", qDescale), ("k", kDescale), ("v", vDescale)] {
      guard let d else { continue }
      guard element == .e4m3fn else { throw AttentionError("FA3: \(name)_descale applies to e4m3fn inputs only") }
      guard d.count == batch * kvHeads else { throw AttentionError("FA3: \(name)_descale must have batch × kv_heads = \(batch * kvHeads) values, got \(d.count)") }
      if let bad = d.first(where: { !($0.isFinite && $0 > 0) }) {
        throw AttentionError("FA3: \(name)_descale must be finite and positive, got \(bad)")
      }
    }
    try AttentionOptions.checkSoftmaxScale(scale)
    try Self.checkSoftcap(softcap)
    guard (0...FA3Splits.largest).contains(numSplits) else {
      throw AttentionError("FA3: num_splits must be in 0...\(FA3Splits.largest) (0: the kernel's heuristic), got \(numSplits)")
    }
    if let lens = cacheSeqLens {
      guard lens.count == batch else { throw AttentionError("FA3: cache_seqlens must have batch = \(batch) values, got \(lens.count)") }
      if let bad = lens.first(where: { !(0...seqLenK).contains($0) }) {
        throw AttentionError("FA3: cache_seqlens must be in 0...\(seqLenK) (the cache length), got \(bad)")
      }
    }
  }
}

/// What the kernel returns: O (batch, seqLenQ, heads, valueHeadDim) as output-format bits (bf16, or
/// fp16 for fp16 inputs) and the log-sum-exp (batch, heads, seqLenQ) in natural-log units, float32.
public struct FA3Output: Sendable, Equatable {
  public var o: [UInt16]
  public var lse: [Float]

  public init(o: [UInt16], lse: [Float]) {
    self.o = o
    self.lse = lse
  }

  /// Distance of two 16-bit float codes along the number line (adjacent values are 1 apart;
  /// +0 and −0 are 0 apart). NaNs count as the largest distance.
  public static func codeDistance(_ a: UInt16, _ b: UInt16) -> Int {
    func ordinal(_ c: UInt16) -> Int { c & 0x8000 != 0 ? -Int(c & 0x7FFF) : Int(c) }
    return abs(ordinal(a) - ordinal(b))
  }
}
