import Measurement
import Attention
import Foundation
import LowPrecision

/// An error-analysis experiment: a grid over schemes, algorithms, sizes, masks, input
/// distributions and seeds, read from a YAML or JSON file (keys below; every list may also be
/// given as a single value).
///
/// ```yaml
/// name: fp8-vs-seqlen                  # names the result files (letters, digits, - _ .)
/// description: FP8 schemes against sequence length
/// schemes: [bf16, fa3-fp8-per-head, fa3-fp8-per-head-hadamard, my-e5m2]
/// algorithms: [blocked-hopper-tiles]            # naive | blocked | blocked-hopper-tiles | fa3
/// seq_len: [256, 512, 1024]            # tokens (queries = keys)
/// head_dim: [128]
/// batch: [1]
/// heads: [1]
/// mask: [none, causal]
/// distributions:
///   - {kind: gaussian, std: 1}
///   - {kind: sparse-outliers, probability: 0.001, outlier_std: [10, 100]}   # lists expand the grid
/// seeds: [0, 1]                       # input seeds
/// rotation_seeds: [0, 1, 2, 3]         # seeds of random rotations, each run on every input seed
/// metrics: [rmse, relative_frobenius, max_abs, sqnr_db]                  # default: all
/// reference: {kind: mpfr, bits: 64}                                     # or {kind: fp64}
/// define_schemes:
///   - {name: my-e5m2, format: e5m2, scaling: per-block, block_rows: 64, plan: fa3-fp8}
/// scheme_files: [../schemes-extra/bf16q-fp8kv.yaml]                     # relative to this file
/// ```
///
/// Instead of the synthetic grid (`seq_len`, `head_dim`, `batch`, `heads`, `mask`,
/// `distributions`, `seeds`), `captured` takes the inputs from a file of a model's attention
/// calls (``CapturedFile``, written by `flashnumerics.torch.capture`), each call with its own
/// shape, mask and scale; the reference is computed from the captured values:
///
/// ```yaml
/// captured: {file: model.safetensors, layers: [0, 3], entries: [call0, call3]}   # both optional
/// ```
///
/// Schemes are shipped names, `define_schemes` entries, or the schemes of `scheme_files`
/// (``SchemeFile``; both use ``SchemeDefinition``'s keys).
///
/// Algorithms: `naive` (materialized softmax), `blocked` (FlashAttention-2 order, 128 × 128),
/// `blocked-hopper-tiles` (FA3's tiles and reverse key order on the scheme's plan), `fa3` (the bit-exact
/// FA3 kernel schedule; its numerics replace the scheme's plan, so it takes schemes whose
/// inputs the kernel accepts: plain bf16/fp16 casts, or e4m3fn with per-head or per-tensor
/// scales). Every point is measured against a reference of the unquantized inputs.
public struct Experiment: Sendable {
  public var name: String
  public var description: String
  public var schemes: [AttentionScheme]
  public var algorithms: [AlgorithmChoice]
  public var seqLens: [Int]
  public var headDims: [Int]
  public var batches: [Int]
  public var heads: [Int]
  public var causal: [Bool]
  public var distributions: [InputDistribution]
  public var seeds: [UInt64]
  /// Recorded inputs (the `captured` key); when not empty they replace the synthetic grid.
  public var captured: [CapturedInput] = []
  /// The capture file (resolved relative to the experiment file), kept in the provenance.
  public var capturedFile: String?
  /// Seeds of random rotations (`nil`: a point's rotation is drawn with its input seed). A scheme
  /// with a random rotation runs once per rotation seed; other schemes once.
  public var rotationSeeds: [UInt64]?
  public var metrics: [String]
  public var reference: ReferenceSpec
  /// The file's text, kept in every result's provenance.
  public var source: String
  /// FNV-1a (64-bit, hex) of `source`: results of another file are never mixed with these.
  public var fingerprint: String
  /// The scheme files the experiment read (`scheme_files`, resolved relative to its file).
  public var schemeFiles: [String] = []

  public static var metricNames: [String] { ErrorMetrics.names }
  public static let topKeys = ["name", "description", "schemes", "algorithms", "seq_len", "head_dim", "batch", "heads", "mask",
                        "distributions", "seeds", "rotation_seeds", "metrics", "reference", "define_schemes", "scheme_files",
                        "captured"]
  /// The keys of the synthetic grid, which `captured` replaces.
  static let gridKeys = ["seq_len", "head_dim", "batch", "heads", "mask", "distributions", "seeds"]

  /// Reads an experiment file (YAML, or JSON). Every problem is one line naming the file, the
  /// key and what is allowed.
  public static func load(_ path: String) throws -> Experiment {
    guard let data = FileManager.default.contents(atPath: path) else { throw ExperimentFileError("\(path): cannot read the experiment file") }
    guard let text = String(data: data, encoding: .utf8) else { throw ExperimentFileError("\(path): not UTF-8 text") }
    return try parse(text, file: path)
  }

  /// Parses the text of an experiment file called `file`.
  public static func parse(_ text: String, file: String) throws -> Experiment {
    let top = try ConfigurationValue.parse(text, file: file).mapping(allowed: topKeys)
    func required(_ key: String) throws -> ConfigurationValue {
      guard let v = top[key] else { throw ExperimentFileError("\(file): missing key '\(key)'") }
      return v
    }
    func ints(_ key: String, _ fallback: [Int]?, _ range: ClosedRange<Int>) throws -> [Int] {
      guard let v = top[key] else {
        if let fallback { return fallback }
        throw ExperimentFileError("\(file): missing key '\(key)'")
      }
      var out: [Int] = []
      for item in try v.list() { out.append(try item.int(range)) }
      return out
    }
    let name = try required("name").string()
    guard SweepResults.isValidName(name) else {
      throw try required("name").error("'\(name)' must be letters, digits, '-', '_' or '.' (it names the result files)")
    }
    var defined: [AttentionScheme] = []
    var schemeFiles: [String] = []
    if let list = top["define_schemes"] {
      for item in try list.list() {
        let scheme = try SchemeDefinition.parse(item)
        if AttentionScheme.named(scheme.name) != nil || defined.contains(where: { $0.name == scheme.name }) {
          throw item.error("scheme '\(scheme.name)' is already defined (shipped or earlier in the file)")
        }
        defined.append(scheme)
      }
    }
    if let list = top["scheme_files"] {
      for item in try list.list() {
        let path = try item.string()
        let schemes: [AttentionScheme]
        let resolved = SchemeFile.resolve(path, relativeTo: file)
        do { schemes = try SchemeFile.load(resolved) } catch { throw item.error("\(error)") }
        schemeFiles.append(resolved)
        for scheme in schemes {
          if defined.contains(where: { $0.name == scheme.name }) {
            throw item.error("scheme '\(scheme.name)' is already defined (in define_schemes or another scheme file)")
          }
          defined.append(scheme)
        }
      }
    }
    var schemes: [AttentionScheme] = []
    for item in try required("schemes").list() {
      let n = try item.string()
      guard let s = AttentionScheme.named(n) ?? defined.first(where: { $0.name == n }) else {
        let known = AttentionScheme.shipped.map(\.name) + defined.map(\.name)
        throw item.error("unknown scheme '\(n)' (allowed: \(known.joined(separator: ", ")); or define it under define_schemes or in scheme_files)")
      }
      schemes.append(s)
    }
    var algorithms: [AlgorithmChoice] = []
    for item in try (top["algorithms"] ?? ConfigurationValue(node: "blocked", file: file, path: "algorithms")).list() {
      let name = try item.string()
      do { algorithms.append(try AlgorithmChoice(name)) } catch { throw item.error("\(error)") }
    }
    let (captured, capturedFile) = try parseCaptured(top["captured"], file)
    if !captured.isEmpty, let key = gridKeys.first(where: { top[$0] != nil }) {
      throw ExperimentFileError("\(file): '\(key)' does not apply with 'captured' (the captured calls give the inputs)")
    }
    let synthetic = captured.isEmpty
    let seqLens = synthetic ? try ints("seq_len", nil, 1...1_048_576) : []
    let headDims = synthetic ? try ints("head_dim", nil, 1...4096) : Array(Set(captured.map(\.shape.headDim))).sorted()
    let batches = synthetic ? try ints("batch", [1], 1...4096) : []
    let heads = synthetic ? try ints("heads", [1], 1...4096) : []
    var causal: [Bool] = []
    var distributions: [InputDistribution] = []
    var seeds: [UInt64] = []
    if synthetic {
      for item in try (top["mask"] ?? ConfigurationValue(node: "none", file: file, path: "mask")).list() {
        causal.append(try item.choice(["none", "causal"]) == "causal")
      }
      for item in try required("distributions").list() { distributions += try parseDistribution(item) }
      for item in try (top["seeds"] ?? ConfigurationValue(node: "0", file: file, path: "seeds")).list() { seeds.append(try item.uint64()) }
    }
    var rotationSeeds: [UInt64]? = nil
    if let v = top["rotation_seeds"] {
      rotationSeeds = []
      for item in try v.list() { rotationSeeds!.append(try item.uint64()) }
    }
    var metrics = metricNames
    if let v = top["metrics"] {
      metrics = []
      for item in try v.list() { metrics.append(try item.choice(metricNames)) }
    }
    var reference = ReferenceSpec.mpfr(bits: 64)
    if let v = top["reference"] {
      let r = try v.mapping(allowed: ["kind", "bits"])
      guard let kind = r["kind"] else { throw v.error("missing key 'kind' (mpfr, double-word or fp64)") }
      let choice = try kind.choice(["mpfr", "double-word", "fp64"])
      if choice == "mpfr" {
        reference = .mpfr(bits: try r["bits"]?.int(24...4096) ?? 64)
      } else {
        if let b = r["bits"] { throw b.error("bits applies to kind mpfr only") }
        reference = choice == "fp64" ? .fp64 : .doubleWord
      }
    }
    if reference != .fp64, let c = captured.first(where: { !($0.options.bias?.isBoolean ?? true) }) {
      throw ExperimentFileError("\(file): captured: \(c.name) has an additive (float) mask, which the certified \(reference.name) reference does not take; "
                           + "use reference: {kind: fp64}")
    }
    // A value listed twice would give grid points with one key (run twice, or mistaken for done).
    func distinct<T: Hashable>(_ key: String, _ values: [T], _ show: (T) -> String) throws {
      var seen = Set<T>()
      if let twice = values.first(where: { !seen.insert($0).inserted }) {
        throw ExperimentFileError("\(file): \(key): '\(show(twice))' is listed twice")
      }
    }
    try distinct("schemes", schemes.map(\.name)) { $0 }
    try distinct("algorithms", algorithms.map(\.description)) { $0 }
    try distinct("seq_len", seqLens) { "\($0)" }
    try distinct("head_dim", headDims) { "\($0)" }
    try distinct("batch", batches) { "\($0)" }
    try distinct("heads", heads) { "\($0)" }
    try distinct("mask", causal) { $0 ? "causal" : "none" }
    try distinct("distributions", distributions.map(\.name)) { $0 }
    try distinct("seeds", seeds) { "\($0)" }
    try distinct("rotation_seeds", rotationSeeds ?? []) { "\($0)" }
    try distinct("metrics", metrics) { $0 }
    var experiment = Experiment(
      name: name, description: try top["description"]?.string() ?? "", schemes: schemes, algorithms: algorithms,
      seqLens: seqLens, headDims: headDims, batches: batches, heads: heads, causal: causal, distributions: distributions,
      seeds: seeds, rotationSeeds: rotationSeeds, metrics: metrics, reference: reference, source: text, fingerprint: fnv1aHex(Data(text.utf8)))
    experiment.schemeFiles = schemeFiles
    experiment.captured = captured
    experiment.capturedFile = capturedFile
    try experiment.checkCombinations(file)
    return experiment
  }

  /// The inputs of a `captured` mapping (`file`, optional `entries` and `layers`), read now; none
  /// without the key.
  static func parseCaptured(_ value: ConfigurationValue?, _ file: String) throws -> ([CapturedInput], String?) {
    guard let value else { return ([], nil) }
    let m = try value.mapping(allowed: ["file", "entries", "layers"])
    guard let f = m["file"] else { throw value.error("missing key 'file' (a capture written by flashnumerics.torch.capture)") }
    let given = try f.string()
    let path = SchemeFile.resolve(given, relativeTo: file)
    var names: [String]? = nil
    if let e = m["entries"] { names = []; for item in try e.list() { names!.append(try item.string()) } }
    var layers: [Int]? = nil
    if let l = m["layers"] { layers = []; for item in try l.list() { layers!.append(try item.int(0...1 << 31)) } }
    do {
      let capture = try CapturedFile.read(path)
      var inputs: [CapturedInput] = []
      for entry in try capture.select(names: names, layers: layers) { inputs.append(try capture.input(entry, named: given)) }
      return (inputs, path)
    } catch { throw f.error("\(error)") }
  }

  /// The distributions of one `distributions` entry: a name (`gaussian`, `sparse-outliers`) or a
  /// mapping with `kind` and parameters, any of which may be a list (each value a grid point). A
  /// name files used before `fa3` came to name the kernel only is refused with the new name.
  static func parseDistribution(_ item: ConfigurationValue) throws -> [InputDistribution] {
    func refuseRenamed(_ v: ConfigurationValue) throws {
      if let name = try? v.string(), let message = RetiredName.message(name, in: RetiredName.distributions) { throw v.error(message) }
    }
    if item.node.scalar != nil {
      try refuseRenamed(item)
      return [InputDistribution.bare[try item.choice(InputDistribution.bare.keys.sorted())]!]
    }
    let kinds: [String: [String]] = [
      "gaussian": ["std"], "sparse-outliers": ["probability", "outlier_std"],
      "channel-outliers": ["channels", "factor"], "attention-sinks": ["keys", "strength"],
    ]
    let m = try item.mapping(allowed: ["kind", "std", "probability", "outlier_std", "channels", "factor", "keys", "strength"])
    guard let kindValue = m["kind"] else { throw item.error("missing key 'kind' (allowed: \(kinds.keys.sorted().joined(separator: ", ")))") }
    try refuseRenamed(kindValue)
    let kind = try kindValue.choice(kinds.keys.sorted())
    if let bad = m.keys.sorted().first(where: { $0 != "kind" && !kinds[kind]!.contains($0) }) {
      throw m[bad]!.error("not a parameter of \(kind) (allowed: \(kinds[kind]!.joined(separator: ", ")))")
    }
    func doubles(_ key: String, _ fallback: Double, _ ok: (Double) -> Bool, _ what: String) throws -> [Double] {
      guard let v = m[key] else { return [fallback] }
      var out: [Double] = []
      for x in try v.list() {
        let d = try x.double()
        guard ok(d) else { throw x.error("\(d): must be \(what)") }
        out.append(d)
      }
      return out
    }
    func counts(_ key: String, _ fallback: Int) throws -> [Int] {
      guard let v = m[key] else { return [fallback] }
      var out: [Int] = []
      for x in try v.list() { out.append(try x.int(0...1_048_576)) }
      return out
    }
    switch kind {
    case "gaussian":
      return try doubles("std", 1, { $0 > 0 }, "> 0").map { .gaussian(std: $0) }
    case "sparse-outliers":
      let ps = try doubles("probability", 0.001, { (0...1).contains($0) }, "in [0, 1]")
      let stds = try doubles("outlier_std", 10, { $0 >= 0 }, "≥ 0")
      return ps.flatMap { p in stds.map { .sparseOutliers(probability: p, outlierStd: $0) } }
    case "channel-outliers":
      let cs = try counts("channels", 4)
      let fs = try doubles("factor", 10, { $0 > 0 }, "> 0")
      return cs.flatMap { c in fs.map { .channelOutliers(channels: c, factor: $0) } }
    default:
      let ks = try counts("keys", 1)
      let ss = try doubles("strength", 10, { _ in true }, "finite")
      return ks.flatMap { k in ss.map { .attentionSinks(keys: k, strength: $0) } }
    }
  }

  /// Rejects grid combinations that cannot run (checked for every point before anything runs).
  func checkCombinations(_ file: String) throws {
    guard let count = pointCount, count <= ResourceLimits.gridPoints else {
      let factors = [seqLens.count, headDims.count, batches.count, heads.count, causal.count, distributions.count, seeds.count,
                     schemes.count, rotationSeeds?.count ?? 1, algorithms.count]
      throw ExperimentFileError("\(file): the grid has \(factors.map(String.init).joined(separator: " × ")) points, more than the limit of "
                           + "\(ResourceLimits.gridPoints) (\(ResourceLimits.gridPointsVariable)); split it into several experiments")
    }
    // Tensor sizes grow with every size: the largest of each gives the largest tensor.
    if captured.isEmpty {
      let largest = AttentionShape(batch: batches.max()!, seqLenQ: seqLens.max()!, headsQ: heads.max()!, headDim: headDims.max()!)
      do { try largest.validate() } catch { throw ExperimentFileError("\(file): sizes: \(error.description)") }
    }
    for scheme in schemes {
      for d in headDims {
        do { try scheme.validate(headDim: d) } catch {
          throw ExperimentFileError("\(file): schemes: '\(scheme.name)' cannot run head_dim \(d): \(error.description)")
        }
      }
      if algorithms.contains(.fa3Kernel) {
        do { _ = try FA3Inputs.Element(scheme: scheme) } catch {
          throw ExperimentFileError("\(file): algorithms: fa3 cannot run scheme '\(scheme.name)': \(error.description)")
        }
        let element = try! FA3Inputs.Element(scheme: scheme)
        for d in headDims {
          do { try FA3Inputs.checkHeadDim(d, element: element) } catch { throw ExperimentFileError("\(file): head_dim: \(error.description)") }
        }
      }
    }
  }

  /// The number of grid points (`nil` when it overflows `Int`), known before ``points`` builds them.
  public var pointCount: Int? {
    let random = schemes.filter(\.rotation.isRandom).count
    guard let perInput = ResourceLimits.product([schemes.count - random + random * (rotationSeeds?.count ?? 1), algorithms.count]) else { return nil }
    if !captured.isEmpty { return ResourceLimits.product([captured.count, perInput]) }
    return ResourceLimits.product([seqLens.count, headDims.count, batches.count, heads.count, causal.count, distributions.count,
                                   seeds.count, perInput])
  }

  /// The rotation seeds a scheme runs with: ``rotationSeeds`` for a random rotation, else one
  /// run with none.
  func rotationSeeds(for scheme: AttentionScheme) -> [UInt64?] {
    guard scheme.rotation.isRandom, let r = rotationSeeds else { return [nil] }
    return r
  }

  /// Every point of the grid, in a fixed order: inputs (sizes, mask, distribution, seed)
  /// outermost, then schemes, their rotation seeds, then algorithms, so points that share
  /// inputs (and their reference) are adjacent.
  public var points: [ExperimentPoint] {
    var out: [ExperimentPoint] = []
    for c in captured { for s in schemes { for r in rotationSeeds(for: s) { for a in algorithms {
      out.append(ExperimentPoint(index: out.count, point: MeasuredPoint(inputs: InputSpec(captured: c), scheme: s, algorithm: a,
                                                                        reference: reference, rotationSeed: r)))
    } } } }
    for n in seqLens { for d in headDims { for b in batches { for h in heads { for c in causal {
      for dist in distributions { for seed in seeds { for s in schemes { for r in rotationSeeds(for: s) { for a in algorithms {
        let inputs = InputSpec(seqLen: n, headDim: d, batch: b, heads: h, causal: c, distribution: dist, seed: seed)
        out.append(ExperimentPoint(index: out.count,
                                   point: MeasuredPoint(inputs: inputs, scheme: s, algorithm: a, reference: reference, rotationSeed: r)))
      } } } } }
    } } } } }
    return out
  }
}

/// FNV-1a (64-bit) of `data`, as 16 hex digits: a fingerprint, not a cryptographic hash.
func fnv1aHex(_ data: Data) -> String {
  var h = FNV1a()
  h.add(bytes: data)
  return h.hex
}

/// FNV-1a (64-bit), fed incrementally.
struct FNV1a {
  var state: UInt64 = 0xCBF2_9CE4_8422_2325
  mutating func add<S: Sequence>(bytes: S) where S.Element == UInt8 {
    for byte in bytes { state = (state ^ UInt64(byte)) &* 0x100_0000_01B3 }
  }
  /// The little-endian bytes of each value's bit pattern.
  mutating func add(_ values: [Double]) {
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { add(bytes: $0) } }
  }
  var hex: String { String(format: "%016llx", state) }
}
