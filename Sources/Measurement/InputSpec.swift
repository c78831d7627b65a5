import Attention

/// The inputs of a measured point: values drawn from a seeded distribution, fully determined by
/// these fields (the same spec gives the same bits in every command and on any thread count),
/// or the values of a call recorded from a model (``captured``).
///
/// Queries and keys have the same length and Q and K/V the same number of heads; the mask is
/// none or causal. The seed also draws a scheme's random rotation unless the point gives a
/// rotation seed of its own (``MeasuredPoint/rotationSeed``).
public struct InputSpec: Hashable, Sendable, CustomStringConvertible {
  /// Tokens (queries = keys).
  public var seqLen: Int
  public var headDim: Int
  public var batch: Int
  public var heads: Int
  public var causal: Bool
  public var distribution: InputDistribution
  public var seed: UInt64
  /// Recorded inputs that replace the distribution: their shape, mask, scale and values (the
  /// size fields above then describe them: `seqLen` is the query length).
  public var captured: CapturedInput?

  public init(seqLen: Int, headDim: Int, batch: Int = 1, heads: Int = 1, causal: Bool = false,
              distribution: InputDistribution, seed: UInt64) {
    self.seqLen = seqLen
    self.headDim = headDim
    self.batch = batch
    self.heads = heads
    self.causal = causal
    self.distribution = distribution
    self.seed = seed
  }

  /// The spec of recorded inputs.
  public init(captured: CapturedInput) {
    let s = captured.shape
    self.init(seqLen: s.seqLenQ, headDim: s.headDim, batch: s.batch, heads: s.headsQ, causal: captured.options.mask.causal,
              distribution: .gaussian(std: 1), seed: 0)
    self.captured = captured
  }

  public var shape: AttentionShape {
    captured?.shape ?? AttentionShape(batch: batch, seqLenQ: seqLen, headsQ: heads, headDim: headDim)
  }
  public var mask: AttentionMask { captured?.options.mask ?? AttentionMask(causal: causal) }

  /// The attention options of these inputs (mask, default softmax scale; a captured call's own
  /// mask, bias and scale) on `threads` workers.
  public func options(threads: Int) -> AttentionOptions {
    guard var o = captured?.options else { return AttentionOptions(mask: mask, threads: threads) }
    o.threads = threads
    return o
  }

  /// The distribution's name, or `captured:FILE:ENTRY` (results files show it).
  public var sourceName: String { captured.map { "captured:\($0.name)" } ?? distribution.name }

  /// E.g. `N=1024 d=128 b=1 h=2 causal sparse-outliers(p=0.001,std=10) seed=0` (results files key
  /// points by it).
  public var description: String {
    if let c = captured {
      let s = c.shape
      return "N=\(s.seqLenQ)x\(s.seqLenK) d=\(s.headDim) b=\(s.batch) h=\(s.headsQ)/\(s.headsKV) \(c.options.mask.name) \(sourceName) \(c.fingerprint)"
    }
    return "N=\(seqLen) d=\(headDim) b=\(batch) h=\(heads) \(causal ? "causal" : "none") \(distribution.name) seed=\(seed)"
  }

  /// The values, drawn from the distribution with the seed (or the captured ones).
  public func generate() throws -> AttentionInputs {
    if let c = captured { return c.inputs }
    try shape.validate()
    return AttentionInputs.generate(shape, distribution, seed: seed)
  }

  /// Relative cost (∝ the number of multiply-adds), for estimates of time left.
  public var cost: Double {
    let s = shape
    return Double(s.batch * s.headsQ * s.headDim) * Double(s.seqLenQ) * Double(s.seqLenK) * (causal ? 0.5 : 1) + 1
  }
}
