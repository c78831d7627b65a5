import Attention
import Foundation
import LowPrecision
import NPY

/// Q, K and V read from tensor files (``TensorFile``: `.npy`, `.npz:KEY`, `.safetensors:NAME`) in FlashAttention's (batch, seqlen, heads, headdim) layout
/// (or SDPA's (batch, heads, seqlen, headdim), ``TensorLayout``, reordered on reading):
/// float32/float64 values, or codes of one format with optional FA3-style descales. The one
/// loader of every command that reads attention inputs (`attention`, `reference`, the kernel
/// bridge's case directories), with one set of checks:
///
/// - every tensor has 4 dimensions (how the shapes must fit is checked where they are used:
///   ``operands()`` by ``AttentionOperands/shape()``, ``fa3Inputs(causal:softmaxScale:)`` as the
///   kernel checks them);
/// - Q, K and V are all values or all codes; codes are uint8 for formats of ≤ 8 bits and uint16
///   for wider ones, and no code is wider than the format;
/// - descales go with codes only; each is float32 of shape (batch, kv_heads) (Q's descale is
///   indexed by KV head, as FA3 does), every value finite and > 0.
public struct AttentionInputFiles: Sendable {
  /// A tensor's shape and its values (codes decoded exactly) or codes.
  public struct Tensor: Sendable {
    public var shape: [Int]
    public var values: [Double]
    public var codes: [UInt16]?
    /// The format of `codes` (given, or the file's own), `nil` for values.
    public var format: FloatFormat?
  }

  public var q: Tensor, k: Tensor, v: Tensor
  /// The format of the codes, `nil` for value inputs.
  public var format: FloatFormat?
  /// float32 (batch, kv_heads) descales of code inputs; `nil` means 1.
  public var qDescale: [Float]?, kDescale: [Float]?, vDescale: [Float]?

  /// Reads the three tensors (codes of `format` when their dtype is an integer) and the descales.
  /// With `packedBatch` (the varlen form) the tensors are (total_tokens, heads, headdim), read as
  /// one batch entry, and descales have `packedBatch` rows.
  /// `layout` is the files' axis order (``TensorLayout``); packed tensors have no such choice.
  public static func load(q: String, k: String, v: String, format: FloatFormat?,
                          descales: (q: String?, k: String?, v: String?) = (nil, nil, nil),
                          packedBatch: Int? = nil, layout: TensorLayout = .bshd) throws -> AttentionInputFiles {
    let packed = packedBatch != nil
    if packed && layout != .bshd { throw TensorFileError("--layout \(layout.rawValue) applies to 4-D tensors, not to packed (varlen) ones") }
    let qt = try tensor(q, "Q", format, packed: packed, layout: layout), kt = try tensor(k, "K", format, packed: packed, layout: layout),
        vt = try tensor(v, "V", format, packed: packed, layout: layout)
    let kinds = [qt, kt, vt].map { $0.codes == nil ? "values" : "codes" }
    guard Set(kinds).count == 1 else {
      throw TensorFileError("Q, K and V must all be values or all be codes (got \(kinds.joined(separator: ", ")))")
    }
    let codes = qt.codes != nil
    guard Set([qt, kt, vt].map { $0.format?.name ?? "" }).count == 1 else {
      throw TensorFileError("Q, K and V must hold codes of one format (got \([qt, kt, vt].map { $0.format?.name ?? "values" }.joined(separator: ", ")))")
    }
    var files = AttentionInputFiles(q: qt, k: kt, v: vt, format: codes ? qt.format : nil)
    if !codes && (descales.q ?? descales.k ?? descales.v) != nil {
      throw TensorFileError("descales apply to code inputs (uint8/uint16 with an input format) only")
    }
    let expected = [packedBatch ?? qt.shape[0], kt.shape[2]]
    func descale(_ path: String?, _ name: String) throws -> [Float]? {
      guard let path else { return nil }
      let a = try NPYFiles.read(path)
      guard a.dtype == .float32, let values = a.float32 else { throw TensorFileError("\(path): \(name) descales must be float32, got \(a.dtype)") }
      guard a.shape == expected else {
        throw TensorFileError("\(path): \(name) descales must have shape (batch, kv_heads) = \(expected), got \(a.shape)")
      }
      if let bad = values.first(where: { !($0.isFinite && $0 > 0) }) {
        throw TensorFileError("\(path): \(name) descales must be finite and positive, got \(bad)")
      }
      return values
    }
    files.qDescale = try descale(descales.q, "Q")
    files.kDescale = try descale(descales.k, "K")
    files.vDescale = try descale(descales.v, "V")
    return files
  }

  static func tensor(_ path: String, _ name: String, _ given: FloatFormat?, packed: Bool, layout: TensorLayout) throws -> Tensor {
    let file = try TensorFile.read(path)
    var a = file.array
    if packed {
      guard a.shape.count == 3 else {
        throw TensorFileError("\(path): \(name) must have 3 dimensions (total_tokens, heads, headdim) with cu_seqlens, got shape \(a.shape)")
      }
      a.shape = [1] + a.shape
    }
    guard a.shape.count == 4 else {
      let axes = layout == .bshd ? "(batch, seqlen, heads, headdim)" : "(batch, heads, seqlen, headdim)"
      throw TensorFileError("\(path): \(name) must have 4 dimensions \(axes), got shape \(a.shape)")
    }
    a = layout.inward(a)
    if let values = a.values { return Tensor(shape: a.shape, values: values, codes: nil, format: nil) }
    if let given, let own = file.format, given != own {
      throw TensorFileError("\(path): \(name) holds \(own.name) codes, not \(given.name) (--input-format)")
    }
    guard let format = given ?? file.format else {
      throw TensorFileError("\(path): \(name) holds \(a.dtype) codes; name their format (--input-format)")
    }
    let codes = try a.codes(of: format, path: path)
    return Tensor(shape: a.shape, values: codes.map { format.decode($0) }, codes: codes.map { UInt16($0) }, format: format)
  }

  /// The operands: the values (codes decoded exactly) and the descales expanded to row scales.
  public func operands() throws -> AttentionOperands {
    func t(_ x: Tensor) throws -> AttentionTensor {
      try AttentionTensor(batch: x.shape[0], seqLen: x.shape[1], heads: x.shape[2], headDim: x.shape[3], values: x.values)
    }
    var operands = AttentionOperands(q: try t(q), k: try t(k), v: try t(v))
    _ = try operands.shape()
    let (batch, kvHeads, group) = (q.shape[0], k.shape[2], q.shape[2] / k.shape[2])
    func rows(_ d: [Float]?, _ tensor: AttentionTensor, perKVHead: Bool) -> [Double]? {
      guard let d else { return nil }
      var perHead = [Double](repeating: 1, count: batch * tensor.heads)
      for b in 0..<batch { for h in 0..<tensor.heads {
        perHead[b * tensor.heads + h] = Double(d[b * kvHeads + (perKVHead ? h : h / group)])
      } }
      return AttentionOperands.rowScales(descale: perHead, of: tensor)
    }
    operands.qScales = rows(qDescale, operands.q, perKVHead: false)
    operands.kScales = rows(kDescale, operands.k, perKVHead: true)
    operands.vScales = rows(vDescale, operands.v, perKVHead: true)  // counts by construction, values checked by load
    return operands
  }

  /// The varlen kernel's inputs (tensors read with `packedBatch`), checked as the kernel checks them.
  public func fa3VarlenInputs(cuSeqLensQ: [Int], cuSeqLensK: [Int], maxSeqLenQ: Int?, maxSeqLenK: Int?, causal: Bool,
                              softmaxScale: Double?, numSplits: Int, softcap: Double = 0) throws -> FA3VarlenInputs {
    guard let format, let element = FA3Inputs.Element(rawValue: format.name),
          let qc = q.codes, let kc = k.codes, let vc = v.codes else {
      throw TensorFileError("the fa3 kernel schedule takes codes of bf16, fp16 or e4m3fn (its element types)")
    }
    guard q.shape[1] == cuSeqLensQ.last, k.shape[1] == cuSeqLensK.last, v.shape[1] == k.shape[1], v.shape[2] == k.shape[2] else {
      throw TensorFileError("varlen: Q has \(q.shape[1]) tokens and K, V \(k.shape[1]), \(v.shape[1]); cu_seqlens_q and cu_seqlens_k end at \(cuSeqLensQ.last ?? 0) and \(cuSeqLensK.last ?? 0)")
    }
    guard k.shape[3] == q.shape[3] else { throw TensorFileError("varlen: K's head dim \(k.shape[3]) differs from Q's \(q.shape[3])") }
    let inputs = FA3VarlenInputs(element: element, cuSeqLensQ: cuSeqLensQ, cuSeqLensK: cuSeqLensK, maxSeqLenQ: maxSeqLenQ,
                                 maxSeqLenK: maxSeqLenK, heads: q.shape[2], kvHeads: k.shape[2], headDim: q.shape[3],
                                 valueHeadDim: v.shape[3], q: qc, k: kc, v: vc, qDescale: qDescale, kDescale: kDescale,
                                 vDescale: vDescale, causal: causal, softmaxScale: softmaxScale, numSplits: numSplits,
                                 softcap: softcap)
    try inputs.validate()
    return inputs
  }

  /// The FA3 kernel's inputs (codes of bf16, fp16 or e4m3fn), checked as the kernel checks them
  /// (V's head dim is its own: the kernel's unequal pairs are allowed). With `cacheBatchIdx`, K
  /// and V are caches of their own batch size and entry b reads cache entry `cacheBatchIdx[b]`.
  public func fa3Inputs(causal: Bool, softmaxScale: Double?, cacheBatchIdx: [Int]? = nil) throws -> FA3Inputs {
    guard let format, let element = FA3Inputs.Element(rawValue: format.name),
          let qc = q.codes, let kc = k.codes, let vc = v.codes else {
      throw TensorFileError("the fa3 kernel schedule takes codes of bf16, fp16 or e4m3fn (its element types)")
    }
    let inputs = FA3Inputs(element: element, batch: q.shape[0], seqLenQ: q.shape[1], seqLenK: k.shape[1], heads: q.shape[2],
                           kvHeads: k.shape[2], headDim: q.shape[3], q: qc, k: kc, v: vc, qDescale: qDescale,
                           kDescale: kDescale, vDescale: vDescale, causal: causal, softmaxScale: softmaxScale,
                           valueHeadDim: v.shape[3], cacheBatchIdx: cacheBatchIdx, kvBatch: k.shape[0])
    try inputs.validate()
    return inputs
  }
}
