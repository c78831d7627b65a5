import LowPrecision

/// Fast Walsh–Hadamard transforms.
public enum Hadamard {
  /// Replaces `x[0 ..< n]` by `H_n · x` (Sylvester's unnormalized Hadamard matrix, entries ±1;
  /// `n` a power of two) in `n log₂ n` additions and subtractions, each rounded to `Double`.
  @inlinable
  public static func transform(_ x: UnsafeMutablePointer<Double>, count n: Int) {
    precondition(n > 0 && n & (n - 1) == 0, "Hadamard transform needs a power-of-two length")
    var h = 1
    while h < n {
      var i = 0
      while i < n {
        for j in i..<(i + h) {
          let a = x[j], b = x[j + h]
          x[j] = a + b
          x[j + h] = a - b
        }
        i += 2 * h
      }
      h *= 2
    }
  }

  /// The block size of the (block-diagonal) Hadamard matrix for head dim `d`: `d` itself when
  /// it is a power of two, otherwise the largest power of two dividing `d` (32 for 96, 64 for 192).
  public static func blockSize(headDim d: Int) -> Int { d & -d }

  /// Entry (i, j) of Sylvester's `H_n`: `(−1)^popcount(i & j)`.
  public static func entry(_ i: Int, _ j: Int) -> Double { (i & j).nonzeroBitCount % 2 == 0 ? 1 : -1 }
}

/// Incoherent processing (FlashAttention-3 §3.3): Q and K are multiplied by the same random
/// orthogonal matrix `M = H · diag(s) / √b` before quantization, where `H` is the Hadamard
/// matrix of the head dim (block-diagonal with blocks of ``Hadamard/blockSize(headDim:)`` when
/// the head dim is not a power of two), `s` random signs from the seed (one per channel) and
/// `b` the block size. Then `(QM)(KM)ᵀ = Q M Mᵀ Kᵀ = QKᵀ` (to rounding), while outliers are
/// spread over all channels of a block.
///
/// Each row `x` becomes `x · M`: a fast Walsh–Hadamard transform per block (O(d log d)), then
/// multiplication by `s_j / √b`, all in `Double` (relative error of a few ulps of `Double`).
///
/// Because the signs come after the transform, they only flip the signs of rotated channels:
/// sign-symmetric quantizers and the scores `Σ_j (qH)_j s_j (kH)_j s_j` do not depend on them, so
/// every seed gives the same outputs. (A random rotation in the FA3 paper's sense flips signs
/// before the transform, `x · diag(s) · H`; changing the order changes every `-hadamard` result and
/// the committed kernel cases that rotate, so it waits for new kernel outputs.)
public struct IncoherentProcessing: Hashable, Sendable {
  public var seed: UInt64
  /// The Hadamard block size: `nil` for ``Hadamard/blockSize(headDim:)``, else a power of two
  /// that divides the head dim (smaller blocks spread outliers over fewer channels).
  public var block: Int?
  public init(seed: UInt64, block: Int? = nil) {
    self.seed = seed
    self.block = block
  }

  /// The block size used for head dim `d`.
  public func blockSize(headDim d: Int) -> Int { block ?? Hadamard.blockSize(headDim: d) }

  /// Checks that ``block`` is a power of two dividing `headDim`.
  public func validate(headDim d: Int) throws(AttentionError) {
    guard let b = block else { return }
    guard b >= 1, b & (b - 1) == 0, d % b == 0 else {
      throw AttentionError("Hadamard block \(b) must be a power of two that divides the head dim \(d)")
    }
  }

  /// The random signs `s` for head dim `d`.
  public func signs(headDim d: Int) -> [Double] {
    let stream = StochasticStream(seed: streamSeed(seed, 7))
    return (0..<d).map { stream.word(at: $0) >> 63 == 0 ? 1 : -1 }
  }

  /// `M` as a dense d × d matrix (row-major), for tests and inspection.
  public func matrix(headDim d: Int) -> [Double] {
    let b = blockSize(headDim: d), s = signs(headDim: d)
    let norm = 1 / Double(b).squareRoot()
    var m = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for j in 0..<d where i / b == j / b {
        m[i * d + j] = Hadamard.entry(i % b, j % b) * s[j] * norm
      }
    }
    return m
  }

  /// Every row of `t` multiplied by `M`.
  public func rotate(_ t: AttentionTensor) -> AttentionTensor {
    let d = t.headDim
    guard d > 0 else { return t }
    let b = blockSize(headDim: d)
    let factors = signs(headDim: d).map { $0 / Double(b).squareRoot() }
    var out = t
    out.values.withUnsafeMutableBufferPointer { p in
      for row in 0..<t.rowCount {
        let base = p.baseAddress! + row * d
        var start = 0
        while start < d {
          Hadamard.transform(base + start, count: b)
          start += b
        }
        for j in 0..<d { base[j] *= factors[j] }
      }
    }
    return out
  }

  /// Q and K rotated, V unchanged.
  public func apply(_ inputs: AttentionInputs) -> AttentionInputs {
    AttentionInputs(q: rotate(inputs.q), k: rotate(inputs.k), v: inputs.v)
  }
}
