import Measurement
import Attention
import Foundation
import LowPrecision
import Reference

/// One point of an experiment's grid: a scheme and an algorithm on one input configuration.
public struct ExperimentPoint: Sendable {
  /// Position in the whole grid (``Experiment/points``).
  public var index: Int
  public var scheme: AttentionScheme
  public var algorithm: String
  public var seqLen: Int
  public var headDim: Int
  public var batch: Int
  public var heads: Int
  public var causal: Bool
  public var distribution: InputDistribution
  public var seed: UInt64
  public var reference: ExperimentReference

  /// The input configuration (what the reference depends on), e.g.
  /// `N=1024 d=128 b=1 h=2 causal fa3-outliers(p=0.001,std=10) seed=0 ref=mpfr-64`.
  public var inputKey: String {
    "N=\(seqLen) d=\(headDim) b=\(batch) h=\(heads) \(causal ? "causal" : "none") \(distribution.name) seed=\(seed) ref=\(reference.name)"
  }

  /// What identifies the point's result: the scheme, the algorithm and the inputs.
  public var key: String { "\(scheme.name) \(algorithm) \(inputKey)" }

  /// Relative cost (∝ the number of multiply-adds), for estimates of time left.
  public var cost: Double {
    Double(batch * heads * headDim) * Double(seqLen) * Double(seqLen) * (causal ? 0.5 : 1) + 1
  }

  public var shape: AttentionShape { AttentionShape(batch: batch, seqLenQ: seqLen, headsQ: heads, headDim: headDim) }

  /// The inputs (unquantized values): drawn from the distribution with the seed.
  public func inputs() -> AttentionInputs { AttentionInputs.generate(shape, distribution, seed: seed) }

  /// The reference output of `inputs` (float64 values).
  public func referenceOutput(_ inputs: AttentionInputs, threads: Int) throws(AttentionError) -> [Double] {
    let options = AttentionOptions(mask: AttentionMask(causal: causal), threads: threads)
    switch reference {
    case .mpfr(let bits):
      return try ReferenceAttention.compute(inputs, options: options, precision: bits, threads: threads).values
    case .fp64:
      return try EmulatedAttention.run(AttentionOperands(inputs), plan: .fp64, algorithm: .naive, options: options).values
    }
  }

  /// The emulated output of this point's scheme and algorithm on `inputs`, and the format of
  /// its values (for ULP metrics). Hadamard signs are seeded by the point's seed.
  public func output(_ inputs: AttentionInputs, threads: Int) throws(AttentionError) -> (values: [Double], format: NumberFormat) {
    let operands = try scheme.prepare(inputs, seed: FA3Table.rotationSeed(seed))
    let options = AttentionOptions(mask: AttentionMask(causal: causal), threads: threads)
    switch algorithm {
    case "fa3":
      let element = try FA3Inputs.Element(scheme: scheme)
      let fa3 = try FA3Inputs(operands: operands, element: element, causal: causal)
      let schedule = FA3Schedule.fa3(element: element, headDim: headDim, causal: causal, seqLenQ: seqLen)
      let out = try FA3Forward.run(fa3, schedule: schedule, threads: threads)
      let f = element.outputFormat
      return (out.o.map { f.decode(UInt32($0)) }, .rne(f))
    default:
      let a = scheme.emulatedAlgorithm(named: algorithm, headDim: headDim, causal: causal)
      let out = try EmulatedAttention.run(operands, plan: scheme.plan, algorithm: a, options: options)
      return (out.values, scheme.plan.outputFormat)
    }
  }

  /// Runs the point against a reference output and returns its result row.
  public func measure(_ inputs: AttentionInputs, reference: [Double], metrics names: [String], threads: Int) throws(AttentionError) -> SweepRow {
    let start = Date()
    let (values, format) = try output(inputs, threads: threads)
    let wantULP = names.contains("max_ulp") || names.contains("mean_ulp")
    let m = ErrorMetrics(output: values, reference: reference, format: wantULP ? format : nil)
    let all: [String: Double?] = [
      "rmse": m.rmse, "relative_frobenius": m.relativeFrobenius, "max_abs": m.maxAbs, "cosine": m.cosine,
      "sqnr_db": m.sqnrDB, "max_ulp": m.maxULP, "mean_ulp": m.meanULP,
    ]
    var metrics: [String: Double] = [:]
    for n in names { if let v = all[n] ?? nil { metrics[n] = v } }
    return SweepRow(point: self, metrics: metrics, seconds: Date().timeIntervalSince(start))
  }
}

extension AttentionScheme {
  /// The emulated algorithm called `name` for this scheme: `naive`, `blocked` (FlashAttention-2
  /// order, 128 × 128) or `blocked-fa3` (FA3's tiles for the scheme's precision, reverse order).
  func emulatedAlgorithm(named name: String, headDim: Int, causal: Bool) -> AttentionAlgorithm {
    switch name {
    case "naive": .naive
    case "blocked": .blocked(.flash2)
    default: .blocked(.flash3(headDim: headDim, fp8: precision == "fp8", causal: causal))
    }
  }
}

extension InputDistribution {
  /// The distribution's kind: `gaussian`, `fa3-outliers`, `channel-outliers`, `attention-sinks`.
  public var kind: String {
    switch self {
    case .gaussian: "gaussian"
    case .fa3Outliers: "fa3-outliers"
    case .channelOutliers: "channel-outliers"
    case .attentionSinks: "attention-sinks"
    }
  }

  /// The size of the distribution's outliers, in input units: the outliers' standard deviation
  /// (fa3-outliers), the channel factor (channel-outliers, dimensionless), the sinks' added score
  /// (attention-sinks, in units of the scaled score), 0 for gaussian.
  public var outlierMagnitude: Double {
    switch self {
    case .gaussian: 0
    case .fa3Outliers(_, let s): s
    case .channelOutliers(_, let f): f
    case .attentionSinks(_, let s): s
    }
  }
}
