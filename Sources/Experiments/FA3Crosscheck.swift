import Measurement
import Attention
import Foundation
import LowPrecision
import Reference

/// The comparison of ``FA3Forward`` with the real FlashAttention-3 kernel on one ``FA3Case``:
/// bitwise agreement of O and LSE, and both outputs' errors against an MPFR reference of the
/// same input values.
public struct FA3Comparison: Hashable, Sendable {
  public var name: String
  /// The generating case (`nil` for inputs read from a directory).
  public var testCase: FA3Case?
  public var schedule: String
  /// Output elements (O) whose bits are equal, as a fraction of all; `nil` without a kernel.
  public var oBitExact: Double?
  /// LSE values whose bits are equal (−∞ equals −∞), as a fraction.
  public var lseBitExact: Double?
  /// The largest distance between kernel and emulator O, in codes of the output format (bf16 ulps).
  public var maxULP: Int?
  /// RMSE of the kernel's O against the reference (units of O).
  public var rmseKernel: Double?
  /// RMSE of the emulator's O against the reference.
  public var rmseEmulator: Double?
  /// MPFR working precision of the reference, in bits (0 when none was computed).
  public var referenceBits: Int
  /// Whether two kernel calls gave the same bits (from the bridge).
  public var kernelDeterministic: Bool?
  public var emulatorSeconds: Double

  public init(name: String, testCase: FA3Case?, schedule: String, referenceBits: Int, emulatorSeconds: Double) {
    self.name = name
    self.testCase = testCase
    self.schedule = schedule
    self.referenceBits = referenceBits
    self.emulatorSeconds = emulatorSeconds
  }

  /// Fractions of equal O codes and LSE bits, and the largest O distance in codes.
  public static func agreement(_ a: FA3Output, _ b: FA3Output) -> (o: Double, lse: Double, maxULP: Int) {
    precondition(a.o.count == b.o.count && a.lse.count == b.lse.count, "outputs of different shapes")
    var equal = 0, worst = 0
    for (x, y) in zip(a.o, b.o) {
      if x == y { equal += 1 } else { worst = max(worst, FA3Output.codeDistance(x, y)) }
    }
    let lseEqual = zip(a.lse, b.lse).filter { $0.bitPattern == $1.bitPattern }.count
    return (Double(equal) / Double(max(a.o.count, 1)), Double(lseEqual) / Double(max(a.lse.count, 1)), worst)
  }

  /// RMSE of output codes (of `format`) against reference values.
  public static func rmse(_ o: [UInt16], _ format: FloatFormat, reference: [Double]) -> Double {
    ErrorMetrics(output: o.map { format.decode(UInt32($0)) }, reference: reference).rmse
  }

  /// The MPFR reference of the inputs' exact values (decoded codes × descales), with the
  /// nominal softmax scale and the kernel's causal mask (``ReferenceSpec/compute(_:options:)``,
  /// as every command computes references); `Double` values, O's layout. With `cacheSeqLens`
  /// each batch entry attends to its own first keys (an entry with none gives zeros, as the
  /// kernel does). `nil` when an input value is not finite (NaN codes: there is no reference),
  /// V's head dim differs from Q's (the reference takes one head dim) or a softcap is set (the
  /// reference has none).
  public static func reference(_ inputs: FA3Inputs, precision: Int, threads: Int) throws -> [Double]? {
    let options = AttentionOptions(mask: AttentionMask(causal: inputs.causal), softmaxScale: inputs.scale, threads: threads)
    if inputs.valueHeadDim != inputs.headDim || inputs.kernelSoftcap != nil { return nil }
    let values = inputs.values()
    for t in [values.q, values.k, values.v] where t.values.contains(where: { !$0.isFinite }) { return nil }
    guard let lens = inputs.cacheSeqLens else { return try ReferenceSpec.mpfr(bits: precision).compute(values, options: options).values }
    let (d, hq, hk, sq, sk) = (inputs.headDim, inputs.heads, inputs.kvHeads, inputs.seqLenQ, inputs.seqLenK)
    var out: [Double] = []
    out.reserveCapacity(values.q.values.count)
    for b in 0..<inputs.batch {
      let qPart = Array(values.q.values[(b * sq * hq * d)..<((b + 1) * sq * hq * d)])
      guard lens[b] > 0 else { out += Array(repeating: 0, count: qPart.count); continue }
      func keys(_ t: AttentionTensor) throws -> AttentionTensor {
        try AttentionTensor(batch: 1, seqLen: lens[b], heads: hk, headDim: d,
                            values: Array(t.values[(b * sk * hk * d)..<((b * sk + lens[b]) * hk * d)]))
      }
      let entry = AttentionInputs(q: try AttentionTensor(batch: 1, seqLen: sq, heads: hq, headDim: d, values: qPart),
                                  k: try keys(values.k), v: try keys(values.v))
      out += try ReferenceSpec.mpfr(bits: precision).compute(entry, options: options).values
    }
    return out
  }
}

extension FA3Case {
  /// The case as JSON, with the keys its decoder reads (launch options and NaN codes only when
  /// not the defaults).
  public var json: JSONText {
    .object([
      ("batch", .int(batch)), ("causal", .bool(causal)), ("distribution", .string(distribution)),
      ("element", .string(element.rawValue)), ("hadamard", .bool(hadamard)), ("head_dim", .int(headDim)),
      ("heads", .int(heads)), ("kv_heads", .int(kvHeads)), ("seed", .int(seed)), ("seq_len_k", .int(seqLenK)),
      ("seq_len_q", .int(seqLenQ)),
    ] + (numSplits != 1 ? [("num_splits", .int(numSplits))] : [])
      + (cacheSeqLens.map { [("cache_seqlens", .array($0.map(JSONText.int)))] } ?? [])
      + (nanCodes > 0 ? [("nan_codes", .int(nanCodes))] : [])
      + (valueHeadDim.map { [("head_dim_v", .int($0))] } ?? [])
      + (softcap != 0 ? [("softcap", .double(softcap))] : []))
  }
}

extension FA3Comparison {
  /// The row as `flashnum crosscheck --json` writes it (snake_case keys; absent values `null`).
  public var json: JSONText {
    .object([
      ("case", testCase?.json ?? .null), ("emulator_seconds", .double(emulatorSeconds)),
      ("kernel_deterministic", kernelDeterministic.map(JSONText.bool) ?? .null),
      ("lse_bit_exact", lseBitExact.map(JSONText.double) ?? .null), ("max_ulp", maxULP.map(JSONText.int) ?? .null),
      ("name", .string(name)), ("o_bit_exact", oBitExact.map(JSONText.double) ?? .null),
      ("reference_bits", .int(referenceBits)), ("rmse_emulator", rmseEmulator.map(JSONText.double) ?? .null),
      ("rmse_kernel", rmseKernel.map(JSONText.double) ?? .null), ("schedule", .string(schedule)),
    ])
  }
}

/// A set of comparisons as a Markdown report.
public enum FA3CrosscheckReport {
  public static func markdown(_ rows: [FA3Comparison], command: String, device: String?, notes: [String] = []) -> String {
    func pct(_ x: Double?) -> String { x.map { String(format: "%.3f %%", 100 * $0) } ?? "—" }
    func sci(_ x: Double?) -> String { x.map { String(format: "%.3e", $0) } ?? "—" }
    var s = "# FlashAttention-3 emulator vs the real kernel\n\n"
    s += "Made by `\(command)`"
    s += device.map { " on \($0)" } ?? " (no kernel run: no CUDA device with the fa3_fwd module)"
    s += ".\n\nO bit-exact: share of output elements whose BF16 bits equal the kernel's; LSE bit-exact: share of "
    s += "log-sum-exp values (float32) with equal bits; max ulp: largest distance between kernel and emulator O in "
    s += "BF16 codes; RMSE columns: each O against an MPFR reference of the same input values (decoded codes × "
    s += "descales, nominal scale), in units of O.\n\n"
    s += "| case | kBlockM×N | O bit-exact | LSE bit-exact | max ulp | RMSE kernel | RMSE emulator | deterministic | emulator s |\n"
    s += "|---|---|---|---|---|---|---|---|---|\n"
    for r in rows {
      let tile = r.schedule.split(separator: ",").first.map { $0.replacingOccurrences(of: "kBlockM×N ", with: "") } ?? ""
      s += "| \(r.name) | \(tile) | \(pct(r.oBitExact)) | \(pct(r.lseBitExact)) | \(r.maxULP.map(String.init) ?? "—") | "
      s += "\(sci(r.rmseKernel)) | \(sci(r.rmseEmulator)) | \(r.kernelDeterministic.map { $0 ? "yes" : "NO" } ?? "—") | "
      s += String(format: "%.1f", r.emulatorSeconds) + " |\n"
    }
    for n in notes { s += "\n" + n + "\n" }
    return s
  }
}
