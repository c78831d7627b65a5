import Attention
import LowPrecision
import Reference

/// The FlashAttention-3 paper's numerical-error experiment (Table 3, §4.3) reproduced on the
/// emulator: RMSE of each method's output against the MPFR reference of the unquantized inputs.
public struct FA3Table: Sendable {
  /// The sizes, seed and reference precision of a run.
  public struct Configuration: Hashable, Sendable, Codable {
    public var batch: Int = 1
    public var seqLen: Int = 1024
    public var heads: Int = 2
    public var headDim: Int = 128
    public var seed: UInt64 = 0
    /// Working precision of an MPFR reference, bits (certified by a rigorous error bound);
    /// `nil` (the default) for the double-word reference (certified to Double precision).
    public var referencePrecision: Int? = nil
    public var threads: Int = 1
    /// Use the emulator's all-`Double` pipeline as the reference instead of MPFR (fast,
    /// uncertified; for exploring sizes).
    public var fp64Reference = false
    public init() {}

    /// The inputs: the paper's outlier distribution, not causal.
    public var inputs: InputSpec {
      InputSpec(seqLen: seqLen, headDim: headDim, batch: batch, heads: heads, distribution: .fa3, seed: seed)
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

  /// One row of the result.
  public struct Row: Hashable, Sendable {
    public var method: String
    public var scheme: String
    public var precision: String
    public var algorithm: String
    public var blockQuantization: Bool
    public var incoherentProcessing: Bool
    public var metrics: ErrorMetrics
    public var paperRMSE: Double?
    public var rmse: Double { metrics.rmse }
  }

  public var configuration: Configuration
  public var rows: [Row]
  /// The MPFR reference's rigorous error bound (`nil` with the FP64 reference).
  public var referenceBound: ErrorBound?
  public var referenceSeconds: Double
  public var emulationSeconds: Double

  /// The seven methods of Table 3, with the paper's numbers: FP16 standard (naive), FlashAttention-2
  /// (blocked 128 × 128) and FA3 (the kernel's tiles and order, `blocked-fa3`); FP8 baseline
  /// per tensor (naive), FA3 with block quantization and incoherent processing, without block
  /// quantization, without incoherent processing (`blocked-fa3`).
  public static let methods: [Method] = {
    func s(_ name: String) -> AttentionScheme { AttentionScheme.named(name)! }
    return [
      Method(method: "Baseline FP16", scheme: s("fp16-standard"), algorithm: .naive, paperRMSE: 3.2e-4),
      Method(method: "FlashAttention-2 FP16", scheme: s("fp16"), algorithm: .blocked(.flash2), paperRMSE: 1.9e-4),
      Method(method: "FlashAttention-3 FP16", scheme: s("fp16"), algorithm: .blockedFA3, paperRMSE: 1.9e-4),
      Method(method: "Baseline FP8", scheme: s("fp8-per-tensor"), algorithm: .naive, paperRMSE: 2.4e-2),
      Method(method: "FlashAttention-3 FP8", scheme: s("fa3-fp8-per-block-hadamard"), algorithm: .blockedFA3, paperRMSE: 9.1e-3),
      Method(method: "FA3 FP8, no block quantization", scheme: s("fa3-fp8-per-head-hadamard"), algorithm: .blockedFA3, paperRMSE: 9.3e-3),
      Method(method: "FA3 FP8, no incoherent processing", scheme: s("fa3-fp8-per-block"), algorithm: .blockedFA3, paperRMSE: 2.4e-2),
    ]
  }()

  /// The measured points of a run, one per method, in table order.
  public static func points(_ c: Configuration) -> [MeasuredPoint] {
    methods.map { MeasuredPoint(inputs: c.inputs, scheme: $0.scheme, algorithm: $0.algorithm, reference: c.reference) }
  }

  /// Runs the experiment: inputs from the FA3 outlier distribution, the reference (with its
  /// error bound), then each method as a ``MeasuredPoint``.
  public static func run(_ c: Configuration, progress: ((String) -> Void)? = nil) throws(AttentionError) -> FA3Table {
    let inputs = try c.inputs.generate()
    let t0 = monotonicSeconds()
    progress?(c.fp64Reference ? "FP64 reference (uncertified)"
              : c.referencePrecision.map { "MPFR reference (\($0) bits, with an error bound)" } ?? "double-word reference (with an error bound)")
    let (reference, bound) = try c.reference.computeBounded(inputs, options: c.inputs.options(threads: c.threads))
    let t1 = monotonicSeconds()
    var rows: [Row] = []
    for (m, point) in zip(methods, points(c)) {
      progress?(m.method)
      let (metrics, _) = try point.measure(inputs, reference: reference, threads: c.threads)
      rows.append(Row(method: m.method, scheme: m.scheme.name, precision: m.scheme.precision, algorithm: m.algorithm.description,
                      blockQuantization: m.scheme.blockQuantization, incoherentProcessing: m.scheme.incoherentProcessing,
                      metrics: metrics, paperRMSE: m.paperRMSE))
    }
    let t2 = monotonicSeconds()
    return FA3Table(configuration: c, rows: rows, referenceBound: bound,
                    referenceSeconds: t1 - t0, emulationSeconds: t2 - t1)
  }

  // MARK: Output

  /// A JSON array of rows (keys `method`, `precision`, `algorithm`, `block_quantization`,
  /// `incoherent_processing`, `rmse`, `paper_rmse`, and the other metrics).
  public func json() -> String {
    let c = configuration
    return JSONText.array(rows.map { r in
      let m = r.metrics
      return .object([
        ("method", .string(r.method)), ("scheme", .string(r.scheme)), ("precision", .string(r.precision)),
        ("algorithm", .string(r.algorithm)), ("block_quantization", .bool(r.blockQuantization)),
        ("incoherent_processing", .bool(r.incoherentProcessing)), ("rmse", .double(m.rmse)),
        ("paper_rmse", r.paperRMSE.map(JSONText.double) ?? .null), ("relative_frobenius", .double(m.relativeFrobenius)),
        ("max_abs", .double(m.maxAbs)), ("cosine", .double(m.cosine)), ("sqnr_db", .double(m.sqnrDB)),
        ("max_ulp", m.maxULP.map(JSONText.double) ?? .null), ("batch", .int(c.batch)), ("seq_len", .int(c.seqLen)),
        ("heads", .int(c.heads)), ("head_dim", .int(c.headDim)), ("seed", .int(c.seed)),
        ("reference", .string(c.reference.name)),
        ("reference_certified_bits", referenceBound.map { .int($0.certifiedBits) } ?? .null),
      ])
    }).document
  }
}
