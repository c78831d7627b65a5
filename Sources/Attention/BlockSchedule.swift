import Hopper

/// The parameters of blocked (FlashAttention) attention.
public struct BlockSchedule: Hashable, Sendable {
  /// Query rows per block (Br). Rows never interact, so Br only shapes the work split.
  public var blockRows: Int
  /// Keys per block (Bc): the granularity of the running max and of the rescales.
  public var blockColumns: Int
  /// Visit key blocks from the last to the first (FlashAttention-3) instead of first to last.
  public var reverseOrder: Bool
  /// The row-sum rescale as one FMA with the block's first `P` (`l ← fma(α, l, P₀) + P₁ + …`,
  /// as nvcc compiles FlashAttention) instead of `l ← α·l + P₀ + …`.
  public var fusedRowSumRescale: Bool

  public init(blockRows: Int = 128, blockColumns: Int = 128, reverseOrder: Bool = false, fusedRowSumRescale: Bool = true) {
    self.blockRows = blockRows
    self.blockColumns = blockColumns
    self.reverseOrder = reverseOrder
    self.fusedRowSumRescale = fusedRowSumRescale
  }

  /// Checks that both block sizes are at least 1.
  public func validate() throws(AttentionError) {
    guard blockRows >= 1 && blockColumns >= 1 else {
      throw AttentionError("block sizes must be at least 1, got \(blockRows)×\(blockColumns)")
    }
  }

  /// FlashAttention-2's forward order: ascending key blocks.
  public static let flash2 = BlockSchedule()

  /// The tile sizes (``FA3KernelTiles``) and reverse block order of the FlashAttention-3 Hopper
  /// forward kernel for 16-bit or FP8 inputs (V's head dim `valueHeadDim`, default `d`).
  public static func hopperTiles(headDim d: Int, valueHeadDim dv: Int? = nil, fp8: Bool, causal: Bool) -> BlockSchedule {
    let tiles = FA3KernelTiles.kernel(headDim: d, valueHeadDim: dv, fp8: fp8, causal: causal)
    return BlockSchedule(blockRows: tiles.rows, blockColumns: tiles.columns, reverseOrder: true, fusedRowSumRescale: true)
  }
}
