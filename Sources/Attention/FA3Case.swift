import LowPrecision

/// One reproducible FA3 problem: sizes, element type, mask, input distribution, rotation and
/// seed. ``inputs()`` turns it into the exact codes (and descales) that both the real kernel and
/// ``FA3Forward`` receive.
///
/// Values are drawn from ``InputDistribution`` (seeded), Q and K optionally rotated by
/// ``Rotation/Kind/randomHadamard`` (drawn with `seed`), then quantized: bf16/fp16 by RNE; e4m3fn per
/// (batch, kv head) with descale `fl32(amax / 448)` (Q's amax over the query heads of the group)
/// and codes `RNE_sat(x / descale)`.
public struct FA3Case: Codable, Hashable, Sendable, CustomStringConvertible {
  public var element: FA3Inputs.Element
  public var headDim: Int
  public var seqLenQ: Int
  public var seqLenK: Int
  public var batch = 1
  public var heads = 2
  public var kvHeads = 2
  public var causal = false
  /// `gaussian` (N(0,1)) or `sparse-outliers` (the FlashAttention-3 paper's inputs,
  /// ``InputDistribution/paperOutliers``).
  public var distribution = "sparse-outliers"
  public var hadamard = false
  public var seed: UInt64 = 0
  /// The kernel's `num_splits` (1: none; 0: its heuristic). See ``FA3Splits``.
  public var numSplits = 1
  /// `cache_seqlens` (keys used per batch entry; `seqLenK` is then the cache length), run as
  /// `flash_attn_with_kvcache`.
  public var cacheSeqLens: [Int]?
  /// How many codes are set to NaN after quantization: at seeded positions, in Q, K and V in
  /// turn (bf16/fp16 0x7FC0, e4m3fn 0x7F).
  public var nanCodes = 0
  /// V's head dim (`nil`: `headDim`); unequal pairs as the kernel builds them.
  public var valueHeadDim: Int?
  /// The kernel's `softcap` (0: off).
  public var softcap: Double = 0

  public init(element: FA3Inputs.Element, headDim: Int, seqLenQ: Int, seqLenK: Int? = nil, batch: Int = 1,
              heads: Int = 2, kvHeads: Int? = nil, causal: Bool = false, distribution: String = "sparse-outliers",
              hadamard: Bool = false, seed: UInt64 = 0, numSplits: Int = 1, cacheSeqLens: [Int]? = nil, nanCodes: Int = 0,
              valueHeadDim: Int? = nil, softcap: Double = 0) {
    self.element = element
    self.headDim = headDim
    self.seqLenQ = seqLenQ
    self.seqLenK = seqLenK ?? seqLenQ
    self.batch = batch
    self.heads = heads
    self.kvHeads = kvHeads ?? heads
    self.causal = causal
    self.distribution = distribution
    self.hadamard = hadamard
    self.seed = seed
    self.numSplits = numSplits
    self.cacheSeqLens = cacheSeqLens
    self.nanCodes = nanCodes
    self.valueHeadDim = valueHeadDim
    self.softcap = softcap
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case element, headDim = "head_dim", seqLenQ = "seq_len_q", seqLenK = "seq_len_k", batch, heads, kvHeads = "kv_heads"
    case causal, distribution, hadamard, seed, numSplits = "num_splits", cacheSeqLens = "cache_seqlens", nanCodes = "nan_codes"
    case valueHeadDim = "head_dim_v", softcap
  }

  /// Keys of the first format (camelCase) and their names now.
  static let renamedKeys = ["headDim": "head_dim", "seqLenQ": "seq_len_q", "seqLenK": "seq_len_k", "kvHeads": "kv_heads"]

  /// Decodes a case; every key but `element`, `head_dim` and `seq_len_q` is optional (defaults as
  /// in ``init(element:headDim:seqLenQ:seqLenK:batch:heads:kvHeads:causal:distribution:hadamard:seed:numSplits:cacheSeqLens:nanCodes:valueHeadDim:softcap:)``),
  /// and an unknown key is an error naming it (``FileKeys``).
  public init(from decoder: any Decoder) throws {
    let any = try decoder.container(keyedBy: AnyKey.self)
    do {
      try FileKeys.check(any.allKeys.map(\.stringValue), allowed: CodingKeys.allCases.map(\.stringValue),
                         renamed: Self.renamedKeys, at: "case")
    } catch {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
    }
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(element: try c.decode(FA3Inputs.Element.self, forKey: .element), headDim: try c.decode(Int.self, forKey: .headDim),
              seqLenQ: try c.decode(Int.self, forKey: .seqLenQ), seqLenK: try c.decodeIfPresent(Int.self, forKey: .seqLenK),
              batch: try c.decodeIfPresent(Int.self, forKey: .batch) ?? 1, heads: try c.decodeIfPresent(Int.self, forKey: .heads) ?? 2,
              kvHeads: try c.decodeIfPresent(Int.self, forKey: .kvHeads), causal: try c.decodeIfPresent(Bool.self, forKey: .causal) ?? false,
              distribution: try c.decodeIfPresent(String.self, forKey: .distribution) ?? "sparse-outliers",
              hadamard: try c.decodeIfPresent(Bool.self, forKey: .hadamard) ?? false, seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0,
              numSplits: try c.decodeIfPresent(Int.self, forKey: .numSplits) ?? 1,
              cacheSeqLens: try c.decodeIfPresent([Int].self, forKey: .cacheSeqLens),
              nanCodes: try c.decodeIfPresent(Int.self, forKey: .nanCodes) ?? 0,
              valueHeadDim: try c.decodeIfPresent(Int.self, forKey: .valueHeadDim),
              softcap: try c.decodeIfPresent(Double.self, forKey: .softcap) ?? 0)
  }

  struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  /// A file-name-safe name, e.g. `e4m3fn-d128-1000x1000-causal-h4k2-sparse-outliers-hadamard-s0`.
  public var description: String {
    var s = "\(element.rawValue)-d\(headDim)" + (valueHeadDim.map { $0 != headDim ? "v\($0)" : "" } ?? "") + "-\(seqLenQ)x\(seqLenK)"
    if causal { s += "-causal" }
    if batch != 1 { s += "-b\(batch)" }
    s += "-h\(heads)" + (kvHeads != heads ? "k\(kvHeads)" : "")
    s += "-\(distribution)" + (hadamard ? "-hadamard" : "")
    if cacheSeqLens != nil { s += "-kvcache" }
    if numSplits != 1 { s += numSplits == 0 ? "-splits-auto" : "-splits\(numSplits)" }
    if nanCodes > 0 { s += "-nan\(nanCodes)" }
    if softcap != 0 { s += "-softcap\(softcap)" }
    return s + "-s\(seed)"
  }

  var inputDistribution: InputDistribution? { InputDistribution.bare[distribution] }

  /// Checks the case without generating it: a known distribution, sizes within
  /// ``ResourceLimits``, and a head dim the kernel takes for the element.
  public func validate() throws(AttentionError) {
    guard inputDistribution != nil else {
      if let retired = RetiredName.message(distribution, in: RetiredName.distributions) { throw AttentionError("case \(description): distribution \(retired)") }
      throw AttentionError("case \(description): unknown distribution '\(distribution)' (known: \(InputDistribution.bare.keys.sorted().joined(separator: ", ")))")
    }
    try AttentionShape(batch: batch, seqLenQ: seqLenQ, seqLenK: seqLenK, headsQ: heads, headsKV: kvHeads, headDim: headDim).validate()
    try FA3Inputs.checkHeadDims(headDim, valueHeadDim ?? headDim, element: element)
    guard (0...FA3Splits.largest).contains(numSplits) else {
      throw AttentionError("case \(description): num_splits must be in 0...\(FA3Splits.largest), got \(numSplits)")
    }
    if let lens = cacheSeqLens, lens.count != batch || lens.contains(where: { !(0...seqLenK).contains($0) }) {
      throw AttentionError("case \(description): cache_seqlens must be \(batch) values in 0...\(seqLenK) (the cache length)")
    }
    guard softcap.isFinite && softcap >= 0 else { throw AttentionError("case \(description): softcap must be finite and ≥ 0 (0: off), got \(softcap)") }
    guard (0...1_000_000).contains(nanCodes) else { throw AttentionError("case \(description): nan_codes must be in 0...1000000, got \(nanCodes)") }
  }

  /// The codes and descales of this case.
  public func inputs() throws(AttentionError) -> FA3Inputs {
    try validate()
    let dist = inputDistribution!
    let shape = AttentionShape(batch: batch, seqLenQ: seqLenQ, seqLenK: seqLenK, headsQ: heads, headsKV: kvHeads, headDim: headDim)
    var values = AttentionInputs.generate(shape, dist, seed: seed)
    let dv = valueHeadDim ?? headDim
    if dv != headDim {
      // V of its own head dim, from a stream of its own (equal dims keep the original stream).
      var vShape = shape
      vShape.headDim = dv
      values.v = AttentionInputs.generate(vShape, dist, seed: seed ^ 0x5641_4C55_4544).v
    }
    if hadamard {
      let rotation = Rotation(.randomHadamard)
      values.q = rotation.rotate(values.q, seed: seed)
      values.k = rotation.rotate(values.k, seed: seed)
    }
    let format = element.format
    func quantize(_ t: AttentionTensor) -> ([UInt16], [Float]?) {
      guard element == .e4m3fn else {
        return (t.values.map { UInt16(format.encode($0, Rounding(.nearestEven, overflow: .infinity))) }, nil)
      }
      let perKV = t.heads / kvHeads  // `group` for Q, 1 for K and V
      var amax = [Double](repeating: 0, count: batch * kvHeads)
      for b in 0..<batch { for s in 0..<t.seqLen { for h in 0..<t.heads {
        let base = ((b * t.seqLen + s) * t.heads + h) * t.headDim
        for c in 0..<t.headDim { amax[b * kvHeads + h / perKV] = max(amax[b * kvHeads + h / perKV], abs(t.values[base + c])) }
      } } }
      let descale = amax.map { Float($0 > 0 ? $0 / 448 : 1) }
      var codes = [UInt16](repeating: 0, count: t.values.count)
      for b in 0..<batch { for s in 0..<t.seqLen { for h in 0..<t.heads {
        let base = ((b * t.seqLen + s) * t.heads + h) * t.headDim
        let ds = Double(descale[b * kvHeads + h / perKV])
        for c in 0..<t.headDim {
          codes[base + c] = UInt16(format.encode(t.values[base + c] / ds, Rounding(.nearestEven, overflow: .saturate)))
        }
      } } }
      return (codes, descale)
    }
    var (q, qd) = quantize(values.q), (k, kd) = quantize(values.k), (v, vd) = quantize(values.v)
    if nanCodes > 0 {
      var rng = SplitMix64(seed: seed ^ 0x4E41_4E4E_414E)
      let nan: UInt16 = element == .e4m3fn ? 0x7F : 0x7FC0
      for i in 0..<nanCodes {
        switch i % 3 {
        case 0: q[Int(rng.next() % UInt64(q.count))] = nan
        case 1: if !k.isEmpty { k[Int(rng.next() % UInt64(k.count))] = nan }
        default: if !v.isEmpty { v[Int(rng.next() % UInt64(v.count))] = nan }
        }
      }
    }
    return FA3Inputs(element: element, batch: batch, seqLenQ: seqLenQ, seqLenK: seqLenK, heads: heads, kvHeads: kvHeads,
                     headDim: headDim, q: q, k: k, v: v, qDescale: qd, kDescale: kd, vDescale: vd, causal: causal,
                     numSplits: numSplits, cacheSeqLens: cacheSeqLens, valueHeadDim: dv, softcap: softcap)
  }
}

extension FA3Inputs {
  /// The exact values the codes and descales stand for, as attention operands in `Double`
  /// (each value decode(code)·descale, exact), for references and metrics (V with its own
  /// head dim).
  public func values() -> AttentionInputs {
    if cacheBatchIdx != nil { return gatheringCacheEntries().values() }
    let format = element.format
    let group = heads / kvHeads
    func tensor(_ codes: [UInt16], _ seqLen: Int, _ h: Int, _ descale: [Float]?, perKV: Int, dim: Int) -> AttentionTensor {
      var values = [Double](repeating: 0, count: codes.count)
      for b in 0..<batch { for s in 0..<seqLen { for head in 0..<h {
        let base = ((b * seqLen + s) * h + head) * dim
        let ds = descale.map { Double($0[b * kvHeads + head / perKV]) } ?? 1
        for c in 0..<dim { values[base + c] = format.decode(UInt32(codes[base + c])) * ds }
      } } }
      return try! AttentionTensor(batch: batch, seqLen: seqLen, heads: h, headDim: dim, values: values)
    }
    return AttentionInputs(q: tensor(q, seqLenQ, heads, qDescale, perKV: group, dim: headDim),
                           k: tensor(k, seqLenK, kvHeads, kDescale, perKV: 1, dim: headDim),
                           v: tensor(v, seqLenK, kvHeads, vDescale, perKV: 1, dim: valueHeadDim))
  }

  /// FNV-1a (64-bit) of the codes and descales: a fingerprint to tell whether regenerated inputs
  /// are the bytes a saved kernel output was computed from.
  public var fingerprint: UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    func eat(_ x: UInt64) { for i in 0..<8 { h = (h ^ ((x >> UInt64(8 * i)) & 0xFF)) &* 0x100_0000_01B3 } }
    for array in [q, k, v] { eat(UInt64(array.count)); for c in array { eat(UInt64(c)) } }
    for d in [qDescale, kDescale, vDescale] { eat(UInt64(d?.count ?? 0)); for x in d ?? [] { eat(UInt64(x.bitPattern)) } }
    eat(causal ? 1 : 0)
    eat(scale.bitPattern)
    // Launch options enter only when not the defaults, so that older fingerprints still hold.
    if numSplits != 1 { eat(0x5350_4C49_5453 ^ UInt64(numSplits)) }
    if let lens = cacheSeqLens { eat(UInt64(lens.count)); for n in lens { eat(UInt64(n)) } }
    if softcap != 0 { eat(0x534F_4654_4341_50 ^ softcap.bitPattern) }
    if let idx = cacheBatchIdx { eat(UInt64(idx.count)); for i in idx { eat(UInt64(i)) } }
    return h
  }
}
