import ArgumentParser
import Attention
import Foundation
import NPY
import LowPrecision

/// The inputs shared by `flashnum attention` and `flashnum reference`.
struct AttentionInputOptions: ParsableArguments {
  @Option(help: "Q, (batch, seqlen_q, heads, headdim) .npy: float32/float64 values or uint8/uint16 codes.")
  var q: String
  @Option(help: "K, (batch, seqlen_k, kv_heads, headdim) .npy.") var k: String
  @Option(help: "V, (batch, seqlen_k, kv_heads, headdim) .npy.") var v: String
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
  @Option(help: "Worker threads (results do not depend on it).")
  var threads = ProcessInfo.processInfo.activeProcessorCount

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

  /// Reads one tensor; `codes` tells whether it was given as raw codes.
  func tensor(_ path: String, _ name: String) throws -> (AttentionTensor, codes: Bool) {
    let array = try readNPY(path)
    guard array.shape.count == 4 else {
      throw InputError("\(path): \(name) must have 4 dimensions (batch, seqlen, heads, headdim), got shape \(array.shape)")
    }
    let values: [Double]
    var codes = false
    if let v = array.values {
      values = v
    } else {
      guard let f = try codeFormat() else {
        throw InputError("\(path): \(name) holds \(array.dtype) codes; name their format with --input-format")
      }
      values = try formatCodes(array, path, f).map { f.decode($0) }
      codes = true
    }
    do {
      let t = try AttentionTensor(batch: array.shape[0], seqLen: array.shape[1], heads: array.shape[2],
                                  headDim: array.shape[3], values: values)
      return (t, codes)
    } catch { throw InputError("\(path): \(error.description)") }
  }

  /// Q, K, V as read, whether they were codes, and the descales expanded to row scales.
  func load() throws -> (operands: AttentionOperands, codes: Bool) {
    let (qt, qc) = try tensor(q, "Q")
    let (kt, kc) = try tensor(k, "K")
    let (vt, vc) = try tensor(v, "V")
    guard qc == kc && kc == vc else {
      throw InputError("Q, K and V must all be values or all be codes (got \(qc ? "codes" : "values"), \(kc ? "codes" : "values"), \(vc ? "codes" : "values"))")
    }
    var operands = AttentionOperands(q: qt, k: kt, v: vt)
    do { _ = try operands.shape() } catch { throw InputError(error.description) }
    let group = qt.heads / kt.heads
    func descale(_ path: String?, _ t: AttentionTensor, _ name: String, perKVHead: Bool) throws -> [Double]? {
      guard let path else { return nil }
      let a = try readNPY(path)
      guard a.dtype == .float32, let values = a.float32 else {
        throw InputError("\(path): \(name) descales must be float32, got \(a.dtype)")
      }
      guard a.shape == [qt.batch, kt.heads] else {
        throw InputError("\(path): \(name) descales must have shape (batch, kv_heads) = [\(qt.batch), \(kt.heads)], got \(a.shape)")
      }
      if let bad = values.first(where: { !($0.isFinite && $0 > 0) }) {
        throw InputError("\(path): \(name) descales must be finite and positive, got \(bad)")
      }
      // Expand: Q head h uses kv head h / group (FA3 indexes q_descale by kv head too).
      var perHead = [Double](repeating: 1, count: t.batch * t.heads)
      for b in 0..<t.batch { for h in 0..<t.heads {
        perHead[b * t.heads + h] = Double(values[b * kt.heads + (perKVHead ? h : h / group)])
      } }
      return AttentionOperands.rowScales(descale: perHead, of: t)
    }
    if (descaleQ ?? descaleK ?? descaleV) != nil && !qc {
      throw InputError("--descale-q/-k/-v apply to code inputs (uint8/uint16 with --input-format) only")
    }
    operands.qScales = try descale(descaleQ, qt, "Q", perKVHead: false)
    operands.kScales = try descale(descaleK, kt, "K", perKVHead: true)
    operands.vScales = try descale(descaleV, vt, "V", perKVHead: true)
    return (operands, qc)
  }
}
