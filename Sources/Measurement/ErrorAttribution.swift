import Attention

/// Per-stage error attribution of an emulated run: each stage in turn is made exact (computed
/// in `Double`, ``NumberFormat/fp64``) while every other stage keeps the scheme's choice, and
/// the RMSE against the reference is measured again. The drop in RMSE is what that stage
/// contributes (stages interact, so the drops need not add up to the total).
public enum ErrorAttribution {
  public enum Stage: String, CaseIterable, Sendable {
    case inputQuantization = "input quantization"
    case scores = "S = QKᵀ accumulation and rounding"
    case softmax = "softmax arithmetic"
    case probabilities = "P rounding"
    case valueAccumulation = "P·V accumulation"
    case output = "output cast"
  }

  public struct Entry: Hashable, Sendable {
    public var stage: Stage
    /// RMSE of the run with this stage exact.
    public var rmseWithStageExact: Double
    /// `total RMSE − rmseWithStageExact`: the error this stage adds.
    public var contribution: Double
  }

  /// The total metrics and one entry per stage, for `scheme` run with `algorithm` on `inputs`
  /// (unquantized values), against `reference` (the exact attention of `inputs`); a random
  /// rotation is drawn with `rotationSeed`, and an output computed on rotated V is rotated back.
  public static func run(
    _ inputs: AttentionInputs, scheme: AttentionScheme, algorithm: AttentionAlgorithm, options: AttentionOptions,
    reference: AttentionTensor, rotationSeed: UInt64
  ) throws -> (total: ErrorMetrics, entries: [Entry]) {
    let operands = try scheme.prepare(inputs, rotationSeed: rotationSeed)
    func rmse(_ x: AttentionOperands, _ plan: PrecisionPlan) throws -> ErrorMetrics {
      let out = try EmulatedAttention.run(x, plan: plan, algorithm: algorithm, options: options)
      let o = scheme.rotation.restore(out, seed: rotationSeed, format: plan.outputFormat)
      return ErrorMetrics(output: o.values, reference: reference.values)
    }
    let total = try rmse(operands, scheme.plan)
    var entries: [Entry] = []
    for stage in Stage.allCases {
      var plan = scheme.plan
      var x = operands
      switch stage {
      case .inputQuantization:
        x = AttentionOperands(scheme.rotation.apply(inputs, seed: rotationSeed))
        // FP32 accumulation models still round these exact operands to FP32 (2^-24 relative).
      case .scores:
        plan.scoreAccumulation = .fp64
        plan.scoreFormat = .fp64
      case .softmax:
        plan.softmaxArithmetic = .fp64
      case .probabilities:
        plan.probabilityFormat = .fp64
        plan.probabilityOffset = 0
      case .valueAccumulation:
        plan.valueAccumulation = .fp64
      case .output:
        plan.outputFormat = .fp64
      }
      let m = try rmse(x, plan)
      entries.append(Entry(stage: stage, rmseWithStageExact: m.rmse, contribution: total.rmse - m.rmse))
    }
    return (total, entries)
  }
}
