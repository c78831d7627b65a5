import Hopper
import LowPrecision

/// The FlashAttention-3 combine kernel (`flash_fwd_combine`), bit for bit: one query row's split
/// partials (FP32 O, already normalized by the split's own row sum, and the split's LSE, natural
/// log) merged into O in the output format and the row's LSE.
///
/// ```
/// M = max_s lse_s (fmaxf; M' = 0 if M = −∞)
/// e_s = ex2((lse_s ⊖ M') ⊗ fl(log2 e))             (__expf)
/// lane r of T sums e_r ⊕ e_{r+T} ⊕ e_{r+2T} ⊕ …  over kMaxSplits slots (missing splits: e = 0)
/// sum = butterfly over the T lanes (xor T/2, …, 1)
/// LSE = fma(lg2(sum), fl(ln 2), M)                  (__logf, contracted with the add)
/// inv = rcp(sum) (0 if sum is 0 or NaN);  w_s = e_s ⊗ inv
/// O = +0;  for s = 0, 1, …: O = fma(w_s, O_s, O) where w_s > 0
/// O_out = round(O) (RNE; NaN → the canonical 0x7FFF)
/// ```
///
/// T (threads per row) and kMaxSplits (slots) are the kernel's template choices: T = 16 for
/// V head dims ≤ 64 (then 16 slots up to 16 splits) and 32 above; slots are the launched split
/// count rounded up to 32, 64, 128 or 256. FP32 operations are `.ftz`.
public struct FA3Combine: Sendable {
  /// Threads per row (kSmemThreadsPerColLSEt) and split slots (kMaxSplits).
  public var lanes: Int, slots: Int

  /// The kernel's choices for a V head dim and the launched split count.
  public init(valueHeadDim dv: Int, launchedSplits: Int) {
    let smallTile = dv <= 64  // kBlockK 64 → kBlockM 16 → 16 threads per row; else kBlockM 8 → 32
    lanes = smallTile ? 16 : 32
    switch launchedSplits {
    case ...16 where smallTile: slots = 16
    case ...32: slots = 32
    case ...64: slots = 64
    case ...128: slots = 128
    default: slots = 256
    }
  }

  /// Merges `lse.count` splits of one row: `partial(s, c)` is split s's O channel c (FP32).
  /// Writes `dv` output codes into `out` and returns the row's LSE.
  func combine(lse: [Float], dv: Int, partial: (Int, Int) -> Float, format: FloatFormat, into out: UnsafeMutablePointer<UInt16>) -> Float {
    let n = lse.count
    var slot = [Float](repeating: -.infinity, count: slots)
    for s in 0..<min(n, slots) { slot[s] = lse[s] }
    var m = -Float.infinity
    for x in slot { m = Float.maximum(m, x) }  // fmaxf: a NaN operand is ignored
    let mCur: Float = m == -.infinity ? 0 : m
    let log2e = Float(1.4426950408889634)
    var e = [Float](repeating: 0, count: slots)
    var laneSums = [Float](repeating: 0, count: lanes)
    for r in 0..<lanes {
      var sum: Float = 0
      for s in stride(from: r, to: slots, by: lanes) {
        e[s] = MUFU.ex2(FlushToZero.multiply(FlushToZero.add(slot[s], -mCur), log2e))
        sum = FlushToZero.add(sum, e[s])
      }
      laneSums[r] = sum
    }
    var offset = lanes / 2
    while offset >= 1 {
      laneSums = laneSums.indices.map { FlushToZero.add(laneSums[$0], laneSums[$0 ^ offset]) }
      offset /= 2
    }
    let sum = laneSums[0]
    let ln2 = Float(0.6931471805599453)
    let result = FlushToZero.fma(MUFU.lg2(sum), ln2, m)
    let inv: Float = (sum == 0 || sum.isNaN) ? 0 : MUFU.rcp(sum)
    let weights = e.map { FlushToZero.multiply($0, inv) }
    for c in 0..<dv {
      var o: Float = 0
      for s in 0..<min(n, slots) where weights[s] > 0 { o = FlushToZero.fma(weights[s], partial(s, c), o) }
      out[c] = FA3Combine.encode(o, format)
    }
    return result
  }

  /// FP32 to the output format as the kernel's conversion does it: RNE, and any NaN as the
  /// canonical `0x7FFF`.
  @inline(__always)
  static func encode(_ x: Float, _ format: FloatFormat) -> UInt16 {
    x.isNaN ? 0x7FFF : UInt16(format.encode(x, Rounding(.nearestEven, overflow: .infinity)))
  }
}
