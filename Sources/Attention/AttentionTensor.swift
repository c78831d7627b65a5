import Diagnostics
/// A dense attention tensor in FlashAttention's (batch, seqlen, heads, headdim) layout, C order,
/// holding real values as `Double` (every value of every supported format is a `Double`).
public struct AttentionTensor: Hashable, Sendable {
  public let batch: Int
  public let seqLen: Int
  public let heads: Int
  public let headDim: Int
  /// `batch · seqLen · heads · headDim` values; element (b, s, h, k) is at ``index(_:_:_:_:)``.
  public var values: [Double]

  /// A tensor of the given shape and values.
  /// - Throws: ``AttentionError`` when a dimension is negative or the count does not match.
  public init(batch: Int, seqLen: Int, heads: Int, headDim: Int, values: [Double]) throws(AttentionError) {
    guard batch >= 0, seqLen >= 0, heads >= 0, headDim >= 0 else {
      throw AttentionError("tensor dimensions must be non-negative, got (\(batch), \(seqLen), \(heads), \(headDim))")
    }
    guard values.count == batch * seqLen * heads * headDim else {
      throw AttentionError("tensor of shape (\(batch), \(seqLen), \(heads), \(headDim)) needs \(batch * seqLen * heads * headDim) values, got \(values.count)")
    }
    self.batch = batch
    self.seqLen = seqLen
    self.heads = heads
    self.headDim = headDim
    self.values = values
  }

  /// A tensor of zeros.
  public init(zerosBatch batch: Int, seqLen: Int, heads: Int, headDim: Int) {
    self.batch = batch
    self.seqLen = seqLen
    self.heads = heads
    self.headDim = headDim
    values = Array(repeating: 0, count: batch * seqLen * heads * headDim)
  }

  /// The shape as an array, `[batch, seqLen, heads, headDim]`.
  public var shape: [Int] { [batch, seqLen, heads, headDim] }

  /// Offset of element (b, s, h, k) in ``values``.
  @inlinable
  public func index(_ b: Int, _ s: Int, _ h: Int, _ k: Int) -> Int {
    ((b * seqLen + s) * heads + h) * headDim + k
  }

  /// Offset of row (b, s, h) (its `headDim` values are contiguous).
  @inlinable
  public func rowIndex(_ b: Int, _ s: Int, _ h: Int) -> Int { ((b * seqLen + s) * heads + h) * headDim }

  /// Number of rows (b, s, h).
  public var rowCount: Int { batch * seqLen * heads }

  /// Every row (b, s, h) multiplied by `scales[row]` (one per row, in row order).
  public func scalingRows(by scales: [Double]) -> AttentionTensor {
    var t = self
    for r in 0..<rowCount { for i in (r * headDim)..<((r + 1) * headDim) { t.values[i] *= scales[r] } }
    return t
  }

  /// Whether per-row `scales` are the same for all tokens of each (batch, head).
  public func isHeadConstant(_ scales: [Double]) -> Bool {
    for b in 0..<batch { for h in 0..<heads {
      let first = scales[(b * seqLen) * heads + h]
      for i in 0..<seqLen where scales[(b * seqLen + i) * heads + h] != first { return false }
    } }
    return true
  }
}

/// A problem with the inputs of an attention computation (shapes, values, parameters);
/// `description` is one line naming what is wrong.
public struct AttentionError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
