import LowPrecision

/// Incoherent processing: Q and K (and, for ``Target/qkv``, V) are multiplied by an orthogonal
/// matrix `M` before quantization, each row `x` becoming `x · M`. Then `(QM)(KM)ᵀ = Q M Mᵀ Kᵀ =
/// QKᵀ` in exact arithmetic, while an outlier channel is spread over all channels of a block.
///
/// The kinds of `M` (`b` the block size, `M` block-diagonal with `d / b` blocks of `b × b`):
///
/// | kind | `M` | seed |
/// |---|---|---|
/// | ``Kind/none`` | `I` | — |
/// | ``Kind/hadamard`` | `H_b / √b` (Sylvester's Hadamard matrix) | — |
/// | ``Kind/randomHadamard`` | `diag(s) · H_b / √b`, `s` random signs, one per channel | signs |
/// | ``Kind/randomOrthogonal`` | a Haar-random orthogonal `b × b` block per block (QR of a Gaussian matrix) | the Gaussian matrix |
/// | ``Kind/matrix(_:)`` | a given `d × d` orthogonal matrix (a learned rotation, say) | — |
///
/// ``Kind/randomHadamard`` is the random rotation of the FlashAttention-3 paper (after QuIP#):
/// signs first, then the transform, so that the signs change which combinations of channels
/// land in each rotated channel. (Signs *after* the transform, `H · diag(s)`, would only flip the
/// signs of rotated channels: a sign-symmetric quantizer and the scores would not see them.)
///
/// Hadamard kinds run as a fast Walsh–Hadamard transform per block (`b log₂ b` additions in
/// `Double`), the sign flips exact, then a multiplication by `1/√b` (exact when `b` is a power of
/// four); the dense kinds as a `Double` product per block. The default block is the largest power
/// of two dividing the head dim for Hadamard kinds (96 → 32, 192 → 64) and the whole head dim for
/// random orthogonal matrices.
///
/// With ``Target/qkv`` (QuaRot's order) V is rotated too and the output rotated back,
/// `O = (P · VM) · Mᵀ`: the product with `Mᵀ` in `Double`, rounded once more to the scheme's
/// output format (as a kernel that stores O and a rotation applied after it would).
public struct Rotation: Hashable, Sendable {
  public enum Kind: Hashable, Sendable {
    case none
    case hadamard
    case randomHadamard
    case randomOrthogonal
    case matrix(OrthogonalMatrix)

    /// The name in scheme files and definitions: `none`, `hadamard`, `random-hadamard`,
    /// `random-orthogonal`, `matrix`.
    public var name: String {
      switch self {
      case .none: "none"
      case .hadamard: "hadamard"
      case .randomHadamard: "random-hadamard"
      case .randomOrthogonal: "random-orthogonal"
      case .matrix: "matrix"
      }
    }

    /// The kinds a scheme file names (a matrix is named by its file).
    public static let named: [Kind] = [.none, .hadamard, .randomHadamard, .randomOrthogonal]
  }

  /// What is rotated: Q and K (FlashAttention-3), or Q, K and V with O rotated back (QuaRot).
  public enum Target: String, Hashable, Sendable, CaseIterable {
    case qk
    case qkv
  }

  public var kind: Kind
  /// The block size (`nil`: the kind's default, see the type's notes); not used by ``Kind/none``
  /// and ``Kind/matrix(_:)``.
  public var block: Int?
  public var target: Target

  public init(_ kind: Kind = .none, block: Int? = nil, target: Target = .qk) {
    self.kind = kind
    self.block = block
    self.target = target
  }

  /// No rotation.
  public static let none = Rotation()

  /// Whether `M` is the identity.
  public var isIdentity: Bool { kind == .none }

  /// Whether `M` depends on the seed.
  public var isRandom: Bool { kind == .randomHadamard || kind == .randomOrthogonal }

  /// The block size for head dim `d`.
  public func blockSize(headDim d: Int) -> Int {
    switch kind {
    case .none: d
    case .hadamard, .randomHadamard: block ?? Hadamard.blockSize(headDim: d)
    case .randomOrthogonal: block ?? d
    case .matrix(let m): m.size
    }
  }

  /// Checks that the rotation can take rows of `d` values (Q and K; and V's head dim for
  /// ``Target/qkv``).
  public func validate(headDim d: Int) throws(AttentionError) {
    switch kind {
    case .none:
      return
    case .hadamard, .randomHadamard:
      guard let b = block else { return }
      guard b >= 1, b & (b - 1) == 0, d % b == 0 else {
        throw AttentionError("Hadamard block \(b) must be a power of two that divides the head dim \(d)")
      }
    case .randomOrthogonal:
      guard let b = block else { return }
      guard b >= 1, d % b == 0 else { throw AttentionError("the random orthogonal block \(b) must divide the head dim \(d)") }
    case .matrix(let m):
      guard m.size == d else {
        throw AttentionError("the rotation matrix \(m.source) is \(m.size)×\(m.size) but the head dim is \(d)")
      }
    }
  }

  /// `none`, or `KIND/BLOCK/TARGET` (BLOCK `auto` for the default), or `matrix:FINGERPRINT/TARGET`:
  /// every choice that changes the numbers.
  public var definition: String {
    switch kind {
    case .none: "none"
    case .matrix(let m): "matrix:\(m.fingerprint)/\(target.rawValue)"
    default: "\(kind.name)/\(block.map(String.init) ?? "auto")/\(target.rawValue)"
    }
  }

  /// A phrase for scheme summaries, e.g. "Q and K rotated by a random Hadamard matrix".
  public var summary: String {
    let what: String
    switch kind {
    case .none: return "no rotation"
    case .hadamard: what = "the Hadamard matrix"
    case .randomHadamard: what = "a random Hadamard matrix (signs, then the transform)"
    case .randomOrthogonal: what = "a random orthogonal matrix"
    case .matrix(let m): what = "the matrix of \(m.source)"
    }
    return target == .qk ? "Q and K rotated by \(what)" : "Q, K and V rotated by \(what), O rotated back"
  }

  // MARK: The matrix

  /// The random signs `s` of ``Kind/randomHadamard`` for `d` channels (all `+1` for the other kinds).
  public func signs(headDim d: Int, seed: UInt64) -> [Double] {
    guard kind == .randomHadamard else { return Array(repeating: 1, count: d) }
    let stream = StochasticStream(seed: streamSeed(seed, 7))
    return (0..<d).map { stream.word(at: $0) >> 63 == 0 ? 1 : -1 }
  }

  /// `M` for head dim `d` and `seed`, as a dense `d × d` matrix (row-major).
  public func matrix(headDim d: Int, seed: UInt64) -> [Double] {
    var m = [Double](repeating: 0, count: d * d)
    switch kind {
    case .none:
      for i in 0..<d { m[i * d + i] = 1 }
    case .hadamard, .randomHadamard:
      let b = blockSize(headDim: d), s = signs(headDim: d, seed: seed)
      let norm = 1 / Double(b).squareRoot()
      for i in 0..<d { for j in 0..<d where i / b == j / b { m[i * d + j] = s[i] * Hadamard.entry(i % b, j % b) * norm } }
    case .randomOrthogonal:
      let b = blockSize(headDim: d)
      for block in 0..<(d / b) {
        let q = Self.haarBlock(size: b, seed: seed, index: block)
        for i in 0..<b { for j in 0..<b { m[(block * b + i) * d + block * b + j] = q[i * b + j] } }
      }
    case .matrix(let given):
      m = given.values
    }
    return m
  }

  /// A Haar-distributed orthogonal `b × b` matrix: the Q factor (R with a positive diagonal) of
  /// a matrix of standard normal deviates drawn from `seed` (block `index` of the rotation), by
  /// Gram–Schmidt on the columns with one re-orthogonalization pass, in `Double`.
  static func haarBlock(size b: Int, seed: UInt64, index: Int) -> [Double] {
    let normals = NormalStream(seed: seed, tag: 8)
    // Column j of G, stored contiguously.
    var columns = (0..<b).map { j in (0..<b).map { i in normals[index * b * b + i * b + j] } }
    for j in 0..<b {
      for _ in 0..<2 {
        for k in 0..<j {
          var dot = 0.0
          for i in 0..<b { dot += columns[k][i] * columns[j][i] }
          for i in 0..<b { columns[j][i] -= dot * columns[k][i] }
        }
      }
      var norm = 0.0
      for i in 0..<b { norm += columns[j][i] * columns[j][i] }
      norm = norm.squareRoot()
      for i in 0..<b { columns[j][i] /= norm }
    }
    var q = [Double](repeating: 0, count: b * b)
    for i in 0..<b { for j in 0..<b { q[i * b + j] = columns[j][i] } }
    return q
  }

  // MARK: Applying it

  /// Every row `x` of `t` replaced by `x · M` (or by `x · Mᵀ` when `transposed`).
  public func rotate(_ t: AttentionTensor, seed: UInt64, transposed: Bool = false) -> AttentionTensor {
    let d = t.headDim
    guard d > 0, !isIdentity else { return t }
    var out = t
    switch kind {
    case .hadamard, .randomHadamard:
      let b = blockSize(headDim: d), s = signs(headDim: d, seed: seed)
      let norm = 1 / Double(b).squareRoot()
      // x·M = ((x ∘ s) · H) / √b; x·Mᵀ = ((x · H) / √b) ∘ s (H is symmetric).
      let after = transposed ? s.map { $0 * norm } : [Double](repeating: norm, count: d)
      out.values.withUnsafeMutableBufferPointer { p in
        for row in 0..<t.rowCount {
          let base = p.baseAddress! + row * d
          if !transposed { for j in 0..<d { base[j] *= s[j] } }
          var start = 0
          while start < d {
            Hadamard.transform(base + start, count: b)
            start += b
          }
          for j in 0..<d { base[j] *= after[j] }
        }
      }
    default:
      let m = matrix(headDim: d, seed: seed), b = blockSize(headDim: d)
      t.values.withUnsafeBufferPointer { x in
        out.values.withUnsafeMutableBufferPointer { y in
          for row in 0..<t.rowCount {
            let base = row * d
            for j in 0..<d {
              let start = j / b * b
              var sum = 0.0
              for i in start..<(start + b) { sum += x[base + i] * (transposed ? m[j * d + i] : m[i * d + j]) }
              y[base + j] = sum
            }
          }
        }
      }
    }
    return out
  }

  /// Q and K rotated, and V for ``Target/qkv``.
  public func apply(_ inputs: AttentionInputs, seed: UInt64) -> AttentionInputs {
    AttentionInputs(q: rotate(inputs.q, seed: seed), k: rotate(inputs.k, seed: seed),
                    v: target == .qkv ? rotate(inputs.v, seed: seed) : inputs.v)
  }

  /// An output computed on ``apply(_:seed:)``'s inputs brought back to the unrotated basis:
  /// `O · Mᵀ` for ``Target/qkv``, each value rounded to `format`; O itself for ``Target/qk``.
  public func restore(_ o: AttentionTensor, seed: UInt64, format: NumberFormat) -> AttentionTensor {
    guard target == .qkv, !isIdentity else { return o }
    var back = rotate(o, seed: seed, transposed: true)
    for i in back.values.indices { back.values[i] = format.round(back.values[i]) }
    return back
  }
}

/// An orthogonal matrix given as data (a learned rotation, say): `size × size`, row-major,
/// finite, with every entry of `M · Mᵀ − I` within a stated tolerance.
public struct OrthogonalMatrix: Hashable, Sendable {
  public let size: Int
  public let values: [Double]
  /// Where the matrix came from (a file name), for messages and summaries.
  public let source: String
  /// FNV-1a (64-bit, hex) of the values' IEEE bits: the matrix in scheme definitions.
  public let fingerprint: String

  /// Checks `values` (`size²` finite values, orthogonal within `tolerance`, the largest
  /// `|(M·Mᵀ − I)ᵢⱼ|` computed in `Double`).
  public init(size: Int, values: [Double], source: String, tolerance: Double) throws(AttentionError) {
    guard size >= 1, values.count == size * size else {
      throw AttentionError("\(source): a rotation is a square matrix, got \(values.count) values for \(size)×\(size)")
    }
    guard tolerance.isFinite, tolerance >= 0 else { throw AttentionError("\(source): the orthogonality tolerance must be finite and ≥ 0, got \(tolerance)") }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
      throw AttentionError("\(source): the rotation matrix has a non-finite value \(values[bad]) at row \(bad / size), column \(bad % size)")
    }
    var worst = 0.0, at = (0, 0)
    values.withUnsafeBufferPointer { m in
      for i in 0..<size { for j in i..<size {
        var dot = 0.0
        for k in 0..<size { dot += m[i * size + k] * m[j * size + k] }
        let e = abs(dot - (i == j ? 1 : 0))
        if e > worst { worst = e; at = (i, j) }
      } }
    }
    guard worst <= tolerance else {
      throw AttentionError("\(source): the rotation matrix is not orthogonal: |(M·Mᵀ − I)[\(at.0), \(at.1)]| = \(worst) > tolerance \(tolerance)")
    }
    self.size = size
    self.values = values
    self.source = source
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for v in values { for shift in stride(from: 0, to: 64, by: 8) { h = (h ^ ((v.bitPattern >> UInt64(shift)) & 0xFF)) &* 0x100_0000_01B3 } }
    fingerprint = String(h, radix: 16).leftPadded(to: 16)
  }

  public static func == (a: OrthogonalMatrix, b: OrthogonalMatrix) -> Bool { a.size == b.size && a.values == b.values }
  public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }
}
