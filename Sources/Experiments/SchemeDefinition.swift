import Attention
import Foundation
import LowPrecision
import MatrixMultiply

/// A quantization scheme written as data: an entry of a scheme file (``SchemeFile``) or of an
/// experiment's `define_schemes`. Every key is optional but `name`; a key at the top applies to
/// Q, K and V, and the `q`, `k`, `v` mappings override it per tensor.
///
/// | key | values | default |
/// |---|---|---|
/// | `name` | a new name (no spaces or commas) | required |
/// | `summary` | one line | generated |
/// | `base` | a shipped scheme to start from | none: `format` and `plan` required |
/// | `format` | storage format: `e4m3fn`, `e5m2`, `e2m1`, `fp16`, `bf16`, … (`flashnum formats`), `fp32`, `fp64` | base's |
/// | `rounding` | `nearest-even`, `nearest-away`, `toward-zero`, `up`, `down`, `odd`, `stochastic` | `nearest-even` |
/// | `random_bits`, `seed` | stochastic rounding: random bits per rounding (1…32), seed of the stream | 8, 0 |
/// | `overflow` | `saturate`, `infinity`, `nan` | `saturate` for 8-bit formats, else `infinity` |
/// | `scaling` | `none`, `per-tensor`, `per-head`, `per-block`, `per-token`, `per-channel`, `mx`, `nvfp4` | base's, or `none` |
/// | `block_rows` | rows per scale for `per-block` | 128 |
/// | `mx_block`, `mx_rule` | head-dim elements per E8M0 scale; `floor`, `ceil`, `rceil`, `even` | 32, `rceil` |
/// | `scale_block` | head-dim elements per e4m3 scale for `nvfp4` | 16 |
/// | `scale_rule` | `amax` (FP32 scale) or `amax-pow2`; per-channel scales are always `amax-pow2`; not for `mx`, `nvfp4` | `amax` |
/// | `q`, `k`, `v` | a mapping of `format`, `rounding`, `random_bits`, `seed`, `overflow`, `scaling`, `block_rows`, `mx_block`, `mx_rule`, `scale_block`, `scale_rule` for that tensor | the top level's |
/// | `rotation` | `none`, `hadamard`, `random-hadamard`, `random-orthogonal`, a matrix file (`R.npy`), or `{kind, block, rotate: qk \| qkv, file, tolerance}` (``parseRotation(_:)``; ``Rotation``) | base's, or `none` |
/// | `incoherent_processing` | `true` is `rotation: random-hadamard` | — |
/// | `plan` | a preset (`fa3-fp8`, `baseline-fp8`, `flash-fp16`, `flash-bf16`, `standard-fp16`, `standard-bf16`, `fp32`, `fp64`) or a mapping (``parsePlan(_:base:)``) | base's |
/// | `probability_format`, `output_format` | a stage format (as in the plan mapping) | the plan's |
///
/// `per-channel` scales are powers of two (exact in the stored values); MX elements round to
/// nearest-even; stochastic rounding applies to the storage of Q, K and V (element i of a tensor
/// takes word i of the stream of its seed) and to P (`probability_format` with `rounding:
/// stochastic`, `random_bits`, `seed`); the other stages round deterministically.
enum SchemeDefinition {
  static let tensorKeys = ["format", "rounding", "random_bits", "seed", "overflow", "scaling", "block_rows", "mx_block",
                           "mx_rule", "scale_block", "scale_rule"]
  static let keys = ["name", "summary", "base", "q", "k", "v", "rotation", "incoherent_processing", "plan",
                     "probability_format", "output_format"] + tensorKeys
  static let plans: [String: PrecisionPlan] = [
    "fa3-fp8": .flashFP8, "baseline-fp8": AttentionScheme.baselineFP8Plan,
    "flash-fp16": .flash16(.fp16), "flash-bf16": .flash16(.bf16),
    "standard-fp16": AttentionScheme.standardPlan(.fp16), "standard-bf16": AttentionScheme.standardPlan(.bf16),
    "fp32": .fp32, "fp64": .fp64,
  ]
  static let scalings = ["none", "per-tensor", "per-head", "per-block", "per-token", "per-channel", "mx", "nvfp4"]
  static let modes: [String: RoundingMode] = Dictionary(uniqueKeysWithValues: RoundingMode.deterministic.map { ($0.name, $0) })

  static func parse(_ item: ConfigurationValue) throws -> AttentionScheme {
    let m = try item.mapping(allowed: keys)
    guard let nameValue = m["name"] else { throw item.error("missing key 'name'") }
    let name = try nameValue.string()
    guard !name.isEmpty, !name.contains(where: { $0 == "," || $0.isWhitespace || $0 == "#" }) else {
      throw nameValue.error("a scheme name has no spaces, commas or '#', got '\(name)'")
    }
    var base: AttentionScheme? = nil
    if let b = m["base"] {
      let n = try b.string()
      guard let s = AttentionScheme.named(n) else {
        throw b.error("unknown scheme '\(n)' (allowed: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
      }
      base = s
    }
    // Per tensor: the base's scheme, then the top-level keys, then the tensor's own mapping.
    var tensors: [QuantizationScheme] = []
    for (index, tensor) in ["q", "k", "v"].enumerated() {
      let own = try m[tensor]?.mapping(allowed: tensorKeys) ?? [:]
      var merged = m.filter { tensorKeys.contains($0.key) }
      // A tensor's own rounding replaces the top level's with its parameters.
      if own["rounding"] != nil { for key in ["random_bits", "seed"] where own[key] == nil { merged[key] = nil } }
      for (k, v) in own { merged[k] = v }
      let start = base.map { [$0.q, $0.k, $0.v][index] }
      guard start != nil || merged["format"] != nil else {
        throw (m[tensor] ?? item).error("missing key 'format' for \(tensor) (or give a 'base' scheme)")
      }
      var q = try parseTensor(merged, start: start)
      if !q.format.roundsStochastically { q.stochasticSeed = 0 }
      tensors.append(q)
    }

    var rotation = base?.rotation ?? .none
    if let v = m["incoherent_processing"] {
      if m["rotation"] != nil { throw v.error("give either 'rotation' or 'incoherent_processing'") }
      rotation = try v.bool() ? Rotation(.randomHadamard) : .none
    }
    if let r = m["rotation"] { rotation = try parseRotation(r) }

    var plan: PrecisionPlan
    if let p = m["plan"] {
      plan = try parsePlan(p, base: base?.plan)
    } else if let base {
      plan = base.plan
    } else { throw item.error("missing key 'plan' (allowed: \(plans.keys.sorted().joined(separator: ", ")), or a mapping)") }
    if let v = m["probability_format"] { try probabilityFormat(v, into: &plan) }
    if let v = m["output_format"] { plan.outputFormat = try stageFormat(v) }
    do { try plan.validate() } catch { throw (m["plan"] ?? item).error(error.description) }

    let precision: String
    switch tensors[0].format {
    case .fp64: precision = "fp64"
    case .fp32: precision = "fp32"
    case .low(let f, _): precision = f.bitWidth <= 8 ? "fp8" : f.name
    }
    func describe(_ t: QuantizationScheme) -> String { "\(t.format) \(t.granularity.name)" }
    let storage = Set(tensors.map(describe)).count == 1 ? "\(describe(tensors[0])) Q/K/V"
      : "Q \(describe(tensors[0])), K \(describe(tensors[1])), V \(describe(tensors[2]))"
    let summary = try m["summary"]?.string()
      ?? "defined as data: \(storage)\(rotation.isIdentity ? "" : ", " + rotation.summary); \(plan.summary)"
    return AttentionScheme(name: name, summary: summary, precision: precision, q: tensors[0], k: tensors[1], v: tensors[2],
                           rotation: rotation, plan: plan)
  }

  static let rotationKeys = ["kind", "block", "rotate", "file", "tolerance"]

  /// A rotation: a kind's name (`none`, `hadamard`, `random-hadamard`, `random-orthogonal`), the
  /// path of a `d × d` orthogonal matrix (a tensor file, relative to this file's folder), or a
  /// mapping `{kind, block, rotate: qk | qkv, file, tolerance}` (`kind: matrix` with `file`;
  /// `tolerance` bounds every entry of `M·Mᵀ − I`, default 1e-6).
  static func parseRotation(_ r: ConfigurationValue) throws -> Rotation {
    let kinds = Rotation.Kind.named.map(\.name)
    if r.node.scalar != nil {
      let text = try r.string()
      if let kind = Rotation.Kind.named.first(where: { $0.name == text }) { return Rotation(kind) }
      guard looksLikeFile(text) else {
        throw r.error("unknown rotation '\(text)' (allowed: \(kinds.joined(separator: ", ")), or the path of a d×d orthogonal matrix, e.g. R.npy)")
      }
      return Rotation(.matrix(try matrix(r, path: text, tolerance: defaultTolerance)))
    }
    let m = try r.mapping(allowed: rotationKeys)
    guard let kindValue = m["kind"] else { throw r.error("missing key 'kind' (allowed: \(kinds.joined(separator: ", ")), matrix)") }
    let kindName = try kindValue.choice(kinds + ["matrix"])
    var rotation = Rotation(Rotation.Kind.named.first { $0.name == kindName } ?? .none)
    if let t = m["rotate"] { rotation.target = Rotation.Target(rawValue: try t.choice(Rotation.Target.allCases.map(\.rawValue)))! }
    if kindName == "matrix" {
      guard let f = m["file"] else { throw r.error("kind matrix needs key 'file' (a d×d orthogonal matrix)") }
      if let b = m["block"] { throw b.error("a matrix rotation has no block (the matrix is the whole head dim)") }
      let tolerance = try m["tolerance"].map { (t) throws -> Double in
        let x = try t.double()
        guard x.isFinite, x >= 0, x < 1 else { throw t.error("must be in [0, 1), got \(x)") }
        return x
      } ?? defaultTolerance
      rotation.kind = .matrix(try matrix(f, path: try f.string(), tolerance: tolerance))
    } else {
      for key in ["file", "tolerance"] where m[key] != nil { throw m[key]!.error("applies to kind matrix only") }
      if let b = m["block"] {
        guard rotation.kind != .none else { throw b.error("kind none has no block") }
        let n = try b.int(1...4096)
        if rotation.kind != .randomOrthogonal, n & (n - 1) != 0 { throw b.error("a Hadamard block is a power of two, got \(n)") }
        rotation.block = n
      }
      if rotation.kind == .none, let t = m["rotate"] { throw t.error("kind none rotates nothing") }
    }
    return rotation
  }

  /// The largest matrix rotation, `d × d` (its orthogonality check takes d³ multiply-adds).
  static let largestMatrix = 1024

  /// Orthogonality tolerance of a matrix rotation unless the file gives one: float32 storage of
  /// an orthogonal matrix stays well within it, bf16 storage does not.
  static let defaultTolerance = 1e-6

  static func looksLikeFile(_ text: String) -> Bool {
    let path = TensorFile.split(text).0
    return path.hasSuffix(".npy") || path.hasSuffix(".npz") || path.hasSuffix(".safetensors")
  }

  /// The orthogonal matrix in the tensor file `path` (relative to the folder of the file `v` is in).
  static func matrix(_ v: ConfigurationValue, path: String, tolerance: Double) throws -> OrthogonalMatrix {
    let (file, key) = TensorFile.split(path)
    guard !file.isEmpty else { throw v.error("give the path of a d×d orthogonal matrix file") }
    let resolved = SchemeFile.resolve(file, relativeTo: v.file)
    // Checking orthogonality costs d³ operations: a file too large for the largest matrix is
    // refused before it is read.
    let largestBytes = largestMatrix * largestMatrix * 8 + (1 << 20)
    if let size = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.size] as? Int, size > largestBytes {
      throw v.error("\(path): \(size) bytes, more than a rotation matrix of at most \(largestMatrix)×\(largestMatrix) float64 values takes")
    }
    let tensor: TensorFile
    do { tensor = try TensorFile.read(resolved + (key.map { ":" + $0 } ?? "")) } catch { throw v.error("\(error)") }
    let a = tensor.array
    guard a.shape.count == 2, a.shape[0] == a.shape[1], a.shape[0] >= 1 else {
      throw v.error("\(path) must be a square d×d matrix, got shape (\(a.shape.map(String.init).joined(separator: ", ")))")
    }
    guard a.shape[0] <= largestMatrix else {
      throw v.error("\(path) is \(a.shape[0])×\(a.shape[0]); a rotation matrix is at most \(largestMatrix)×\(largestMatrix)")
    }
    guard tensor.format == nil, let values = a.float64 ?? a.float32?.map(Double.init) else {
      throw v.error("\(path) must hold float64 or float32 values, got \(a.dtype.rawValue)")
    }
    do { return try OrthogonalMatrix(size: a.shape[0], values: values, source: path, tolerance: tolerance) } catch {
      throw v.error(error.description)
    }
  }

  /// One tensor's quantization from the merged keys, starting from `start` (a base scheme's).
  static func parseTensor(_ m: [String: ConfigurationValue], start: QuantizationScheme?) throws -> QuantizationScheme {
    var format = start?.format ?? .fp32
    var granularity = start?.granularity ?? ScaleGranularity.none
    var rule = start?.scaleRule ?? .amax
    var seed = start?.stochasticSeed ?? 0
    if let f = m["format"] { format = try storageFormat(f, m) } else if m["rounding"] != nil || m["overflow"] != nil {
      guard case .low(let f, _) = format else { throw (m["rounding"] ?? m["overflow"]!).error("applies to an emulated storage format") }
      format = try rounded(f, m)
    }
    if let s = m["seed"] { seed = try s.uint64() }
    if let s = m["scaling"] {
      switch try s.choice(scalings) {
      case "none": granularity = .none
      case "per-tensor": granularity = .perTensor
      case "per-head": granularity = .perHead
      case "per-block": granularity = .perBlock(rows: 128)
      case "per-token": granularity = .perToken
      case "per-channel": granularity = .perChannel
      case "nvfp4": granularity = .twoLevel(blockSize: 16)
      default: granularity = .mx(blockSize: 32, rule: .rceil)
      }
    }
    if let v = m["block_rows"] {
      guard case .perBlock = granularity else { throw v.error("applies to scaling per-block only") }
      granularity = .perBlock(rows: try v.int(1...1_048_576))
    }
    for key in ["mx_block", "mx_rule"] where m[key] != nil {
      guard case .mx(let size, let r) = granularity else { throw m[key]!.error("applies to scaling mx only") }
      if key == "mx_block" { granularity = .mx(blockSize: try m[key]!.int(1...4096), rule: r) }
      else { granularity = .mx(blockSize: size, rule: MXScaleRule(rawValue: try m[key]!.choice(MXScaleRule.allCases.map(\.rawValue)))!) }
    }
    if let v = m["scale_block"] {
      guard case .twoLevel = granularity else { throw v.error("applies to scaling nvfp4 only") }
      granularity = .twoLevel(blockSize: try v.int(1...4096))
    }
    if let r = m["scale_rule"] {
      rule = ScaleRule(rawValue: try r.choice(ScaleRule.allCases.map(\.rawValue)))!
      switch granularity {
      case .perChannel where rule != .amaxPowerOfTwo: throw r.error("per-channel scales are powers of two (amax-pow2)")
      case .mx, .twoLevel: throw r.error("applies to the per-tensor, per-head, per-block, per-token and per-channel scalings (mx and nvfp4 have their own)")
      default: break
      }
    }
    let q = QuantizationScheme(format: format, granularity: granularity, scaleRule: rule, stochasticSeed: seed)
    if granularity != .none, format == .fp64 { throw (m["scaling"] ?? m["format"]!).error("scaling needs a storage format other than fp64") }
    return q
  }

  /// A storage format with the rounding keys of its mapping (8-bit formats saturate by default).
  static func storageFormat(_ v: ConfigurationValue, _ m: [String: ConfigurationValue]) throws -> NumberFormat {
    switch try v.string() {
    case "fp32", "fp64":
      if let bad = ["rounding", "random_bits", "overflow"].first(where: { m[$0] != nil }) {
        throw m[bad]!.error("applies to an emulated storage format, not \(try v.string())")
      }
      return try v.string() == "fp32" ? .fp32 : .fp64
    default:
      return try rounded(try named(v), m)
    }
  }

  static func rounded(_ f: FloatFormat, _ m: [String: ConfigurationValue]) throws -> NumberFormat {
    var mode = RoundingMode.nearestEven
    if let r = m["rounding"] {
      let name = try r.choice(RoundingMode.deterministic.map(\.name) + ["stochastic"])
      mode = name == "stochastic" ? .stochastic(randomBits: try m["random_bits"]?.int(1...32) ?? 8) : modes[name]!
    }
    if let b = m["random_bits"], RoundingMode.deterministic.contains(mode) {
      throw b.error("applies to rounding stochastic only")
    }
    var overflow: OverflowPolicy = f.bitWidth <= 8 || !f.hasInfinity ? .saturate : .infinity
    if let o = m["overflow"] { overflow = OverflowPolicy(rawValue: try o.choice(OverflowPolicy.allCases.map(\.rawValue)))! }
    let rounding = Rounding(mode, overflow: overflow)
    do { try f.validate(rounding) } catch { throw (m["overflow"] ?? m["rounding"] ?? m["format"]!).error(error.description) }
    return .low(f, rounding)
  }

  static func named(_ v: ConfigurationValue) throws -> FloatFormat {
    let n = try v.string()
    guard let f = FloatFormat.named(n) else {
      throw v.error("unknown format '\(n)' (allowed: \(FloatFormat.presets.map(\.name).joined(separator: ", ")), fp32, fp64)")
    }
    return f
  }

  /// A plan stage's format: a name (`fp32`, `fp64`, or a format rounded to nearest-even,
  /// saturating when it has no infinity) or a mapping `{format, rounding, overflow}`
  /// (deterministic modes only: of the plan's stages, only P rounds stochastically).
  static func stageFormat(_ v: ConfigurationValue) throws -> NumberFormat {
    if v.node.scalar != nil {
      switch try v.string() {
      case "fp32": return .fp32
      case "fp64": return .fp64
      default: return .rne(try named(v))
      }
    }
    let m = try v.mapping(allowed: ["format", "rounding", "overflow"])
    guard let f = m["format"] else { throw v.error("missing key 'format'") }
    if let r = m["rounding"], try r.string() == "stochastic" {
      throw r.error("this stage cannot round stochastically (stochastic rounding applies to Q, K, V and P)")
    }
    return try storageFormat(f, m)
  }

  /// P's format: a stage format, or `{format, rounding: stochastic, random_bits, seed}`.
  static func probabilityFormat(_ v: ConfigurationValue, into plan: inout PrecisionPlan) throws {
    guard v.node.mapping != nil, let r = v.node.mapping?["rounding"]?.string, r == "stochastic" else {
      plan.probabilityFormat = try stageFormat(v)
      return
    }
    let m = try v.mapping(allowed: ["format", "rounding", "random_bits", "overflow", "seed"])
    guard let f = m["format"] else { throw v.error("missing key 'format'") }
    plan.probabilityFormat = try storageFormat(f, m)
    plan.stochasticSeed = try m["seed"]?.uint64() ?? 0
  }

  static let planKeys = ["base", "score_accumulation", "score_format", "softmax_arithmetic", "softmax_scaling",
                         "probability_format", "probability_offset", "row_sum_of_rounded_p", "value_accumulation",
                         "normalization", "output_format"]

  /// A precision plan: a preset name, or a mapping of stage choices over a `base` preset (else the
  /// scheme's base plan, else `fp32`):
  /// `score_accumulation`/`value_accumulation` (`fp32-sequential`, `fp32-pairwise`, `fp32-exact`,
  /// `fp64`), `score_format`, `softmax_arithmetic`, `probability_format`, `output_format` (stage
  /// formats), `softmax_scaling` (`exp2-folded`, `scores`), `probability_offset` (−64…64),
  /// `row_sum_of_rounded_p` (bool), `normalization` (`reciprocal`, `divide`).
  static func parsePlan(_ v: ConfigurationValue, base: PrecisionPlan?) throws -> PrecisionPlan {
    if v.node.scalar != nil { return plans[try v.choice(plans.keys.sorted())]! }
    let m = try v.mapping(allowed: planKeys)
    var p = try m["base"].map { (b) throws -> PrecisionPlan in plans[try b.choice(plans.keys.sorted())]! } ?? base ?? .fp32
    func accumulation(_ key: String) throws -> Accumulation? {
      try m[key].map { (a) throws -> Accumulation in Accumulation(rawValue: try a.choice(Accumulation.allCases.map(\.rawValue)))! }
    }
    if let a = try accumulation("score_accumulation") { p.scoreAccumulation = a }
    if let a = try accumulation("value_accumulation") { p.valueAccumulation = a }
    if let f = m["score_format"] { p.scoreFormat = try stageFormat(f) }
    if let f = m["softmax_arithmetic"] { p.softmaxArithmetic = try stageFormat(f) }
    if let f = m["probability_format"] { try probabilityFormat(f, into: &p) }
    if let f = m["output_format"] { p.outputFormat = try stageFormat(f) }
    if let s = m["softmax_scaling"] { p.softmaxScaling = SoftmaxScaling(rawValue: try s.choice(SoftmaxScaling.allCases.map(\.rawValue)))! }
    if let n = m["normalization"] { p.normalization = Normalization(rawValue: try n.choice(Normalization.allCases.map(\.rawValue)))! }
    if let o = m["probability_offset"] { p.probabilityOffset = try o.int(-64...64) }
    if let r = m["row_sum_of_rounded_p"] { p.rowSumOfRoundedP = try r.bool() }
    return p
  }
}

/// A scheme file (YAML or JSON): one scheme mapping (``SchemeDefinition``), or `schemes:` with a
/// list of them. Names must not repeat a shipped scheme's or each other's. Errors name the file,
/// the line and the key.
public enum SchemeFile {
  /// The schemes of the file at `path`.
  public static func load(_ path: String, shippedNames: Bool = false) throws -> [AttentionScheme] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ExperimentFileError("\(path): cannot read the scheme file") }
    guard let text = String(data: data, encoding: .utf8) else { throw ExperimentFileError("\(path): not UTF-8 text") }
    return try parse(text, file: path, shippedNames: shippedNames)
  }

  /// The schemes of the scheme file at `path`, relative to the folder of `file` (an experiment or
  /// a baseline) unless absolute.
  public static func load(_ path: String, relativeTo file: String) throws -> [AttentionScheme] {
    try load(resolve(path, relativeTo: file))
  }

  /// `path` relative to the folder of `file` unless absolute.
  public static func resolve(_ path: String, relativeTo file: String) -> String {
    path.hasPrefix("/") ? path : ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
  }

  /// The schemes of `text`, the contents of `file`; `shippedNames` allows the names of shipped
  /// schemes (the files that define them, `schemes/`).
  public static func parse(_ text: String, file: String, shippedNames: Bool = false) throws -> [AttentionScheme] {
    let top = try ConfigurationValue.parse(text, file: file)
    let items: [ConfigurationValue]
    if top.node.mapping?.keys.contains(where: { $0.string == "schemes" }) == true {
      items = try top.mapping(allowed: ["schemes"])["schemes"]!.list()
    } else { items = [top] }
    var schemes: [AttentionScheme] = []
    for item in items {
      let s = try SchemeDefinition.parse(item)
      if (!shippedNames && AttentionScheme.named(s.name) != nil) || schemes.contains(where: { $0.name == s.name }) {
        throw item.error("scheme '\(s.name)' is already defined (shipped or earlier in the file)")
      }
      schemes.append(s)
    }
    return schemes
  }
}
