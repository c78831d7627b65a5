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
  /// Whether the kernel packs the query heads of a KV head into its row tiles (PackGQA), which
  /// decides the rows of a tile and so, under a causal mask, the tile's last K/V block.
  public var packGQA: Bool

  public init(launched: Int, perBatch: [Int], varlen: Bool, packGQA: Bool) {
    (self.launched, self.perBatch, self.varlen, self.packGQA) = (launched, perBatch, varlen, packGQA)
  }

  /// Whether batch entry `b` goes through partial outputs and the combine kernel: always when
  /// launched with splits and not varlen, and for varlen only when the entry has more than one.
  public func combines(_ b: Int) -> Bool { launched > 1 && (!varlen || perBatch[b] > 1) }
}

public enum FA3Splits {
  /// The kernel's largest split count (`num_splits > 256` is refused).
  public static let largest = 256
  /// The H100 SXM and H200 SM count, the default of ``FA3Schedule/smCount``.
  public static let hopperSMCount = 132

  /// The plan for `inputs` on a GPU with `smCount` SMs; `tiles` are those of the kernel that
  /// runs (its device pass and split ranges use them).
  public static func plan(_ inputs: FA3Inputs, tiles: FA3KernelTiles, smCount: Int) -> FA3SplitPlan {
    let varlen = inputs.cacheSeqLens != nil
    let launched = launchedSplits(inputs.numSplits, element: inputs.element, headDim: inputs.headDim, valueHeadDim: inputs.valueHeadDim,
                                  seqLenQ: inputs.seqLenQ, seqLenK: inputs.seqLenK, batch: inputs.batch, heads: inputs.heads,
                                  kvHeads: inputs.kvHeads, causal: inputs.kernelCausal, varlen: varlen, smCount: smCount)
    let perBatch = varlen
      ? dynamicSplits(queries: Array(repeating: inputs.seqLenQ, count: inputs.batch), keys: (0..<inputs.batch).map { inputs.keys(batch: $0) },
                      group: inputs.heads / inputs.kvHeads, kvHeads: inputs.kvHeads, tiles: tiles, upperBound: launched, smCount: smCount)
      : Array(repeating: launched, count: inputs.batch)
    let pack = packGQA(launched: launched, varlenQueries: false, element: inputs.element, headDim: inputs.headDim,
                       valueHeadDim: inputs.valueHeadDim, seqLenQ: inputs.seqLenQ, group: inputs.heads / inputs.kvHeads,
                       causal: inputs.kernelCausal)
    return FA3SplitPlan(launched: launched, perBatch: perBatch, varlen: varlen, packGQA: pack)
  }

  /// The host's PackGQA choice (`get_pack_gqa`): always with splits or variable-length queries;
  /// never without grouped heads; otherwise when the unpacked tiles' row efficiency
  /// seqlen_q / ⌈seqlen_q⌉_kBlockM is below 0.9 × the packed one (float, compared in double), with
  /// kBlockM of the rounded head dims.
  public static func packGQA(launched: Int, varlenQueries: Bool, element: FA3Inputs.Element, headDim d: Int, valueHeadDim dv: Int,
                             seqLenQ: Int, group: Int, causal: Bool) -> Bool {
    if launched > 1 || varlenQueries { return true }
    if group == 1 { return false }
    let roundedD = FA3KernelTiles.roundedHeadDim(d)
    let m = FA3KernelTiles.tileSize(headDim: roundedD, valueHeadDim: dv == d ? roundedD : FA3KernelTiles.roundedHeadDim(dv, value: true),
                                    fp8: element == .e4m3fn, causal: causal).rows
    func roundUp(_ a: Int) -> Int { (a + m - 1) / m * m }
    let unpacked = Float(seqLenQ) / Float(roundUp(seqLenQ))
    let packed = Float(seqLenQ * group) / Float(roundUp(seqLenQ * group))
    return Double(unpacked) < 0.9 * Double(packed)
  }

  /// The count a launch runs with: `numSplits` when positive, else the host heuristic on the
  /// (maximum) sizes, with the tiles of the rounded head dims as the host sizes them; a varlen
  /// launch sizes it as if batch were 1 (one long sequence, the rest short).
  static func launchedSplits(_ numSplits: Int, element: FA3Inputs.Element, headDim d: Int, valueHeadDim dv: Int, seqLenQ: Int,
                             seqLenK: Int, batch: Int, heads: Int, kvHeads: Int, causal: Bool, varlen: Bool, smCount: Int) -> Int {
    if numSplits > 0 { return numSplits }
    let roundedD = FA3KernelTiles.roundedHeadDim(d)
    let hostTiles = FA3KernelTiles.tileSize(headDim: roundedD, valueHeadDim: dv == d ? roundedD : FA3KernelTiles.roundedHeadDim(dv, value: true),
                                            fp8: element == .e4m3fn, causal: causal)
    let group = heads / kvHeads
    let nBlocks = ceilDiv(seqLenK, hostTiles.columns)
    let mBlocks = ceilDiv(seqLenQ * group, hostTiles.rows)
    let bytesPerKVHead = seqLenK * (d + dv) * (element == .e4m3fn ? 1 : 2)
    return heuristic(totalMBlocks: (varlen ? 1 : batch) * kvHeads * mBlocks, smCount: smCount, nBlocks: nBlocks, mBlocks: mBlocks,
                     bytesPerKVHead: bytesPerKVHead, causal: causal, maxSplits: 128)
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

  /// The device pass of varlen launches (`prepare_varlen_num_blocks`): with `blocks` = Σ over
  /// entries of query tiles (PackGQA: `queries[b]·group` rows) × K/V blocks, each entry gets
  /// max(1, min(⌈its blocks / ⌈blocks·1.1·kvHeads / SMs⌉⌉, upperBound)) splits (device float
  /// arithmetic); with one launched split, or more than 992 entries (several CTAs), every
  /// entry gets one.
  public static func dynamicSplits(queries: [Int], keys: [Int], group: Int, kvHeads: Int, tiles: FA3KernelTiles,
                                   upperBound: Int, smCount: Int) -> [Int] {
    let batch = keys.count
    if batch > 992 || upperBound <= 1 { return Array(repeating: 1, count: batch) }
    let mBlocks = queries.map { ceilDiv($0 * group, tiles.rows) }
    let nBlocks = keys.map { ceilDiv($0, tiles.columns) }
    let total = zip(mBlocks, nBlocks).reduce(0) { $0 + $1.0 * $1.1 }
    let perSM = Int((Float(total) * Float(1.1) * Float(kvHeads) / Float(smCount)).rounded(.up))
    guard perSM > 0 else { return Array(repeating: 1, count: batch) }
    return nBlocks.map { max(min(($0 + perSM - 1) / perSM, upperBound), 1) }
  }

  /// The K/V blocks `[lo, hi)` that split `split` of `splits` visits for query row `row` of head
  /// `head`, in a batch entry with `keys` keys: the tile's blocks (all of them, or up to the
  /// causal bound of the tile's last row — packed rows `i·group + h mod group` with PackGQA),
  /// divided into ⌈count / splits⌉ per split. Blocks masked for some of the tile's rows are still
  /// visited by them (their P is 0, but 0 · Inf in V is NaN).
  /// Integer division truncates toward zero, as in the kernel.
  public static func blocks(split: Int, of splits: Int, row: Int, head: Int, group: Int, keys: Int, seqLenQ: Int,
                            causal: Bool, tiles: FA3KernelTiles, packed: Bool = true) -> Range<Int> {
    var hi = ceilDiv(keys, tiles.columns)
    if causal {
      let rowBound: Int
      if packed {
        let mBlock = (row * group + head % group) / tiles.rows
        rowBound = ((mBlock + 1) * tiles.rows - 1) / group + 1
      } else {
        rowBound = (row / tiles.rows + 1) * tiles.rows
      }
      hi = min(hi, ceilDiv(rowBound + keys - seqLenQ, tiles.columns))
    }
    let per = hi <= 0 ? 0 : ceilDiv(hi, splits)
    let lo = split * per
    return lo..<max(lo, min(lo + per, hi))
  }

  /// `(a + b − 1) / b` with truncating division, as the kernel's `ceil_div` (also for negative `a`).
  static func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
}
