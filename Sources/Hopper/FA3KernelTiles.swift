/// The tile sizes of the FlashAttention-3 Hopper forward kernel (`fa3-fwd` 0.0.3): query rows per
/// tile (kBlockM) and keys per K/V block (kBlockN), as the kernel picks them from the element
/// type, the head dimensions and the mask (docs/fa3-forward.md, "Tiles").
///
/// kBlockN is numerical: it sets where the online softmax rescales and how P·V is chained.
/// kBlockM only shapes the work split (rows never interact), and with splits decides where a
/// causal tile's blocks end (``FA3Splits``).
public struct FA3KernelTiles: Hashable, Sendable {
  /// Query rows per tile (kBlockM).
  public var rows: Int
  /// Keys per K/V block (kBlockN).
  public var columns: Int

  public init(rows: Int, columns: Int) {
    self.rows = rows
    self.columns = columns
  }

  /// The tiles of the kernel that runs: the compiled head-dim pair the dispatch picks for
  /// (`headDim`, `valueHeadDim`) — d up to 64, 96, 128, 192, 256; V's dim equal, or for 16-bit
  /// inputs with d ≤ 64 the 256 or 512 build, and for d in (128, 192] with dv ≤ 128 the
  /// 192/128 build — then its tile choice.
  public static func kernel(headDim d: Int, valueHeadDim dv: Int? = nil, fp8: Bool, causal: Bool) -> FA3KernelTiles {
    let dv = dv ?? d
    let compiledD = [64, 96, 128, 192, 256].first { d <= $0 } ?? 256
    var compiledDV = compiledD
    if compiledD == 64 && !fp8 && dv > 64 { compiledDV = dv > 256 ? 512 : 256 }
    if compiledD == 192 && dv <= 128 { compiledDV = 128 }
    return tileSize(headDim: compiledD, valueHeadDim: compiledDV, fp8: fp8, causal: causal)
  }

  /// The kernel's tile choice for a head-dim pair (`tile_size_fwd_sm90` for a non-local,
  /// non-paged, row-major-V launch; softcap does not change it there). The host's split and
  /// PackGQA heuristics call it with the head dims rounded up (64, 96, 128, 192, 256; V's also
  /// 512), which for unequal pairs can differ from ``kernel(headDim:valueHeadDim:fp8:causal:)``.
  public static func tileSize(headDim d: Int, valueHeadDim dv: Int, fp8: Bool, causal: Bool) -> FA3KernelTiles {
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
      case ...64:
        if dv == 512 { (m, n) = (64, 64) }
        else if dv == 256 { (m, n) = (128, 96) }
        else { (m, n) = causal ? (192, 128) : (192, 192) }
      case ...96: (m, n) = (192, 144)
      case ...128: (m, n) = causal ? (128, 128) : (128, 176)
      case ...192: (m, n) = dv <= 128 ? (128, 128) : (128, 112)
      default: (m, n) = (128, 80)
      }
    }
    return FA3KernelTiles(rows: m, columns: n)
  }

  /// A head dim rounded up as the host rounds it for its heuristics (`round_up_headdim`,
  /// and `round_up_headdimv` for V, which also has 512).
  public static func roundedHeadDim(_ d: Int, value: Bool = false) -> Int {
    [64, 96, 128, 192, 256].first { d <= $0 } ?? (value ? 512 : 256)
  }
}
