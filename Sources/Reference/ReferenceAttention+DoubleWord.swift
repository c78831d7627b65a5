import Attention
import CVectorShims
import MatrixMultiply
import Precise

// The certified reference in double-word arithmetic, with MPFR only for the final quotient and
// for rows its bound does not certify.
//
// Notation: u = 2^-53, γ_k = k·u/(1 − k·u); a "pair" hi + lo is normalized (|lo| ≤ ulp(hi)/2).
// Per row, with n kept keys and d channels:
//
// 1. Scores. S_j = Σ_c q_c k_jc by `fn_dw_dot` (four lanes of Sum2: error-free products and
//    sums, the errors summed in floating point). With p_c = fl(q_c k_jc), π_c and σ the exact
//    product and sum errors, S_j = t + Σπ + Σσ exactly, and the computed error is a float sum of
//    M ≤ 2d + 9 of those terms, with Σ|π| ≤ uΣ|p| and Σ|σ| ≤ (d + 7)u(1 + γ_(d+3))Σ|p| (every
//    partial sum is at most (1 + γ_(d+3))Σ|p|). Hence |Ŝ_j − S_j| ≤ δS_j = β_S(d)·A_j with
//    β_S(d) = γ_(2d+9)·(d + 7)u·(1 + γ_(d+3))², A_j the computed Σ|p| (true Σ|p| ≤ (1 + γ_(d+3))A_j).
// 2. Arguments. m = max_j hi_j; x_j = (Ŝ_j − m)·σ as a pair (`fn_dw_scaled_differences`): the
//    difference rounds once, ≤ 1.03u²|D_j| + 1.04u³|m| for D_j = Ŝ_j − m; the product by the scale
//    pair (1/√d from MPFR, relative ≤ u²; or the given Double, exact) is DWTimesDW3 (≤ 5u²). So
//    |x_j − x*_j| ≤ Δ_j = 1.02·(δS_j·σ + 9u²|x_j| + 2u³|m|σ), x*_j the exact scaled score.
// 3. Exponentials (`fn_dw_exps`): k = round(x·64/ln 2), r = x − k·(ln 2/64) (DWTimesDW3 and
//    AccurateDWPlusDW: ≤ 6.1u²(|x| + 0.01) absolute, |r| ≤ 0.0055), exp(r) by its Taylor
//    polynomial of degree 11 (truncation < 2^-119) in double-word Horner steps (each ≤ 5u² + 3.01u²,
//    earlier steps damped by |r·h|/|h| < 0.006), times 2^(i/64) (a pair, ≤ u²) with DWTimesDW3,
//    scaled by 2^⌊k/64⌋ (exact: ê ≥ 2^-433). Together ê_j = exp(x_j)(1 + η), |η| ≤ (32 + 8|x_j|)u²,
//    and ê_j = e*_j·(1 + θ) relative to ê_j with θ_j = (Δ_j + (32 + 8|x_j|)u²)·(1 + 2^-20) while
//    Δ_j ≤ 2^-30. Keys with x_j < −300 are dropped: their e* < 2^-430 each.
// 4. Sums. L̃ ≈ Σ ê_j and Ñ_c ≈ Σ ê_j v_jc by `fn_dw_axpy` (Sum2 with error-free products of ê's
//    high part; the low part's product rounded once). As in 1, with 3n error terms:
//    |Ñ_c − N̂_c| ≤ β_N(n)·M_c with β_N(n) = γ_(3n)(n + 2)u(1 + γ_n)²(1 + u)² + u²(1 + u)²(1 + γ_n),
//    M_c the computed Σ|fl(ê_hi v)|, N̂_c = Σ ê_j v_jc exactly (the same for L̃ with v = 1).
// 5. Output. O_c = RN_128(RN_128(Ñ_c)/RN_128(L̃)) in MPFR (≤ 3·2^-128 relative), returned as the
//    nearest Double.
// 6. Bound. With A_c = θmax·Σ ê|v_c| + 2^-430·n_drop·max|v|, B = θmax·L̃' + 2^-430·n_drop (the
//    exact N*, L* differ from N̂, L̂ by at most these), εN_c = β_N·M_c, εL = β_N·L̃ and
//    Lmin = L̃ − εL − B: |Õ − N*/L*| ≤ (εN_c + |Õ|εL)/Lmin + (A_c + o₂B)/Lmin + 3·2^-128|Õ| with
//    o₂ = |Õ| + (εN_c + |Õ|εL)/Lmin, every term inflated by 1 % for the Double evaluation.
//
// A row whose bound certifies fewer than `fallbackBits` bits, or that leaves the envelope above
// (Δ_j > 2^-30, a positive argument above 1, no key kept), is recomputed in MPFR at
// `fallbackPrecision` bits with ``bounded(_:options:precision:threads:)``'s row bound.
extension ReferenceAttention {
  /// Bits the double-word path must certify in every output of a row; rows below are redone in MPFR.
  public static let fallbackBits = 53
  /// MPFR working precision of a redone row, bits.
  public static let fallbackPrecision = 128

  /// The certified reference: double-word arithmetic (about 2^-100 relative per step) with a
  /// rigorous a-priori bound per output, MPFR for the final quotients and for the rows the
  /// bound does not certify to ``fallbackBits`` bits. `bound.precision` is 106 (the pairs'
  /// significand); `fallbackRows` counts the rows redone in MPFR.
  /// Results do not depend on `threads`, nor on whether the CPU has FMA.
  public static func doubleWord(
    _ inputs: AttentionInputs, options: AttentionOptions = AttentionOptions(), threads: Int = 1,
    kernels: DoubleWordKernels = .native
  ) throws -> (output: AttentionTensor, bound: ErrorBound, fallbackRows: Int) {
    let shape = try inputs.shape()
    try options.validate(shape)
    try options.requireBooleanBias("the certified reference")
    guard threads >= 1 else { throw ReferenceError("threads must be at least 1, got \(threads)") }
    try checkRange(inputs)
    let d = shape.headDim
    // The scale as a pair (the given Double exactly, or 1/√d rounded from 240 bits), and at the
    // MPFR rows' working precision.
    let scale = DoubleWordConstants.pair(try softmaxScale(options, headDim: d, precision: 240))
    let mpfrScale = try softmaxScale(options, headDim: d, precision: fallbackPrecision + 16)
    let constants = DoubleWordConstants.shared.values
    let vMax = maxAbsolutePerHead(inputs.v)
    let rowCount = shape.batch * shape.seqLenQ * shape.headsQ
    var values = [Double](repeating: 0, count: rowCount * d)
    var errors = [Double](repeating: 0, count: rowCount * d)
    var fallback = [Bool](repeating: false, count: rowCount)
    let group = shape.headsQ / shape.headsKV
    values.withUnsafeMutableBufferPointer { vb in
      errors.withUnsafeMutableBufferPointer { eb in
        fallback.withUnsafeMutableBufferPointer { fb in
          nonisolated(unsafe) let out = vb.baseAddress!, err = eb.baseAddress!, redo = fb.baseAddress!
          RowTasks.run(batch: shape.batch, heads: shape.headsQ, seqLen: shape.seqLenQ, rowsPerTask: 1, threads: threads,
                       scratch: { DoubleWordScratch(headDim: d, keys: shape.seqLenK) }) { b, h, i, scratch in
            let flat = (b * shape.seqLenQ + i) * shape.headsQ + h
            let ok = doubleWordRow(inputs, shape, b, i, h, h / group, options.keys(b, h, i, shape), scale, constants,
                                   vMax[b * shape.headsKV + h / group], kernels, &scratch,
                                   out: out + flat * d, bound: err + flat * d)
            redo[flat] = !ok
          }
        }
      }
    }
    // Rows the double-word bound does not certify: MPFR at `fallbackPrecision` with its own bound.
    let redoRows = fallback.indices.filter { fallback[$0] }
    if !redoRows.isEmpty {
      let split = SplitOperands(inputs)
      var scratch = RowScratch(headDim: d)
      for flat in redoRows {
        let h = flat % shape.headsQ, i = (flat / shape.headsQ) % shape.seqLenQ, b = flat / (shape.headsQ * shape.seqLenQ)
        errors.withUnsafeMutableBufferPointer { eb in
          let row = row(inputs, split, shape, b, i, h, h / group, options.keys(b, h, i, shape), mpfrScale, fallbackPrecision, &scratch,
                        bounds: UnsafeMutableBufferPointer(start: eb.baseAddress! + flat * d, count: d))
          for c in 0..<d { values[flat * d + c] = row[c].double() }
        }
      }
    }
    var worst = Int.max, worstIndex = 0
    for k in values.indices {
      let bits = certifiedBits(value: values[k], bound: errors[k], cap: 106)
      if bits < worst { worst = bits; worstIndex = k }
    }
    if values.isEmpty { worst = 106 }
    let q = inputs.q
    let output = try! AttentionTensor(batch: q.batch, seqLen: q.seqLen, heads: q.heads, headDim: q.headDim, values: values)
    return (output, ErrorBound(precision: 106, certifiedBits: worst, worstOutput: worstIndex, absoluteErrors: errors),
            redoRows.count)
  }

  /// `⌊−log₂(bound/|value|)⌋`, capped at `cap` (a zero output with a non-zero bound has 0 bits).
  static func certifiedBits(value: Double, bound: Double, cap: Int) -> Int {
    let o = abs(value)
    return bound == 0 ? cap : (o == 0 ? 0 : min(cap, max(0, Int(LibM.floor(-LibM.log2(bound / o))))))
  }

  /// The softmax scale: `options.softmaxScale` exactly, or 1/√d rounded to `precision` bits.
  static func softmaxScale(_ options: AttentionOptions, headDim d: Int, precision: Int) throws -> BigFloat {
    if let s = options.softmaxScale {
      try AttentionOptions.checkSoftmaxScale(s)
      return BigFloat(s)
    }
    let root = BigFloat.squareRoot(BigFloat(d), precision: precision).value
    return BigFloat.divide(BigFloat(1), root, precision: precision).value
  }

  /// Inputs must be finite with magnitudes in [2^-400, 2^400] (or zero).
  static func checkRange(_ inputs: AttentionInputs) throws {
    for (name, t) in [("Q", inputs.q), ("K", inputs.k), ("V", inputs.v)] {
      if let x = t.values.first(where: { $0 != 0 && !(abs($0) >= 0x1p-400 && abs($0) <= 0x1p400) }) {
        throw ReferenceError("\(name) has a value (\(x)) outside the reference's range [2^-400, 2^400]")
      }
    }
  }

  /// max |v| over each (batch, head) slice of V, in (batch, head) order.
  static func maxAbsolutePerHead(_ v: AttentionTensor) -> [Double] {
    var result = [Double](repeating: 0, count: v.batch * v.heads)
    for b in 0..<v.batch { for j in 0..<v.seqLen { for h in 0..<v.heads {
      let r = v.rowIndex(b, j, h)
      for c in 0..<v.headDim { result[b * v.heads + h] = max(result[b * v.heads + h], abs(v.values[r + c])) }
    } } }
    return result
  }

  /// γ_k = k·u/(1 − k·u), rounded up by a relative 2^-40 (k·u < 2^-20 for every size allowed).
  static func gamma(_ k: Int) -> Double {
    let ku = Double(k) * 0x1p-53
    return ku / (1 - ku) * (1 + 0x1p-40)
  }

  /// β_S(d) of step 1 (see the file's header).
  static func scoreFactor(_ d: Int) -> Double {
    let g = 1 + gamma(d + 3)
    return gamma(2 * d + 9) * Double(d + 7) * 0x1p-53 * g * g * (1 + 0x1p-40)
  }

  /// β_N(n) of step 4.
  static func sumFactor(_ n: Int) -> Double {
    let g = 1 + gamma(n), w = (1 + 0x1p-53) * (1 + 0x1p-53)
    return (gamma(3 * n) * Double(n + 2) * 0x1p-53 * g * g * w + 0x1p-106 * w * g) * (1 + 0x1p-40)
  }

  /// One row in double-word arithmetic; writes d outputs and their bounds. Returns false when
  /// the row must be redone in MPFR (the bound does not certify ``fallbackBits`` bits, or the
  /// row leaves the envelope of the analysis).
  static func doubleWordRow(
    _ x: AttentionInputs, _ shape: AttentionShape, _ b: Int, _ i: Int, _ h: Int, _ hk: Int, _ keys: [Int],
    _ scale: (hi: Double, lo: Double), _ constants: [Double], _ vMax: Double, _ kernels: DoubleWordKernels,
    _ s: inout DoubleWordScratch, out: UnsafeMutablePointer<Double>, bound: UnsafeMutablePointer<Double>
  ) -> Bool {
    let d = shape.headDim
    for c in 0..<d { out[c] = 0; bound[c] = 0 }
    if keys.isEmpty { return true }
    let u = 0x1p-53, u2 = 0x1p-106
    let n = keys.count
    let sigma = scale.hi
    let betaS = scoreFactor(d)
    return x.q.values.withUnsafeBufferPointer { q in
      x.k.values.withUnsafeBufferPointer { k in
        x.v.values.withUnsafeBufferPointer { v in
          s.scores.withUnsafeMutableBufferPointer { scores in
            s.arguments.withUnsafeMutableBufferPointer { args in
              s.exps.withUnsafeMutableBufferPointer { exps in
                let qr = q.baseAddress! + x.q.rowIndex(b, i, h)
                var m = -Double.infinity
                var dot = (0.0, 0.0, 0.0)
                for (t, j) in keys.enumerated() {
                  withUnsafeMutablePointer(to: &dot) {
                    $0.withMemoryRebound(to: Double.self, capacity: 3) { o in
                      kernels.dot(qr, k.baseAddress! + x.k.rowIndex(b, j, hk), d, o)
                    }
                  }
                  scores[2 * t] = dot.0; scores[2 * t + 1] = dot.1
                  s.magnitudes[t] = dot.2
                  m = max(m, dot.0)
                }
                guard m.isFinite else { return false }
                kernels.scaledDifferences(scores.baseAddress!, n, m, scale.hi, scale.lo, args.baseAddress!)
                // Per key: Δ_j and θ_j (step 2 and 3); dropped keys have their exps zeroed.
                var thetaMax = 0.0
                var dropped = 0
                for t in 0..<n {
                  let a = args[2 * t]
                  guard a.isFinite, a <= 1 else { return false }
                  s.kept[t] = a >= -300
                  if !s.kept[t] { dropped += 1; args[2 * t] = 0; args[2 * t + 1] = 0; continue }
                  let delta = 1.02 * (betaS * s.magnitudes[t] * (1 + 0x1p-20) * sigma + 9 * u2 * abs(a) + 2 * u * u2 * abs(m) * sigma)
                  guard delta <= 0x1p-30 else { return false }
                  thetaMax = max(thetaMax, (delta + (32 + 8 * abs(a)) * u2) * (1 + 0x1p-20))
                }
                kernels.exps(args.baseAddress!, n, constants, exps.baseAddress!)
                for c in 0..<d { s.sum[c] = 0; s.err[c] = 0; s.mag[c] = 0 }
                s.sum[d] = 0; s.err[d] = 0; s.mag[d] = 0
                var one = 1.0
                for (t, j) in keys.enumerated() where s.kept[t] {
                  let eh = exps[2 * t], el = exps[2 * t + 1]
                  kernels.axpy(&s.sum, &s.err, &s.mag, v.baseAddress! + x.v.rowIndex(b, j, hk), eh, el, d)
                  s.sum.withUnsafeMutableBufferPointer { sum in
                    s.err.withUnsafeMutableBufferPointer { err in
                      s.mag.withUnsafeMutableBufferPointer { mag in
                        kernels.axpy(sum.baseAddress! + d, err.baseAddress! + d, mag.baseAddress! + d, &one, eh, el, 1)
                      }
                    }
                  }
                }
                let kept = n - dropped
                if kept == 0 { return false }
                let betaN = sumFactor(kept)
                let l = BigFloat.sum([BigFloat(s.sum[d]), BigFloat(s.err[d])], precision: fallbackPrecision).value
                let lTilde = l.double()
                let margin = 1 + 0x1p-20
                let epsL = betaN * s.mag[d] * margin * margin
                let bDrop = 0x1p-430 * Double(dropped)
                let bTerm = thetaMax * lTilde * margin + bDrop
                let lMin = (lTilde * (1 - 0x1p-50) - epsL - bTerm) * (1 - 0x1p-40)
                guard lMin > 0 else { return false }
                var certified = true
                for c in 0..<d {
                  let nc = BigFloat.sum([BigFloat(s.sum[c]), BigFloat(s.err[c])], precision: fallbackPrecision).value
                  let o = BigFloat.divide(nc, l, precision: fallbackPrecision).value.double()
                  out[c] = o
                  let ao = abs(o) * (1 + 0x1p-50)
                  let epsN = betaN * s.mag[c] * margin * margin
                  let t1 = (epsN + ao * epsL) / lMin
                  let o2 = ao + t1
                  let aC = thetaMax * s.mag[c] * margin * margin + bDrop * vMax
                  let t2 = (aC + o2 * bTerm) / lMin
                  bound[c] = 1.01 * (t1 + t2 + 0x1p-126 * ao)
                  if certifiedBits(value: o, bound: bound[c], cap: 106) < fallbackBits { certified = false }
                }
                return certified
              }
            }
          }
        }
      }
    }
  }
}

/// Which build of the double-word kernels runs: the FMA3 one when the CPU has it (`native`), or
/// the baseline one (`baseline`, for the tests that check both give the same bits).
public struct DoubleWordKernels: Sendable {
  let dot: @Sendable (UnsafePointer<Double>, UnsafePointer<Double>, Int, UnsafeMutablePointer<Double>) -> Void
  let axpy: @Sendable (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>,
                       UnsafePointer<Double>, Double, Double, Int) -> Void
  let exps: @Sendable (UnsafePointer<Double>, Int, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void
  let scaledDifferences: @Sendable (UnsafePointer<Double>, Int, Double, Double, Double, UnsafeMutablePointer<Double>) -> Void

  /// The FMA3 build.
  public static let fma = DoubleWordKernels(
    dot: { fn_dw_dot_fma($0, $1, $2, $3) }, axpy: { fn_dw_axpy_fma($0, $1, $2, $3, $4, $5, $6) },
    exps: { fn_dw_exps_fma($0, $1, $2, $3) }, scaledDifferences: { fn_dw_scaled_differences_fma($0, $1, $2, $3, $4, $5) })
  /// The baseline x86-64 build.
  public static let baseline = DoubleWordKernels(
    dot: { fn_dw_dot_baseline($0, $1, $2, $3) }, axpy: { fn_dw_axpy_baseline($0, $1, $2, $3, $4, $5, $6) },
    exps: { fn_dw_exps_baseline($0, $1, $2, $3) },
    scaledDifferences: { fn_dw_scaled_differences_baseline($0, $1, $2, $3, $4, $5) })
  /// The FMA3 build when the CPU has FMA3, else the baseline one.
  public static let native: DoubleWordKernels = fn_hardware_fma() != 0 ? .fma : .baseline
}

/// One worker's buffers for ``ReferenceAttention/doubleWord(_:options:threads:kernels:)``.
struct DoubleWordScratch {
  var scores: [Double], arguments: [Double], exps: [Double], magnitudes: [Double]
  /// Whether key t of the row is kept (its argument is at least −300).
  var kept: [Bool]
  /// Per channel (and, at index d, the row sum): Sum2's sum, error and Σ|p|.
  var sum: [Double], err: [Double], mag: [Double]
  init(headDim d: Int, keys: Int) {
    scores = Array(repeating: 0, count: 2 * keys); arguments = scores; exps = scores
    magnitudes = Array(repeating: 0, count: keys)
    kept = Array(repeating: true, count: keys)
    sum = Array(repeating: 0, count: d + 1); err = sum; mag = sum
  }
}

/// The constants of `fn_dw_exps`, rounded from MPFR at 240 bits: 64/ln 2 (a Double: any value
/// works, it only picks k), ln 2/64 as a pair, 1/n! for n = 0 ..< 12 as pairs, 2^(i/64) for
/// i = 0 ..< 64 as pairs. Each pair is (RN(x), RN(x − RN(x))): relative error ≤ u².
struct DoubleWordConstants: Sendable {
  let values: [Double]
  static let shared = DoubleWordConstants()

  static func pair(_ x: BigFloat) -> (hi: Double, lo: Double) {
    let hi = x.double()
    return (hi, BigFloat.subtract(x, BigFloat(hi), precision: 240).value.double())
  }

  init() {
    let p = 240
    let ln2 = BigFloat.log(BigFloat(2), precision: p).value
    var v: [Double] = [BigFloat.divide(BigFloat(64), ln2, precision: p).value.double()]
    let l = Self.pair(BigFloat.divide(ln2, BigFloat(64), precision: p).value)
    v += [l.hi, l.lo]
    var factorial = BigFloat(1)
    for n in 0..<12 {
      if n > 1 { factorial = BigFloat.multiply(factorial, BigFloat(n), precision: p).value }
      let c = Self.pair(BigFloat.divide(BigFloat(1), factorial, precision: p).value)
      v += [c.hi, c.lo]
    }
    for i in 0..<64 {
      let t = Self.pair(BigFloat.exp2(BigFloat.divide(BigFloat(i), BigFloat(64), precision: p).value, precision: p).value)
      v += [t.hi, t.lo]
    }
    precondition(v.count == 155)
    values = v
  }
}
