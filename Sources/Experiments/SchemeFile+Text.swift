import Attention
import LowPrecision
import Measurement

/// A scheme written back as a scheme file (YAML): every choice spelled out, so that reading the
/// text gives the same ``AttentionScheme/definition``. `flashnum schemes --export DIR` writes the
/// shipped schemes this way (the files in `schemes/`).
extension SchemeFile {
  public static func text(for s: AttentionScheme) -> String {
    var lines = ["name: \(s.name)", "summary: \(quoted(s.summary))"]
    for (name, t) in [("q", s.q), ("k", s.k), ("v", s.v)] { lines.append("\(name): {\(tensor(t))}") }
    lines.append("rotation: \(rotation(s.rotation))")
    let p = s.plan
    lines += [
      "plan:",
      "  score_accumulation: \(p.scoreAccumulation.rawValue)",
      "  score_format: \(stage(p.scoreFormat))",
      "  softmax_arithmetic: \(stage(p.softmaxArithmetic))",
      "  softmax_scaling: \(p.softmaxScaling.rawValue)",
      "  probability_format: \(p.stochasticProbabilities ? stochastic(p) : stage(p.probabilityFormat))",
      "  probability_offset: \(p.probabilityOffset)",
      "  row_sum_of_rounded_p: \(p.rowSumOfRoundedP)",
      "  value_accumulation: \(p.valueAccumulation.rawValue)",
      "  normalization: \(p.normalization.rawValue)",
      "  output_format: \(stage(p.outputFormat))",
    ]
    return lines.joined(separator: "\n") + "\n"
  }

  /// `none`, a kind's name, or `{kind: …, block: …, rotate: …}` when a block or V is given. A
  /// matrix rotation is written with its source path (relative to the file it came from).
  static func rotation(_ r: Rotation) -> String {
    if case .matrix(let m) = r.kind { return "{kind: matrix, file: \(quoted(m.source)), rotate: \(r.target.rawValue)}" }
    guard r.block != nil || r.target != .qk else { return r.kind.name }
    return "{kind: \(r.kind.name)" + (r.block.map { ", block: \($0)" } ?? "") + ", rotate: \(r.target.rawValue)}"
  }

  /// A YAML double-quoted scalar (a JSON string is one): backslash, quote and control
  /// characters escaped, so the text reads back unchanged.
  static func quoted(_ s: String) -> String { JSONText.quote(s) }

  /// `format: …, rounding: …, overflow: …, scaling: …` and the scaling's parameters.
  static func tensor(_ t: QuantizationScheme) -> String {
    var parts: [String] = []
    switch t.format {
    case .fp64: parts.append("format: fp64")
    case .fp32: parts.append("format: fp32")
    case .low(let f, let r):
      parts.append("format: \(f.name)")
      if case .stochastic(let bits) = r.mode {
        parts += ["rounding: stochastic", "random_bits: \(bits)", "seed: \(t.stochasticSeed)"]
      } else { parts.append("rounding: \(r.mode.name)") }
      parts.append("overflow: \(r.overflow.rawValue)")
    }
    switch t.granularity {
    case .none: parts.append("scaling: none")
    case .perTensor: parts.append("scaling: per-tensor")
    case .perHead: parts.append("scaling: per-head")
    case .perBlock(let rows): parts += ["scaling: per-block", "block_rows: \(rows)"]
    case .perToken: parts.append("scaling: per-token")
    case .perChannel: parts.append("scaling: per-channel")
    case .mx(let size, let rule): parts += ["scaling: mx", "mx_block: \(size)", "mx_rule: \(rule.rawValue)"]
    case .twoLevel(let size): parts += ["scaling: nvfp4", "scale_block: \(size)"]
    }
    switch t.granularity {
    case .mx, .twoLevel: break  // their own rules
    default: parts.append("scale_rule: \(t.scaleRule.rawValue)")
    }
    return parts.joined(separator: ", ")
  }

  /// P rounded stochastically: `{format: …, rounding: stochastic, random_bits: …, seed: …, overflow: …}`.
  static func stochastic(_ p: PrecisionPlan) -> String {
    guard case .low(let f, let r) = p.probabilityFormat, case .stochastic(let bits) = r.mode else { return stage(p.probabilityFormat) }
    return "{format: \(f.name), rounding: stochastic, random_bits: \(bits), seed: \(p.stochasticSeed), overflow: \(r.overflow.rawValue)}"
  }

  /// A plan stage: `fp32`, `fp64`, or `{format: …, rounding: …, overflow: …}`.
  static func stage(_ f: NumberFormat) -> String {
    switch f {
    case .fp64: "fp64"
    case .fp32: "fp32"
    case .low(let ff, let r): "{format: \(ff.name), rounding: \(r.mode.name), overflow: \(r.overflow.rawValue)}"
    }
  }
}
