import CFlashNumericsABI

// The layout of the C ABI's structs as this library was compiled from flashnumerics.h: a binding
// that builds its own view of the structs (Python reads the header) checks it against this.

/// One struct: its name, size and, per field, the offset (from the compiler) and the Swift type
/// the field was imported as (`Int32`, `Optional<UnsafePointer<UInt16>>`, `fn_shape`, …).
struct StructLayout {
  var name: String, size: Int, fields: [(name: String, offset: Int, type: String)]

  init<T>(_ name: String, _ type: T.Type, _ fields: [(String, PartialKeyPath<T>)]) {
    self.name = name
    size = MemoryLayout<T>.size
    self.fields = fields.map { ($0.0, MemoryLayout<T>.offset(of: $0.1)!, String(describing: Swift.type(of: $0.1).valueType)) }
  }

  var json: String {
    let f = fields.map { "\"\($0.name)\": {\"offset\": \($0.offset), \"type\": \"\($0.type)\"}" }
    return "\"\(name)\": {\"size\": \(size), \"fields\": {" + f.joined(separator: ", ") + "}}"
  }
}

let abiLayouts: [StructLayout] = [
  StructLayout("fn_limits", fn_limits.self, [("tensor_elements", \.tensor_elements), ("grid_points", \.grid_points)]),
  StructLayout("fn_encode_args", fn_encode_args.self, [
    ("format", \.format), ("rounding", \.rounding), ("overflow", \.overflow), ("seed", \.seed), ("random_bits", \.random_bits),
    ("value_bits", \.value_bits), ("values", \.values), ("count", \.count), ("code_bits", \.code_bits), ("threads", \.threads),
  ]),
  StructLayout("fn_mma_args", fn_mma_args.self, [
    ("instruction", \.instruction), ("tiles", \.tiles), ("m", \.m), ("n", \.n), ("k", \.k), ("a", \.a), ("b", \.b), ("c", \.c),
  ]),
  StructLayout("fn_shape", fn_shape.self, [
    ("batch", \.batch), ("seqlen_q", \.seqlen_q), ("seqlen_k", \.seqlen_k), ("heads", \.heads), ("kv_heads", \.kv_heads),
    ("head_dim", \.head_dim), ("head_dim_v", \.head_dim_v),
  ]),
  StructLayout("fn_kernel_args", fn_kernel_args.self, [
    ("element", \.element), ("shape", \.shape), ("q", \.q), ("k", \.k), ("v", \.v), ("q_descale", \.q_descale),
    ("k_descale", \.k_descale), ("v_descale", \.v_descale), ("causal", \.causal), ("softmax_scale", \.softmax_scale),
    ("softcap", \.softcap), ("num_splits", \.num_splits), ("cache_seqlens", \.cache_seqlens), ("cu_seqlens_q", \.cu_seqlens_q),
    ("cu_seqlens_k", \.cu_seqlens_k), ("max_seqlen_q", \.max_seqlen_q), ("max_seqlen_k", \.max_seqlen_k), ("sm_count", \.sm_count),
    ("schedule", \.schedule), ("threads", \.threads),
  ]),
  StructLayout("fn_attention_args", fn_attention_args.self, [
    ("scheme", \.scheme), ("algorithm", \.algorithm), ("shape", \.shape), ("q", \.q), ("k", \.k), ("v", \.v), ("causal", \.causal),
    ("window_left", \.window_left), ("window_right", \.window_right), ("top_left", \.top_left), ("bias", \.bias),
    ("bias_count", \.bias_count), ("bias_stride_batch", \.bias_stride_batch), ("bias_stride_head", \.bias_stride_head),
    ("bias_stride_query", \.bias_stride_query), ("bias_stride_key", \.bias_stride_key), ("softmax_scale", \.softmax_scale),
    ("rotation_seed", \.rotation_seed), ("precision_bits", \.precision_bits), ("threads", \.threads),
  ]),
  StructLayout("fn_case_args", fn_case_args.self, [
    ("element", \.element), ("shape", \.shape), ("causal", \.causal), ("distribution", \.distribution), ("hadamard", \.hadamard),
    ("seed", \.seed), ("nan_codes", \.nan_codes),
  ]),
  StructLayout("fn_case_outputs", fn_case_outputs.self, [
    ("q", \.q), ("k", \.k), ("v", \.v), ("q_descale", \.q_descale), ("k_descale", \.k_descale), ("v_descale", \.v_descale),
  ]),
  StructLayout("fn_table_args", fn_table_args.self, [
    ("batch", \.batch), ("seq_len", \.seq_len), ("heads", \.heads), ("head_dim", \.head_dim), ("seed", \.seed),
    ("reference_bits", \.reference_bits), ("threads", \.threads),
  ]),
]

/// The layout of every struct of flashnumerics.h as JSON: `{"NAME": {"size": S, "fields":
/// {"FIELD": {"offset": O, "type": "SWIFT TYPE"}, …}}, …}`. The caller frees it (`fn_free`).
@_cdecl("fn_abi_layout_json")
public func fn_abi_layout_json() -> UnsafeMutablePointer<CChar> {
  owned("{" + abiLayouts.map(\.json).joined(separator: ", ") + "}")
}
