import Measurement
import Attention
import Foundation

/// The result of one experiment point: what was run and its error metrics.
///
/// Units: metrics as in ``ErrorMetrics`` (`rmse`, `max_abs` in output units; `sqnr_db` in dB;
/// `max_ulp`, `mean_ulp` in units in the last place of the scheme's output format); `seconds`
/// is the wall time of the emulation and the metrics (the reference is shared and not counted);
/// `outlier_magnitude` as ``InputDistribution/outlierMagnitude``.
public struct SweepRow: Hashable, Sendable {
  public var index: Int
  public var key: String
  public var scheme: String
  public var algorithm: String
  public var precision: String
  public var incoherentProcessing: Bool
  public var blockQuantization: Bool
  public var batch: Int
  public var heads: Int
  public var seqLen: Int
  public var headDim: Int
  /// Whether the mask is causal (bottom-right for the synthetic grid, as the call had it for a
  /// captured one; ``mask`` says which).
  public var causal: Bool
  /// The mask as run, the `mask` column: `none` or `causal` for the synthetic grid; for a captured
  /// call ``AttentionMask/name`` (`causal+top-left` where PyTorch's top-left alignment differs from
  /// bottom-right) with `+bias` where the call carried a boolean or additive mask (`bias` alone
  /// without a causal mask).
  public var mask: String
  public var distribution: String
  public var distributionKind: String
  public var outlierMagnitude: Double
  public var seed: UInt64
  /// The rotation (``Rotation/definition``: `none`, `random-hadamard/auto/qk`, …).
  public var rotation: String
  /// The seed of a random rotation given apart from the input seed (`nil`: the input seed's).
  public var rotationSeed: UInt64?
  public var reference: String
  /// Metric name (``Experiment/metricNames``) → value.
  public var metrics: [String: Double]
  public var seconds: Double

  /// The `mask` column for `inputs` (see ``mask``): a synthetic point's `none`/`causal`, a
  /// captured call's mask name with `+bias` for its boolean or additive mask.
  static func maskName(_ inputs: InputSpec) -> String {
    guard let c = inputs.captured else { return inputs.causal ? "causal" : "none" }
    let name = c.options.mask.name
    guard c.options.bias != nil else { return name }
    return name == "none" ? "bias" : name + "+bias"
  }

  public init(point p: ExperimentPoint, metrics: [String: Double], seconds: Double) {
    index = p.index
    key = p.key
    scheme = p.scheme.name
    algorithm = p.algorithm.description
    precision = p.scheme.precision
    incoherentProcessing = p.scheme.incoherentProcessing
    blockQuantization = p.scheme.blockQuantization
    batch = p.batch
    heads = p.heads
    seqLen = p.seqLen
    headDim = p.headDim
    causal = p.causal
    mask = Self.maskName(p.point.inputs)
    distribution = p.point.inputs.sourceName
    distributionKind = p.captured == nil ? p.distribution.kind : "captured"
    outlierMagnitude = p.captured == nil ? p.distribution.outlierMagnitude : 0
    seed = p.seed
    rotation = p.scheme.rotation.definition
    rotationSeed = p.rotationSeed
    reference = p.reference.name
    self.metrics = metrics
    self.seconds = seconds
  }

  /// The columns before the metrics, in file order.
  public static let leadingColumns = ["index", "key", "scheme", "algorithm", "precision", "incoherent_processing",
                                      "block_quantization", "batch", "heads", "seq_len", "head_dim", "mask", "distribution",
                                      "distribution_kind", "outlier_magnitude", "seed", "rotation", "rotation_seed", "reference"]

  /// The file columns for rows with `metrics`.
  public static func columns(metrics: [String]) -> [String] { leadingColumns + metrics + ["seconds"] }

  /// The value of `column` as text (numbers in shortest round-trip form, `inf` for infinities,
  /// empty when the row has no such metric).
  public func field(_ column: String) -> String {
    switch column {
    case "index": "\(index)"
    case "key": key
    case "scheme": scheme
    case "algorithm": algorithm
    case "precision": precision
    case "incoherent_processing": "\(incoherentProcessing)"
    case "block_quantization": "\(blockQuantization)"
    case "batch": "\(batch)"
    case "heads": "\(heads)"
    case "seq_len": "\(seqLen)"
    case "head_dim": "\(headDim)"
    case "mask": mask
    case "distribution": distribution
    case "distribution_kind": distributionKind
    case "outlier_magnitude": "\(outlierMagnitude)"
    case "seed": "\(seed)"
    case "rotation": rotation
    case "rotation_seed": rotationSeed.map(String.init) ?? ""
    case "reference": reference
    case "seconds": "\(seconds)"
    default: metrics[column].map { $0.isFinite ? "\($0)" : ($0 > 0 ? "inf" : ($0 < 0 ? "-inf" : "nan")) } ?? ""
    }
  }

  /// The range of `batch`, `heads`, `seq_len` and `head_dim` in a results file: what a sweep can
  /// produce (no tensor holds more than ``ResourceLimits/tensorElements`` elements).
  public static let sizes = 1...ResourceLimits.tensorElements

  /// A row from its fields by column name (the inverse of ``field(_:)``); `where` names the
  /// place for errors (`FILE: row 12`). Sizes must lie in ``sizes``, `index` be ≥ 0, `mask` be
  /// a name as ``mask`` describes, `outlier_magnitude` and `seconds` be finite and ≥ 0; metrics may be any
  /// number, `inf`, `-inf` or `nan`.
  public init(fields f: [String: String], where at: String) throws {
    func text(_ c: String) throws -> String {
      guard let v = f[c] else { throw ResultsError("\(at): missing column '\(c)'") }
      return v
    }
    func int(_ c: String, _ range: ClosedRange<Int>) throws -> Int {
      guard let v = Int(try text(c)) else { throw ResultsError("\(at): \(c): expected an integer, got '\(f[c]!)'") }
      guard range.contains(v) else { throw ResultsError("\(at): \(c): \(v) is outside \(range.lowerBound)...\(range.upperBound)") }
      return v
    }
    func double(_ c: String) throws -> Double {
      let t = try text(c)
      switch t {
      case "inf": return .infinity
      case "-inf": return -.infinity
      case "nan": return .nan
      default:
        guard let v = Double(t) else { throw ResultsError("\(at): \(c): expected a number, got '\(t)'") }
        return v
      }
    }
    func bool(_ c: String) throws -> Bool {
      switch try text(c) {
      case "true": return true
      case "false": return false
      default: throw ResultsError("\(at): \(c): expected true or false, got '\(f[c]!)'")
      }
    }
    index = try int("index", 0...Int.max)
    key = try text("key")
    scheme = try text("scheme")
    algorithm = try text("algorithm")
    if let retired = RetiredName.message(algorithm, in: RetiredName.algorithms) { throw ResultsError("\(at): algorithm \(retired): rerun the sweep") }
    precision = try text("precision")
    incoherentProcessing = try bool("incoherent_processing")
    blockQuantization = try bool("block_quantization")
    batch = try int("batch", Self.sizes)
    heads = try int("heads", Self.sizes)
    seqLen = try int("seq_len", Self.sizes)
    headDim = try int("head_dim", Self.sizes)
    mask = try text("mask")
    let parts = mask.split(separator: "+", omittingEmptySubsequences: false)
    guard mask == "none" || parts.allSatisfy({ ["causal", "top-left", "bias"].contains($0) || ($0.hasPrefix("window(") && $0.hasSuffix(")")) }) else {
      throw ResultsError("\(at): mask: expected none, causal, or causal/top-left/window(L,R)/bias joined by '+', got '\(mask)'")
    }
    causal = parts.contains("causal")
    distribution = try text("distribution")
    distributionKind = try text("distribution_kind")
    if let retired = RetiredName.message(distributionKind, in: RetiredName.distributions) { throw ResultsError("\(at): distribution_kind \(retired): rerun the sweep") }
    outlierMagnitude = try double("outlier_magnitude")
    guard outlierMagnitude.isFinite && outlierMagnitude >= 0 else {
      throw ResultsError("\(at): outlier_magnitude: expected a finite number ≥ 0, got '\(f["outlier_magnitude"]!)'")
    }
    guard let s = UInt64(try text("seed")) else { throw ResultsError("\(at): seed: expected an integer, got '\(f["seed"]!)'") }
    seed = s
    // Results written before rotations were data have neither column: the old shipped schemes'
    // rotation was named by incoherent_processing, and its seed was the input seed.
    rotation = f["rotation"] ?? (incoherentProcessing ? "hadamard" : "none")
    switch f["rotation_seed"] {
    case nil, "": rotationSeed = nil
    case let t?:
      guard let r = UInt64(t) else { throw ResultsError("\(at): rotation_seed: expected an integer or nothing, got '\(t)'") }
      rotationSeed = r
    }
    reference = try text("reference")
    seconds = try double("seconds")
    guard seconds.isFinite && seconds >= 0 else { throw ResultsError("\(at): seconds: expected a finite number ≥ 0, got '\(f["seconds"]!)'") }
    metrics = [:]
    for name in Experiment.metricNames {
      guard let t = f[name], !t.isEmpty else { continue }
      metrics[name] = try double(name)
    }
  }

  /// The JSON object of the row (non-finite metrics as `null`).
  func json(columns: [String]) -> JSONText {
    .object(columns.map { c -> (String, JSONText) in
      switch c {
      case "index", "batch", "heads", "seq_len", "head_dim", "seed", "outlier_magnitude", "seconds": return (c, .number(field(c)))
      case "rotation_seed": return (c, rotationSeed.map { .int($0) } ?? .null)
      case "incoherent_processing", "block_quantization": return (c, .number(field(c)))
      case _ where Experiment.metricNames.contains(c):
        if let v = metrics[c], v.isFinite { return (c, .number("\(v)")) }
        return (c, .null)
      default: return (c, .string(field(c)))
      }
    })
  }
}
