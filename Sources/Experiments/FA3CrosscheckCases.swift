import Attention
import Foundation
import LowPrecision

extension FA3Comparison {
  /// The standard cases of `flashnum crosscheck`: BF16 and FP8 e4m3fn; head dims 64, 128, 256;
  /// causal and not; N from 128 to 4096, including lengths that are no multiple of any tile and
  /// seqlen_q ≠ seqlen_k; FP8 descales ≠ 1 (per batch and KV head, from the amax); the FA3
  /// paper's outlier distribution with and without the Hadamard rotation, and Gaussian inputs;
  /// GQA; batch 2. The first four are small enough to keep as a test fixture.
  public static let standardCases: [FA3Case] = [
    // Small (fixture) cases.
    FA3Case(element: .bf16, headDim: 64, seqLenQ: 200, causal: true, seed: 1),
    FA3Case(element: .bf16, headDim: 128, seqLenQ: 130, seqLenK: 300, heads: 2, kvHeads: 1, seed: 2),
    FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 200, heads: 2, kvHeads: 1, hadamard: true, seed: 3),
    FA3Case(element: .e4m3fn, headDim: 256, seqLenQ: 100, seqLenK: 190, heads: 1, causal: true, seed: 4),
    // BF16.
    FA3Case(element: .bf16, headDim: 64, seqLenQ: 1000, seed: 10),
    FA3Case(element: .bf16, headDim: 64, seqLenQ: 1000, causal: true, hadamard: true, seed: 11),
    FA3Case(element: .bf16, headDim: 128, seqLenQ: 128, heads: 1, seed: 12),
    FA3Case(element: .bf16, headDim: 128, seqLenQ: 300, seqLenK: 1000, causal: true, seed: 13),
    FA3Case(element: .bf16, headDim: 128, seqLenQ: 4096, seed: 14),
    FA3Case(element: .bf16, headDim: 256, seqLenQ: 600, heads: 4, kvHeads: 2, seed: 15),
    FA3Case(element: .bf16, headDim: 256, seqLenQ: 2000, causal: true, distribution: "gaussian", seed: 16),
    // FP8 e4m3fn.
    FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 1000, seed: 20),
    FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 513, heads: 4, kvHeads: 1, causal: true, hadamard: true, seed: 21),
    FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 128, heads: 1, seed: 22),
    FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 1000, batch: 2, hadamard: true, seed: 23),
    FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 1000, causal: true, seed: 24),
    FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 4096, hadamard: true, seed: 25),
    FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 4096, causal: true, seed: 26),
    FA3Case(element: .e4m3fn, headDim: 256, seqLenQ: 600, seed: 27),
    FA3Case(element: .e4m3fn, headDim: 256, seqLenQ: 2000, heads: 4, kvHeads: 2, causal: true, hadamard: true, seed: 28),
    FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 777, seqLenK: 1500, distribution: "gaussian", seed: 29),
  ]

  /// The single changes to the kernel's schedule that the ablation measures, by name.
  public static func ablations(of s: FA3Schedule, element: FA3Inputs.Element) -> [(String, FA3Schedule)] {
    var list: [(String, FA3Schedule)] = []
    func variant(_ name: String, _ change: (inout FA3Schedule) -> Void) {
      var v = s
      change(&v)
      list.append((name, v))
    }
    variant("IEEE exp2 instead of MUFU.EX2") { $0.exp2 = .ieee }
    variant("IEEE 1/l instead of MUFU.RCP") { $0.reciprocal = .ieee }
    variant("IEEE log2 instead of MUFU.LG2") { $0.log2 = .ieee }
    variant("no FTZ") { $0.flushSubnormals = false }
    variant("unfused exp2 arguments") { $0.fusedExponentArgument = false }
    variant("unfused row-sum rescale") { $0.blocks.fusedRowSumRescale = false }
    variant("one sequential row sum") { $0.rowSumLanes = 1 }
    variant("forward block order") { $0.blocks.reverseOrder = false }
    variant("kBlockN 128") { $0.blocks.blockColumns = 128 }
    variant("IEEE FP32 FMA tensor core") { $0.tensorCore = .fp32FMA }
    if element == .e4m3fn {
      variant("no 2^8 offset on P") { $0.probabilityOffset = 0 }
      variant("descales folded into the scale first") { $0.descalesInExp2 = false }
    }
    variant("simple model (IEEE everything, FP32 FMA, forward order, 1 lane, kBlockN 128)") {
      $0.exp2 = .ieee; $0.reciprocal = .ieee; $0.log2 = .ieee; $0.flushSubnormals = false
      $0.fusedExponentArgument = false; $0.blocks.fusedRowSumRescale = false; $0.rowSumLanes = 1
      $0.blocks.reverseOrder = false; $0.blocks.blockColumns = 128; $0.tensorCore = .fp32FMA
    }
    return list
  }
}

extension FA3Comparison {
  /// `count` random cases from `seed`, for checking beyond the standard list: BF16 or FP8; head
  /// dims 32…256 including the compiled 96 and 192 and dims that the kernel pads (48, 72, 80,
  /// 112, 160, 224); seqlen_q and seqlen_k log-uniform in 1…2500 (equal half of the time);
  /// causal or not; 1–4 heads with GQA; batch 1–2; outlier or Gaussian inputs, rotated or not.
  /// Cases are kept below about 6·10^6 scores each.
  public static func randomCases(count: Int, seed: UInt64) -> [FA3Case] {
    var rng = SplitMix64(seed: seed)
    func uniform(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    func logUniform(_ hi: Int) -> Int { max(1, Int(exp(Double(rng.next() >> 11) / 9007199254740992 * log(Double(hi))).rounded())) }
    var cases: [FA3Case] = []
    while cases.count < count {
      let element: FA3Inputs.Element = uniform(2) == 0 ? .bf16 : .e4m3fn
      let dims = element == .e4m3fn ? [32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256] : [32, 48, 64, 72, 80, 96, 112, 128, 160, 192, 224, 256]
      let d = dims[uniform(dims.count)]
      let sq = logUniform(2500)
      let sk = uniform(2) == 0 ? sq : logUniform(2500)
      let kv = 1 + uniform(2)
      let heads = kv * (1 + uniform(2))
      let batch = 1 + uniform(2)
      guard batch * heads * sq * sk * d <= 6_000_000 * 128 else { continue }
      cases.append(FA3Case(element: element, headDim: d, seqLenQ: sq, seqLenK: sk, batch: batch, heads: heads, kvHeads: kv,
                           causal: uniform(2) == 0, distribution: uniform(3) == 0 ? "gaussian" : "sparse-outliers",
                           hadamard: uniform(2) == 0, seed: 1000 + UInt64(cases.count)))
    }
    return cases
  }
}

/// The kernel paths that random cross-check cases can exercise (`flashnum crosscheck --random N
/// --random-kind K`).
public enum FA3RandomKind: String, CaseIterable, Sendable {
  /// `flash_attn_func` with its defaults (``FA3Comparison/randomCases(count:seed:)``).
  case prefill
  /// `flash_attn_func(num_splits=2…40)`: split-KV and the combine kernel.
  case splits
  /// `flash_attn_func(num_splits=0)`: the kernel's heuristic (short queries over long keys).
  case splitsAuto = "splits-auto"
  /// `flash_attn_with_kvcache(cache_seqlens=…)`, default `num_splits=0`: decode.
  case kvcache
  /// `flash_attn_with_kvcache(cache_seqlens=…, num_splits=2…16)`.
  case kvcacheSplits = "kvcache-splits"
  /// NaN codes in Q, K and V, with and without splits.
  case nan
  /// V's head dim ≠ Q/K's: 192/128-like pairs (bf16 and e4m3fn), and 16-bit d ≤ 64 with V up to 512.
  case valueHeadDim = "head-dim-v"
  /// `softcap` 0.1…60 (bf16 for even case numbers, e4m3fn for odd): prefill, explicit splits and
  /// KV-cache decode.
  case softcap
}

extension FA3Comparison {
  /// `count` random cases of one kernel path from `seed` (``FA3RandomKind``). Beyond the
  /// prefill cases: bf16 or e4m3fn, the compiled head dims 64…256, GQA groups up to 8, batch up
  /// to 6 for decode, caches up to 4096 keys with entries full, empty, short or anywhere between.
  public static func randomCases(count: Int, seed: UInt64, kind: FA3RandomKind) -> [FA3Case] {
    if kind == .prefill { return randomCases(count: count, seed: seed) }
    var rng = SplitMix64(seed: seed ^ 0x5355_5246_4143_45)
    func uniform(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    func between(_ lo: Int, _ hi: Int) -> Int { lo + uniform(hi - lo + 1) }
    func pick<T>(_ xs: [T]) -> T { xs[uniform(xs.count)] }
    return (0..<count).map { i in
      var element: FA3Inputs.Element = uniform(2) == 0 ? .bf16 : .e4m3fn
      if kind == .softcap { element = i % 2 == 0 ? .bf16 : .e4m3fn }
      let kv = pick([1, 1, 2, 4])
      var c = FA3Case(element: element, headDim: pick([64, 96, 128, 192, 256]), seqLenQ: 1, heads: kv * pick([1, 1, 2, 4, 8]),
                      kvHeads: kv, causal: uniform(2) == 0, distribution: uniform(3) == 0 ? "gaussian" : "sparse-outliers",
                      seed: 2000 + UInt64(i))
      switch kind {
      case .prefill: break
      case .splits:
        c.batch = between(1, 3)
        c.seqLenQ = pick([1, between(1, 64), between(64, 400)])
        c.seqLenK = between(64, 3000)
        c.numSplits = pick([2, 3, 4, 7, 8, 13, 16, 17, 33, 40])
      case .splitsAuto:
        c.batch = between(1, 2)
        c.seqLenQ = pick([1, between(1, 128)])
        c.seqLenK = between(600, 8000)
        c.numSplits = 0
      case .kvcache, .kvcacheSplits:
        c.batch = between(1, 6)
        c.seqLenQ = pick([1, 1, 1, between(1, 8)])
        c.seqLenK = between(128, 4096)
        c.cacheSeqLens = (0..<c.batch).map { _ in pick([c.seqLenK, between(0, c.seqLenK), between(1, min(300, c.seqLenK))]) }
        c.numSplits = kind == .kvcache ? 0 : between(2, 16)
      case .nan:
        c.batch = between(1, 2)
        c.seqLenQ = between(1, 200)
        c.seqLenK = between(1, 1500)
        c.numSplits = pick([1, 1, 3])
        c.nanCodes = between(1, 4)
      case .valueHeadDim:
        c.batch = between(1, 2)
        c.seqLenQ = pick([1, between(1, 300)])
        c.seqLenK = between(1, 1500)
        c.numSplits = pick([1, 1, 0, 3])
        if element == .e4m3fn || uniform(2) == 0 {
          c.headDim = pick([144, 160, 176, 192])
          c.valueHeadDim = pick([112, 128])
        } else {
          c.headDim = pick([32, 48, 64])
          c.valueHeadDim = pick([96, 128, 256, 384, 512])
        }
      case .softcap:
        c.batch = between(1, 2)
        switch uniform(4) {
        case 0, 1:
          c.seqLenQ = between(1, 1200)
          c.seqLenK = pick([c.seqLenQ, between(1, 1500)])
        case 2:
          c.seqLenQ = pick([1, between(1, 200)])
          c.seqLenK = between(64, 2000)
          c.numSplits = between(2, 8)
        default:
          c.batch = between(1, 4)
          c.seqLenQ = pick([1, 1, between(1, 8)])
          c.seqLenK = between(128, 3000)
          c.cacheSeqLens = (0..<c.batch).map { _ in pick([c.seqLenK, between(0, c.seqLenK)]) }
          c.numSplits = 0
        }
        c.softcap = pick([0.5, 1, 2.5, 5, 10, 20, 30, 50, Double(between(1, 600)) / 10])
      }
      return c
    }
  }
}
