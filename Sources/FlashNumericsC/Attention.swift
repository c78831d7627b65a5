import Attention
import CFlashNumericsABI
import LowPrecision
import Measurement
import Reference

// Attention through the C ABI: the FA3 kernel's twin, the emulated schemes, the MPFR reference,
// error metrics, and the inputs of a crosscheck case. Tensors are C-order arrays: Q (batch,
// seqlen_q, heads, head_dim), K and V (batch, seqlen_k, kv_heads, head_dim), O like Q, LSE (batch,
// heads, seqlen_q). A softmax scale of 0 means the default 1/√head_dim; a window side < 0
// means unbounded. Inputs arrive in the structs of flashnumerics.h.

struct Sizes {
  var batch: Int, seqLenQ: Int, seqLenK: Int, heads: Int, kvHeads: Int, headDim: Int

  /// The sizes of `shape`, whose `head_dim_v` must be `head_dim` or ≤ 0 (value attention).
  init(_ shape: fn_shape) throws {
    guard shape.head_dim_v <= 0 || shape.head_dim_v == shape.head_dim else {
      throw CallError("head_dim_v \(shape.head_dim_v) must equal head_dim \(shape.head_dim) (or be 0) here")
    }
    try self.init(shape.batch, shape.seqlen_q, shape.seqlen_k, shape.heads, shape.kv_heads, shape.head_dim)
  }

  init(_ batch: Int64, _ seqLenQ: Int64, _ seqLenK: Int64, _ heads: Int64, _ kvHeads: Int64, _ headDim: Int64) throws {
    for (v, s) in [(batch, "batch"), (seqLenQ, "seqlen_q"), (seqLenK, "seqlen_k"), (heads, "heads"), (kvHeads, "kv_heads"), (headDim, "head_dim")] {
      try checkCount(v, s, limit: Int64(ResourceLimits.tensorElements))
    }
    (self.batch, self.seqLenQ, self.seqLenK, self.heads, self.kvHeads, self.headDim) =
      (Int(batch), Int(seqLenQ), Int(seqLenK), Int(heads), Int(kvHeads), Int(headDim))
    try shape.validate()
  }

  var shape: AttentionShape { AttentionShape(batch: batch, seqLenQ: seqLenQ, seqLenK: seqLenK, headsQ: heads, headsKV: kvHeads, headDim: headDim) }
  var qCount: Int { batch * seqLenQ * heads * headDim }
  var kCount: Int { batch * seqLenK * kvHeads * headDim }

  /// Value inputs as attention tensors.
  func inputs(_ q: UnsafePointer<Double>?, _ k: UnsafePointer<Double>?, _ v: UnsafePointer<Double>?) throws -> AttentionInputs {
    guard let q, let k, let v else { throw CallError("null array") }
    return AttentionInputs(
      q: try AttentionTensor(batch: batch, seqLen: seqLenQ, heads: heads, headDim: headDim, values: Array(UnsafeBufferPointer(start: q, count: qCount))),
      k: try AttentionTensor(batch: batch, seqLen: seqLenK, heads: kvHeads, headDim: headDim, values: Array(UnsafeBufferPointer(start: k, count: kCount))),
      v: try AttentionTensor(batch: batch, seqLen: seqLenK, heads: kvHeads, headDim: headDim, values: Array(UnsafeBufferPointer(start: v, count: kCount))))
  }
}

/// A softmax scale from the caller: 0 is the default (`nil`), anything else must pass
/// ``AttentionOptions/checkSoftmaxScale(_:)`` (NaN included).
func softmaxScale(_ s: Double) throws -> Double? {
  if s == 0 { return nil }
  try AttentionOptions.checkSoftmaxScale(s)
  return s
}

/// The options of `args` (mask, scale, threads), each checked.
func attentionOptions(_ a: fn_attention_args) throws -> AttentionOptions {
  var o = try options(causal: a.causal, windowLeft: a.window_left, windowRight: a.window_right, softmaxScale: a.softmax_scale, threads: a.threads)
  guard a.top_left == 0 || a.top_left == 1 else { throw CallError("top_left must be 0 or 1, got \(a.top_left)") }
  o.mask.alignment = a.top_left == 1 ? .topLeft : .bottomRight
  if let p = a.bias {
    try checkCount(a.bias_count, "bias_count", limit: Int64(ResourceLimits.tensorElements))
    let strides = [a.bias_stride_batch, a.bias_stride_head, a.bias_stride_query, a.bias_stride_key]
    for (s, name) in zip(strides, ["batch", "head", "query", "key"]) {
      guard s >= 0 && s <= Int64(ResourceLimits.tensorElements) else { throw CallError("bias_stride_\(name) must be in 0...\(ResourceLimits.tensorElements), got \(s)") }
    }
    o.bias = try AttentionBias(values: Array(UnsafeBufferPointer(start: p, count: Int(a.bias_count))), strides: strides.map { Int($0) })
    try o.bias?.check(try Sizes(a.shape).shape)
  }
  return o
}

func options(causal: Int32, windowLeft: Int64, windowRight: Int64, softmaxScale scaleArgument: Double, threads: Int32) throws -> AttentionOptions {
  try checkThreads(threads)
  let scale = try softmaxScale(scaleArgument)
  let mask = AttentionMask(causal: causal != 0, windowLeft: windowLeft < 0 ? nil : Int(windowLeft),
                           windowRight: windowRight < 0 ? nil : Int(windowRight))
  return AttentionOptions(mask: mask, softmaxScale: scale, threads: Int(threads))
}

/// The kernel's schedule with the GPU's SM count and the caller's "NAME=VALUE;…" changes.
func adjusted(_ schedule: FA3Schedule, smCount: Int32, settings: UnsafePointer<CChar>?) throws -> FA3Schedule {
  var s = schedule
  try s.set("smCount", to: String(smCount))
  for setting in (text(settings) ?? "").split(separator: ";") {
    let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { throw CallError("schedule: expected NAME=VALUE, got '\(setting)'") }
    try s.set(parts[0].trimmingSpaces, to: parts[1].trimmingSpaces)
  }
  return s
}

extension String {
  /// The string without leading and trailing spaces.
  var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}

/// A named scheme and algorithm on value inputs: the scheme, the algorithm resolved for the
/// sizes, the inputs and options, each checked (the common start of `fn_attention` and
/// `fn_attribute_json`).
struct SchemeRun {
  var scheme: AttentionScheme, algorithm: AttentionAlgorithm, inputs: AttentionInputs, options: AttentionOptions

  init(_ a: fn_attention_args) throws {
    let s = try Sizes(a.shape)
    let options = try attentionOptions(a)
    let name = text(a.scheme) ?? ""
    guard let chosen = AttentionScheme.named(name) else {
      throw CallError("unknown scheme '\(name)' (known: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
    }
    let choice = try AlgorithmChoice(text(a.algorithm) ?? "blocked")
    try options.validate(s.shape)
    self.scheme = chosen
    self.options = options
    self.inputs = try s.inputs(a.q, a.k, a.v)
    self.algorithm = try choice.resolve(for: chosen, headDim: s.headDim, causal: options.mask.causal, seqLenQ: s.seqLenQ)
  }
}

/// The element type a kernel call names.
func element(_ name: UnsafePointer<CChar>?) throws -> FA3Inputs.Element {
  let n = text(name) ?? ""
  guard let e = FA3Inputs.Element(rawValue: n) else { throw CallError("unknown element '\(n)' (known: bf16, fp16, e4m3fn)") }
  return e
}

/// V's head dim of a kernel call: `head_dim_v`, or `head_dim` when it is ≤ 0; at most 512.
func valueHeadDim(_ shape: fn_shape) throws -> Int {
  let dv = shape.head_dim_v <= 0 ? shape.head_dim : shape.head_dim_v
  try checkCount(dv, "head_dim_v", limit: 512)
  return Int(dv)
}

/// `count` elements from `p` (a checked count), or a "null array" error.
func elements<T>(_ p: UnsafePointer<T>?, _ count: Int, _ name: String) throws -> [T] {
  guard let p else { throw CallError("\(name): null array") }
  return Array(UnsafeBufferPointer(start: p, count: count))
}

/// A descale array of `count` floats from `p`, or `nil` (1) for a null pointer.
func descale(_ p: UnsafePointer<Float>?, _ count: Int) -> [Float]? { p.map { Array(UnsafeBufferPointer(start: $0, count: count)) } }

/// Writes `values` to `out` (the caller's array of at least that many elements).
func store<T>(_ values: [T], _ out: UnsafeMutablePointer<T>) {
  values.withUnsafeBufferPointer { if let base = $0.baseAddress { out.update(from: base, count: $0.count) } }
}

/// The FlashAttention-3 forward kernel, bit for bit (``fn_kernel_args``): bf16/fp16 bit patterns
/// or e4m3fn bytes (in uint16s) in, `out` as bf16 (fp16 for fp16 inputs) bit patterns and `lse`
/// (natural log, float32) out. `cache_seqlens` makes K and V caches of which entry b uses its first
/// `cache_seqlens[b]` keys, as `flash_attn_with_kvcache`; `cu_seqlens_*` belong to
/// `fn_flash_attn_varlen` and are refused here.
@_cdecl("fn_flash_attn")
public func fn_flash_attn(_ args: UnsafePointer<fn_kernel_args>?, _ out: UnsafeMutablePointer<UInt16>?,
                          _ lse: UnsafeMutablePointer<Float>?) -> Int32 {
  CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    guard a.cu_seqlens_q == nil && a.cu_seqlens_k == nil && a.max_seqlen_q == 0 && a.max_seqlen_k == 0 else {
      throw CallError("cu_seqlens and max_seqlen belong to fn_flash_attn_varlen")
    }
    let e = try element(a.element)
    let s = try Sizes(a.shape.batch, a.shape.seqlen_q, a.shape.seqlen_k, a.shape.heads, a.shape.kv_heads, a.shape.head_dim)
    let dv = try valueHeadDim(a.shape)
    try checkThreads(a.threads)
    try ResourceLimits.checkTensor("V", [("batch", s.batch), ("seqlen_k", s.seqLenK), ("kv_heads", s.kvHeads), ("head_dim_v", dv)])
    try ResourceLimits.checkTensor("O", [("batch", s.batch), ("seqlen_q", s.seqLenQ), ("heads", s.heads), ("head_dim_v", dv)])
    guard let out, let lse else { throw CallError("null array") }
    let descales = s.batch * s.kvHeads
    let inputs = FA3Inputs(element: e, batch: s.batch, seqLenQ: s.seqLenQ, seqLenK: s.seqLenK, heads: s.heads, kvHeads: s.kvHeads,
                           headDim: s.headDim, q: try elements(a.q, s.qCount, "q"), k: try elements(a.k, s.kCount, "k"),
                           v: try elements(a.v, s.batch * s.seqLenK * s.kvHeads * dv, "v"),
                           qDescale: descale(a.q_descale, descales), kDescale: descale(a.k_descale, descales),
                           vDescale: descale(a.v_descale, descales),
                           causal: a.causal != 0, softmaxScale: try softmaxScale(a.softmax_scale), numSplits: Int(a.num_splits),
                           cacheSeqLens: a.cache_seqlens.map { UnsafeBufferPointer(start: $0, count: s.batch).map(Int.init) }, valueHeadDim: dv,
                           softcap: a.softcap)
    let o = try FA3Forward.run(inputs, schedule: try adjusted(FA3Schedule.fa3(for: inputs), smCount: a.sm_count, settings: a.schedule),
                               threads: Int(a.threads))
    store(o.o, out)
    store(o.lse, lse)
  }
}

/// The kernel's varlen form (`flash_attn_varlen_func`), bit for bit: Q (total_q, heads,
/// head_dim), K (total_k, kv_heads, head_dim), V (total_k, kv_heads, head_dim_v) codes with
/// `cu_seqlens_q`/`cu_seqlens_k` (int32, batch + 1); `max_seqlen_q`/`max_seqlen_k` 0 mean the
/// longest sequence. `out` (total_q, heads, head_dim_v) bits, `lse` (heads, total_q).
@_cdecl("fn_flash_attn_varlen")
public func fn_flash_attn_varlen(_ args: UnsafePointer<fn_kernel_args>?, _ out: UnsafeMutablePointer<UInt16>?,
                                 _ lse: UnsafeMutablePointer<Float>?) -> Int32 {
  CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    guard a.cache_seqlens == nil else { throw CallError("cache_seqlens belongs to fn_flash_attn") }
    let e = try element(a.element)
    let limit = Int64(ResourceLimits.tensorElements)
    for (v, s) in [(a.shape.batch, "batch"), (a.shape.seqlen_q, "total_q"), (a.shape.seqlen_k, "total_k"), (a.shape.heads, "heads"),
                   (a.shape.kv_heads, "kv_heads"), (a.max_seqlen_q, "max_seqlen_q"), (a.max_seqlen_k, "max_seqlen_k")] {
      try checkCount(v, s, limit: limit)
    }
    // cu_seqlens hold batch + 1 int32 offsets.
    try checkCount(a.shape.batch, "batch", limit: Int64(Int32.max) - 1)
    try checkCount(a.shape.head_dim, "head_dim", limit: 256)
    let dv = try valueHeadDim(a.shape)
    try checkThreads(a.threads)
    let (b, tq, tk, h, hk, d) = (Int(a.shape.batch), Int(a.shape.seqlen_q), Int(a.shape.seqlen_k), Int(a.shape.heads),
                                 Int(a.shape.kv_heads), Int(a.shape.head_dim))
    try ResourceLimits.checkTensor("Q and O", [("total_q", tq), ("heads", h), ("head dim", max(d, dv))])
    try ResourceLimits.checkTensor("K and V", [("total_k", tk), ("kv_heads", hk), ("head dim", max(d, dv))])
    guard let out, let lse else { throw CallError("null array") }
    try ResourceLimits.checkTensor("each descale", [("batch", b), ("kv_heads", hk)])
    let descales = b * hk
    let cuQ = try elements(a.cu_seqlens_q, b + 1, "cu_seqlens_q").map(Int.init)
    let cuK = try elements(a.cu_seqlens_k, b + 1, "cu_seqlens_k").map(Int.init)
    guard cuQ.last == tq, cuK.last == tk else {
      throw CallError("cu_seqlens_q[-1] and cu_seqlens_k[-1] must be total_q (\(tq)) and total_k (\(tk)), got \(cuQ.last ?? 0) and \(cuK.last ?? 0)")
    }
    let (maxQ, maxK) = (a.max_seqlen_q, a.max_seqlen_k)
    let inputs = FA3VarlenInputs(element: e, cuSeqLensQ: cuQ, cuSeqLensK: cuK, maxSeqLenQ: maxQ > 0 ? Int(maxQ) : nil,
                                 maxSeqLenK: maxK > 0 ? Int(maxK) : nil, heads: h, kvHeads: hk, headDim: d, valueHeadDim: dv,
                                 q: try elements(a.q, tq * h * d, "q"), k: try elements(a.k, tk * hk * d, "k"),
                                 v: try elements(a.v, tk * hk * dv, "v"),
                                 qDescale: descale(a.q_descale, descales), kDescale: descale(a.k_descale, descales),
                                 vDescale: descale(a.v_descale, descales),
                                 causal: a.causal != 0, softmaxScale: try softmaxScale(a.softmax_scale), numSplits: Int(a.num_splits),
                                 softcap: a.softcap)
    let base = FA3Schedule.fa3(element: e, headDim: d, valueHeadDim: dv, causal: a.causal != 0,
                               seqLenQ: maxQ > 0 ? Int(maxQ) : (0..<b).map { cuQ[$0 + 1] - cuQ[$0] }.max() ?? 0)
    let o = try FA3Forward.run(inputs, schedule: try adjusted(base, smCount: a.sm_count, settings: a.schedule), threads: Int(a.threads))
    store(o.o, out)
    store(o.lse, lse)
  }
}

/// Emulated attention of value inputs with a named scheme and algorithm (as `flashnum attention`):
/// `out` holds O's values (each a value of the scheme's output format). `rotation_seed` draws the
/// scheme's rotation when it is random (the `-hadamard` schemes); other schemes ignore it.
@_cdecl("fn_attention")
public func fn_attention(_ args: UnsafePointer<fn_attention_args>?, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
  CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    let r = try SchemeRun(a)
    guard let out else { throw CallError("null array") }
    let result = try r.scheme.run(r.inputs, rotationSeed: a.rotation_seed, algorithm: r.algorithm, options: r.options)
    store(result.o.values, out)
  }
}

/// The MPFR reference at `precision_bits` with its rigorous error bound (as `flashnum reference
/// --certify bound`): `out` holds the doubles nearest the working-precision outputs and
/// `certified_bits` the least number of correct leading bits over all outputs.
@_cdecl("fn_reference")
public func fn_reference(_ args: UnsafePointer<fn_attention_args>?, _ out: UnsafeMutablePointer<Double>?,
                         _ certifiedBits: UnsafeMutablePointer<Int32>?) -> Int32 {
  CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    let s = try Sizes(a.shape)
    let o = try attentionOptions(a)
    try o.validate(s.shape)
    try checkPrecision(a.precision_bits)
    guard let out else { throw CallError("null array") }
    let (output, bound) = try ReferenceAttention.bounded(try s.inputs(a.q, a.k, a.v), options: o, precision: Int(a.precision_bits),
                                                         threads: Int(a.threads))
    store(output.values, out)
    certifiedBits?.pointee = Int32(bound.certifiedBits)
  }
}

/// Throws unless `bits` is an MPFR precision the reference offers (24...8192).
func checkPrecision(_ bits: Int32) throws {
  guard ReferenceAttention.precisions.contains(Int(bits)) else { throw CallError("precision_bits must be in 24...8192, got \(bits)") }
}

/// Error metrics of `n` outputs against a reference, as a JSON object (`rmse`,
/// `relative_frobenius`, `max_abs`, `cosine`, `sqnr_db`, and with an output format name also
/// `max_ulp`, `mean_ulp`; numbers in shortest round-trip form, non-finite ones as strings
/// "inf", "-inf", "nan"). NULL on error. The caller frees it (`fn_free`).
@_cdecl("fn_metrics_json")
public func fn_metrics_json(_ n: Int64, _ output: UnsafePointer<Double>?, _ reference: UnsafePointer<Double>?,
                            _ formatName: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
  var json: String? = nil
  let status = CError.status {
    try checkCount(n, "count", limit: Int64(ResourceLimits.tensorElements))
    guard n == 0 || (output != nil && reference != nil) else { throw CallError("null array") }
    var f: NumberFormat? = nil
    if let name = text(formatName) {
      switch name {
      case "fp64": f = .fp64
      case "fp32": f = .fp32
      default: f = .low(try format(formatName), Rounding(.nearestEven, overflow: try format(formatName).naturalOverflow))
      }
    }
    json = metricsJSON(ErrorMetrics(output: Array(UnsafeBufferPointer(start: output, count: Int(n))),
                                    reference: Array(UnsafeBufferPointer(start: reference, count: Int(n))), format: f))
  }
  return status == 0 ? owned(json!) : nil
}

/// A number as JSON: shortest round-trip form, non-finite ones as the strings "inf", "-inf", "nan".
func jsonNumber(_ v: Double) -> String { v.isFinite ? "\(v)" : (v.isNaN ? "\"nan\"" : (v > 0 ? "\"inf\"" : "\"-inf\"")) }

/// The metrics as a JSON object: count, then every metric present.
func metricsJSON(_ m: ErrorMetrics) -> String {
  let fields = ErrorMetrics.names.compactMap { name in m[name].map { "\"\(name)\": " + jsonNumber($0) } }
  return "{" + (["\"count\": \(m.count)"] + fields).joined(separator: ", ") + "}"
}

/// Per-stage error attribution of a scheme (as `flashnum attention --attribute`): the metrics of
/// its output against the MPFR reference at `precision_bits`, and for each rounding stage of its
/// plan the RMSE with that stage made exact and its contribution, as a JSON object
/// `{"metrics": {…}, "attribution": [{"stage", "rmse_with_stage_exact", "contribution"}, …]}`.
/// NULL on error. The caller frees it (`fn_free`).
@_cdecl("fn_attribute_json")
public func fn_attribute_json(_ args: UnsafePointer<fn_attention_args>?) -> UnsafeMutablePointer<CChar>? {
  var json: String? = nil
  let status = CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    let r = try SchemeRun(a)
    try checkPrecision(a.precision_bits)
    let reference = try ReferenceAttention.compute(r.inputs, options: r.options, precision: Int(a.precision_bits), threads: Int(a.threads))
    let (total, entries) = try ErrorAttribution.run(r.inputs, scheme: r.scheme, algorithm: r.algorithm, options: r.options,
                                                    reference: reference, rotationSeed: a.rotation_seed)
    let stages = entries.map { e in
      "{\"stage\": \"\(e.stage.rawValue)\", \"rmse_with_stage_exact\": \(jsonNumber(e.rmseWithStageExact)), \"contribution\": \(jsonNumber(e.contribution))}"
    }
    json = "{\"metrics\": \(metricsJSON(total)), \"attribution\": [\(stages.joined(separator: ", "))]}"
  }
  return status == 0 ? owned(json!) : nil
}

/// The inputs of a crosscheck case (as `flashnum crosscheck --cases`): the codes (uint16 each)
/// and, for e4m3fn, the descales (batch × kv_heads; left untouched for bf16/fp16 and where NULL).
/// V has head dim `head_dim_v` (≤ 0: `head_dim`); `nan_codes` codes are set to NaN as the
/// case's key says.
@_cdecl("fn_fa3_case_inputs")
public func fn_fa3_case_inputs(_ args: UnsafePointer<fn_case_args>?, _ outputs: UnsafePointer<fn_case_outputs>?) -> Int32 {
  CError.status {
    guard let a = args?.pointee, let o = outputs?.pointee else { throw CallError("null arguments") }
    let e = try element(a.element)
    let s = try Sizes(a.shape.batch, a.shape.seqlen_q, a.shape.seqlen_k, a.shape.heads, a.shape.kv_heads, a.shape.head_dim)
    let dv = try valueHeadDim(a.shape)
    try ResourceLimits.checkTensor("V", [("batch", s.batch), ("seqlen_k", s.seqLenK), ("kv_heads", s.kvHeads), ("head_dim_v", dv)])
    try checkCount(a.nan_codes, "nan_codes", limit: 1_000_000)
    let c = FA3Case(element: e, headDim: s.headDim, seqLenQ: s.seqLenQ, seqLenK: s.seqLenK, batch: s.batch, heads: s.heads,
                    kvHeads: s.kvHeads, causal: a.causal != 0, distribution: text(a.distribution) ?? "sparse-outliers", hadamard: a.hadamard != 0,
                    seed: a.seed, nanCodes: Int(a.nan_codes), valueHeadDim: a.shape.head_dim_v > 0 ? dv : nil)
    guard let q = o.q, let k = o.k, let v = o.v else { throw CallError("null array") }
    let inputs = try c.inputs()
    for (src, dst) in [(inputs.q, q), (inputs.k, k), (inputs.v, v)] { store(src, dst) }
    for (src, dst) in [(inputs.qDescale, o.q_descale), (inputs.kDescale, o.k_descale), (inputs.vDescale, o.v_descale)] {
      if let src, let dst { store(src, dst) }
    }
  }
}

/// The FA3 paper's Table 3 on the emulator for one input seed and one rotation seed, both `seed`
/// (as `flashnum table paper-rmse --seeds S --rotation-seeds S --json`): the JSON array of rows the
/// command prints, one per method, each with its metrics and the paper's RMSE.
/// `reference_bits` 0 uses the FP64 pipeline as reference (uncertified), −1 the double-word one.
/// NULL on error. The caller frees it (`fn_free`).
@_cdecl("fn_table_paper_rmse_json")
public func fn_table_paper_rmse_json(_ args: UnsafePointer<fn_table_args>?) -> UnsafeMutablePointer<CChar>? {
  var json: String? = nil
  let status = CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    let s = try Sizes(a.batch, a.seq_len, a.seq_len, a.heads, a.heads, a.head_dim)
    try checkThreads(a.threads)
    guard a.reference_bits == 0 || a.reference_bits == -1 || ReferenceAttention.precisions.contains(Int(a.reference_bits)) else {
      throw CallError("reference_bits must be 0 (FP64 reference), -1 (double-word reference) or in 24...8192, got \(a.reference_bits)")
    }
    var c = PaperRMSETable.Configuration()
    (c.batch, c.seqLen, c.heads, c.headDim, c.seeds, c.rotationSeeds, c.threads) = (s.batch, s.seqLenQ, s.heads, s.headDim, [a.seed], [a.seed], Int(a.threads))
    if a.reference_bits == 0 { c.fp64Reference = true } else if a.reference_bits > 0 { c.referencePrecision = Int(a.reference_bits) }
    json = try PaperRMSETable.run(c).json()
  }
  return status == 0 ? owned(json!) : nil
}
