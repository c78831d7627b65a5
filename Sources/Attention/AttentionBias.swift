/// An additive score bias `B[b, h, i, j]` (batch, query head, query, key), as PyTorch's
/// additive `attn_mask`: the score of query `i` and key `j` becomes `S·scale + B` before the
/// softmax. A boolean mask is the bias 0 (attend) / −∞ (drop).
///
/// Storage is strided: element (b, h, i, j) is `values[b·s₀ + h·s₁ + i·s₂ + j·s₃]`, and a stride
/// of 0 broadcasts that axis (a (seqLenQ, seqLenK) mask shared by every batch entry and head has
/// strides (0, 0, seqLenK, 1)).
///
/// Engines add it in the softmax arithmetic: `S ⊗ scale ⊕ B`, then rounded to the score format,
/// and the exponential takes `(s ⊖ m) ⊗ log₂e` (the scale is already applied; the maximum is
/// subtracted before the multiplication, so a bias as large as the float32 minimum, PyTorch's
/// "masked" value, neither overflows nor turns to NaN). A row whose every key carries such a
/// finite bias attends to them all evenly, as PyTorch does. Keys outside ``AttentionMask`` are dropped whatever their bias; a row
/// whose every score is −∞ has output 0.
public struct AttentionBias: Hashable, Sendable {
  public var values: [Double]
  /// Element strides of (batch, head, query, key), each ≥ 0.
  public var strides: [Int]

  public init(values: [Double], strides: [Int]) throws(AttentionError) {
    guard strides.count == 4, strides.allSatisfy({ $0 >= 0 }) else {
      throw AttentionError("bias strides must be four values ≥ 0 (batch, head, query, key), got \(strides)")
    }
    self.values = values
    self.strides = strides
  }

  /// A bias of one (seqLenQ, seqLenK) matrix, shared by every batch entry and head.
  public init(matrix: [Double], seqLenK: Int) throws(AttentionError) {
    try self.init(values: matrix, strides: [0, 0, seqLenK, 1])
  }

  /// Checks that every index of `shape` lies inside `values` (no overflow on the way).
  public func check(_ shape: AttentionShape) throws(AttentionError) {
    let extents = [shape.batch, shape.headsQ, shape.seqLenQ, shape.seqLenK]
    if extents.contains(0) { return }
    var last = 0
    for (n, s) in zip(extents, strides) {
      let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
      let (sum, o2) = last.addingReportingOverflow(step)
      guard !o1 && !o2 else { throw AttentionError("bias strides \(strides) overflow for shape \(extents)") }
      last = sum
    }
    guard last < values.count else {
      throw AttentionError("bias holds \(values.count) values; strides \(strides) over shape \(extents) reach index \(last)")
    }
  }

  /// The offset of row (b, h, i); key `j` is at `offset + j·strides[3]`.
  @inlinable
  public func offset(_ b: Int, _ h: Int, _ i: Int) -> Int { b * strides[0] + h * strides[1] + i * strides[2] }

  /// Whether every value is 0 or −∞ (a boolean mask).
  public var isBoolean: Bool { values.allSatisfy { $0 == 0 || $0 == -.infinity } }

  /// The keys of `keys` that row (b, h, i) keeps (bias not −∞).
  public func kept(_ b: Int, _ h: Int, _ i: Int, _ keys: Range<Int>) -> [Int] {
    let o = offset(b, h, i), s = strides[3]
    return keys.filter { values[o + $0 * s] != -.infinity }
  }
}
