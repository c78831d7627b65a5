import Hopper
import LowPrecision
/// Every numerical choice of the FlashAttention-3 Hopper forward kernel (`fa3-fwd` 0.0.3,
/// `hopper/` of Dao-AILab/flash-attention), each a named parameter whose value from
/// ``fa3(element:headDim:causal:seqLenQ:)`` is the kernel's. Switch one off to see its effect.
/// The step-by-step pipeline is documented on ``FA3Forward``.
public struct FA3Schedule: Hashable, Sendable, CustomStringConvertible {
  /// How the two GEMMs (S = Q·Kᵀ and O += P·V) accumulate.
  public enum TensorCore: String, Hashable, Sendable, CaseIterable {
    /// The H100 wgmma arithmetic (``HopperStep``): FP8 blocks of 32 truncated to e8m13, BF16/FP16
    /// blocks of 16 truncated to FP32, chained along K.
    case hopper
    /// IEEE FP32: one `fma` per product, in index order (the "simple model").
    case fp32FMA = "fp32-fma"
  }

  /// How `exp2`, `1/x`, `log2` and softcap's `tanh` are evaluated.
  public enum Function: String, Hashable, Sendable, CaseIterable {
    /// The H100's MUFU approximations (``MUFU``), as the kernel issues them.
    case mufu
    /// IEEE: `1/x` in FP32 (correctly rounded); `exp2`, `log2` and `tanh` in `Double`, rounded once to FP32.
    case ieee
  }

  /// The kernel's tiles and block order: `blockRows` = kBlockM (query rows per tile; rows never
  /// interact, so it only names the configuration), `blockColumns` = kBlockN (keys per K/V
  /// block: where the online softmax rescales and how P·V is chained), `reverseOrder` (K/V
  /// blocks from the last, possibly partial, one down to the first, as FA3 does) and
  /// `fusedRowSumRescale` (the row-sum rescale `scale·sum + P[c0]` as one FFMA; `false` rounds
  /// the product first).
  public var blocks: BlockSchedule
  public var tensorCore = TensorCore.hopper
  public var exp2 = Function.mufu
  public var reciprocal = Function.mufu
  public var log2 = Function.mufu
  /// Softcap's tanh (only read when the inputs set a softcap).
  public var tanh = Function.mufu
  /// FP32 CUDA-core operations flush subnormal operands and results to signed zeros (`.ftz`).
  public var flushSubnormals = true
  /// `m·sl2 − offset` and `S·sl2 − m_scaled` are single FFMAs (nvcc contracts them); `false`
  /// rounds the product first.
  public var fusedExponentArgument = true
  /// The row sum is kept in this many partial sums (the 4 lanes of a quad: lane q adds the
  /// block's columns c with (c mod 8) div 2 = q), reduced at the end as (l0 ⊕ l2) ⊕ (l1 ⊕ l3).
  /// A power of two; 1 is one sequential sum.
  public var rowSumLanes = 4
  /// P = 2^(x − offset) is computed with this offset (log2): 8 for FP8 (P ∈ [0, 256], so that
  /// its e4m3 cast keeps more bits), 0 for BF16/FP16. Cancels between O and l; removed from l
  /// for the LSE only.
  public var probabilityOffset = 0
  /// The FP8 cast of P saturates at ±448 (`cvt.rn.satfinite`); `false` gives NaN on overflow.
  public var saturateProbabilities = true
  /// FP8: fold the Q and K descales into the exp2 scale as fl(fl(scale·log2 e)·fl(qd·kd)), the
  /// kernel's order; `false` uses fl(fl(fl(scale·qd)·kd)·log2 e).
  public var descalesInExp2 = true
  /// P's format for FP8 inputs: e4m3fn (the kernel's) or e5m2 (a what-if: P·V then runs as
  /// e5m2 × e4m3 wgmma). 16-bit inputs keep P in their own format.
  public enum FP8Probability: String, Hashable, Sendable, CaseIterable { case e4m3fn, e5m2 }
  public var fp8ProbabilityFormat = FP8Probability.e4m3fn
  /// A what-if from FlashAttention-4's forward: keep a row's stale maximum while a new block
  /// raises it by less than this many log2 units (then O and the row sum are not rescaled, and
  /// P reaches up to 2^(offset + threshold)); `nil` (the FA3 kernel) always takes the new maximum.
  public var rescaleThreshold: Float?
  /// A what-if from FlashAttention-4's forward: P = 2^x by ``SoftwareExp2`` (a polynomial of this
  /// degree, 0…5, on the CUDA cores) instead of `exp2`; `nil` (the kernel) uses `exp2`. The
  /// rescale factors keep `exp2`.
  public var exp2Polynomial: Int?
  /// The GPU's SM count, which the kernel's split heuristics read (``FA3Splits``): 132 on the
  /// H100 SXM and the H200.
  public var smCount = FA3Splits.hopperSMCount

  public init(blocks: BlockSchedule) { self.blocks = blocks }

  /// The kernel's schedule for the inputs: ``fa3(element:headDim:valueHeadDim:causal:seqLenQ:)``
  /// of their element, head dims, mask and query length.
  public static func fa3(for inputs: FA3Inputs) -> FA3Schedule {
    fa3(element: inputs.element, headDim: inputs.headDim, valueHeadDim: inputs.valueHeadDim, causal: inputs.causal, seqLenQ: inputs.seqLenQ)
  }

  /// The kernel's schedule for an input element type, head dimensions (rounded up to the
  /// compiled builds; V's default: Q/K's) and mask. `seqLenQ == 1` with `causal` runs as
  /// non-causal (as FA3 does), which changes the BF16 tile for d ≤ 64.
  public static func fa3(element: FA3Inputs.Element, headDim: Int, valueHeadDim: Int? = nil, causal: Bool, seqLenQ: Int) -> FA3Schedule {
    let fp8 = element == .e4m3fn
    var s = FA3Schedule(blocks: .hopperTiles(headDim: headDim, valueHeadDim: valueHeadDim, fp8: fp8, causal: causal && seqLenQ != 1))
    s.probabilityOffset = fp8 ? 8 : 0
    return s
  }

  public var description: String {
    var parts = ["kBlockM×N \(blocks.blockRows)×\(blocks.blockColumns)"]
    if !blocks.reverseOrder { parts.append("forward block order") }
    if tensorCore != .hopper { parts.append("tensor core \(tensorCore.rawValue)") }
    if exp2 != .mufu { parts.append("exp2 \(exp2.rawValue)") }
    if reciprocal != .mufu { parts.append("rcp \(reciprocal.rawValue)") }
    if log2 != .mufu { parts.append("lg2 \(log2.rawValue)") }
    if tanh != .mufu { parts.append("tanh \(tanh.rawValue)") }
    if !flushSubnormals { parts.append("no FTZ") }
    if !fusedExponentArgument { parts.append("unfused exp2 argument") }
    if !blocks.fusedRowSumRescale { parts.append("unfused row-sum rescale") }
    if rowSumLanes != 4 { parts.append("\(rowSumLanes) row-sum lanes") }
    parts.append("P offset 2^\(probabilityOffset)")
    if !saturateProbabilities { parts.append("P cast not saturating") }
    if !descalesInExp2 { parts.append("descales folded into the scale first") }
    if smCount != FA3Splits.hopperSMCount { parts.append("\(smCount) SMs") }
    if fp8ProbabilityFormat != .e4m3fn { parts.append("FP8 P in \(fp8ProbabilityFormat.rawValue)") }
    if let rescaleThreshold { parts.append("stale max below \(rescaleThreshold) (log2)") }
    if let exp2Polynomial { parts.append("P by a degree-\(exp2Polynomial) polynomial exp2") }
    return parts.joined(separator: ", ")
  }

  /// Limits of the schedule's sizes (the kernel uses kBlockN ≤ 224 and 4 lanes): beyond them a
  /// schedule is refused rather than allocating padded blocks of any size.
  public static let largestBlockColumns = 65_536
  public static let largestRowSumLanes = 1024

  func validate() throws(AttentionError) {
    guard (1...Self.largestBlockColumns).contains(blocks.blockColumns) else {
      throw AttentionError("kBlockN (blockColumns) must be in 1...\(Self.largestBlockColumns), got \(blocks.blockColumns)")
    }
    guard (1...Self.largestRowSumLanes).contains(rowSumLanes) && rowSumLanes & (rowSumLanes - 1) == 0 else {
      throw AttentionError("row-sum lanes (rowSumLanes) must be a power of two in 1...\(Self.largestRowSumLanes), got \(rowSumLanes)")
    }
    if let t = rescaleThreshold, !(t.isFinite && t >= 0 && t <= 64) {
      throw AttentionError("rescale threshold (rescaleThreshold) must be in 0...64 log2 units, got \(t)")
    }
    if let d = exp2Polynomial, !SoftwareExp2.degrees.contains(d) {
      throw AttentionError("exp2 polynomial degree (exp2Polynomial) must be in \(SoftwareExp2.degrees.lowerBound)...\(SoftwareExp2.degrees.upperBound), got \(d)")
    }
    guard (1...4096).contains(smCount) else { throw AttentionError("SM count (smCount) must be in 1...4096, got \(smCount)") }
    guard (0...100).contains(probabilityOffset) else {
      throw AttentionError("P offset must be in 0...100 (a power-of-two exponent), got \(probabilityOffset)")
    }
  }
}

extension FA3Schedule {
  /// The parameter names accepted by ``set(_:to:)``.
  public static let parameterNames = [
    "blockColumns", "reverseBlockOrder", "tensorCore", "exp2", "reciprocal", "log2", "tanh", "flushSubnormals",
    "fusedExponentArgument", "fusedRowSumRescale", "rowSumLanes", "probabilityOffset", "saturateProbabilities",
    "descalesInExp2", "smCount", "fp8ProbabilityFormat", "rescaleThreshold", "exp2Polynomial",
  ]

  /// Sets one parameter from text (`exp2` = `ieee`, `rowSumLanes` = `1`, …); an unknown name or a
  /// bad value is an error that names what is allowed.
  public mutating func set(_ name: String, to value: String) throws(AttentionError) {
    var changed = self
    try changed.assign(name, value)
    try changed.validate()
    self = changed
  }

  private mutating func assign(_ name: String, _ value: String) throws(AttentionError) {
    func bool() throws(AttentionError) -> Bool {
      switch value {
      case "true", "yes", "on", "1": return true
      case "false", "no", "off", "0": return false
      default: throw AttentionError("FA3 parameter \(name): expected true or false, got '\(value)'")
      }
    }
    func int() throws(AttentionError) -> Int {
      guard let i = Int(value) else { throw AttentionError("FA3 parameter \(name): expected an integer, got '\(value)'") }
      return i
    }
    func function() throws(AttentionError) -> Function {
      guard let f = Function(rawValue: value) else { throw AttentionError("FA3 parameter \(name): expected mufu or ieee, got '\(value)'") }
      return f
    }
    switch name {
    case "blockColumns": blocks.blockColumns = try int()
    case "reverseBlockOrder": blocks.reverseOrder = try bool()
    case "tensorCore":
      guard let t = TensorCore(rawValue: value) else { throw AttentionError("FA3 parameter tensorCore: expected hopper or fp32-fma, got '\(value)'") }
      tensorCore = t
    case "exp2": exp2 = try function()
    case "reciprocal": reciprocal = try function()
    case "log2": log2 = try function()
    case "tanh": tanh = try function()
    case "flushSubnormals": flushSubnormals = try bool()
    case "fusedExponentArgument": fusedExponentArgument = try bool()
    case "fusedRowSumRescale": blocks.fusedRowSumRescale = try bool()
    case "rowSumLanes": rowSumLanes = try int()
    case "probabilityOffset": probabilityOffset = try int()
    case "saturateProbabilities": saturateProbabilities = try bool()
    case "descalesInExp2": descalesInExp2 = try bool()
    case "smCount": smCount = try int()
    case "fp8ProbabilityFormat":
      guard let f = FP8Probability(rawValue: value) else { throw AttentionError("FA3 parameter fp8ProbabilityFormat: expected e4m3fn or e5m2, got '\(value)'") }
      fp8ProbabilityFormat = f
    case "rescaleThreshold":
      if value == "none" { rescaleThreshold = nil; break }
      guard let t = Float(value) else { throw AttentionError("FA3 parameter rescaleThreshold: expected a number of log2 units or none, got '\(value)'") }
      rescaleThreshold = t
    case "exp2Polynomial":
      if value == "none" { exp2Polynomial = nil; break }
      exp2Polynomial = try int()
    default:
      throw AttentionError("unknown FA3 parameter '\(name)' (known: \(Self.parameterNames.joined(separator: ", ")))")
    }
  }
}

extension FA3Schedule {
  /// The largest P the schedule can produce before its cast, 2^(offset + threshold) (P ≤ 2^offset
  /// when the maximum is always current), and the largest finite value of P's format for
  /// `element`; P above that is clamped by the saturating cast (or NaN) while the FP32 row sum
  /// keeps it, which biases O.
  public func probabilityRange(element: FA3Inputs.Element) -> (largestP: Double, formatMax: Double) {
    let largest = Double(sign: .plus, exponent: probabilityOffset, significand: 1) * LibM.exp2(Double(rescaleThreshold ?? 0))
    let format: FloatFormat = element == .e4m3fn ? (fp8ProbabilityFormat == .e5m2 ? .e5m2 : .e4m3fn) : element.format
    return (largest, format.decode(format.maxFiniteCode(negative: false)))
  }

  /// One line per problem of the schedule for `element` (none: an empty list): P that can
  /// exceed its format's largest value.
  public func lint(element: FA3Inputs.Element) -> [String] {
    let (largest, limit) = probabilityRange(element: element)
    guard largest > limit else { return [] }
    let format = element == .e4m3fn ? fp8ProbabilityFormat.rawValue : element.rawValue
    return ["P can reach 2^\(probabilityOffset) · 2^\(rescaleThreshold.map { "\($0)" } ?? "0") = \(largest), above \(format)'s largest \(limit): "
            + "the cast clamps it while the row sum keeps it, biasing O; keep offset + threshold ≤ log2(\(limit)) ≈ \(String(LibM.log2(limit)).prefix(5))"]
  }
}
