import Measurement
import Attention
import Foundation
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
    /// Working precision of the MPFR reference, bits (certified at twice this).
    public var referencePrecision: Int = 128
    public var threads: Int = 1
    /// Use the emulator's all-`Double` pipeline as the reference instead of MPFR (fast,
    /// uncertified; for exploring sizes).
    public var fp64Reference = false
    public init() {}

    public var shape: AttentionShape {
      AttentionShape(batch: batch, seqLenQ: seqLen, headsQ: heads, headDim: headDim)
    }
  }

  /// One method of the table.
  public struct Method: Sendable {
    public var method: String
    public var scheme: AttentionScheme
    public var algorithm: AttentionAlgorithm
    public var algorithmName: String
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
  /// The MPFR reference's certificate (`nil` with the FP64 reference).
  public var certificate: Certificate?
  public var referenceSeconds: Double
  public var emulationSeconds: Double

  /// The seven methods of Table 3, with the paper's numbers.
  public static func methods(headDim d: Int) -> [Method] {
    func s(_ name: String) -> AttentionScheme { AttentionScheme.named(name)! }
    let fa3fp8 = AttentionAlgorithm.blocked(.flash3(headDim: d, fp8: true, causal: false))
    let fa3fp16 = AttentionAlgorithm.blocked(.flash3(headDim: d, fp8: false, causal: false))
    return [
      Method(method: "Baseline FP16", scheme: s("fp16-standard"), algorithm: .naive, algorithmName: "naive", paperRMSE: 3.2e-4),
      Method(method: "FlashAttention-2 FP16", scheme: s("fp16"), algorithm: .blocked(.flash2), algorithmName: "blocked", paperRMSE: 1.9e-4),
      Method(method: "FlashAttention-3 FP16", scheme: s("fp16"), algorithm: fa3fp16, algorithmName: "blocked", paperRMSE: 1.9e-4),
      Method(method: "Baseline FP8", scheme: s("fp8-per-tensor"), algorithm: .naive, algorithmName: "naive", paperRMSE: 2.4e-2),
      Method(method: "FlashAttention-3 FP8", scheme: s("fa3-fp8-per-block-hadamard"), algorithm: fa3fp8, algorithmName: "blocked", paperRMSE: 9.1e-3),
      Method(method: "FA3 FP8, no block quantization", scheme: s("fa3-fp8-per-head-hadamard"), algorithm: fa3fp8, algorithmName: "blocked", paperRMSE: 9.3e-3),
      Method(method: "FA3 FP8, no incoherent processing", scheme: s("fa3-fp8-per-block"), algorithm: fa3fp8, algorithmName: "blocked", paperRMSE: 2.4e-2),
    ]
  }

  /// The seed of the Hadamard signs for a run seeded `seed`.
  public static func rotationSeed(_ seed: UInt64) -> UInt64 { seed &+ 0x9E37_79B9_7F4A_7C15 }

  /// Runs the experiment: inputs from the FA3 outlier distribution, the reference, then each method.
  public static func run(_ c: Configuration, progress: ((String) -> Void)? = nil) throws(AttentionError) -> FA3Table {
    try c.shape.validate()
    let inputs = AttentionInputs.generate(c.shape, .fa3, seed: c.seed)
    let options = AttentionOptions(threads: c.threads)
    let t0 = Date()
    let reference: AttentionTensor
    var certificate: Certificate? = nil
    if c.fp64Reference {
      progress?("FP64 reference (uncertified)")
      reference = try EmulatedAttention.run(AttentionOperands(inputs), plan: .fp64, algorithm: .naive, options: options)
    } else {
      progress?("MPFR reference (\(c.referencePrecision) bits, certified at \(2 * c.referencePrecision))")
      (reference, certificate) = try ReferenceAttention.certified(inputs, options: options, precision: c.referencePrecision,
                                                                  threads: c.threads)
    }
    let t1 = Date()
    var rows: [Row] = []
    for m in methods(headDim: c.headDim) {
      progress?(m.method)
      let operands = try m.scheme.prepare(inputs, seed: rotationSeed(c.seed))
      let out = try EmulatedAttention.run(operands, plan: m.scheme.plan, algorithm: m.algorithm, options: options)
      let metrics = ErrorMetrics(output: out.values, reference: reference.values, format: m.scheme.plan.outputFormat)
      rows.append(Row(method: m.method, scheme: m.scheme.name, precision: m.scheme.precision, algorithm: m.algorithmName,
                      blockQuantization: m.scheme.blockQuantization, incoherentProcessing: m.scheme.incoherentProcessing,
                      metrics: metrics, paperRMSE: m.paperRMSE))
    }
    let t2 = Date()
    return FA3Table(configuration: c, rows: rows, certificate: certificate,
                    referenceSeconds: t1.timeIntervalSince(t0), emulationSeconds: t2.timeIntervalSince(t1))
  }

  // MARK: Output

  static func sci(_ x: Double) -> String { String(format: "%.2e", x) }

  /// A Markdown table with the paper's numbers beside ours, and a line stating the setup.
  public func markdown() -> String {
    let c = configuration
    var s = "| method | precision | algorithm | block quant. | incoherent | RMSE | paper RMSE | ratio | max abs | SQNR (dB) |\n"
    s += "|---|---|---|---|---|---|---|---|---|---|\n"
    for r in rows {
      let paper = r.paperRMSE.map(Self.sci) ?? "—"
      let ratio = r.paperRMSE.map { String(format: "%.2f", r.rmse / $0) } ?? "—"
      s += "| \(r.method) | \(r.precision) | \(r.algorithm) | \(r.blockQuantization ? "yes" : "no") | \(r.incoherentProcessing ? "yes" : "no") | \(Self.sci(r.rmse)) | \(paper) | \(ratio) | \(Self.sci(r.metrics.maxAbs)) | \(String(format: "%.1f", r.metrics.sqnrDB)) |\n"
    }
    s += "\nInputs: FA3 outlier distribution N(0,1) + N(0,100)·Bernoulli(0.001) for Q, K, V; batch \(c.batch), "
    s += "seqlen \(c.seqLen), heads \(c.heads), head dim \(c.headDim), seed \(c.seed), not causal, softmax scale 1/√d. "
    if let certificate {
      s += "Reference: MPFR at \(c.referencePrecision) bits, certified: \(certificate.agreedBits) bits agree with a \(2 * c.referencePrecision)-bit rerun. "
    } else {
      s += "Reference: the emulator's FP64 pipeline (uncertified). "
    }
    s += "RMSE over all outputs, in output units.\n"
    return s
  }

  /// CSV with a header row.
  public func csv() -> String {
    var s = "method,scheme,precision,algorithm,block_quantization,incoherent_processing,rmse,paper_rmse,relative_frobenius,max_abs,cosine,sqnr_db,max_ulp\n"
    for r in rows {
      let m = r.metrics
      s += "\"\(r.method)\",\(r.scheme),\(r.precision),\(r.algorithm),\(r.blockQuantization),\(r.incoherentProcessing),"
      s += "\(m.rmse),\(r.paperRMSE.map { "\($0)" } ?? ""),\(m.relativeFrobenius),\(m.maxAbs),\(m.cosine),\(m.sqnrDB),\(m.maxULP.map { "\($0)" } ?? "")\n"
    }
    return s
  }

  /// A JSON array of rows (keys `method`, `precision`, `algorithm`, `block_quantization`,
  /// `incoherent_processing`, `rmse`, `paper_rmse`, and the other metrics).
  public func json() -> String {
    let objects: [[String: Any]] = rows.map { r in
      let m = r.metrics
      return [
        "method": r.method, "scheme": r.scheme, "precision": r.precision, "algorithm": r.algorithm,
        "block_quantization": r.blockQuantization, "incoherent_processing": r.incoherentProcessing,
        "rmse": m.rmse, "paper_rmse": r.paperRMSE.map { $0 as Any } ?? NSNull(),
        "relative_frobenius": m.relativeFrobenius, "max_abs": m.maxAbs, "cosine": m.cosine,
        "sqnr_db": m.sqnrDB.isFinite ? m.sqnrDB as Any : NSNull(), "max_ulp": m.maxULP.map { $0 as Any } ?? NSNull(),
        "batch": configuration.batch, "seq_len": configuration.seqLen, "heads": configuration.heads,
        "head_dim": configuration.headDim, "seed": configuration.seed,
        "reference_certified_bits": certificate.map { $0.agreedBits as Any } ?? NSNull(),
      ]
    }
    let data = try! JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
