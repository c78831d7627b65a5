#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Attention
import MatrixMultiply
import Precise

/// Attention computed from the exact input values with MPFR, and certified.
///
/// Per row: every score `S_j = Σ q·k` is exact (``ExactAccumulator``); with `m` the largest
/// score (rounded to `Double`; any shift works, softmax is invariant to it), `x_j = (S_j − m)·scale`
/// and `e_j = exp(x_j)` are rounded to `precision` bits; `e_j` is split exactly into `Double`s,
/// and `l = Σ e_j` and every `Σ e_j·v_jc` are again exact; `O_c = round(Σ e_j v_jc) / round(l)`
/// at `precision` bits. The only roundings are therefore a few relative `2^-precision` per term;
/// the certificate (``certified(_:options:precision:threads:)``) measures what survives them.
///
/// The softmax scale is `options.softmaxScale` as a `Double`, or when it is `nil` the exact
/// `1/√d` (computed at the working precision).
public enum ReferenceAttention {
  /// The reference output, each value the `Double` nearest the working-precision result.
  public static func compute(
    _ inputs: AttentionInputs, options: AttentionOptions = AttentionOptions(), precision: Int = 128, threads: Int = 1
  ) throws -> AttentionTensor {
    let rows = try run(inputs, options, precision, threads)
    return output(inputs, rows.map { $0.map { $0.double() } })
  }

  /// The reference at `precision` and at `2·precision`, the outputs of the latter, and the
  /// number of leading bits on which the two agree for every output (``Certificate``).
  public static func certified(
    _ inputs: AttentionInputs, options: AttentionOptions = AttentionOptions(), precision: Int = 128, threads: Int = 1
  ) throws -> (output: AttentionTensor, certificate: Certificate) {
    let low = try run(inputs, options, precision, threads)
    let high = try run(inputs, options, 2 * precision, threads)
    var worst = Int.max
    var worstIndex = 0
    var flat = 0
    for (a, b) in zip(low, high) {
      for (x, y) in zip(a, b) {
        let bits = agreement(x, y, cap: precision)
        if bits < worst { worst = bits; worstIndex = flat }
        flat += 1
      }
    }
    if flat == 0 { worst = precision }
    let cert = Certificate(precision: precision, agreedBits: worst, worstOutput: worstIndex)
    return (output(inputs, high.map { $0.map { $0.double() } }), cert)
  }

  /// The reference at `precision` bits with a rigorous a-priori error bound per output, in one
  /// run (about a third of ``certified(_:options:precision:threads:)``'s cost).
  ///
  /// The only roundings are those of `(S − m)·scale` and of `exp` (each relative ≤ 2^-p, the
  /// scale's ≤ 2^-(p+14)), and of the final numerator, row sum and quotient; the sums are exact. The
  /// bound propagates them: with `θ_j` the relative error of `e_j`, an output's absolute error is
  /// at most `(Σ_j |e_j v_jc| θ_j + |O_c|·max θ·Σ e_j) / Σ e_j` plus the final roundings, evaluated in
  /// `Double` with upward margins. `ErrorBound.certifiedBits` is the least `⌊−log₂(bound/|O|)⌋` over
  /// all outputs (capped at `precision`; a zero output with a non-zero bound counts 0 bits).
  public static func bounded(
    _ inputs: AttentionInputs, options: AttentionOptions = AttentionOptions(), precision: Int = 128, threads: Int = 1
  ) throws -> (output: AttentionTensor, bound: ErrorBound) {
    let d = try inputs.shape().headDim
    var errors = [Double](repeating: 0, count: inputs.q.values.count)
    let rows = try errors.withUnsafeMutableBufferPointer { (buffer) throws -> [[BigFloat]] in
      nonisolated(unsafe) let base = buffer.baseAddress!
      return try run(inputs, options, precision, threads, bounds: base)
    }
    var worst = precision
    var worstIndex = 0
    for (r, values) in rows.enumerated() {
      for (c, v) in values.enumerated() {
        let bits = certifiedBits(value: v.double(), bound: errors[r * d + c], cap: precision)
        if bits < worst { worst = bits; worstIndex = r * d + c }
      }
    }
    return (output(inputs, rows.map { $0.map { $0.double() } }),
            ErrorBound(precision: precision, certifiedBits: worst, worstOutput: worstIndex, absoluteErrors: errors))
  }

  /// The number of leading bits on which `x` agrees with `y` (relative to `y`), at most `cap`.
  static func agreement(_ x: BigFloat, _ y: BigFloat, cap: Int) -> Int {
    if x == y { return cap }
    if y.isZero || x.isNaN || y.isNaN { return 0 }
    let diff = BigFloat.subtract(x, y, precision: max(x.precision, y.precision) + 2).value
    guard let ed = diff.exponent, let ey = y.exponent else { return 0 }
    // |diff| < 2^ed and |y| ≥ 2^(ey−1): relative error < 2^(ed − ey + 1).
    return max(0, min(cap, ey - ed - 1))
  }

  static func output(_ inputs: AttentionInputs, _ rows: [[Double]]) -> AttentionTensor {
    let q = inputs.q
    return try! AttentionTensor(batch: q.batch, seqLen: q.seqLen, heads: q.heads, headDim: q.headDim,
                                values: rows.flatMap { $0 })
  }

  /// The MPFR working precisions a reference may use, in bits.
  public static let precisions = 24...8192

  /// One row of outputs per (b, i, h) in tensor order, at `precision` bits.
  static func run(_ inputs: AttentionInputs, _ options: AttentionOptions, _ precision: Int, _ threads: Int,
                  bounds: UnsafeMutablePointer<Double>? = nil)
    throws -> [[BigFloat]]
  {
    let shape = try inputs.shape()
    try options.validate(shape)
    try options.requireBooleanBias("the certified reference")
    guard precisions.contains(precision) else { throw ReferenceError("reference precision must be in 24...8192 bits, got \(precision)") }
    guard threads >= 1 else { throw ReferenceError("threads must be at least 1, got \(threads)") }
    try checkRange(inputs)
    let d = shape.headDim
    let scale = try softmaxScale(options, headDim: d, precision: precision + 16)
    let rowCount = shape.batch * shape.seqLenQ * shape.headsQ
    var result = [[BigFloat]](repeating: [], count: rowCount)
    let group = shape.headsQ / shape.headsKV
    // Every value enters many exact products: decode each once.
    let split = SplitOperands(inputs)
    result.withUnsafeMutableBufferPointer { buffer in
      nonisolated(unsafe) let out = buffer.baseAddress!
      nonisolated(unsafe) let bounds = bounds
      RowTasks.run(batch: shape.batch, heads: shape.headsQ, seqLen: shape.seqLenQ, rowsPerTask: 1, threads: threads,
                   scratch: { RowScratch(headDim: d) }) { b, h, i, scratch in
        let flat = (b * shape.seqLenQ + i) * shape.headsQ + h
        out[flat] = row(inputs, split, shape, b, i, h, h / group, options.keys(b, h, i, shape), scale, precision, &scratch,
                        bounds: bounds.map { UnsafeMutableBufferPointer(start: $0 + flat * d, count: d) })
      }
    }
    return result
  }

  /// One output row at `p` bits. With `bounds` (d entries, overwritten), also a rigorous bound on
  /// each output's absolute error against the exact attention (see ``bounded(_:options:precision:threads:)``).
  static func row(_ x: AttentionInputs, _ split: SplitOperands, _ shape: AttentionShape, _ b: Int, _ i: Int, _ h: Int, _ hk: Int,
                  _ keys: [Int], _ scale: BigFloat, _ p: Int, _ scratch: inout RowScratch,
                  bounds: UnsafeMutableBufferPointer<Double>? = nil) -> [BigFloat] {
    let d = shape.headDim
    let zero = BigFloat(0.0)
    if let bounds { for c in 0..<d { bounds[c] = 0 } }
    if keys.isEmpty { return Array(repeating: zero, count: d) }
    let u = LibM.exp2(-Double(p))   // unit roundoff of the working precision
    var thetaMax = 0.0
    let qr = x.q.rowIndex(b, i, h)
    while scratch.scores.count < keys.count { scratch.scores.append(ExactAccumulator()) }
    var m = -Double.infinity
    split.q.withUnsafeBufferPointer { q in
      split.k.withUnsafeBufferPointer { k in
        scratch.scores.withUnsafeMutableBufferPointer { scores in
          for (t, j) in keys.enumerated() {
            scores[t].reset()
            let kr = x.k.rowIndex(b, j, hk)
            scores[t].addProducts(d) { c in (q[qr + c], k[kr + c]) }
            m = max(m, scores[t].double())
          }
        }
      }
    }
    for c in 0..<d { scratch.numerators[c].reset() }
    scratch.l.reset()
    scratch.parts.removeAll(keepingCapacity: true)
    let parts = p / 53 + 2
    for (t, j) in keys.enumerated() {
      scratch.scores[t].add(-m)
      let shifted = scratch.scores[t].withMagnitudeWords { negative, words, exponent in
        BigFloat.fromWords(words, exponent: exponent, negative: negative, precision: p).value
      }
      let arg = BigFloat.multiply(shifted, scale, precision: p).value
      var e = BigFloat.exp(arg, precision: p).value
      if let bounds {
        // arg = x(1 + δ), |δ| ≤ 2.2u (S − m, the scale and the product each rounded once), and
        // e = exp(arg)(1 + ε), |ε| ≤ u: e = exp(x)(1 + θ) with |θ| ≤ (2.2u|arg| + u)(1 + 2^-19)
        // while 2.2u|arg| ≤ 2^-20 (checked); θ' = θ / (1 − θ) bounds the error relative to e.
        let t = 2.2 * u * abs(arg.double())
        precondition(t <= 0x1p-20, "reference bound: precision too low for scores this large")
        let theta = (t + u) * (1 + 0x1p-19) / (1 - 0x1p-19)
        thetaMax = max(thetaMax, theta)
        let weight = e.double() * theta * (1 + 0x1p-50)
        let vr = x.v.rowIndex(b, j, hk)
        for c in 0..<d { bounds[c] += weight * abs(x.v.values[vr + c]) }
      }
      // e = Σ parts exactly: 53-bit chunks of its significand, or (outside Double's normal range)
      // the Double nearest the remainder, repeatedly. The parts (with their key) are kept for the
      // numerators, which are then accumulated channel by channel.
      let splitExactly = e.forEachDoublePart { part in
        scratch.l.add(part)
        scratch.parts.append((SplitDouble(part), Int32(j)))
      }
      if !splitExactly {
        for _ in 0..<parts {
          let part = e.double()
          if part == 0 { break }
          scratch.l.add(part)
          scratch.parts.append((SplitDouble(part), Int32(j)))
          e = BigFloat.subtract(e, BigFloat(part), precision: p).value   // exact
        }
      }
    }
    // Numerator c = Σ parts · V[key, c], V transposed (batch, kv head, channel, key).
    split.vTransposed.withUnsafeBufferPointer { vt in
      scratch.parts.withUnsafeBufferPointer { terms in
        scratch.numerators.withUnsafeMutableBufferPointer { numerators in
          for c in 0..<d {
            let base = ((b * shape.headsKV + hk) * d + c) * shape.seqLenK
            numerators[c].addProducts(terms.count) { t in (terms[t].part, vt[base + Int(terms[t].key)]) }
          }
        }
      }
    }
    let lp = scratch.l.withMagnitudeWords { BigFloat.fromWords($1, exponent: $2, negative: $0, precision: p).value }
    let out = (0..<d).map { c in
      let num = scratch.numerators[c].withMagnitudeWords { BigFloat.fromWords($1, exponent: $2, negative: $0, precision: p).value }
      return BigFloat.divide(num, lp, precision: p).value
    }
    if let bounds {
      // Exact sums N̂ = Σ ê v, L̂ = Σ ê of the rounded ê; true N = Σ e v, L = Σ e. Then
      // |N̂/L̂ − N/L| ≤ (A + |O|·θ'max·L̂)/L̂ with A = Σ |ê v| θ', and |O| ≤ (|N̂/L̂| + A/L̂)/(1 − θ'max);
      // rounding N̂, L̂ and the quotient to p bits adds 3.01u|Ô|. Sums in Double are inflated by 1 %.
      let lHat = scratch.l.double() * (1 - 0x1p-50)
      for c in 0..<d {
        let o = abs(out[c].double())
        let a = bounds[c] * 1.01 / lHat
        bounds[c] = 1.01 * (a + thetaMax * (o * (1 + 4 * u) + a) / (1 - thetaMax) + 3.01 * u * o)
      }
    }
    return out
  }
}

/// Q and K decoded once for exact products (tensor order), V decoded and transposed to
/// (batch, kv head, channel, key).
struct SplitOperands: Sendable {
  var q: [SplitDouble], k: [SplitDouble], vTransposed: [SplitDouble]

  init(_ x: AttentionInputs) {
    q = x.q.values.map(SplitDouble.init)
    k = x.k.values.map(SplitDouble.init)
    let v = x.v
    var t = [SplitDouble](repeating: SplitDouble(0), count: v.values.count)
    for b in 0..<v.batch { for j in 0..<v.seqLen { for h in 0..<v.heads { for c in 0..<v.headDim {
      t[((b * v.heads + h) * v.headDim + c) * v.seqLen + j] = SplitDouble(v.values[v.rowIndex(b, j, h) + c])
    } } } }
    vTransposed = t
  }
}

/// One worker's exact accumulators, reused row after row (cleared, not reallocated): the scores
/// of a row, its numerators (one per channel) and its row sum.
struct RowScratch {
  var scores: [ExactAccumulator] = []
  var numerators: [ExactAccumulator]
  var l = ExactAccumulator()
  /// The row's probabilities as exact `Double` parts, with their key.
  var parts: [(part: SplitDouble, key: Int32)] = []

  init(headDim: Int) { numerators = Array(repeating: ExactAccumulator(), count: headDim) }
}

/// The a-priori error bound of ``ReferenceAttention/bounded(_:options:precision:threads:)``.
public struct ErrorBound: Hashable, Sendable {
  /// The working precision (bits).
  public var precision: Int
  /// The least number of correct leading bits guaranteed over all outputs (≤ `precision`).
  /// At least 53 means every returned `Double` is within about one ulp of the exact value.
  public var certifiedBits: Int
  /// The flat index of the output with the fewest certified bits.
  public var worstOutput: Int
  /// Per output (tensor order), the bound on |p-bit result − exact value|, in output units.
  public var absoluteErrors: [Double]
}

/// The outcome of recomputing the reference at twice the precision.
public struct Certificate: Hashable, Sendable, Codable {
  /// The working precision of the first run (bits).
  public var precision: Int
  /// The least number of leading bits on which the two runs agree, over all outputs
  /// (capped at `precision`). At least 53 means every returned `Double` is within about one
  /// unit in the last place of the true value.
  public var agreedBits: Int
  /// The flat index of the output where the agreement is least.
  public var worstOutput: Int

  /// Whether the certificate reaches `Double` precision (≥ 53 bits).
  public var certifiesDouble: Bool { agreedBits >= 53 }
}
