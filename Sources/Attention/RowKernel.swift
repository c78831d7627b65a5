import LowPrecision
import MatrixMultiply

/// The per-row arithmetic of naive and blocked attention (see ``PrecisionPlan`` for the
/// rounding of each stage). Operands are laid out once per (batch, kv head) as contiguous
/// `seqLenK × headDim` matrices, in `Float` for FP32 accumulation models, `Double` for `fp64`.
struct RowKernel: Sendable {
  let plan: PrecisionPlan
  let algorithm: AttentionAlgorithm
  let mask: AttentionMask
  /// The additive score bias (``AttentionBias``), `nil` for none.
  let bias: AttentionBias?
  let d: Int, nq: Int, nk: Int, headsQ: Int, headsKV: Int, group: Int
  let fp32Scores: Bool, fp32Values: Bool
  let qF: [Float], qD: [Double]
  let kF: [Float], kD: [Double]
  /// K in FP32, interleaved in groups of eight keys per (b, hk) for the lane-wise score chains
  /// (``FusedMultiplyAdd/laneChains(_:_:count:groups:into:hardware:)``); empty unless the scores
  /// are FP32 sequential FMA chains.
  let kLanes: [Float]
  let vF: [Float], vD: [Double]
  let qScales: [Double]?
  let kScales: [Double]?       // per (b, hk, j)
  let vHeadScales: [Double]?   // per (b, hk)
  let arith: SoftmaxArithmetic
  let scale: Double
  /// The factor folded into exp2: scale·log₂e, or log₂e alone with a bias (the scale is then
  /// applied to the scores, before the bias).
  let sl2: Double
  let offset: Double           // 2^probabilityOffset
  /// The stream of stochastic P rounding (``PrecisionPlan/stochasticSeed``), `nil` otherwise.
  let pStream: StochasticStream?

  init(_ x: AttentionOperands, _ shape: AttentionShape, _ plan: PrecisionPlan, _ algorithm: AttentionAlgorithm,
       _ mask: AttentionMask, _ scale: Double, bias: AttentionBias? = nil) {
    self.plan = plan
    self.algorithm = algorithm
    self.mask = mask
    self.bias = bias
    d = shape.headDim; nq = shape.seqLenQ; nk = shape.seqLenK
    headsQ = shape.headsQ; headsKV = shape.headsKV; group = shape.headsQ / shape.headsKV
    fp32Scores = plan.scoreAccumulation.isFP32
    fp32Values = plan.valueAccumulation.isFP32
    arith = SoftmaxArithmetic(plan.softmaxArithmetic)
    self.scale = scale
    sl2 = bias == nil ? arith.round(arith.round(scale) * 1.4426950408889634) : arith.round(1.4426950408889634)   // log₂e
    offset = Double(sign: .plus, exponent: plan.probabilityOffset, significand: 1)
    pStream = plan.stochasticProbabilities ? StochasticStream(seed: streamSeed(plan.stochasticSeed, 4)) : nil
    let (b, hk, n, d) = (shape.batch, shape.headsKV, shape.seqLenK, shape.headDim)
    // K and V as (b, hk) × n × d.
    func gather(_ t: AttentionTensor, _ transform: (Double, Int) -> Double) -> [Double] {
      var out = [Double](repeating: 0, count: b * hk * n * d)
      for bb in 0..<b { for h in 0..<hk { for j in 0..<n {
        let src = t.rowIndex(bb, j, h), dst = ((bb * hk + h) * n + j) * d
        let row = (bb * n + j) * hk + h
        for c in 0..<d { out[dst + c] = transform(t.values[src + c], row) }
      } } }
      return out
    }
    let k = gather(x.k) { v, _ in v }
    // V: a per-head constant scale is applied at the end; any other is folded into the values
    // (rounded to FP32 for FP32 accumulation, exact otherwise).
    let v: [Double]
    if let s = x.vScales, !x.v.isHeadConstant(s) {
      let fp32 = plan.valueAccumulation.isFP32
      v = gather(x.v) { v, row in fp32 ? Double(Float(v * s[row])) : v * s[row] }
      vHeadScales = nil
    } else {
      v = gather(x.v) { v, _ in v }
      vHeadScales = x.vScales.map { s in (0..<(b * hk)).map { bh in s[((bh / hk) * n) * hk + bh % hk] } }
    }
    if let s = x.kScales {
      var ks = [Double](repeating: 1, count: b * hk * n)
      for bb in 0..<b { for h in 0..<hk { for j in 0..<n { ks[(bb * hk + h) * n + j] = s[(bb * n + j) * hk + h] } } }
      kScales = ks
    } else {
      kScales = nil
    }
    qScales = x.qScales
    qF = fp32Scores ? x.q.values.map { Float($0) } : []
    qD = fp32Scores ? [] : x.q.values
    kF = fp32Scores ? k.map { Float($0) } : []
    if fp32Scores && plan.scoreAccumulation == .fp32Sequential {
      let kFloat = kF, groups = (n + 7) / 8
      var lanes = [Float]()
      lanes.reserveCapacity(b * hk * groups * d * 8)
      kFloat.withUnsafeBufferPointer { kp in
        for bh in 0..<(b * hk) { lanes += FusedMultiplyAdd.interleaved(kp.baseAddress! + bh * n * d, count: d, rows: n, rowStride: d) }
      }
      kLanes = lanes
    } else {
      kLanes = []
    }
    kD = fp32Scores ? [] : k
    vF = fp32Values ? v.map { Float($0) } : []
    vD = fp32Values ? [] : v
  }

  /// Per-worker buffers.
  struct Scratch {
    var s: [Double], sF: [Float], p: [Double], pF: [Float], pD: [Double], oF: [Float], oD: [Double]
    init(_ k: RowKernel) {
      s = Array(repeating: 0, count: k.nk); p = s
      sF = Array(repeating: 0, count: (k.nk + 7) / 8 * 8)   // whole groups of eight for the lane chains
      pF = Array(repeating: 0, count: k.nk); pD = s
      oF = Array(repeating: 0, count: k.d); oD = Array(repeating: 0, count: k.d)
    }
  }

  // MARK: Stages

  /// S for keys `range` of row (b, h, i) into `x.s[j]`.
  func scores(_ b: Int, _ h: Int, _ i: Int, _ range: Range<Int>, _ x: inout Scratch) {
    let hk = h / group
    let qRow = ((b * nq + i) * headsQ + h) * d
    let kvBase = (b * headsKV + hk) * nk
    let sq = qScales?[(b * nq + i) * headsQ + h]
    // The raw dot products first (for an FMA chain, all keys' chains interleaved): FP32 into
    // `sF`, FP64 straight into `s`.
    if fp32Scores {
      qF.withUnsafeBufferPointer { q in kF.withUnsafeBufferPointer { k in x.sF.withUnsafeMutableBufferPointer { out in
        let qb = q.baseAddress! + qRow, kb = k.baseAddress! + (kvBase + range.lowerBound) * d
        if plan.scoreAccumulation == .fp32Sequential {
          // The groups of eight keys that cover the range, one chain per lane (the extra keys'
          // values land in sF beside the range and are not read).
          let g0 = range.lowerBound / 8, g1 = (range.upperBound + 7) / 8
          kLanes.withUnsafeBufferPointer { lanes in
            let base = lanes.baseAddress! + ((b * headsKV + hk) * ((nk + 7) / 8) + g0) * d * 8
            FusedMultiplyAdd.laneChains(qb, base, count: d, groups: g1 - g0, into: out.baseAddress! + g0 * 8)
          }
        } else {
          for j in range { out[j] = plan.scoreAccumulation.dot(initial: 0, qb, kb + (j - range.lowerBound) * d, count: d) }
        }
      } } }
    } else {
      qD.withUnsafeBufferPointer { q in kD.withUnsafeBufferPointer { k in x.s.withUnsafeMutableBufferPointer { out in
        FusedMultiplyAdd.chains(q.baseAddress! + qRow, k.baseAddress! + (kvBase + range.lowerBound) * d, count: d, rows: range.count,
                                rowStride: d, into: out.baseAddress! + range.lowerBound)
      } } }
    }
    let biasRow = bias.map { ($0.offset(b, h, i), $0.strides[3]) }
    for j in range {
      var raw = fp32Scores ? Double(x.sF[j]) : x.s[j]
      if sq != nil || kScales != nil {
        raw = arith.mul(raw, arith.mul(sq ?? 1, kScales?[kvBase + j] ?? 1))
      }
      if plan.softmaxScaling == .appliedToScores || biasRow != nil { raw = arith.mul(raw, scale) }
      if let row = biasRow, let bias { raw = arith.add(raw, bias.values[row.0 + j * row.1]) }
      x.s[j] = plan.scoreFormat.round(raw)
    }
  }

  /// The shift subtracted inside the exponential for running max `m`.
  /// With a bias the scores are already scaled and may be as large as the bias (PyTorch masks
  /// use the float32 minimum, whose product with log₂e overflows): the row maximum is subtracted
  /// before the multiplication by log₂e, never folded into an FMA.
  @inline(__always) func shift(_ m: Double) -> Double {
    switch plan.softmaxScaling {
    case .foldedIntoExp2 where bias != nil: m
    case .foldedIntoExp2: plan.probabilityOffset != 0 ? arith.fma(m, sl2, -Double(plan.probabilityOffset)) : arith.mul(m, sl2)
    case .appliedToScores: m
    }
  }

  /// Unnormalized P (times the offset) of score `x` for shift `ms`.
  @inline(__always) func probability(_ x: Double, _ ms: Double) -> Double {
    switch plan.softmaxScaling {
    case .foldedIntoExp2 where bias != nil:
      let t = arith.mul(arith.sub(x, ms), sl2)
      return arith.exp2(plan.probabilityOffset != 0 ? arith.add(t, Double(plan.probabilityOffset)) : t)
    case .foldedIntoExp2: return arith.exp2(arith.fma(x, sl2, -ms))
    case .appliedToScores:
      let e = arith.exp(arith.sub(x, ms))
      return plan.probabilityOffset != 0 ? arith.mul(e, offset) : e
    }
  }

  /// The rescale factor when the running max goes from `old` to `new`.
  @inline(__always) func rescale(_ old: Double, _ new: Double) -> Double {
    switch plan.softmaxScaling {
    case .foldedIntoExp2: arith.exp2(arith.mul(arith.sub(old, new), sl2))
    case .appliedToScores: arith.exp(arith.sub(old, new))
    }
  }

  /// O += P̂[range] · V[range] under the value accumulation model.
  func accumulate(_ b: Int, _ hk: Int, _ range: Range<Int>, _ x: inout Scratch) {
    let base = (b * headsKV + hk) * nk
    let n = range.count
    if fp32Values {
      vF.withUnsafeBufferPointer { v in x.pF.withUnsafeBufferPointer { p in x.oF.withUnsafeMutableBufferPointer { o in
        let vb = v.baseAddress! + (base + range.lowerBound) * d, pb = p.baseAddress! + range.lowerBound
        if plan.valueAccumulation == .fp32Sequential {
          FusedMultiplyAdd.axpyRows(o.baseAddress!, vb, pb, rows: n, count: d)
        } else {
          for c in 0..<d { o[c] = plan.valueAccumulation.dot(initial: o[c], pb, vb + c, count: n, bStride: d) }
        }
      } } }
    } else {
      vD.withUnsafeBufferPointer { v in x.pD.withUnsafeBufferPointer { p in x.oD.withUnsafeMutableBufferPointer { o in
        let vb = v.baseAddress! + (base + range.lowerBound) * d, pb = p.baseAddress! + range.lowerBound
        for j in 0..<n { FusedMultiplyAdd.axpy(o.baseAddress!, vb + j * d, pb[j], count: d) }
      } } }
    }
  }

  /// Rounds P (row `row` = (b·headsQ + h)·nq + i, key `j`) to the probability format, stores it
  /// for `P·V`, and returns it. Stochastic rounding takes the word of index row·nk + j of the
  /// plan's stream: the bits depend on the seed and the element only.
  @inline(__always) func roundP(_ j: Int, _ value: Double, row: Int, _ x: inout Scratch) -> Double {
    let r = plan.probabilityFormat.round(value, random: pStream?.word(at: row &* nk &+ j) ?? 0)
    if fp32Values { x.pF[j] = Float(r) } else { x.pD[j] = r }
    return r
  }

  /// Writes `O ⊘ l` (with `divide`) or `O ⊗ factor`, then `⊗ scale` when given, each rounded in
  /// the accumulator's precision, and finally rounded to the output format.
  func finish(factor: Double, divide: Bool, scale: Double?, _ x: inout Scratch, _ out: UnsafeMutablePointer<Double>) {
    for c in 0..<d {
      var o: Double
      if fp32Values {
        var f = x.oF[c]
        f = divide ? f / Float(factor) : f * Float(factor)
        if let scale { f = f * Float(scale) }
        o = Double(f)
      } else {
        o = x.oD[c]
        o = divide ? o / factor : o * factor
        if let scale { o = o * scale }
      }
      out[c] = plan.outputFormat.round(o)
    }
  }

  /// The final factor `1 ⊘ l` (0 for l = 0 or NaN) times the V head scale (as FA3: inv ⊗ v_descale).
  func reciprocal(_ b: Int, _ hk: Int, _ l: Double) -> Double {
    let inv = (l == 0 || l.isNaN) ? 0 : arith.div(1, l)
    if let sv = vHeadScales?[b * headsKV + hk] { return arith.mul(inv, sv) }
    return inv
  }

  // MARK: Rows

  func row(_ b: Int, _ h: Int, _ i: Int, _ x: inout Scratch, _ out: UnsafeMutablePointer<Double>) {
    let keys = mask.keys(query: i, seqLenQ: nq, seqLenK: nk)
    for c in 0..<d { out[c] = 0 }
    if keys.isEmpty { return }
    for c in 0..<d { x.oF[c] = 0; x.oD[c] = 0 }
    switch algorithm {
    case .naive(let before): naive(b, h, i, keys, before, &x, out)
    case .blocked(let s): blocked(b, h, i, keys, s, &x, out)
    case .fa3Kernel: preconditionFailure("EmulatedAttention.run rejects the FA3 kernel schedule before any row runs")
    }
  }

  func naive(_ b: Int, _ h: Int, _ i: Int, _ keys: Range<Int>, _ normalizeBefore: Bool, _ x: inout Scratch,
             _ out: UnsafeMutablePointer<Double>) {
    let hk = h / group
    scores(b, h, i, keys, &x)
    var m = -Double.infinity
    for j in keys { m = max(m, x.s[j]) }
    if m == -.infinity || m.isNaN { return }
    let ms = shift(m)
    var l = 0.0
    for j in keys { x.p[j] = probability(x.s[j], ms) }
    if normalizeBefore {
      for j in keys { l = arith.add(l, x.p[j]) }
      // P/l carries no offset (it cancels); apply it again, exactly, for the rounding of P.
      for j in keys { _ = roundP(j, arith.div(x.p[j], l) * offset, row: (b * headsQ + h) * nq + i, &x) }
      accumulate(b, hk, keys, &x)
      finish(factor: 1 / offset, divide: false, scale: vHeadScales?[b * headsKV + hk], &x, out)
      return
    }
    for j in keys {
      let r = roundP(j, x.p[j], row: (b * headsQ + h) * nq + i, &x)
      l = arith.add(l, plan.rowSumOfRoundedP ? r : x.p[j])
    }
    accumulate(b, hk, keys, &x)
    finishRow(b, hk, l, &x, out)
  }

  func finishRow(_ b: Int, _ hk: Int, _ l: Double, _ x: inout Scratch, _ out: UnsafeMutablePointer<Double>) {
    switch plan.normalization {
    case .reciprocal: finish(factor: reciprocal(b, hk, l), divide: false, scale: nil, &x, out)
    case .divide: finish(factor: l, divide: true, scale: vHeadScales?[b * headsKV + hk], &x, out)
    }
  }

  func blocked(_ b: Int, _ h: Int, _ i: Int, _ keys: Range<Int>, _ schedule: BlockSchedule, _ x: inout Scratch,
               _ out: UnsafeMutablePointer<Double>) {
    let hk = h / group
    // A block wider than the keys is one block: the same operations as a block of exactly nk.
    let bc = min(schedule.blockColumns, max(nk, 1))
    let blockCount = (nk + bc - 1) / bc
    var m = -Double.infinity
    var l = 0.0
    for step in 0..<blockCount {
      let blk = schedule.reverseOrder ? blockCount - 1 - step : step
      let lo = max(keys.lowerBound, blk * bc), hi = min(keys.upperBound, (blk + 1) * bc)
      if lo >= hi { continue }
      let range = lo..<hi
      scores(b, h, i, range, &x)
      var mNew = m
      for j in range { mNew = max(mNew, x.s[j]) }
      if mNew == -.infinity || mNew.isNaN { continue }
      let first = m == -.infinity
      let alpha = first ? 1 : rescale(m, mNew)
      let ms = shift(mNew)
      for j in range { x.p[j] = probability(x.s[j], ms) }
      // Row sum (of P before its rounding unless asked otherwise), with the rescale.
      let firstKey = range.lowerBound
      var sum = l
      for j in range {
        let r = roundP(j, x.p[j], row: (b * headsQ + h) * nq + i, &x)
        let term = plan.rowSumOfRoundedP ? r : x.p[j]
        if j == firstKey && !first {
          sum = schedule.fusedRowSumRescale ? arith.fma(alpha, sum, term) : arith.add(arith.mul(alpha, sum), term)
        } else if j == firstKey {
          sum = term
        } else {
          sum = arith.add(sum, term)
        }
      }
      l = sum
      if !first {
        if fp32Values {
          let a = Float(alpha)
          for c in 0..<d { x.oF[c] = x.oF[c] * a }
        } else {
          for c in 0..<d { x.oD[c] = x.oD[c] * alpha }
        }
      }
      accumulate(b, hk, range, &x)
      m = mNew
    }
    if m == -.infinity { return }
    finishRow(b, hk, l, &x, out)
  }
}
