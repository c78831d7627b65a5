import Foundation
import Measurement

/// The FA3 paper's Table 3 as text for people and spreadsheets (its JSON form is ``PaperRMSETable/json()``).
extension PaperRMSETable {
  static func sci(_ x: Double) -> String { String(format: "%.2e", x) }

  /// `median [min, max]` of three numbers formatted by `f`.
  static func spread(_ median: Double, _ min: Double, _ max: Double, _ f: (Double) -> String) -> String {
    "\(f(median)) [\(f(min)), \(f(max))]"
  }

  /// A Markdown table: per method the median RMSE and its range over every input and rotation
  /// seed, the paper's RMSE and the ratio to it, the ratio to FlashAttention-3 FP8 paired per
  /// input seed, and how much the rotation seed alone moves the RMSE; then a line stating the
  /// setup.
  public func markdown() -> String {
    let c = configuration
    var s = "| # | method | precision | algorithm | block quant. | rotation | RMSE, median [range] | paper RMSE | ÷ paper | "
    s += "÷ \(Self.comparedWith), paired [range] | rotation-seed spread | max abs (median) |\n"
    s += "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i, r) in rows.enumerated() {
      let range = r.rmseRange
      let paper = r.paperRMSE.map(Self.sci) ?? "—"
      let toPaper = r.paperRMSE.map { p in Self.spread(r.rmse / p, range.min / p, range.max / p) { String(format: "%.3g", $0) } } ?? "—"
      let paired = pairedRatio(r).map { Self.spread($0.median, $0.min, $0.max) { String(format: "%.3g", $0) } } ?? "—"
      let rotation = r.rotationSeedSpread.map { String(format: "%.1f %%", 100 * $0) } ?? "—"
      s += "| \(i + 1) | \(r.method) | \(r.precision) | \(r.algorithm) | \(r.blockQuantization ? "yes" : "no") | "
      s += "\(r.incoherentProcessing ? "random Hadamard" : "none") | \(Self.spread(r.rmse, range.min, range.max, Self.sci)) | \(paper) | "
      s += "\(toPaper) | \(paired) | \(rotation) | \(Self.sci(r.median(\.maxAbs))) |\n"
    }
    s += "\nInputs: FA3 outlier distribution N(0,1) + N(0,100)·Bernoulli(0.001) for Q, K, V; batch \(c.batch), "
    s += "seqlen \(c.seqLen), heads \(c.heads), head dim \(c.headDim), not causal, softmax scale 1/√d; "
    s += "\(c.seeds.count) input seeds (\(Self.seedList(c.seeds))); the methods with a random rotation run each input seed with "
    s += "\(c.rotationSeeds.count) rotation seeds (\(Self.seedList(c.rotationSeeds))), drawn apart from the inputs. "
    s += "RMSE over all outputs, in output units; median and range over every sample (input seeds × rotation seeds). "
    s += "Paired ratios divide, per input seed, a method's RMSE by \(Self.comparedWith)'s on the same inputs (each the median over "
    s += "rotation seeds). The rotation-seed spread is, per input seed, the RMSE's range over rotation seeds divided by their "
    s += "median, then the median over input seeds. "
    if let bits = referenceCertifiedBits {
      let how = c.referencePrecision.map { "MPFR at \($0) bits" } ?? "double-word arithmetic (MPFR where its bound falls short)"
      s += "Reference: \(how); a rigorous error bound certifies at least \(bits) leading bits of every output.\n"
    } else {
      s += "Reference: the emulator's FP64 pipeline (uncertified).\n"
    }
    return s
  }

  /// `0–7` for a run of consecutive seeds, else the list.
  static func seedList(_ seeds: [UInt64]) -> String {
    guard let first = seeds.first, seeds.count > 2, seeds == Array(first..<(first + UInt64(seeds.count))) else {
      return seeds.map(String.init).joined(separator: ", ")
    }
    return "\(first)–\(first + UInt64(seeds.count) - 1)"
  }

  /// CSV with a header row: one line per sample (method, input seed, rotation seed, metrics).
  public func csv() -> String {
    var s = "method,scheme,precision,algorithm,block_quantization,incoherent_processing,input_seed,rotation_seed,"
    s += "rmse,paper_rmse,relative_frobenius,max_abs,cosine,sqnr_db,max_ulp\n"
    for r in rows {
      for sample in r.samples {
        let m = sample.metrics
        s += "\"\(r.method)\",\(r.scheme),\(r.precision),\(r.algorithm),\(r.blockQuantization),\(r.incoherentProcessing),"
        s += "\(sample.inputSeed),\(sample.rotationSeed.map(String.init) ?? ""),"
        s += "\(m.rmse),\(r.paperRMSE.map { "\($0)" } ?? ""),\(m.relativeFrobenius),\(m.maxAbs),\(m.cosine),\(m.sqnrDB),\(m.maxULP.map { "\($0)" } ?? "")\n"
      }
    }
    return s
  }
}
