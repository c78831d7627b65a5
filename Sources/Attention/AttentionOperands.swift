/// The numbers attention actually computes with: the stored Q, K, V values (format values,
/// or any `Double`s) and their per-row scales.
public struct AttentionOperands: Sendable {
  public var q: AttentionTensor
  public var k: AttentionTensor
  public var v: AttentionTensor
  /// One scale per row (b, s, h) of each tensor, or `nil` for scale 1.
  public var qScales: [Double]?
  public var kScales: [Double]?
  public var vScales: [Double]?

  public init(q: AttentionTensor, k: AttentionTensor, v: AttentionTensor,
              qScales: [Double]? = nil, kScales: [Double]? = nil, vScales: [Double]? = nil) {
    self.q = q
    self.k = k
    self.v = v
    self.qScales = qScales
    self.kScales = kScales
    self.vScales = vScales
  }

  /// Unscaled values used as they are.
  public init(_ inputs: AttentionInputs) { self.init(q: inputs.q, k: inputs.k, v: inputs.v) }

  /// Quantized tensors: their stored values and row scales.
  public init(q: QuantizedTensor, k: QuantizedTensor, v: QuantizedTensor) {
    self.init(q: q.codes, k: k.codes, v: v.codes, qScales: q.rowScales, kScales: k.rowScales, vScales: v.rowScales)
  }

  /// Per-(batch, head) descales, FA3 style (`descale[b · heads + h]`, heads of that tensor),
  /// expanded to row scales.
  public static func rowScales(descale: [Double], of t: AttentionTensor) -> [Double] {
    var s = [Double](repeating: 1, count: t.rowCount)
    for b in 0..<t.batch { for i in 0..<t.seqLen { for h in 0..<t.heads {
      s[(b * t.seqLen + i) * t.heads + h] = descale[b * t.heads + h]
    } } }
    return s
  }

  /// The values the operands stand for (`value · scale`, exact in `Double`).
  public func dequantized() -> AttentionInputs {
    func apply(_ t: AttentionTensor, _ s: [Double]?) -> AttentionTensor { s.map { t.scalingRows(by: $0) } ?? t }
    return AttentionInputs(q: apply(q, qScales), k: apply(k, kScales), v: apply(v, vScales))
  }

  /// The shape, after checking Q, K, V and the scale counts.
  public func shape() throws(AttentionError) -> AttentionShape {
    let s = try AttentionInputs(q: q, k: k, v: v).shape()
    for (name, scales, t) in [("Q", qScales, q), ("K", kScales, k), ("V", vScales, v)] {
      guard let scales else { continue }
      guard scales.count == t.rowCount else {
        throw AttentionError("\(name) scales: expected \(t.rowCount), got \(scales.count)")
      }
      if let bad = scales.first(where: { !($0.isFinite && $0 > 0) }) {
        throw AttentionError("\(name) scales must be finite and positive, got \(bad)")
      }
    }
    return s
  }
}

/// Options that are not numeric choices.
public struct AttentionOptions: Hashable, Sendable {
  public var mask: AttentionMask
  /// The softmax scale; `nil` means `1/√d` (rounded to `Double`).
  public var softmaxScale: Double?
  /// Worker threads (≥ 1). Outputs are bitwise the same for any count.
  public var threads: Int
  /// An additive score bias (PyTorch's float or boolean `attn_mask`), `nil` for none.
  public var bias: AttentionBias?

  public init(mask: AttentionMask = .none, softmaxScale: Double? = nil, threads: Int = 1, bias: AttentionBias? = nil) {
    self.mask = mask
    self.softmaxScale = softmaxScale
    self.threads = threads
    self.bias = bias
  }

  /// Checks the mask, and the bias against `shape`.
  public func validate(_ shape: AttentionShape) throws(AttentionError) {
    try mask.validate()
    try bias?.check(shape)
  }

  /// The keys query `i` of (batch `b`, query head `h`) attends to, for engines that take a
  /// boolean mask only (the certified references): the mask's range without the keys whose
  /// bias is −∞. Any other bias is refused by ``requireBooleanBias(_:)`` first.
  public func keys(_ b: Int, _ h: Int, _ i: Int, _ shape: AttentionShape) -> [Int] {
    let range = mask.keys(query: i, seqLenQ: shape.seqLenQ, seqLenK: shape.seqLenK)
    return bias?.kept(b, h, i, range) ?? Array(range)
  }

  /// Refuses a bias other than 0 / −∞ for `engine`.
  public func requireBooleanBias(_ engine: String) throws(AttentionError) {
    if let bias, !bias.isBoolean {
      throw AttentionError("\(engine) takes boolean masks only (bias 0 or -inf); this bias has other values")
    }
  }

  /// The softmax scale for head dim `d`.
  public func scale(headDim d: Int) -> Double { softmaxScale ?? 1 / Double(d).squareRoot() }

  /// The one rule for softmax scales, shared by the engines, the FA3 schedule and the reference:
  /// finite and positive, with `scale` and `scale·log₂e` normal FP32 numbers (FlashAttention keeps
  /// both in FP32; larger scales overflow the exp2 argument to ±∞ and every output to NaN).
  public static func checkSoftmaxScale(_ s: Double) throws(AttentionError) {
    let largest = Double(Float.greatestFiniteMagnitude) / 1.4426950408889634
    guard s.isFinite, s >= Double(Float.leastNormalMagnitude), s <= largest else {
      throw AttentionError("softmax scale must be finite and positive, in [2^-126, \(Float(largest))] (FP32 with scale·log2 e finite), got \(s)")
    }
  }
}
