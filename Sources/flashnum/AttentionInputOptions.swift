import ArgumentParser
import Attention
import Foundation
import Experiments
import LowPrecision
import Measurement

extension TensorLayout: ExpressibleByArgument {}

/// The inputs shared by `flashnum attention` and `flashnum reference`.
struct AttentionInputOptions: ParsableArguments {
  @Option(help: "Q, (batch, seqlen_q, heads, headdim) (or (batch, heads, seqlen_q, headdim) with --layout bhsd): a .npy file (float16/32/64 values, uint8/uint16 or ml_dtypes codes), FILE.npz:KEY or FILE.safetensors:NAME.")
  var q: String?
  @Option(help: "K, (batch, seqlen_k, kv_heads, headdim), as Q.") var k: String?
  @Option(help: "V, (batch, seqlen_k, kv_heads, headdim), as Q.") var v: String?
  @Option(help: "A call recorded by flashnumerics.torch.capture, FILE.safetensors:ENTRY (e.g. model.safetensors:call3): its Q, K, V (SDPA's layout), mask (top-left causal, boolean or additive) and scale, in place of --q/--k/--v, --layout, --causal, --window-left/right and --softmax-scale. O is written in the bhsd layout.")
  var capture: String?
  @Option(name: .customLong("input-format"),
          help: "Format of uint8/uint16 code inputs: e4m3fn, e5m2, bf16, fp16, ... (fp32 for float inputs).")
  var inputFormat: String?
  @Flag(help: "Causal mask (bottom-right aligned, as FlashAttention).") var causal = false
  @Option(name: .customLong("window-left"), help: "Sliding window: keys at most this far before the query's position.")
  var windowLeft: Int?
  @Option(name: .customLong("window-right"), help: "Sliding window: keys at most this far after the query's position.")
  var windowRight: Int?
  @Option(name: .customLong("softmax-scale"), help: "Softmax scale (default 1/√headdim).") var softmaxScale: Double?
  @Option(name: .customLong("descale-q"), help: "float32 (batch, kv_heads) descales of Q codes.") var descaleQ: String?
  @Option(name: .customLong("descale-k"), help: "float32 (batch, kv_heads) descales of K codes.") var descaleK: String?
  @Option(name: .customLong("descale-v"), help: "float32 (batch, kv_heads) descales of V codes.") var descaleV: String?
  @Option(help: "Axis order of Q, K, V and O: bshd (batch, seqlen, heads, headdim; FlashAttention's) or bhsd (batch, heads, seqlen, headdim; PyTorch SDPA's).")
  var layout: TensorLayout = .bshd
  @Option(help: "Worker threads (results do not depend on it).")
  var threads = ProcessInfo.processInfo.activeProcessorCount

  func validate() throws {
    try checkThreads(threads)
    if let capture {
      let given = [("--q", q != nil), ("--k", k != nil), ("--v", v != nil), ("--causal", causal), ("--window-left", windowLeft != nil),
                   ("--window-right", windowRight != nil), ("--softmax-scale", softmaxScale != nil), ("--layout", layout != .bshd),
                   ("--input-format", inputFormat != nil), ("--descale-q", descaleQ != nil), ("--descale-k", descaleK != nil),
                   ("--descale-v", descaleV != nil)].filter(\.1).map(\.0)
      if let first = given.first { throw ValidationError("--capture gives the inputs, mask and scale; drop \(first)") }
      guard capture.contains(".safetensors:") else { throw ValidationError("--capture takes FILE.safetensors:ENTRY, got '\(capture)'") }
    } else if q == nil || k == nil || v == nil {
      throw ValidationError("give --q, --k and --v (or --capture FILE.safetensors:ENTRY)")
    }
  }

  /// The input paths (for ``checkOutputs(_:notAmong:)``).
  var paths: [String?] { [q, k, v, descaleQ, descaleK, descaleV, capture.map { capturedEntry($0).0 }] }

  /// The axis order of the tensors read and written: SDPA's for a capture.
  var axes: TensorLayout { capture == nil ? layout : .bhsd }

  var mask: AttentionMask { AttentionMask(causal: causal, windowLeft: windowLeft, windowRight: windowRight) }

  /// The mask, bias and scale: the options, or the captured call's own.
  func options() throws -> AttentionOptions {
    if let entry = try captured() {
      var o = entry.options
      o.threads = max(1, threads)
      return o
    }
    return AttentionOptions(mask: mask, softmaxScale: softmaxScale, threads: max(1, threads))
  }

  /// FILE.safetensors:ENTRY → (FILE.safetensors, ENTRY).
  func capturedEntry(_ spec: String) -> (String, String) {
    let split = spec.range(of: ".safetensors:", options: .backwards)!
    return (String(spec[..<split.upperBound].dropLast()), String(spec[split.upperBound...]))
  }

  /// The captured call named by --capture (its values, mask and scale), `nil` without it.
  func captured() throws -> CapturedInput? {
    guard let capture else { return nil }
    let (path, name) = capturedEntry(capture)
    let file = try CapturedFile.read(path)
    guard let entry = try file.select(names: [name], layers: nil).first else { return nil }
    return try file.input(entry)
  }

  /// The code format named by --input-format, if it is an emulated format.
  func codeFormat() throws -> FloatFormat? {
    guard let name = inputFormat, name != "fp32" else { return nil }
    guard let f = FloatFormat.named(name) else {
      throw InputError("--input-format: unknown format '\(name)' (known: fp32, \(FloatFormat.presets.map(\.name).joined(separator: ", ")))")
    }
    return f
  }

  /// Q, K, V and the descales, read and checked by the one loader (``AttentionInputFiles``).
  func load(packedBatch: Int? = nil) throws -> AttentionInputFiles {
    if let capture {
      if packedBatch != nil { throw InputError("--capture holds 4-D tensors, not packed (varlen) ones") }
      let (path, name) = capturedEntry(capture)
      _ = try CapturedFile.read(path).select(names: [name], layers: nil)   // the file and entry first, whole
      return try AttentionInputFiles.load(q: capture + ".q", k: capture + ".k", v: capture + ".v", format: nil, layout: .bhsd)
    }
    return try AttentionInputFiles.load(q: q!, k: k!, v: v!, format: try codeFormat(), descales: (descaleQ, descaleK, descaleV),
                                        packedBatch: packedBatch, layout: layout)
  }
}
