import ArgumentParser
import Attention
import Foundation
import Experiments
import LowPrecision

extension TensorLayout: ExpressibleByArgument {}

/// The inputs shared by `flashnum attention` and `flashnum reference`.
struct AttentionInputOptions: ParsableArguments {
  @Option(help: "Q, (batch, seqlen_q, heads, headdim) (or (batch, heads, seqlen_q, headdim) with --layout bhsd): a .npy file (float16/32/64 values, uint8/uint16 or ml_dtypes codes), FILE.npz:KEY or FILE.safetensors:NAME.")
  var q: String
  @Option(help: "K, (batch, seqlen_k, kv_heads, headdim), as Q.") var k: String
  @Option(help: "V, (batch, seqlen_k, kv_heads, headdim), as Q.") var v: String
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

  func validate() throws { try checkThreads(threads) }

  /// The input paths (for ``checkOutputs(_:notAmong:)``).
  var paths: [String?] { [q, k, v, descaleQ, descaleK, descaleV] }

  var mask: AttentionMask { AttentionMask(causal: causal, windowLeft: windowLeft, windowRight: windowRight) }

  func options() -> AttentionOptions {
    AttentionOptions(mask: mask, softmaxScale: softmaxScale, threads: max(1, threads))
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
    try AttentionInputFiles.load(q: q, k: k, v: v, format: try codeFormat(), descales: (descaleQ, descaleK, descaleV), packedBatch: packedBatch,
                                 layout: layout)
  }
}
