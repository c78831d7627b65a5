import Foundation
import Measurement

/// The FA3 table as text for people and spreadsheets (its JSON form is ``FA3Table/json()``).
extension FA3Table {
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
    if let referenceBound {
      let how = c.referencePrecision.map { "MPFR at \($0) bits" } ?? "double-word arithmetic (MPFR where its bound falls short)"
      s += "Reference: \(how); a rigorous error bound certifies \(referenceBound.certifiedBits) leading bits of every output. "
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
}
