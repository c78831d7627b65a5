import Attention
import Foundation
import LowPrecision
import Measurement
import NPY

/// A file of attention calls recorded from a PyTorch model by `flashnumerics.torch.capture`: a
/// safetensors file whose metadata key `flashnumerics` holds JSON `{"format":
/// "flashnumerics-capture-1", "status", "entries": [{"name", "call", "layer", "forward",
/// "is_causal", "scale", "enable_gqa", "mask", …}]}` and whose tensors `NAME.q`, `.k`, `.v`
/// (and `.mask`) are in SDPA's (batch, heads, seqlen, head_dim) layout.
///
/// Each entry becomes a ``CapturedInput`` with torch's semantics: `is_causal` is the top-left
/// causal mask, a boolean mask (BOOL/U8, nonzero attends) is the bias 0/−∞, a float mask is an
/// additive bias, both broadcast to (batch, heads, seqlen_q, seqlen_k); `scale` null is 1/√d.
public struct CapturedFile: Sendable {
  public struct Entry: Sendable, Equatable {
    public var name: String
    public var call: Int
    public var layer: Int
    public var isCausal: Bool
    public var scale: Double?
    public var hasMask: Bool
  }

  public static let format = "flashnumerics-capture-1"
  public var path: String
  /// "complete", or "interrupted" when the model raised inside the capture.
  public var status: String
  public var entries: [Entry]

  /// Reads the file's metadata and checks that every entry's tensors are there, whole (their
  /// values are read per entry by ``input(_:named:)``).
  public static func read(_ path: String) throws -> CapturedFile {
    let (meta, tensors) = try TensorFile.safetensorsIndex(path)
    guard let text = meta["flashnumerics"] else { throw TensorFileError("\(path): no flashnumerics capture metadata (write it with flashnumerics.torch.capture)") }
    guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
      throw TensorFileError("\(path): the capture metadata is not a JSON object")
    }
    guard let format = object["format"] as? String, format == Self.format else {
      throw TensorFileError("\(path): capture format \(String(describing: object["format"] ?? "none")), expected \(Self.format)")
    }
    guard let list = object["entries"] as? [[String: Any]] else { throw TensorFileError("\(path): the capture metadata has no entries list") }
    var entries: [Entry] = []
    var names = Set<String>()
    for (i, e) in list.enumerated() {
      guard let name = e["name"] as? String, !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }),
            let call = e["call"] as? Int, let layer = e["layer"] as? Int, let causal = e["is_causal"] as? Bool,
            let mask = e["mask"] as? Bool else {
        throw TensorFileError("\(path): entry \(i): expected name (letters, digits, _ -), call, layer, is_causal and mask")
      }
      guard names.insert(name).inserted else { throw TensorFileError("\(path): entry '\(name)' is listed twice") }
      var scale: Double? = nil
      if let s = e["scale"], !(s is NSNull) {
        guard let value = s as? Double, value.isFinite, value > 0 else { throw TensorFileError("\(path): entry \(name): scale must be null or a positive number") }
        scale = value
      }
      if causal && mask { throw TensorFileError("\(path): entry \(name): is_causal together with a mask (torch refuses that call)") }
      for part in ["q", "k", "v"] + (mask ? ["mask"] : []) where !tensors.contains("\(name).\(part)") {
        throw TensorFileError("\(path): entry \(name) lacks its tensor \(name).\(part)")
      }
      entries.append(Entry(name: name, call: call, layer: layer, isCausal: causal, scale: scale, hasMask: mask))
    }
    return CapturedFile(path: path, status: object["status"] as? String ?? "unknown", entries: entries)
  }

  /// The entries of `names` (all when `nil`; each must exist) of `layers` (all when `nil`).
  public func select(names: [String]?, layers: [Int]?) throws -> [Entry] {
    if let names {
      for n in names where !entries.contains(where: { $0.name == n }) {
        throw TensorFileError("\(path): no entry '\(n)' (holds \(entries.count): \(entries.prefix(8).map(\.name).joined(separator: ", "))\(entries.count > 8 ? ", …" : ""))")
      }
    }
    let chosen = entries.filter { e in (names?.contains(e.name) ?? true) && (layers?.contains(e.layer) ?? true) }
    guard !chosen.isEmpty else { throw TensorFileError("\(path): no entry matches the selection") }
    return chosen
  }

  /// The entry's values, mask and scale, named `file` in results (the path as given).
  public func input(_ entry: Entry, named file: String? = nil) throws -> CapturedInput {
    let tensors = try AttentionInputFiles.load(q: "\(path):\(entry.name).q", k: "\(path):\(entry.name).k", v: "\(path):\(entry.name).v",
                                               format: nil, layout: .bhsd)
    let operands = try tensors.operands()
    let inputs = AttentionInputs(q: operands.q, k: operands.k, v: operands.v)
    let shape = try inputs.shape()
    var options = AttentionOptions(mask: AttentionMask(causal: entry.isCausal, alignment: .topLeft), softmaxScale: entry.scale)
    var hash = FNV1a()
    for t in [tensors.q, tensors.k, tensors.v] { hash.add(t.values) }
    if entry.hasMask {
      let (bias, values) = try mask(entry, shape)
      options.bias = bias
      hash.add(values)
    }
    return try CapturedInput(file: file ?? path, entry: entry.name, layer: entry.layer, fingerprint: hash.hex, inputs: inputs, options: options)
  }

  /// The mask of `entry` as a bias over (batch, heads, seqlen_q, seqlen_k), broadcast by strides.
  func mask(_ entry: Entry, _ shape: AttentionShape) throws -> (AttentionBias, [Double]) {
    let spec = "\(path):\(entry.name).mask"
    let file = try TensorFile.read(spec)
    let a = file.array
    let full = [shape.batch, shape.headsQ, shape.seqLenQ, shape.seqLenK]
    guard a.shape.count <= 4 else { throw TensorFileError("\(spec): a mask has at most 4 dimensions, got shape \(a.shape)") }
    let dims = Array(repeating: 1, count: 4 - a.shape.count) + a.shape
    var strides = [Int](repeating: 0, count: 4)
    var step = 1
    for axis in (0..<4).reversed() {
      guard dims[axis] == full[axis] || dims[axis] == 1 else {
        throw TensorFileError("\(spec): shape \(a.shape) does not broadcast to (batch, heads, seqlen_q, seqlen_k) = \(full)")
      }
      strides[axis] = dims[axis] == 1 ? 0 : step
      step *= dims[axis]
    }
    let values: [Double]
    if a.dtype == .uint8 && file.format == nil {
      values = a.bytes.map { $0 != 0 ? 0 : -.infinity }
    } else if let v = try floatValues(a, file.format, spec) {
      guard v.allSatisfy({ !$0.isNaN && $0 != .infinity }) else { throw TensorFileError("\(spec): an additive mask takes finite values or -inf") }
      values = v
    } else {
      throw TensorFileError("\(spec): a mask must be boolean or floating point, got \(a.dtype)")
    }
    return (try AttentionBias(values: values, strides: strides), values)
  }
}

/// A float tensor's values: float16/32/64, or bf16/float8 codes decoded exactly; `nil` for others.
func floatValues(_ a: NPYArray, _ format: FloatFormat?, _ spec: String) throws -> [Double]? {
  if let v = a.values { return v }
  guard let format else { return nil }
  return try a.codes(of: format, path: spec).map { format.decode($0) }
}

