import NPY

/// The axis order of 4-D attention tensors in files: FlashAttention's (batch, seqlen, heads,
/// headdim), which every engine here computes in, or PyTorch SDPA's (batch, heads, seqlen,
/// headdim). Inputs in `bhsd` are reordered on reading and 4-D outputs written back in it; the
/// exchange moves whole elements, so no bit changes.
public enum TensorLayout: String, Sendable, CaseIterable {
  case bshd, bhsd

  /// `array` (4-D, in this layout) in the engines' (batch, seqlen, heads, headdim) order.
  public func inward(_ array: NPYArray) -> NPYArray { self == .bhsd ? array.swappingAxes12() : array }

  /// A 4-D output in (batch, seqlen, heads, headdim) order, in this layout; other ranks as they are.
  public func outward(_ array: NPYArray) -> NPYArray { self == .bhsd && array.shape.count == 4 ? array.swappingAxes12() : array }

  /// A 4-D shape (batch, seqlen, heads, headdim) in this layout's axis order.
  public func outward(_ shape: [Int]) -> [Int] { self == .bhsd && shape.count == 4 ? [shape[0], shape[2], shape[1], shape[3]] : shape }
}
