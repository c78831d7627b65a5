import Attention
import LowPrecision
import Measurement
import Reference

// Attention through the C ABI: the FA3 kernel's twin, the emulated schemes, the MPFR reference,
// error metrics, and the inputs of a crosscheck case. Tensors are C-order arrays: Q (batch,
// seqlen_q, heads, head_dim), K and V (batch, seqlen_k, kv_heads, head_dim), O like Q, LSE (batch,
// heads, seqlen_q). A softmax scale of NaN means the default 1/√head_dim; a window side < 0
// means unbounded.

struct Sizes {
  var batch: Int, seqLenQ: Int, seqLenK: Int, heads: Int, kvHeads: Int, headDim: Int

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

func options(causal: Int32, windowLeft: Int64, windowRight: Int64, softmaxScale: Double, threads: Int32) throws -> AttentionOptions {
  try checkThreads(threads)
  let scale: Double? = softmaxScale.isNaN ? nil : softmaxScale
  if let scale { try AttentionOptions.checkSoftmaxScale(scale) }
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

  init(_ scheme: UnsafePointer<CChar>?, _ algorithm: UnsafePointer<CChar>?, _ s: Sizes, _ q: UnsafePointer<Double>?,
       _ k: UnsafePointer<Double>?, _ v: UnsafePointer<Double>?, _ options: AttentionOptions) throws {
    let name = text(scheme) ?? ""
    guard let chosen = AttentionScheme.named(name) else {
      throw CallError("unknown scheme '\(name)' (known: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
    }
    let choice = try AlgorithmChoice(text(algorithm) ?? "blocked")
    try options.mask.validate()
    self.scheme = chosen
    self.options = options
    self.inputs = try s.inputs(q, k, v)
    self.algorithm = try choice.resolve(for: chosen, headDim: s.headDim, causal: options.mask.causal, seqLenQ: s.seqLenQ)
  }
}

/// The FlashAttention-3 forward kernel, bit for bit: bf16/fp16 bit patterns or e4m3fn bytes (in
/// uint16s) in, `out` as bf16 (fp16 for fp16 inputs) bit patterns and `lse` (natural log, float32)
/// out. V and O have head dim `head_dim_v` (≤ 0: `head_dim`; unequal pairs as the kernel builds them).
/// Descales (float32, batch × kv_heads) apply to e4m3fn and may be NULL (1). `softcap` > 0 caps
/// the scores (softcap·tanh(score·scale/softcap), MUFU.TANH), 0 is off. `num_splits`
/// is the kernel's (1: none, 0: its heuristic); `cache_seqlens` (int32, batch; NULL: all keys)
/// makes K and V caches of which entry b uses its first `cache_seqlens[b]` keys, as
/// `flash_attn_with_kvcache`; `sm_count` is the GPU's SM count the split heuristics read;
/// `schedule` (NULL or "": the kernel's) changes schedule parameters, "NAME=VALUE;NAME=VALUE"
/// (`FA3Schedule.parameterNames`, as `--fa3-set`).
@_cdecl("fn_flash_attn")
public func fn_flash_attn(_ element: UnsafePointer<CChar>?, _ batch: Int64, _ seqLenQ: Int64, _ seqLenK: Int64, _ heads: Int64,
                          _ kvHeads: Int64, _ headDim: Int64, _ headDimV: Int64, _ q: UnsafePointer<UInt16>?,
                          _ k: UnsafePointer<UInt16>?, _ v: UnsafePointer<UInt16>?, _ qDescale: UnsafePointer<Float>?,
                          _ kDescale: UnsafePointer<Float>?, _ vDescale: UnsafePointer<Float>?, _ causal: Int32,
                          _ softmaxScale: Double, _ softcap: Double, _ numSplits: Int32,
                          _ cacheSeqLens: UnsafePointer<Int32>?, _ smCount: Int32, _ schedule: UnsafePointer<CChar>?, _ threads: Int32,
                          _ out: UnsafeMutablePointer<UInt16>?, _ lse: UnsafeMutablePointer<Float>?) -> Int32 {
  CError.status {
    let name = text(element) ?? ""
    guard let e = FA3Inputs.Element(rawValue: name) else { throw CallError("unknown element '\(name)' (known: bf16, fp16, e4m3fn)") }
    let s = try Sizes(batch, seqLenQ, seqLenK, heads, kvHeads, headDim)
    let dv = headDimV <= 0 ? s.headDim : Int(headDimV)
    try checkCount(Int64(dv), "head_dim_v", limit: 512)
    try checkThreads(threads)
    guard let q, let k, let v, let out, let lse else { throw CallError("null array") }
    let vCount = s.batch * s.seqLenK * s.kvHeads * dv
    let descales = s.batch * s.kvHeads
    func descale(_ p: UnsafePointer<Float>?) -> [Float]? { p.map { Array(UnsafeBufferPointer(start: $0, count: descales)) } }
    let inputs = FA3Inputs(element: e, batch: s.batch, seqLenQ: s.seqLenQ, seqLenK: s.seqLenK, heads: s.heads, kvHeads: s.kvHeads,
                           headDim: s.headDim, q: Array(UnsafeBufferPointer(start: q, count: s.qCount)),
                           k: Array(UnsafeBufferPointer(start: k, count: s.kCount)), v: Array(UnsafeBufferPointer(start: v, count: vCount)),
                           qDescale: descale(qDescale), kDescale: descale(kDescale), vDescale: descale(vDescale),
                           causal: causal != 0, softmaxScale: softmaxScale.isNaN ? nil : softmaxScale, numSplits: Int(numSplits),
                           cacheSeqLens: cacheSeqLens.map { UnsafeBufferPointer(start: $0, count: s.batch).map(Int.init) }, valueHeadDim: dv,
                           softcap: softcap)
    if let scale = inputs.softmaxScale { try AttentionOptions.checkSoftmaxScale(scale) }
    let o = try FA3Forward.run(inputs, schedule: try adjusted(FA3Schedule.fa3(for: inputs), smCount: smCount, settings: schedule),
                               threads: Int(threads))
    o.o.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
    o.lse.withUnsafeBufferPointer { lse.update(from: $0.baseAddress!, count: $0.count) }
  }
}

/// The kernel's varlen form (`flash_attn_varlen_func`), bit for bit: Q (total_q, heads,
/// head_dim), K (total_k, kv_heads, head_dim), V (total_k, kv_heads, head_dim_v) codes with
/// `cu_seqlens_q`/`cu_seqlens_k` (int32, batch + 1); `max_seqlen_q`/`max_seqlen_k` 0 mean the
/// longest sequence. `out` (total_q, heads, head_dim_v) bits, `lse` (heads, total_q).
@_cdecl("fn_flash_attn_varlen")
public func fn_flash_attn_varlen(_ element: UnsafePointer<CChar>?, _ batch: Int64, _ totalQ: Int64, _ totalK: Int64, _ heads: Int64,
                                 _ kvHeads: Int64, _ headDim: Int64, _ headDimV: Int64, _ cuSeqLensQ: UnsafePointer<Int32>?,
                                 _ cuSeqLensK: UnsafePointer<Int32>?, _ maxSeqLenQ: Int64, _ maxSeqLenK: Int64,
                                 _ q: UnsafePointer<UInt16>?, _ k: UnsafePointer<UInt16>?, _ v: UnsafePointer<UInt16>?,
                                 _ qDescale: UnsafePointer<Float>?, _ kDescale: UnsafePointer<Float>?, _ vDescale: UnsafePointer<Float>?,
                                 _ causal: Int32, _ softmaxScale: Double, _ softcap: Double, _ numSplits: Int32, _ smCount: Int32,
                                 _ schedule: UnsafePointer<CChar>?, _ threads: Int32,
                                 _ out: UnsafeMutablePointer<UInt16>?, _ lse: UnsafeMutablePointer<Float>?) -> Int32 {
  CError.status {
    let name = text(element) ?? ""
    guard let e = FA3Inputs.Element(rawValue: name) else { throw CallError("unknown element '\(name)' (known: bf16, fp16, e4m3fn)") }
    let limit = Int64(ResourceLimits.tensorElements)
    for (v, s) in [(batch, "batch"), (totalQ, "total_q"), (totalK, "total_k"), (heads, "heads"), (kvHeads, "kv_heads"),
                   (maxSeqLenQ, "max_seqlen_q"), (maxSeqLenK, "max_seqlen_k")] {
      try checkCount(v, s, limit: limit)
    }
    try checkCount(headDim, "head_dim", limit: 256)
    let dv = headDimV <= 0 ? Int(headDim) : Int(headDimV)
    try checkCount(Int64(dv), "head_dim_v", limit: 512)
    try checkThreads(threads)
    let (b, tq, tk, h, hk, d) = (Int(batch), Int(totalQ), Int(totalK), Int(heads), Int(kvHeads), Int(headDim))
    for (count, what) in [(tq * h * max(d, dv), "Q and O"), (tk * hk * max(d, dv), "K and V")] {
      try checkCount(Int64(count), what, limit: limit)
    }
    guard let cuSeqLensQ, let cuSeqLensK, let q, let k, let v, let out, let lse else { throw CallError("null array") }
    let descales = b * hk
    func descale(_ p: UnsafePointer<Float>?) -> [Float]? { p.map { Array(UnsafeBufferPointer(start: $0, count: descales)) } }
    let cuQ = UnsafeBufferPointer(start: cuSeqLensQ, count: b + 1).map(Int.init)
    let cuK = UnsafeBufferPointer(start: cuSeqLensK, count: b + 1).map(Int.init)
    guard cuQ.last == tq, cuK.last == tk else {
      throw CallError("cu_seqlens_q[-1] and cu_seqlens_k[-1] must be total_q (\(tq)) and total_k (\(tk)), got \(cuQ.last ?? 0) and \(cuK.last ?? 0)")
    }
    let inputs = FA3VarlenInputs(element: e, cuSeqLensQ: cuQ, cuSeqLensK: cuK, maxSeqLenQ: maxSeqLenQ > 0 ? Int(maxSeqLenQ) : nil,
                                 maxSeqLenK: maxSeqLenK > 0 ? Int(maxSeqLenK) : nil, heads: h, kvHeads: hk, headDim: d, valueHeadDim: dv,
                                 q: Array(UnsafeBufferPointer(start: q, count: tq * h * d)),
                                 k: Array(UnsafeBufferPointer(start: k, count: tk * hk * d)),
                                 v: Array(UnsafeBufferPointer(start: v, count: tk * hk * dv)),
                                 qDescale: descale(qDescale), kDescale: descale(kDescale), vDescale: descale(vDescale),
                                 causal: causal != 0, softmaxScale: softmaxScale.isNaN ? nil : softmaxScale, numSplits: Int(numSplits),
                                 softcap: softcap)
    if let scale = inputs.softmaxScale { try AttentionOptions.checkSoftmaxScale(scale) }
    let base = FA3Schedule.fa3(element: e, headDim: d, valueHeadDim: dv, causal: causal != 0,
                               seqLenQ: maxSeqLenQ > 0 ? Int(maxSeqLenQ) : (0..<b).map { cuQ[$0 + 1] - cuQ[$0] }.max() ?? 0)
    let o = try FA3Forward.run(inputs, schedule: try adjusted(base, smCount: smCount, settings: schedule), threads: Int(threads))
    o.o.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
    o.lse.withUnsafeBufferPointer { lse.update(from: $0.baseAddress!, count: $0.count) }
  }
}

/// Emulated attention of value inputs with a named scheme and algorithm (as `flashnum attention`):
/// `out` holds O's values (each a value of the scheme's output format). `rotation_seed` draws the
/// scheme's rotation when it is random (the `-hadamard` schemes); other schemes ignore it.
@_cdecl("fn_attention")
public func fn_attention(_ scheme: UnsafePointer<CChar>?, _ algorithm: UnsafePointer<CChar>?, _ batch: Int64, _ seqLenQ: Int64,
                         _ seqLenK: Int64, _ heads: Int64, _ kvHeads: Int64, _ headDim: Int64, _ q: UnsafePointer<Double>?,
                         _ k: UnsafePointer<Double>?, _ v: UnsafePointer<Double>?, _ causal: Int32, _ windowLeft: Int64,
                         _ windowRight: Int64, _ softmaxScale: Double, _ seed: UInt64, _ threads: Int32,
                         _ out: UnsafeMutablePointer<Double>?) -> Int32 {
  CError.status {
    let r = try SchemeRun(scheme, algorithm, Sizes(batch, seqLenQ, seqLenK, heads, kvHeads, headDim), q, k, v,
                          try options(causal: causal, windowLeft: windowLeft, windowRight: windowRight, softmaxScale: softmaxScale, threads: threads))
    guard let out else { throw CallError("null array") }
    let result = try r.scheme.run(r.inputs, rotationSeed: seed, algorithm: r.algorithm, options: r.options)
    result.o.values.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
  }
}

/// The MPFR reference at `precision_bits` with its rigorous error bound (as `flashnum reference
/// --certify bound`): `out` holds the doubles nearest the working-precision outputs and
/// `certified_bits` the least number of correct leading bits over all outputs.
@_cdecl("fn_reference")
public func fn_reference(_ batch: Int64, _ seqLenQ: Int64, _ seqLenK: Int64, _ heads: Int64, _ kvHeads: Int64, _ headDim: Int64,
                         _ q: UnsafePointer<Double>?, _ k: UnsafePointer<Double>?, _ v: UnsafePointer<Double>?, _ causal: Int32,
                         _ windowLeft: Int64, _ windowRight: Int64, _ softmaxScale: Double, _ precisionBits: Int32, _ threads: Int32,
                         _ out: UnsafeMutablePointer<Double>?, _ certifiedBits: UnsafeMutablePointer<Int32>?) -> Int32 {
  CError.status {
    let s = try Sizes(batch, seqLenQ, seqLenK, heads, kvHeads, headDim)
    let o = try options(causal: causal, windowLeft: windowLeft, windowRight: windowRight, softmaxScale: softmaxScale, threads: threads)
    try o.mask.validate()
    guard ReferenceAttention.precisions.contains(Int(precisionBits)) else {
      throw CallError("precision_bits must be in 24...8192, got \(precisionBits)")
    }
    guard let out else { throw CallError("null array") }
    let (output, bound) = try ReferenceAttention.bounded(try s.inputs(q, k, v), options: o, precision: Int(precisionBits), threads: Int(threads))
    output.values.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
    certifiedBits?.pointee = Int32(bound.certifiedBits)
  }
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
    try checkCount(n, "n", limit: Int64(ResourceLimits.tensorElements))
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
public func fn_attribute_json(_ scheme: UnsafePointer<CChar>?, _ algorithm: UnsafePointer<CChar>?, _ batch: Int64, _ seqLenQ: Int64,
                              _ seqLenK: Int64, _ heads: Int64, _ kvHeads: Int64, _ headDim: Int64, _ q: UnsafePointer<Double>?,
                              _ k: UnsafePointer<Double>?, _ v: UnsafePointer<Double>?, _ causal: Int32, _ windowLeft: Int64,
                              _ windowRight: Int64, _ softmaxScale: Double, _ seed: UInt64, _ precisionBits: Int32,
                              _ threads: Int32) -> UnsafeMutablePointer<CChar>? {
  var json: String? = nil
  let status = CError.status {
    let r = try SchemeRun(scheme, algorithm, Sizes(batch, seqLenQ, seqLenK, heads, kvHeads, headDim), q, k, v,
                          try options(causal: causal, windowLeft: windowLeft, windowRight: windowRight, softmaxScale: softmaxScale, threads: threads))
    guard ReferenceAttention.precisions.contains(Int(precisionBits)) else {
      throw CallError("precision_bits must be in 24...8192, got \(precisionBits)")
    }
    let reference = try ReferenceAttention.compute(r.inputs, options: r.options, precision: Int(precisionBits), threads: Int(threads))
    let (total, entries) = try ErrorAttribution.run(r.inputs, scheme: r.scheme, algorithm: r.algorithm, options: r.options,
                                                    reference: reference, rotationSeed: seed)
    let stages = entries.map { e in
      "{\"stage\": \"\(e.stage.rawValue)\", \"rmse_with_stage_exact\": \(jsonNumber(e.rmseWithStageExact)), \"contribution\": \(jsonNumber(e.contribution))}"
    }
    json = "{\"metrics\": \(metricsJSON(total)), \"attribution\": [\(stages.joined(separator: ", "))]}"
  }
  return status == 0 ? owned(json!) : nil
}

/// The inputs of a crosscheck case (as `flashnum crosscheck --cases`): the codes (uint16 each)
/// and, for e4m3fn, the descales (batch × kv_heads; left untouched for bf16/fp16). V has head dim
/// `head_dim_v` (≤ 0: `head_dim`); `nan_codes` codes are set to NaN as the case's key says.
@_cdecl("fn_fa3_case_inputs")
public func fn_fa3_case_inputs(_ element: UnsafePointer<CChar>?, _ headDim: Int64, _ headDimV: Int64, _ seqLenQ: Int64, _ seqLenK: Int64,
                               _ batch: Int64, _ heads: Int64, _ kvHeads: Int64, _ causal: Int32, _ distribution: UnsafePointer<CChar>?,
                               _ hadamard: Int32, _ seed: UInt64, _ nanCodes: Int64, _ q: UnsafeMutablePointer<UInt16>?,
                               _ k: UnsafeMutablePointer<UInt16>?, _ v: UnsafeMutablePointer<UInt16>?,
                               _ qDescale: UnsafeMutablePointer<Float>?, _ kDescale: UnsafeMutablePointer<Float>?,
                               _ vDescale: UnsafeMutablePointer<Float>?) -> Int32 {
  CError.status {
    let name = text(element) ?? ""
    guard let e = FA3Inputs.Element(rawValue: name) else { throw CallError("unknown element '\(name)' (known: bf16, fp16, e4m3fn)") }
    let s = try Sizes(batch, seqLenQ, seqLenK, heads, kvHeads, headDim)
    try checkCount(max(headDimV, 0), "head_dim_v", limit: 512)
    try checkCount(nanCodes, "nan_codes", limit: 1_000_000)
    let c = FA3Case(element: e, headDim: s.headDim, seqLenQ: s.seqLenQ, seqLenK: s.seqLenK, batch: s.batch, heads: s.heads,
                    kvHeads: s.kvHeads, causal: causal != 0, distribution: text(distribution) ?? "fa3", hadamard: hadamard != 0, seed: seed,
                    nanCodes: Int(nanCodes), valueHeadDim: headDimV > 0 ? Int(headDimV) : nil)
    guard let q, let k, let v else { throw CallError("null array") }
    let inputs = try c.inputs()
    for (src, dst) in [(inputs.q, q), (inputs.k, k), (inputs.v, v)] { src.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: $0.count) } }
    for (src, dst) in [(inputs.qDescale, qDescale), (inputs.kDescale, kDescale), (inputs.vDescale, vDescale)] {
      if let src, let dst { src.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: $0.count) } }
    }
  }
}

/// The FA3 paper's Table 3 on the emulator for one input seed and one rotation seed, both `seed`
/// (as `flashnum table fa3 --seeds S --rotation-seeds S --json`): the JSON array of rows the
/// command prints, one per method, each with its metrics and the paper's RMSE.
/// `reference_bits` 0 uses the FP64 pipeline as reference (uncertified). NULL on error. The
/// caller frees it (`fn_free`).
@_cdecl("fn_table_fa3_json")
public func fn_table_fa3_json(_ batch: Int64, _ seqLen: Int64, _ heads: Int64, _ headDim: Int64, _ seed: UInt64,
                              _ referenceBits: Int32, _ threads: Int32) -> UnsafeMutablePointer<CChar>? {
  var json: String? = nil
  let status = CError.status {
    let s = try Sizes(batch, seqLen, seqLen, heads, heads, headDim)
    try checkThreads(threads)
    guard referenceBits == 0 || referenceBits == -1 || ReferenceAttention.precisions.contains(Int(referenceBits)) else {
      throw CallError("reference_bits must be 0 (FP64 reference), -1 (double-word reference) or in 24...8192, got \(referenceBits)")
    }
    var c = FA3Table.Configuration()
    (c.batch, c.seqLen, c.heads, c.headDim, c.seeds, c.rotationSeeds, c.threads) = (s.batch, s.seqLenQ, s.heads, s.headDim, [seed], [seed], Int(threads))
    if referenceBits == 0 { c.fp64Reference = true } else if referenceBits > 0 { c.referencePrecision = Int(referenceBits) }
    json = try FA3Table.run(c).json()
  }
  return status == 0 ? owned(json!) : nil
}
