import Hopper

/// How the FlashAttention-3 kernel divides each query tile's K/V blocks among CTAs (split-KV),
/// as `fa3-fwd` 0.0.3 decides it. The split count changes the bits: each split runs the online
/// softmax over its own blocks and writes an FP32 partial O and its LSE, which the combine kernel
/// (``FA3Combine``) merges.
///
/// - `numSplits` argument 1 (the default of `flash_attn_func`): no split.
/// - `numSplits` 0 (the default of `flash_attn_with_kvcache`): the host heuristic
///   ``heuristic(totalMBlocks:smCount:nBlocks:mBlocks:bytesPerKVHead:causal:maxSplits:)`` picks
///   a count from the sizes and the GPU's SM count.
/// - With `cache_seqlens` (the kernel's "varlen" path), that count is an upper bound: a device
///   pass gives each batch entry its own count from the keys it really has
///   (``dynamicSplits(_:tiles:upperBound:smCount:)``), and an entry left with one split is
///   written directly, without the combine.
///
/// With splits the kernel always packs the query heads of a KV head into its row tiles
/// (PackGQA: packed row `i·group + h mod group`), which decides a causal tile's last block and so
/// where the splits fall.
public struct FA3SplitPlan: Hashable, Sendable {
  /// The count the kernel was launched with (after the heuristic), 1...256.
  public var launched: Int
  /// The count each batch entry uses (the launched count, or the device pass's for varlen).
  public var perBatch: [Int]
  /// Whether the launch is the kernel's varlen form (here: `cache_seqlens` given).
  public var varlen: Bool

  /// Whether batch entry `b` goes through partial outputs and the combine kernel: always when
  /// launched with splits and not varlen, and for varlen only when the entry has more than one.
  public func combines(_ b: Int) -> Bool { launched > 1 && (!varlen || perBatch[b] > 1) }
}

public enum FA3Splits {
  /// The kernel's largest split count (`num_splits > 256` is refused).
  public static let largest = 256
  /// The H100 SXM and H200 SM count, the default of ``FA3Schedule/smCount``.
  public static let hopperSMCount = 132

  /// The plan for `inputs` on a GPU with `smCount` SMs and the kernel's `tiles`.
  public static func plan(_ inputs: FA3Inputs, tiles: FA3KernelTiles, smCount: Int) -> FA3SplitPlan {
    let varlen = inputs.cacheSeqLens != nil
    var launched = inputs.numSplits
    if launched <= 0 {
      let group = inputs.heads / inputs.kvHeads
      let nBlocks = ceilDiv(inputs.seqLenK, tiles.columns)
      let mBlocks = ceilDiv(inputs.seqLenQ * group, tiles.rows)
      let elementSize = inputs.element == .e4m3fn ? 1 : 2
      let bytesPerKVHead = inputs.seqLenK * (inputs.headDim + inputs.headDim) * elementSize
      // Varlen launches size the bound as if batch were 1 (one long sequence, the rest short).
      let total = (varlen ? 1 : inputs.batch) * inputs.kvHeads * mBlocks
      launched = heuristic(totalMBlocks: total, smCount: smCount, nBlocks: nBlocks, mBlocks: mBlocks,
                           bytesPerKVHead: bytesPerKVHead, causal: inputs.kernelCausal, maxSplits: 128)
    }
    let perBatch = varlen && launched > 1
      ? dynamicSplits(inputs, tiles: tiles, upperBound: launched, smCount: smCount)
      : Array(repeating: launched, count: inputs.batch)
    return FA3SplitPlan(launched: launched, perBatch: perBatch, varlen: varlen)
  }

  /// The host heuristic (`num_splits_heuristic`): one split when the tiles nearly fill the GPU
  /// (or, past 50 MB of K/V per head with many query tiles and no mask, enough splits for L2);
  /// one when there are at most 4 K/V blocks; otherwise the smallest count whose wave efficiency
  /// (tiles·splits / SMs over its ceiling) is within 85 % of the best up to
  /// min(maxSplits, SMs, blocks). Float arithmetic as the host does it.
  public static func heuristic(totalMBlocks: Int, smCount: Int, nBlocks: Int, mBlocks: Int, bytesPerKVHead: Int,
                               causal: Bool, maxSplits: Int) -> Int {
    if Float(totalMBlocks) >= Float(0.8) * Float(smCount) {
      let l2 = 50 * 1024 * 1024
      if bytesPerKVHead > l2 && mBlocks >= smCount * 2 && !causal {
        return min((bytesPerKVHead + l2 - 1) / l2, maxSplits)
      }
      return 1
    }
    if nBlocks <= 4 { return 1 }
    let most = min(maxSplits, smCount, nBlocks)
    guard most >= 1 else { return 1 }
    let efficiency: [Float] = (1...most).map { splits in
      let waves = Float(totalMBlocks * splits) / Float(smCount)
      return waves / waves.rounded(.up)
    }
    let best = efficiency.max()!
    for (i, e) in efficiency.enumerated() where Double(e) >= 0.85 * Double(best) { return i + 1 }
    return 1
  }

  /// The device pass of varlen launches (`prepare_varlen_num_blocks`, batch ≤ 992): with
  /// `blocks` = Σ over entries of query tiles × K/V blocks, each entry gets
  /// max(1, min(⌈its blocks / ⌈blocks·1.1·kvHeads / SMs⌉⌉, upperBound)) splits.
  public static func dynamicSplits(_ inputs: FA3Inputs, tiles: FA3KernelTiles, upperBound: Int, smCount: Int) -> [Int] {
    let group = inputs.heads / inputs.kvHeads
    // With more than 992 entries the pass runs on several CTAs and gives every entry one split.
    if inputs.batch > 992 || upperBound == 1 { return Array(repeating: 1, count: inputs.batch) }
    let mBlocks = ceilDiv(inputs.seqLenQ * group, tiles.rows)
    let nBlocks = (0..<inputs.batch).map { ceilDiv(inputs.keys(batch: $0), tiles.columns) }
    let total = nBlocks.reduce(0) { $0 + mBlocks * $1 }
    // Device float arithmetic (PackGQA: heads counted per KV head).
    let perSM = Int((Float(total) * Float(1.1) * Float(inputs.kvHeads) / Float(smCount)).rounded(.up))
    guard perSM > 0 else { return Array(repeating: 1, count: inputs.batch) }
    return nBlocks.map { max(min((($0 + perSM - 1) / perSM), upperBound), 1) }
  }

  /// The K/V blocks `[lo, hi)` that split `split` of `splits` visits for query row `row` of head
  /// `head`, in a batch entry with `keys` keys: the tile's blocks (all of them, or up to the
  /// causal bound of the tile's last packed row), divided into ⌈count / splits⌉ per split.
  /// Integer division truncates toward zero, as in the kernel.
  static func blocks(split: Int, of splits: Int, row: Int, head: Int, group: Int, keys: Int, seqLenQ: Int,
                     causal: Bool, tiles: FA3KernelTiles) -> Range<Int> {
    var hi = ceilDiv(keys, tiles.columns)
    if causal {
      let mBlock = (row * group + head % group) / tiles.rows
      let lastPackedRow = (mBlock + 1) * tiles.rows
      let rowBound = (lastPackedRow - 1) / group + 1
      hi = min(hi, ceilDiv(rowBound + keys - seqLenQ, tiles.columns))
    }
    let per = hi <= 0 ? 0 : ceilDiv(hi, splits)
    let lo = split * per
    return lo..<max(lo, min(lo + per, hi))
  }

  /// `(a + b − 1) / b` with truncating division, as the kernel's `ceil_div` (also for negative `a`).
  static func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
}
