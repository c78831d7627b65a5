import Attention
import Foundation

/// An independent textbook attention in `Double` (its own loops, libm `exp`), the oracle for
/// masks, GQA and closed forms. Query i attends to key j when `allowed(i, j)`; `bias(b, h, i, j)`
/// is added to the scaled score (−∞ drops the key).
func textbookAttention(_ x: AttentionInputs, scale: Double? = nil, allowed: (Int, Int) -> Bool = { _, _ in true },
                       bias: ((Int, Int, Int, Int) -> Double)? = nil) -> [Double] {
  let (q, k, v) = (x.q, x.k, x.v)
  let d = q.headDim, group = q.heads / k.heads
  let s = scale ?? 1 / Double(d).squareRoot()
  var out: [Double] = []
  for b in 0..<q.batch { for i in 0..<q.seqLen { for h in 0..<q.heads {
    let hk = h / group
    var scores: [(Int, Double)] = []
    for j in 0..<k.seqLen where allowed(i, j) {
      let extra = bias?(b, h, i, j) ?? 0
      if extra == -.infinity { continue }
      var dot = 0.0
      for c in 0..<d { dot += q.values[q.index(b, i, h, c)] * k.values[k.index(b, j, hk, c)] }
      scores.append((j, dot * s + extra))
    }
    guard let m = scores.map(\.1).max() else { out += Array(repeating: 0, count: d); continue }
    let w = scores.map { ($0.0, exp($0.1 - m)) }
    let l = w.reduce(0) { $0 + $1.1 }
    for c in 0..<d {
      var o = 0.0
      for (j, e) in w { o += e * v.values[v.index(b, j, hk, c)] }
      out.append(o / l)
    }
  } } }
  return out
}

func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
  zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func randomInputs(_ shape: AttentionShape, seed: UInt64) -> AttentionInputs {
  AttentionInputs.generate(shape, .gaussian(std: 1), seed: seed)
}
