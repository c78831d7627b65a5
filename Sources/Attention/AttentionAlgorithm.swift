/// How attention is computed, with every size fixed: the one algorithm type of the engines,
/// the measurement path, the command line, experiment files, the regression gate and the table.
/// Names are parsed and printed by ``AlgorithmChoice`` only.
public enum AttentionAlgorithm: Hashable, Sendable {
  /// Materialized softmax: all scores of a row, their max, `P`, then `P·V`. With
  /// `normalizeBeforePV` (standard attention) `P = exp(…)/l` is normalized before its rounding
  /// and `P·V`; otherwise `O = (P·V)/l` at the end, as blocked attention does.
  case naive(normalizeBeforePV: Bool)
  /// FlashAttention's online softmax over blocks of keys (``BlockSchedule``), on a scheme's
  /// ``PrecisionPlan`` (``EmulatedAttention``).
  case blocked(BlockSchedule)
  /// The FlashAttention-3 Hopper forward kernel operation for operation (``FA3Forward``): its
  /// numerics are the schedule's, not a precision plan's, and it runs on the kernel's inputs
  /// (bf16/fp16 codes, or e4m3fn codes with per-(batch, KV head) descales).
  case fa3Kernel(FA3Schedule)

  /// Standard attention.
  public static let naive = AttentionAlgorithm.naive(normalizeBeforePV: true)

  /// The name as ``AlgorithmChoice`` prints it (`naive`, `blocked(128x128)`, `fa3`, …).
  public var name: String {
    switch self {
    case .naive(let before): before ? "naive" : "naive(normalize-after)"
    case .blocked(let s): AlgorithmChoice.blocked(s).description
    case .fa3Kernel: AlgorithmChoice.fa3Kernel.description
    }
  }
}

/// An algorithm as named in files and on the command line, before a point's head dimension,
/// mask and precision fix the tiles. Parsing and printing happen here and nowhere else; an
/// unknown name is an error, never a fallback.
///
/// | name | meaning |
/// |---|---|
/// | `naive` | standard attention (materialized softmax) |
/// | `blocked` | FlashAttention-2 order: 128 × 128 blocks, keys ascending |
/// | `blocked(BRxBC)`, `blocked(BRxBC,reverse)` | any tiles, either order |
/// | `blocked-hopper-tiles` | the FA3 kernel's tiles and reverse order, on the scheme's precision plan (formerly `blocked-fa3`) |
/// | `fa3` | the FA3 kernel schedule, bit-exact (bf16/fp16 casts or e4m3fn per-head/per-tensor schemes) |
public enum AlgorithmChoice: Hashable, Sendable, CustomStringConvertible {
  case naive
  case blocked(BlockSchedule)
  case blockedHopperTiles
  case fa3Kernel

  /// The plain names (``blocked`` also takes tiles).
  public static let names = ["naive", "blocked", "blocked-hopper-tiles", "fa3"]

  /// Parses a name (table above); a retired name (``RetiredName/algorithms``) is an error naming
  /// the new one.
  public init(_ name: String) throws(AttentionError) {
    if let retired = RetiredName.message(name, in: RetiredName.algorithms) { throw AttentionError("algorithm \(retired)") }
    switch name {
    case "naive": self = .naive
    case "blocked": self = .blocked(.flash2)
    case "blocked-hopper-tiles": self = .blockedHopperTiles
    case "fa3": self = .fa3Kernel
    default:
      guard name.hasPrefix("blocked(") && name.hasSuffix(")") else {
        throw AttentionError("unknown algorithm '\(name)' (allowed: \(Self.names.joined(separator: ", ")), blocked(BRxBC), blocked(BRxBC,reverse))")
      }
      let inner = name.dropFirst(8).dropLast().split(separator: ",", omittingEmptySubsequences: false)
      let sizes = inner.first?.split(separator: "x", omittingEmptySubsequences: false) ?? []
      guard (1...2).contains(inner.count), inner.count == 1 || inner[1] == "reverse", sizes.count == 2,
            let rows = Int(sizes[0]), let columns = Int(sizes[1]) else {
        throw AttentionError("algorithm '\(name)': expected blocked(BRxBC) or blocked(BRxBC,reverse) with positive integers")
      }
      let s = BlockSchedule(blockRows: rows, blockColumns: columns, reverseOrder: inner.count == 2)
      try s.validate()
      self = .blocked(s)
    }
  }

  /// The name: `blocked` for FlashAttention-2's schedule, `blocked(BRxBC[,reverse])` for others.
  public var description: String {
    switch self {
    case .naive: "naive"
    case .blocked(let s) where s == .flash2: "blocked"
    case .blocked(let s): "blocked(\(s.blockRows)x\(s.blockColumns)\(s.reverseOrder ? ",reverse" : ""))"
    case .blockedHopperTiles: "blocked-hopper-tiles"
    case .fa3Kernel: "fa3"
    }
  }

  /// The algorithm for `scheme` on inputs of head dim `headDim`, `seqLenQ` queries and the mask's
  /// causality: `blocked-hopper-tiles` takes the kernel's tiles for the scheme's precision (FP8 tiles for
  /// FP8 schemes), `fa3` the kernel's schedule for the scheme's element type (an error when the
  /// kernel cannot take the scheme's inputs).
  public func resolve(for scheme: AttentionScheme, headDim: Int, causal: Bool, seqLenQ: Int) throws(AttentionError) -> AttentionAlgorithm {
    switch self {
    case .naive: return .naive
    case .blocked(let s): return .blocked(s)
    case .blockedHopperTiles: return .blocked(.hopperTiles(headDim: headDim, fp8: scheme.precision == "fp8", causal: causal))
    case .fa3Kernel:
      let element = try FA3Inputs.Element(scheme: scheme)
      return .fa3Kernel(.fa3(element: element, headDim: headDim, causal: causal, seqLenQ: seqLenQ))
    }
  }
}
