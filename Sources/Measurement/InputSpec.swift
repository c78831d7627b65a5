import Attention

/// The inputs of a measured point: values drawn from a seeded distribution, fully determined by
/// these fields (the same spec gives the same bits in every command and on any thread count).
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

  public var shape: AttentionShape { AttentionShape(batch: batch, seqLenQ: seqLen, headsQ: heads, headDim: headDim) }
  public var mask: AttentionMask { AttentionMask(causal: causal) }

  /// The attention options of these inputs (mask, default softmax scale) on `threads` workers.
  public func options(threads: Int) -> AttentionOptions { AttentionOptions(mask: mask, threads: threads) }

  /// E.g. `N=1024 d=128 b=1 h=2 causal fa3-outliers(p=0.001,std=10) seed=0` (results files key
  /// points by it).
  public var description: String {
    "N=\(seqLen) d=\(headDim) b=\(batch) h=\(heads) \(causal ? "causal" : "none") \(distribution.name) seed=\(seed)"
  }

  /// The values, drawn from the distribution with the seed.
  public func generate() throws(AttentionError) -> AttentionInputs {
    try shape.validate()
    return AttentionInputs.generate(shape, distribution, seed: seed)
  }

  /// Relative cost (∝ the number of multiply-adds), for estimates of time left.
  public var cost: Double {
    Double(batch * heads * headDim) * Double(seqLen) * Double(seqLen) * (causal ? 0.5 : 1) + 1
  }
}
