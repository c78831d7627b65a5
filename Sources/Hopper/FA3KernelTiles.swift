/// The tile sizes of the FlashAttention-3 Hopper forward kernel (`fa3-fwd` 0.0.3): query rows per
/// tile (kBlockM) and keys per K/V block (kBlockN), as the kernel picks them from the element
/// type, the head dimension and the mask (docs/fa3-forward.md, "Tiles").
///
/// kBlockN is numerical: it sets where the online softmax rescales and how P·V is chained.
/// kBlockM only shapes the work split (rows never interact).
public struct FA3KernelTiles: Hashable, Sendable {
  /// Query rows per tile (kBlockM).
  public var rows: Int
  /// Keys per K/V block (kBlockN).
  public var columns: Int

  public init(rows: Int, columns: Int) {
    self.rows = rows
    self.columns = columns
  }

  /// The kernel's tiles for FP8 (e4m3fn) or 16-bit (bf16/fp16) inputs, a head dimension (taken
  /// up to the compiled 64, 96, 128, 192, 256) and a causal mask.
  public static func kernel(headDim d: Int, fp8: Bool, causal: Bool) -> FA3KernelTiles {
    let (m, n): (Int, Int)
    if fp8 {
      switch d {
      case ...64: (m, n) = (192, 160)
      case ...96: (m, n) = (192, 128)
      case ...128: (m, n) = (128, 224)
      case ...192: (m, n) = (128, 160)
      default: (m, n) = (128, 128)
      }
    } else {
      switch d {
      case ...64: (m, n) = causal ? (192, 128) : (192, 192)
      case ...96: (m, n) = (192, 144)
      case ...128: (m, n) = causal ? (128, 128) : (128, 176)
      case ...192: (m, n) = (128, 112)
      default: (m, n) = (128, 80)
      }
    }
    return FA3KernelTiles(rows: m, columns: n)
  }
}
