#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LowPrecision

/// Which elements share one scale factor.
public enum ScaleGranularity: Hashable, Sendable {
  /// No scaling: every value is rounded to the format as it is (scale 1).
  case none
  /// One scale for the whole tensor.
  case perTensor
  /// One scale per (batch, head): FlashAttention-3's `q_descale`/`k_descale`/`v_descale`.
  case perHead
  /// One scale per (batch, head, block of `rows` consecutive tokens): the FA3 paper's block
  /// quantization (blocks of Br rows of Q, Bc rows of K and V).
  case perBlock(rows: Int)
  /// One scale per (batch, token, head) row.
  case perToken
  /// OCP MX: one E8M0 (power-of-two) scale per `blockSize` consecutive head-dim elements of a
  /// row, chosen by `rule`; elements saturate at the format's largest finite value.
  case mx(blockSize: Int, rule: MXScaleRule)
  /// One power-of-two scale per (batch, head, head-dim channel) over all tokens (as per-channel
  /// K caches): `2^⌈log₂(amax / max)⌉` of the channel, so code·scale is exact and stored as the
  /// value (a kernel folds it into the other operand exactly).
  case perChannel
  /// NVFP4-style two levels: one FP32 scale per tensor, `fl32(amax / (max · 448))`, and one e4m3fn
  /// scale (RNE, saturating) per `blockSize` consecutive head-dim elements of a row,
  /// `e4m3(block amax / (max · tensor scale))`. The stored value is code·block scale (exact);
  /// the tensor scale is the rows' scale, applied to S and O as FA3's descales are.
  case twoLevel(blockSize: Int)

  public var name: String {
    switch self {
    case .none: "none"
    case .perTensor: "per-tensor"
    case .perHead: "per-head"
    case .perBlock(let r): "per-block(\(r))"
    case .perToken: "per-token"
    case .mx(let b, let rule): "mx(\(b),\(rule.rawValue))"
    case .perChannel: "per-channel"
    case .twoLevel(let b): "nvfp4(\(b))"
    }
  }
}

/// How an MX block's E8M0 scale `X` is chosen from the block's `amax` (`emax` is the exponent
/// of the element format's largest normal binade: 8 for e4m3fn, 15 for e5m2).
public enum MXScaleRule: String, CaseIterable, Hashable, Sendable {
  /// OCP MX 1.0: `X = 2^(⌊log₂ amax⌋ − emax)` (the largest elements may saturate).
  case floor
  /// `X = 2^(⌈log₂ amax⌉ − emax)`.
  case ceil
  /// cuBLAS: `X = 2^⌈log₂(amax / max)⌉` (`max` the largest finite element; nothing saturates).
  case rceil
  /// `X = 2^(⌊log₂ RNE(amax)⌋ − emax)`, amax first rounded to the element format's precision.
  case even

  /// The scale exponent for a block with largest magnitude `amax > 0`, clamped to E8M0's
  /// range [−127, 127].
  public func exponent(amax: Double, format: FloatFormat) -> Int {
    let emax = Int(format.maxFinite.exponent)
    let e: Int
    switch self {
    case .floor: e = Int(amax.exponent) - emax
    case .ceil: e = Int(amax.exponent) + (amax == Double(sign: .plus, exponent: amax.exponent, significand: 1) ? 0 : 1) - emax
    case .rceil:
      let ratio = amax / format.maxFinite   // rounded; fix the ceiling exactly below
      var k = Int(ratio.exponent)
      if Double(sign: .plus, exponent: k, significand: 1) * format.maxFinite < amax { k += 1 }
      while k > -1100 && Double(sign: .plus, exponent: k - 1, significand: 1) * format.maxFinite >= amax { k -= 1 }
      e = k
    case .even:
      let rounded = NumberFormat.low(format, Rounding(.nearestEven, overflow: .infinity)).round(amax)
      e = Int(rounded.isFinite ? rounded.exponent : format.maxFinite.exponent + 1) - emax
    }
    return max(-127, min(127, e))
  }
}

/// How a scale factor is computed from a group's largest magnitude `amax` (non-MX granularities).
public enum ScaleRule: String, CaseIterable, Hashable, Sendable {
  /// `s = fl32(amax / max)`: the group's largest magnitude maps to the format's largest
  /// finite value (FP32 scale, as FA3's descales are float32).
  case amax
  /// `s = 2^⌈log₂(amax / max)⌉`: a power of two, so dequantization is exact in any format.
  case amaxPowerOfTwo = "amax-pow2"

  /// The scale for `amax` (1 when `amax` is 0).
  public func scale(amax: Double, maxFinite: Double) -> Double {
    guard amax > 0 else { return 1 }
    switch self {
    case .amax:
      return Double(Float(amax / maxFinite))
    case .amaxPowerOfTwo:
      var k = Int((amax / maxFinite).exponent)
      if Double(sign: .plus, exponent: k, significand: 1) * maxFinite < amax { k += 1 }
      return Double(sign: .plus, exponent: k, significand: 1)
    }
  }
}

/// A quantization scheme for one tensor: the storage format and the scaling.
///
/// Quantizing `x` with scale `s` stores `c = round(x / s)`, the exact quotient rounded once
/// (``NumberFormat/roundQuotient(_:_:random:)``); the value it stands for is `c · s`. Out-of-range
/// quotients follow the format's rounding policy (saturate by default). A stochastic rounding
/// mode takes element i's random word from a ``StochasticStream`` of ``stochasticSeed`` (and the
/// caller's stream tag: Q, K and V use tags 1, 2, 3) at index i, the tensor's C-order index: the
/// codes depend on the seed, the tag and the data only (not on threads or order).
public struct QuantizationScheme: Hashable, Sendable {
  public var format: NumberFormat
  public var granularity: ScaleGranularity
  public var scaleRule: ScaleRule
  /// The seed of stochastic rounding (read only when the format's mode is stochastic).
  public var stochasticSeed: UInt64

  /// `scaleRule` applies to the row-group scalings; per-channel scales are always powers of two
  /// (the rule is set to `amax-pow2`), MX and two-level scales follow their own rules.
  public init(format: NumberFormat, granularity: ScaleGranularity = .none, scaleRule: ScaleRule = .amax,
              stochasticSeed: UInt64 = 0) {
    self.format = format
    self.granularity = granularity
    self.scaleRule = granularity == .perChannel ? .amaxPowerOfTwo : scaleRule
    self.stochasticSeed = stochasticSeed
  }


  /// Values kept as they are (`fp64`, no scaling).
  public static let exact = QuantizationScheme(format: .fp64)

  /// Checks that the scheme can take tensors of head dim `headDim`.
  public func validate(headDim: Int) throws(AttentionError) {
    switch granularity {
    case .perBlock(let rows) where rows < 1:
      throw AttentionError("block quantization needs a block of at least 1 row, got \(rows)")
    case .mx(let size, _):
      guard case .low(let f, _) = format else {
        throw AttentionError("MX scaling needs an emulated element format, got \(format)")
      }
      guard f.maxFinite.isFinite, f.bitWidth <= 8 else {
        throw AttentionError("MX scaling needs an 8-bit-or-smaller element format, got \(f.name)")
      }
      guard size >= 1, headDim % size == 0 else {
        throw AttentionError("MX blocks of \(size) elements need a head dim that is a multiple of \(size), got \(headDim)")
      }
    case .twoLevel(let size):
      guard case .low(let f, _) = format, f.maxFinite.isFinite, f.bitWidth <= 8 else {
        throw AttentionError("two-level (nvfp4) scaling needs an 8-bit-or-smaller element format, got \(format)")
      }
      guard size >= 1, headDim % size == 0 else {
        throw AttentionError("nvfp4 blocks of \(size) elements need a head dim that is a multiple of \(size), got \(headDim)")
      }
    default: break
    }
    if granularity != .none, format == .fp64 {
      throw AttentionError("scaling (\(granularity.name)) needs a storage format other than fp64")
    }
  }

  /// Quantizes `t`; `stream` (0: none) tags the stochastic stream, so tensors that share a seed
  /// round independently.
  public func quantize(_ t: AttentionTensor, stream tag: UInt64 = 0) throws(AttentionError) -> QuantizedTensor {
    try validate(headDim: t.headDim)
    let d = t.headDim
    var codes = t.values
    var rowScales: [Double]? = nil
    var mxExponents: [Int]? = nil
    let stream = StochasticStream(seed: tag == 0 ? stochasticSeed : streamSeed(stochasticSeed, tag))
    let stochastic = format.roundsStochastically
    @inline(__always) func random(_ i: Int) -> UInt64 { stochastic ? stream.word(at: i) : 0 }
    switch granularity {
    case .none:
      for i in 0..<codes.count { codes[i] = format.round(codes[i], random: random(i)) }
    case .perChannel:
      // Channel c of (b, h): rows (b, s, h) for every s.
      for b in 0..<t.batch { for h in 0..<t.heads { for c in 0..<d {
        var amax = 0.0
        for s in 0..<t.seqLen { amax = max(amax, abs(t.values[t.rowIndex(b, s, h) + c])) }
        let scale = ScaleRule.amaxPowerOfTwo.scale(amax: amax, maxFinite: format.maxFinite)
        for s in 0..<t.seqLen {
          let i = t.rowIndex(b, s, h) + c
          codes[i] = format.roundQuotient(t.values[i], scale, random: random(i)) * scale  // exact: a power of two
        }
      } } }
    case .twoLevel(let size):
      guard case .low(let f, _) = format else { preconditionFailure() }
      let amax = t.values.reduce(0) { max($0, abs($1)) }
      let tensorScale = amax > 0 ? Double(Float(amax / (f.maxFinite * 448))) : 1
      let e4m3 = NumberFormat.rne(.e4m3fn, overflow: .saturate)
      var start = 0
      while start < codes.count {
        let block = start..<(start + size)
        let blockAmax = t.values[block].reduce(0) { max($0, abs($1)) }
        let blockScale = e4m3.round(blockAmax / (f.maxFinite * tensorScale))
        for i in block {
          // A block whose scale rounds to 0 stores zeros.
          codes[i] = blockScale > 0 ? format.roundQuotient(t.values[i], blockScale * tensorScale, random: random(i)) * blockScale : 0
        }
        start += size
      }
      rowScales = [Double](repeating: tensorScale, count: t.rowCount)
    case .mx(let size, let rule):
      guard case .low(let f, _) = format else { preconditionFailure() }
      let saturating = NumberFormat.rne(f, overflow: .saturate)
      var exps = [Int]()
      exps.reserveCapacity(codes.count / size)
      var start = 0
      while start < codes.count {
        let block = start..<(start + size)
        let amax = t.values[block].reduce(0) { max($0, abs($1)) }
        let e = amax > 0 ? rule.exponent(amax: amax, format: f) : 0
        exps.append(e)
        let x = Double(sign: .plus, exponent: e, significand: 1)
        for i in block { codes[i] = saturating.roundQuotient(t.values[i], x, random: random(i)) * x }  // exact: power of two
        start += size
      }
      mxExponents = exps
    case .perTensor, .perHead, .perBlock, .perToken:
      var scales = [Double](repeating: 1, count: t.rowCount)
      // Group rows (b, s, h) and compute one scale per group.
      var groups = [Int: Double]()
      func group(_ b: Int, _ s: Int, _ h: Int) -> Int {
        switch granularity {
        case .perTensor: 0
        case .perHead: b * t.heads + h
        case .perBlock(let rows): (b * t.heads + h) * (t.seqLen / rows + 1) + s / rows
        default: (b * t.seqLen + s) * t.heads + h
        }
      }
      for b in 0..<t.batch { for s in 0..<t.seqLen { for h in 0..<t.heads {
        let r = t.rowIndex(b, s, h)
        let amax = t.values[r..<(r + d)].reduce(0) { max($0, abs($1)) }
        let g = group(b, s, h)
        groups[g] = max(groups[g] ?? 0, amax)
      } } }
      var groupScale = [Int: Double]()
      for (g, amax) in groups { groupScale[g] = scaleRule.scale(amax: amax, maxFinite: format.maxFinite) }
      for b in 0..<t.batch { for s in 0..<t.seqLen { for h in 0..<t.heads {
        let r = t.rowIndex(b, s, h)
        let scale = groupScale[group(b, s, h)]!
        scales[r / max(d, 1)] = scale
        for i in r..<(r + d) { codes[i] = format.roundQuotient(t.values[i], scale, random: random(i)) }
      } } }
      rowScales = scales
    }
    let codeTensor = try! AttentionTensor(batch: t.batch, seqLen: t.seqLen, heads: t.heads, headDim: d, values: codes)
    return QuantizedTensor(scheme: self, codes: codeTensor, rowScales: rowScales, mxExponents: mxExponents)
  }
}

/// A quantized tensor: the stored values and their scales.
public struct QuantizedTensor: Hashable, Sendable {
  public var scheme: QuantizationScheme
  /// The stored values (format values; for MX already multiplied by their power-of-two
  /// block scale, which is exact).
  public var codes: AttentionTensor
  /// One scale per row (b, s, h), or `nil` when the scale is 1 (``ScaleGranularity/none`` and MX).
  public var rowScales: [Double]?
  /// MX scale exponents (E8M0 value `2^e`), one per block in row-major order, or `nil`.
  public var mxExponents: [Int]?

  public init(scheme: QuantizationScheme, codes: AttentionTensor, rowScales: [Double]?, mxExponents: [Int]? = nil) {
    self.scheme = scheme
    self.codes = codes
    self.rowScales = rowScales
    self.mxExponents = mxExponents
  }

  /// The values the quantized tensor stands for, `code · scale` (exact in `Double`: a format
  /// value has at most 24 significant bits and an FP32 scale 24).
  public func dequantized() -> AttentionTensor {
    rowScales.map { codes.scalingRows(by: $0) } ?? codes
  }

  /// Whether every row of each (batch, head) has the same scale (so it can be applied once,
  /// as FA3's descales are).
  public var hasHeadConstantScales: Bool { rowScales.map { codes.isHeadConstant($0) } ?? true }
}
