import Measurement
import NPY
import Attention
import Foundation

/// The bridge to the real FlashAttention-3 kernel: case directories of exact input bytes that
/// `Scripts/fa3_bridge.py` runs through `fa3_fwd_interface.flash_attn_func` on a CUDA machine.
///
/// A case directory holds `q.npy`, `k.npy`, `v.npy` (codes: uint16 for bf16/fp16, uint8 for
/// e4m3fn; (batch, seqlen, heads, headdim)), `{q,k,v}_descale.npy` (float32 (batch, kv_heads),
/// FP8 only) and `meta.json`; the script adds `o.npy` (uint16 output bits), `lse.npy` (float32
/// (batch, heads, seqlen_q)) and `kernel.json`.
public struct FA3Bridge: Sendable {
  /// The Python interpreter and the harness script.
  public var python: String
  public var script: String

  public init(python: String = "python3", script: String) {
    self.python = python
    self.script = script
  }

  /// Whether the kernel can run here: the device name, or why not (one line).
  public func check() -> Result<String, KernelBridgeError> {
    guard FileManager.default.fileExists(atPath: script) else { return .failure(KernelBridgeError("\(script) not found")) }
    switch Subprocess.run(python, [script, "--check"]) {
    case .success(let (status, output)):
      let line = output.split(separator: "\n").last.map(String.init) ?? ""
      return status == 0 ? .success(line) : .failure(KernelBridgeError(line.isEmpty ? "\(python) \(script) --check exited \(status)" : line))
    case .failure(let e): return .failure(e)
    }
  }

  /// Runs the kernel on every case directory (one Python process for all).
  public func run(_ directories: [String]) throws {
    switch Subprocess.run(python, [script] + directories, standardError: .pass) {
    case .success(let (status, output)):
      guard status == 0 else { throw KernelBridgeError("the FA3 bridge exited \(status): \(output.split(separator: "\n").last ?? "")") }
    case .failure(let e): throw e
    }
  }

  /// Writes one case's inputs.
  public static func write(_ inputs: FA3Inputs, to directory: String) throws {
    do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
      throw KernelBridgeError("\(directory): cannot create (\(error.localizedDescription))")
    }
    let (b, hq, hk, d) = (inputs.batch, inputs.heads, inputs.kvHeads, inputs.headDim)
    func codes(_ c: [UInt16], _ s: Int, _ h: Int, _ d: Int) -> NPYArray {
      inputs.element == .e4m3fn ? NPYArray(shape: [b, s, h, d], uint8: c.map { UInt8($0) }) : NPYArray(shape: [b, s, h, d], uint16: c)
    }
    try NPYFiles.write(codes(inputs.q, inputs.seqLenQ, hq, d), to: directory + "/q.npy")
    try NPYFiles.write(codes(inputs.k, inputs.seqLenK, hk, d), to: directory + "/k.npy")
    try NPYFiles.write(codes(inputs.v, inputs.seqLenK, hk, inputs.valueHeadDim), to: directory + "/v.npy")
    for (name, descale) in [("q", inputs.qDescale), ("k", inputs.kDescale), ("v", inputs.vDescale)] {
      let path = directory + "/\(name)_descale.npy"
      if let descale { try NPYFiles.write(NPYArray(shape: [b, hk], float32: descale), to: path) }
      else { try? FileManager.default.removeItem(atPath: path) }
    }
    let lensPath = directory + "/cache_seqlens.npy"
    if let lens = inputs.cacheSeqLens { try NPYFiles.write(NPYArray(shape: [b], int32: lens.map { Int32($0) }), to: lensPath) }
    else { try? FileManager.default.removeItem(atPath: lensPath) }
    let meta = JSONText.object([
      ("causal", .bool(inputs.causal)), ("element", .string(inputs.element.rawValue)), ("softmax_scale", .double(inputs.scale)),
      ("num_splits", .int(inputs.numSplits)),
    ] + (inputs.softcap != 0 ? [("softcap", .double(inputs.softcap))] : []))
    do { try Data(meta.document.utf8).write(to: URL(fileURLWithPath: directory + "/meta.json")) } catch { throw KernelBridgeError("\(directory)/meta.json: cannot write (\(error.localizedDescription))") }
  }

  /// The kernel's outputs in a case directory, checked against the inputs' shapes.
  public static func read(_ directory: String, for inputs: FA3Inputs) throws -> (output: FA3Output, deterministic: Bool?) {
    let o = try NPYFiles.read(directory + "/o.npy"), lse = try NPYFiles.read(directory + "/lse.npy")
    let oShape = [inputs.batch, inputs.seqLenQ, inputs.heads, inputs.valueHeadDim]
    let lseShape = [inputs.batch, inputs.heads, inputs.seqLenQ]
    guard o.shape == oShape, let oBits = o.uint16 else {
      throw KernelBridgeError("\(directory)/o.npy: expected uint16 \(oShape), got \(o.dtype) \(o.shape)")
    }
    guard lse.shape == lseShape, let l = lse.float32 else {
      throw KernelBridgeError("\(directory)/lse.npy: expected float32 \(lseShape), got \(lse.dtype) \(lse.shape)")
    }
    var deterministic: Bool?
    if let data = FileManager.default.contents(atPath: directory + "/kernel.json"),
       let info = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
      deterministic = info["deterministic"] as? Bool
    }
    return (FA3Output(o: oBits, lse: l), deterministic)
  }
}

extension FA3Bridge {
  /// Reads a case directory's inputs (the format ``write(_:to:)`` writes): codes, optional
  /// descales, optional `cache_seqlens.npy` (int32 or int64, (batch,): a KV-cache call), and
  /// `meta.json` (`element`: bf16, fp16 or e4m3fn; `causal`; optional `softmax_scale`; optional
  /// `num_splits`, default 1, or 0 with `cache_seqlens.npy`, as the kernel's two entry points;
  /// optional `softcap`, default 0).
  public static func readInputs(_ directory: String) throws -> FA3Inputs {
    guard let data = FileManager.default.contents(atPath: directory + "/meta.json"),
          let meta = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
      throw KernelBridgeError("\(directory)/meta.json: missing or not a JSON object")
    }
    do { try FileKeys.check(meta.keys, allowed: ["element", "causal", "softmax_scale", "num_splits", "softcap"], at: "\(directory)/meta.json") } catch {
      throw KernelBridgeError(error.description)
    }
    guard let name = meta["element"] as? String, let element = FA3Inputs.Element(rawValue: name) else {
      throw KernelBridgeError("\(directory)/meta.json: element must be one of bf16, fp16, e4m3fn")
    }
    let causal = meta["causal"] as? Bool ?? false
    let scale = meta["softmax_scale"] as? Double
    func optional(_ n: String) -> String? {
      let path = directory + "/\(n)_descale.npy"
      return FileManager.default.fileExists(atPath: path) ? path : nil
    }
    let files = try AttentionInputFiles.load(q: directory + "/q.npy", k: directory + "/k.npy", v: directory + "/v.npy",
                                             format: element.format, descales: (optional("q"), optional("k"), optional("v")))
    do throws {
      var inputs = try files.fa3Inputs(causal: causal, softmaxScale: scale)
      let lensPath = directory + "/cache_seqlens.npy"
      if FileManager.default.fileExists(atPath: lensPath) {
        inputs.cacheSeqLens = try NPYFiles.read(lensPath).perEntry("cache_seqlens", batch: inputs.batch, path: lensPath)
        inputs.numSplits = 0
      }
      if let n = meta["num_splits"] {
        guard let n = n as? Int else { throw KernelBridgeError("meta.json: num_splits must be an integer") }
        inputs.numSplits = n
      }
      if let c = meta["softcap"] {
        guard let c = c as? Double else { throw KernelBridgeError("meta.json: softcap must be a number") }
        inputs.softcap = c
      }
      try inputs.validate()
      return inputs
    } catch { throw KernelBridgeError("\(directory): \(error)") }
  }
}
