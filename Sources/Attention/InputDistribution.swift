#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LowPrecision

/// The sizes of one attention problem. Q has `headsQ` heads, K and V have `headsKV`; `headsQ`
/// must be a multiple of `headsKV` (GQA; MQA when `headsKV == 1`), and query head `h` reads
/// key/value head `h / (headsQ / headsKV)`, as in FlashAttention.
public struct AttentionShape: Hashable, Sendable, Codable {
  public var batch: Int
  public var seqLenQ: Int
  public var seqLenK: Int
  public var headsQ: Int
  public var headsKV: Int
  public var headDim: Int

  public init(batch: Int = 1, seqLenQ: Int, seqLenK: Int? = nil, headsQ: Int = 1, headsKV: Int? = nil, headDim: Int) {
    self.batch = batch
    self.seqLenQ = seqLenQ
    self.seqLenK = seqLenK ?? seqLenQ
    self.headsQ = headsQ
    self.headsKV = headsKV ?? headsQ
    self.headDim = headDim
  }

  /// Checks the sizes; one line on failure.
  public func validate() throws(AttentionError) {
    guard batch >= 1, headsQ >= 1, headsKV >= 1, headDim >= 1 else {
      throw AttentionError("batch, heads and head dim must be at least 1, got batch \(batch), heads \(headsQ)/\(headsKV), head dim \(headDim)")
    }
    guard seqLenQ >= 1, seqLenK >= 1 else {
      throw AttentionError("sequence lengths must be at least 1, got \(seqLenQ) queries and \(seqLenK) keys")
    }
    guard headsQ % headsKV == 0 else {
      throw AttentionError("query heads (\(headsQ)) must be a multiple of key/value heads (\(headsKV))")
    }
    for (name, seqLen, heads) in [("Q", seqLenQ, headsQ), ("K and V", seqLenK, headsKV)] {
      try ResourceLimits.checkTensor(name, [("batch", batch), ("seqlen", seqLen), ("heads", heads), ("head dim", headDim)])
    }
  }
}

/// Seeded input distributions. Every value depends only on the seed, the tensor and the
/// element's index, so inputs are the same on any thread count.
///
/// Normal deviates come from the Box–Muller transform of two 53-bit uniforms drawn from a
/// counter-based stream (``StochasticStream``): `√(−2 ln u₁) · cos(2π u₂)`, u ∈ (0, 1].
public enum InputDistribution: Hashable, Sendable {
  /// Every entry N(0, std²).
  case gaussian(std: Double)
  /// Sparse outliers, as in the FlashAttention-3 paper (§4.3): every entry N(0, 1), plus, with
  /// probability `probability`, an independent N(0, outlierStd²) term: N(0,1) + N(0,100)·Bernoulli(0.001)
  /// for the paper's values (``paperOutliers``). Applies to Q, K and V. Named `sparse-outliers` in
  /// files (the old name `fa3-outliers` is refused with this one named: `fa3` names the kernel only).
  case sparseOutliers(probability: Double, outlierStd: Double)
  /// N(0, 1) entries; in Q and K, `channels` head-dim channels (chosen from the seed, the
  /// same for every head and token) are multiplied by `factor`. V stays N(0, 1).
  case channelOutliers(channels: Int, factor: Double)
  /// N(0, 1) entries, plus attention sinks: per (batch, kv head) a random unit direction u;
  /// the first `keys` key positions get `strength · √d · u` added, and every query row's
  /// component along u is set to 1, so those keys' scaled scores `q·k/√d` are the others'
  /// (about N(0, 1)) plus `strength`.
  case attentionSinks(keys: Int, strength: Double)

  /// The FlashAttention-3 paper's inputs: N(0,1) + N(0,100)·Bernoulli(0.001), named
  /// `sparse-outliers` with no parameters in files (formerly `fa3`).
  public static let paperOutliers = InputDistribution.sparseOutliers(probability: 0.001, outlierStd: 10)

  /// The distributions that case, baseline and experiment files name without parameters:
  /// `gaussian` (N(0, 1)) and `sparse-outliers` (``paperOutliers``). Retired names are in
  /// ``RetiredName/distributions``.
  public static let bare: [String: InputDistribution] = ["gaussian": .gaussian(std: 1), "sparse-outliers": paperOutliers]

  /// A short name for tables and files, e.g. `sparse-outliers(p=0.001,std=10)`.
  public var name: String {
    switch self {
    case .gaussian(let s): "gaussian(std=\(s))"
    case .sparseOutliers(let p, let s): "sparse-outliers(p=\(p),std=\(s))"
    case .channelOutliers(let c, let f): "channel-outliers(channels=\(c),factor=\(f))"
    case .attentionSinks(let k, let s): "attention-sinks(keys=\(k),strength=\(s))"
    }
  }
}

/// Q, K and V of one problem.
public struct AttentionInputs: Hashable, Sendable {
  public var q: AttentionTensor
  public var k: AttentionTensor
  public var v: AttentionTensor

  public init(q: AttentionTensor, k: AttentionTensor, v: AttentionTensor) {
    self.q = q
    self.k = k
    self.v = v
  }

  /// The shape, after checking that Q, K and V agree (batch, head dims, key lengths, GQA).
  public func shape() throws(AttentionError) -> AttentionShape {
    guard q.batch == k.batch, k.batch == v.batch else {
      throw AttentionError("batch sizes differ: Q \(q.batch), K \(k.batch), V \(v.batch)")
    }
    guard k.seqLen == v.seqLen else {
      throw AttentionError("K and V sequence lengths differ: \(k.seqLen) and \(v.seqLen)")
    }
    guard k.heads == v.heads else {
      throw AttentionError("K and V head counts differ: \(k.heads) and \(v.heads)")
    }
    guard q.headDim == k.headDim else {
      throw AttentionError("Q and K head dims differ: \(q.headDim) and \(k.headDim)")
    }
    guard v.headDim == q.headDim else {
      throw AttentionError("V head dim \(v.headDim) differs from Q's \(q.headDim) (only equal head dims are supported)")
    }
    let s = AttentionShape(batch: q.batch, seqLenQ: q.seqLen, seqLenK: k.seqLen, headsQ: q.heads,
                           headsKV: k.heads, headDim: q.headDim)
    try s.validate()
    for (name, t) in [("Q", q), ("K", k), ("V", v)] {
      if let i = t.values.firstIndex(where: { !$0.isFinite }) {
        let d = t.headDim, h = t.heads, n = t.seqLen
        let (b, rest) = i.quotientAndRemainder(dividingBy: n * h * d)
        let (sq, rest2) = rest.quotientAndRemainder(dividingBy: h * d)
        let (hh, kk) = rest2.quotientAndRemainder(dividingBy: d)
        throw AttentionError("\(name) has a non-finite value (\(t.values[i])) at [\(b), \(sq), \(hh), \(kk)]")
      }
    }
    return s
  }

  /// Draws Q, K and V from `distribution` with `seed`.
  public static func generate(_ shape: AttentionShape, _ distribution: InputDistribution, seed: UInt64) -> AttentionInputs {
    let d = shape.headDim
    func tensor(_ tag: UInt64, _ seqLen: Int, _ heads: Int) -> AttentionTensor {
      let n = shape.batch * seqLen * heads * d
      let normal = NormalStream(seed: seed, tag: tag)
      var values = [Double](repeating: 0, count: n)
      switch distribution {
      case .gaussian(let std):
        for i in 0..<n { values[i] = std * normal[i] }
      case .sparseOutliers(let p, let outlierStd):
        let extra = NormalStream(seed: seed, tag: tag + 16)
        let coin = StochasticStream(seed: streamSeed(seed, tag + 32))
        for i in 0..<n {
          values[i] = normal[i]
          if uniform(coin.word(at: i)) <= p { values[i] += outlierStd * extra[i] }
        }
      case .channelOutliers, .attentionSinks:
        for i in 0..<n { values[i] = normal[i] }
      }
      return try! AttentionTensor(batch: shape.batch, seqLen: seqLen, heads: heads, headDim: d, values: values)
    }
    var q = tensor(1, shape.seqLenQ, shape.headsQ)
    var k = tensor(2, shape.seqLenK, shape.headsKV)
    let v = tensor(3, shape.seqLenK, shape.headsKV)
    switch distribution {
    case .channelOutliers(let channels, let factor):
      let chosen = outlierChannels(count: channels, headDim: d, seed: seed)
      func amplify(_ x: inout AttentionTensor) {
        for row in 0..<x.rowCount { for c in chosen { x.values[row * d + c] *= factor } }
      }
      amplify(&q)
      amplify(&k)
    case .attentionSinks(let keys, let strength):
      let direction = NormalStream(seed: seed, tag: 4)
      let group = shape.headsQ / shape.headsKV
      for b in 0..<shape.batch {
        for hk in 0..<shape.headsKV {
          var u = (0..<d).map { direction[(b * shape.headsKV + hk) * d + $0] }
          let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
          u = u.map { $0 / norm }
          for j in 0..<min(keys, shape.seqLenK) {
            let r = k.rowIndex(b, j, hk)
            for c in 0..<d { k.values[r + c] += strength * Double(d).squareRoot() * u[c] }
          }
          for h in (hk * group)..<((hk + 1) * group) {
            for i in 0..<shape.seqLenQ {
              let r = q.rowIndex(b, i, h)
              let along = (0..<d).reduce(0.0) { $0 + q.values[r + $1] * u[$1] }
              for c in 0..<d { q.values[r + c] += (1 - along) * u[c] }
            }
          }
        }
      }
    default: break
    }
    return AttentionInputs(q: q, k: k, v: v)
  }

  /// The `count` channels (of `headDim`) that ``InputDistribution/channelOutliers(channels:factor:)``
  /// scales, ascending: the first `count` of a seeded shuffle.
  public static func outlierChannels(count: Int, headDim: Int, seed: UInt64) -> [Int] {
    var rng = SplitMix64(seed: streamSeed(seed, 5))
    var all = Array(0..<headDim)
    all.shuffle(using: &rng)
    return Array(all.prefix(max(0, min(count, headDim)))).sorted()
  }
}

/// The seed of an independent stream `tag` derived from a user seed.
@inlinable
func streamSeed(_ seed: UInt64, _ tag: UInt64) -> UInt64 {
  SplitMix64.mix(seed ^ SplitMix64.mix(tag &* 0xD1B5_4A32_D192_ED03))
}

/// A uniform in (0, 1] from the top 53 bits of a word.
@inlinable
func uniform(_ word: UInt64) -> Double { Double((word >> 11) + 1) * 0x1p-53 }

/// Standard normal deviates indexed by element (Box–Muller on a counter-based stream).
struct NormalStream {
  let stream: StochasticStream
  init(seed: UInt64, tag: UInt64) { stream = StochasticStream(seed: streamSeed(seed, tag)) }
  subscript(i: Int) -> Double {
    let u1 = uniform(stream.word(at: 2 * i)), u2 = uniform(stream.word(at: 2 * i + 1))
    return (-2 * LibM.log(u1)).squareRoot() * LibM.cos(2 * Double.pi * u2)
  }
}
