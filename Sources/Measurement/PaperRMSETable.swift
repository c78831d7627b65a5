import Attention
import LowPrecision
import Reference

/// The FlashAttention-3 paper's numerical-error experiment (Table 3, §4.3) reproduced on the
/// emulator: RMSE of each method's output against a certified reference of the unquantized
/// inputs, over several input seeds and, for the methods with a random rotation, several
/// rotation seeds drawn apart from them, so that every number comes with its spread.
public struct PaperRMSETable: Sendable {
  /// The sizes, seeds and reference of a run.
  public struct Configuration: Hashable, Sendable, Codable {
    public var batch: Int = 1
    public var seqLen: Int = 1024
    public var heads: Int = 2
    public var headDim: Int = 128
    /// Seeds of the inputs (each draws Q, K and V).
    public var seeds: [UInt64] = Array(0..<8)
    /// Seeds of the random rotation, each run on every input seed (its stream is independent of
    /// the inputs'). Methods without a random rotation run once per input seed.
    public var rotationSeeds: [UInt64] = Array(0..<8)
    /// Working precision of an MPFR reference, bits (certified by a rigorous error bound);
    /// `nil` (the default) for the double-word reference (certified to Double precision).
    public var referencePrecision: Int? = nil
    public var threads: Int = 1
    /// Use the emulator's all-`Double` pipeline as the reference instead of MPFR (fast,
    /// uncertified; for exploring sizes).
    public var fp64Reference = false
    public init() {}

    /// The inputs of input seed `seed`: the paper's outlier distribution, not causal.
    public func inputs(seed: UInt64) -> InputSpec {
      InputSpec(seqLen: seqLen, headDim: headDim, batch: batch, heads: heads, distribution: .paperOutliers, seed: seed)
    }

    public var reference: ReferenceSpec {
      fp64Reference ? .fp64 : referencePrecision.map { .mpfr(bits: $0) } ?? .doubleWord
    }
  }

  /// One method of the table.
  public struct Method: Sendable {
    public var method: String
    public var scheme: AttentionScheme
    public var algorithm: AlgorithmChoice
    public var paperRMSE: Double?
  }

  /// One measurement: a method on the inputs of `inputSeed`, rotated with `rotationSeed` (`nil`
  /// for a method without a random rotation).
  public struct Sample: Hashable, Sendable {
    public var inputSeed: UInt64
    public var rotationSeed: UInt64?
    public var metrics: ErrorMetrics
  }

  /// One row of the result: a method and its samples.
  public struct Row: Hashable, Sendable {
    public var method: String
    public var scheme: String
    public var precision: String
    public var algorithm: String
    public var blockQuantization: Bool
    public var incoherentProcessing: Bool
    public var paperRMSE: Double?
    /// In input-seed order, rotation seeds inside.
    public var samples: [Sample]

    /// The median RMSE over all samples (every input seed × every rotation seed).
    public var rmse: Double { samples.map(\.metrics.rmse).median }
    /// The smallest and largest RMSE over all samples.
    public var rmseRange: (min: Double, max: Double) {
      let r = samples.map(\.metrics.rmse)
      return (r.min() ?? .nan, r.max() ?? .nan)
    }
    /// The median of another metric over all samples.
    public func median(_ metric: (ErrorMetrics) -> Double) -> Double { samples.map { metric($0.metrics) }.median }

    /// The RMSE of each input seed (the median over its rotation seeds), in input-seed order.
    public var rmsePerInputSeed: [(seed: UInt64, rmse: Double)] {
      var seeds: [UInt64] = []
      for s in samples where !seeds.contains(s.inputSeed) { seeds.append(s.inputSeed) }
      return seeds.map { seed in (seed, samples.filter { $0.inputSeed == seed }.map(\.metrics.rmse).median) }
    }

    /// How much the rotation seed alone moves the RMSE: per input seed the range over rotation
    /// seeds divided by their median, then the median of that over input seeds; `nil` without
    /// a random rotation.
    public var rotationSeedSpread: Double? {
      guard samples.contains(where: { $0.rotationSeed != nil }) else { return nil }
      return rmsePerInputSeed.map { seed, median in
        let r = samples.filter { $0.inputSeed == seed }.map(\.metrics.rmse)
        return (r.max()! - r.min()!) / median
      }.median
    }
  }

  /// A paired comparison: per input seed, one row's RMSE divided by another's on the same inputs.
  public struct PairedRatio: Hashable, Sendable {
    public var median: Double
    public var min: Double
    public var max: Double
  }

  public var configuration: Configuration
  public var rows: [Row]
  /// The smallest number of certified bits of the references (one per input seed; `nil` with the
  /// FP64 reference).
  public var referenceCertifiedBits: Int?
  public var referenceSeconds: Double
  public var emulationSeconds: Double

  /// The row every other is compared with in ``pairedRatio(_:)``: FlashAttention-3 FP8.
  public static let comparedWith = "FlashAttention-3 FP8"

  /// `row`'s RMSE divided by the ``comparedWith`` row's, per input seed (both the median over
  /// rotation seeds), summarized over input seeds.
  public func pairedRatio(_ row: Row) -> PairedRatio? {
    guard let base = rows.first(where: { $0.method == Self.comparedWith }) else { return nil }
    let mine = Dictionary(uniqueKeysWithValues: row.rmsePerInputSeed.map { ($0.seed, $0.rmse) })
    let ratios = base.rmsePerInputSeed.compactMap { b in mine[b.seed].map { $0 / b.rmse } }
    guard !ratios.isEmpty else { return nil }
    return PairedRatio(median: ratios.median, min: ratios.min()!, max: ratios.max()!)
  }

  /// The seven methods of Table 3, with the paper's numbers: FP16 standard (naive), FlashAttention-2
  /// (blocked 128 × 128) and FA3 (the kernel's tiles and order, `blocked-hopper-tiles`); FP8 baseline
  /// per tensor (naive), FA3 with block quantization and incoherent processing, without block
  /// quantization, without incoherent processing (`blocked-hopper-tiles`).
  public static let methods: [Method] = {
    func s(_ name: String) -> AttentionScheme { AttentionScheme.named(name)! }
    return [
      Method(method: "Baseline FP16", scheme: s("fp16-standard"), algorithm: .naive, paperRMSE: 3.2e-4),
      Method(method: "FlashAttention-2 FP16", scheme: s("fp16"), algorithm: .blocked(.flash2), paperRMSE: 1.9e-4),
      Method(method: "FlashAttention-3 FP16", scheme: s("fp16"), algorithm: .blockedHopperTiles, paperRMSE: 1.9e-4),
      Method(method: "Baseline FP8", scheme: s("fp8-per-tensor"), algorithm: .naive, paperRMSE: 2.4e-2),
      Method(method: "FlashAttention-3 FP8", scheme: s("fa3-fp8-per-block-hadamard"), algorithm: .blockedHopperTiles, paperRMSE: 9.1e-3),
      Method(method: "FA3 FP8, no block quantization", scheme: s("fa3-fp8-per-head-hadamard"), algorithm: .blockedHopperTiles, paperRMSE: 9.3e-3),
      Method(method: "FA3 FP8, no incoherent processing", scheme: s("fa3-fp8-per-block"), algorithm: .blockedHopperTiles, paperRMSE: 2.4e-2),
    ]
  }()

  /// Runs the experiment: for each input seed the inputs and their reference (with its error
  /// bound), then every method as a ``MeasuredPoint``, a rotating one once per rotation seed.
  public static func run(_ c: Configuration, progress: ((String) -> Void)? = nil) throws -> PaperRMSETable {
    guard !c.seeds.isEmpty, !c.rotationSeeds.isEmpty else { throw MeasurementError("table paper-rmse needs at least one input seed and one rotation seed") }
    guard Set(c.seeds).count == c.seeds.count, Set(c.rotationSeeds).count == c.rotationSeeds.count else {
      throw MeasurementError("table paper-rmse's seeds must not repeat")
    }
    // Every method on every input seed, the random rotations once per rotation seed: counted like
    // an experiment's grid, before anything runs.
    let random = methods.filter(\.scheme.rotation.isRandom).count
    guard let perSeed = ResourceLimits.product([random, c.rotationSeeds.count]).map({ $0 + methods.count - random }),
          let runs = ResourceLimits.product([c.seeds.count, perSeed]), runs <= ResourceLimits.gridPoints else {
      throw MeasurementError("table paper-rmse would run \(c.seeds.count) input seeds × \(c.rotationSeeds.count) rotation seeds, more than the "
                           + "limit of \(ResourceLimits.gridPoints) runs (\(ResourceLimits.gridPointsVariable)); give fewer seeds")
    }
    var samples = [[Sample]](repeating: [], count: methods.count)
    var certified: Int? = nil
    var referenceSeconds = 0.0, emulationSeconds = 0.0
    for (i, seed) in c.seeds.enumerated() {
      let spec = c.inputs(seed: seed)
      let inputs = try spec.generate()
      let t0 = monotonicSeconds()
      progress?("input seed \(seed) (\(i + 1) of \(c.seeds.count)): " + (c.fp64Reference ? "FP64 reference (uncertified)"
                : c.referencePrecision.map { "MPFR reference (\($0) bits, with an error bound)" } ?? "double-word reference (with an error bound)"))
      let (reference, bound) = try c.reference.computeBounded(inputs, options: spec.options(threads: c.threads))
      if let bound { certified = min(certified ?? .max, bound.certifiedBits) }
      let t1 = monotonicSeconds()
      for (m, method) in methods.enumerated() {
        let rotations: [UInt64?] = method.scheme.rotation.isRandom ? c.rotationSeeds : [nil]
        for r in rotations {
          progress?("input seed \(seed): \(method.method)\(r.map { ", rotation seed \($0)" } ?? "")")
          let point = MeasuredPoint(inputs: spec, scheme: method.scheme, algorithm: method.algorithm, reference: c.reference, rotationSeed: r)
          let (metrics, _) = try point.measure(inputs, reference: reference, threads: c.threads)
          samples[m].append(Sample(inputSeed: seed, rotationSeed: r, metrics: metrics))
        }
      }
      referenceSeconds += t1 - t0
      emulationSeconds += monotonicSeconds() - t1
    }
    let rows = zip(methods, samples).map { m, s in
      Row(method: m.method, scheme: m.scheme.name, precision: m.scheme.precision, algorithm: m.algorithm.description,
          blockQuantization: m.scheme.blockQuantization, incoherentProcessing: m.scheme.incoherentProcessing,
          paperRMSE: m.paperRMSE, samples: s)
    }
    return PaperRMSETable(configuration: c, rows: rows, referenceCertifiedBits: certified,
                    referenceSeconds: referenceSeconds, emulationSeconds: emulationSeconds)
  }

  // MARK: Output

  /// A JSON array of rows: per method `method`, `scheme`, `precision`, `algorithm`,
  /// `block_quantization`, `incoherent_processing`, `paper_rmse`, the medians over all samples
  /// (`rmse`, `relative_frobenius`, `max_abs`, `cosine`, `sqnr_db`), `rmse_min`, `rmse_max`,
  /// `rmse_per_input_seed`, `ratio_to_fa3_fp8` (paired per input seed: median, min, max),
  /// `rotation_seed_spread`, the run's sizes, seeds and reference, and every `samples` entry
  /// (`input_seed`, `rotation_seed`, its metrics).
  public func json() -> String {
    let c = configuration
    func metrics(_ m: ErrorMetrics) -> [(String, JSONText)] {
      [("rmse", .double(m.rmse)), ("relative_frobenius", .double(m.relativeFrobenius)), ("max_abs", .double(m.maxAbs)),
       ("cosine", .double(m.cosine)), ("sqnr_db", .double(m.sqnrDB)), ("max_ulp", m.maxULP.map(JSONText.double) ?? .null)]
    }
    return JSONText.array(rows.map { r in
      let ratio = pairedRatio(r)
      return .object([
        ("method", .string(r.method)), ("scheme", .string(r.scheme)), ("precision", .string(r.precision)),
        ("algorithm", .string(r.algorithm)), ("block_quantization", .bool(r.blockQuantization)),
        ("incoherent_processing", .bool(r.incoherentProcessing)), ("paper_rmse", r.paperRMSE.map(JSONText.double) ?? .null),
        ("rmse", .double(r.rmse)), ("rmse_min", .double(r.rmseRange.min)), ("rmse_max", .double(r.rmseRange.max)),
        ("relative_frobenius", .double(r.median(\.relativeFrobenius))), ("max_abs", .double(r.median(\.maxAbs))),
        ("cosine", .double(r.median(\.cosine))), ("sqnr_db", .double(r.median(\.sqnrDB))),
        ("rmse_per_input_seed", .array(r.rmsePerInputSeed.map { .object([("input_seed", .int($0.seed)), ("rmse", .double($0.rmse))]) })),
        ("ratio_to_fa3_fp8", ratio.map { .object([("median", .double($0.median)), ("min", .double($0.min)), ("max", .double($0.max))]) } ?? .null),
        ("rotation_seed_spread", r.rotationSeedSpread.map(JSONText.double) ?? .null),
        ("batch", .int(c.batch)), ("seq_len", .int(c.seqLen)), ("heads", .int(c.heads)), ("head_dim", .int(c.headDim)),
        ("seeds", .array(c.seeds.map { .int($0) })), ("rotation_seeds", .array(c.rotationSeeds.map { .int($0) })),
        ("reference", .string(c.reference.name)),
        ("reference_certified_bits", referenceCertifiedBits.map { .int($0) } ?? .null),
        ("samples", .array(r.samples.map { s in
          .object([("input_seed", .int(s.inputSeed)), ("rotation_seed", s.rotationSeed.map { .int($0) } ?? .null)] + metrics(s.metrics))
        })),
      ])
    }).document
  }
}
