import Attention
import LowPrecision

/// A quantization scheme defined in an experiment file (`define_schemes`):
///
/// | key | values | default |
/// |---|---|---|
/// | `name` | a new name | required |
/// | `base` | a shipped scheme to start from | none: `format` and `plan` required |
/// | `format` | storage format of Q, K, V: `e4m3fn`, `e5m2`, `fp16`, `bf16`, … (`flashnum formats`) | base's |
/// | `scaling` | `none`, `per-tensor`, `per-head`, `per-block`, `per-token`, `mx` | base's, or `none` |
/// | `block_rows` | rows per scale for `per-block` | 128 |
/// | `mx_block`, `mx_rule` | head-dim elements per E8M0 scale; `floor`, `ceil`, `rceil`, `even` | 32, `rceil` |
/// | `scale_rule` | `amax` (FP32 scale) or `amax-pow2` | `amax` |
/// | `incoherent_processing` | rotate Q and K by a random Hadamard matrix first | base's, or false |
/// | `plan` | `fa3-fp8`, `baseline-fp8`, `flash-fp16`, `flash-bf16`, `standard-fp16`, `standard-bf16`, `fp32`, `fp64` | base's |
/// | `probability_format`, `output_format` | a format name, `fp32` or `fp64` (RNE; saturating for formats without infinity) | the plan's |
///
/// Casts to 8-bit formats saturate (as FP8 hardware casts with `.satfinite`).
enum ExperimentSchemeDefinition {
  static let keys = ["name", "base", "format", "scaling", "block_rows", "mx_block", "mx_rule", "scale_rule",
                     "incoherent_processing", "plan", "probability_format", "output_format", "summary"]
  static let plans: [String: PrecisionPlan] = [
    "fa3-fp8": .flashFP8, "baseline-fp8": AttentionScheme.baselineFP8Plan,
    "flash-fp16": .flash16(.fp16), "flash-bf16": .flash16(.bf16),
    "standard-fp16": AttentionScheme.standardPlan(.fp16), "standard-bf16": AttentionScheme.standardPlan(.bf16),
    "fp32": .fp32, "fp64": .fp64,
  ]

  static func parse(_ item: ConfigurationValue) throws(AttentionError) -> AttentionScheme {
    let m = try item.mapping(allowed: keys)
    guard let nameValue = m["name"] else { throw item.error("missing key 'name'") }
    let name = try nameValue.string()
    guard !name.isEmpty, !name.contains(where: { $0 == "," || $0.isWhitespace }) else {
      throw nameValue.error("a scheme name has no spaces or commas, got '\(name)'")
    }
    var base: AttentionScheme? = nil
    if let b = m["base"] {
      let n = try b.string()
      guard let s = AttentionScheme.named(n) else {
        throw b.error("unknown scheme '\(n)' (allowed: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
      }
      base = s
    }
    func format(_ v: ConfigurationValue) throws(AttentionError) -> FloatFormat {
      let n = try v.string()
      guard let f = FloatFormat.named(n) else {
        throw v.error("unknown format '\(n)' (allowed: \(FloatFormat.presets.map(\.name).joined(separator: ", ")))")
      }
      return f
    }
    func stageFormat(_ v: ConfigurationValue) throws(AttentionError) -> NumberFormat {
      switch try v.string() {
      case "fp32": return .fp32
      case "fp64": return .fp64
      default: return .rne(try format(v))
      }
    }
    var storage: NumberFormat
    if let f = m["format"] {
      let ff = try format(f)
      storage = ff.bitWidth <= 8 ? .rne(ff, overflow: .saturate) : .rne(ff)
    } else if let base {
      storage = base.q.format
    } else { throw item.error("missing key 'format' (or give a 'base' scheme)") }

    var granularity = base?.q.granularity ?? ScaleGranularity.none
    if let s = m["scaling"] {
      switch try s.choice(["none", "per-tensor", "per-head", "per-block", "per-token", "mx"]) {
      case "none": granularity = .none
      case "per-tensor": granularity = .perTensor
      case "per-head": granularity = .perHead
      case "per-block": granularity = .perBlock(rows: 128)
      case "per-token": granularity = .perToken
      default: granularity = .mx(blockSize: 32, rule: .rceil)
      }
    }
    if let v = m["block_rows"] {
      guard case .perBlock = granularity else { throw v.error("applies to scaling per-block only") }
      granularity = .perBlock(rows: try v.int(1...1_048_576))
    }
    for key in ["mx_block", "mx_rule"] where m[key] != nil {
      guard case .mx(let size, let rule) = granularity else { throw m[key]!.error("applies to scaling mx only") }
      if key == "mx_block" { granularity = .mx(blockSize: try m[key]!.int(1...4096), rule: rule) }
      else { granularity = .mx(blockSize: size, rule: MXScaleRule(rawValue: try m[key]!.choice(MXScaleRule.allCases.map(\.rawValue)))!) }
    }
    var rule = base?.q.scaleRule ?? .amax
    if let r = m["scale_rule"] { rule = ScaleRule(rawValue: try r.choice(ScaleRule.allCases.map(\.rawValue)))! }

    var plan: PrecisionPlan
    if let p = m["plan"] {
      plan = plans[try p.choice(plans.keys.sorted())]!
    } else if let base {
      plan = base.plan
    } else { throw item.error("missing key 'plan' (allowed: \(plans.keys.sorted().joined(separator: ", ")))") }
    if let v = m["probability_format"] { plan.probabilityFormat = try stageFormat(v) }
    if let v = m["output_format"] { plan.outputFormat = try stageFormat(v) }

    let quantization = QuantizationScheme(format: storage, granularity: granularity, scaleRule: rule)
    let incoherent = try m["incoherent_processing"]?.bool() ?? base?.incoherentProcessing ?? false
    let precision: String
    switch storage {
    case .fp64: precision = "fp64"
    case .fp32: precision = "fp32"
    case .low(let f, _): precision = f.bitWidth <= 8 ? "fp8" : f.name
    }
    let summary = try m["summary"]?.string()
      ?? "defined in the experiment: \(storage) Q/K/V, scaling \(granularity.name)\(incoherent ? ", Hadamard-rotated Q and K" : ""); \(plan.summary)"
    return AttentionScheme(name: name, summary: summary, precision: precision, q: quantization, k: quantization, v: quantization,
                           incoherentProcessing: incoherent, plan: plan)
  }
}
