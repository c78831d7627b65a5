import Measurement
import Measurement
import Attention
import Foundation
import Reference

/// A baseline of pinned error metrics for quantization schemes, and the gate that fails when a
/// scheme gets worse than its pinned values.
///
/// Pinned values come from the code at the time of pinning (`flashnum regress --update`) and are
/// reviewed by a person: they record what a scheme did, not what it should do. A metric counts as
/// worse when `now > pinned · (1 + tolerance) + absoluteTolerance`.
public struct RegressionBaseline: Codable, Hashable, Sendable {
  /// What this baseline guards, for a reader.
  public var description: String
  /// Relative tolerance (0.01 = 1 %).
  public var tolerance: Double
  /// Absolute tolerance, in the metric's units (guards metrics pinned at or near zero).
  public var absoluteTolerance: Double
  /// Scheme files (``SchemeFile``) whose schemes the entries may name, relative to the baseline's
  /// folder.
  public var schemeFiles: [String]?
  public var entries: [Entry]
  /// Who pinned the values: the tool's version and commit and the scheme files' SHA-256
  /// (``Provenance``), written by `flashnum regress --update`.
  public var provenance: [String: String]?
  /// The schemes of ``schemeFiles``, by name (filled by ``load(_:)``).
  public var definedSchemes: [String: AttentionScheme] = [:]

  enum CodingKeys: String, CodingKey, CaseIterable {
    case description, tolerance, absoluteTolerance = "absolute_tolerance", schemeFiles = "scheme_files", provenance, entries
  }

  /// The provenance of values pinned now from the baseline file at `path`: ``Provenance/tool``
  /// and each scheme file with its SHA-256.
  public func provenanceNow(path: String) -> [String: String] {
    let files = (schemeFiles ?? []).map { (name: $0, path: SchemeFile.resolve($0, relativeTo: path)) }
    return Dictionary(uniqueKeysWithValues: Provenance.tool + Provenance.schemeFiles(files))
  }

  /// The scheme called `name`: shipped, or from the baseline's scheme files.
  public func scheme(named name: String) -> AttentionScheme? { AttentionScheme.named(name) ?? definedSchemes[name] }

  /// One scheme on one configuration, with its pinned metrics.
  public struct Entry: Codable, Hashable, Sendable {
    /// A shipped scheme name (``AttentionScheme/shipped``) or one of the baseline's scheme files.
    public var scheme: String
    /// An ``AlgorithmChoice`` name: `naive`, `blocked`, `blocked-hopper-tiles`, `fa3`, `blocked(BRxBC)`.
    public var algorithm: String
    public var seqLen: Int
    public var headDim: Int
    public var heads: Int
    public var causal: Bool
    /// `sparse-outliers` (the FA3 paper's outliers) or `gaussian`.
    public var distribution: String
    public var seed: UInt64
    /// Metric name (``RegressionBaseline/metricNames``) → pinned value.
    public var metrics: [String: Double]

    enum CodingKeys: String, CodingKey, CaseIterable {
      case scheme, algorithm, seqLen = "seq_len", headDim = "head_dim", heads, causal, distribution, seed, metrics
    }

    public init(scheme: String, algorithm: String, seqLen: Int, headDim: Int, heads: Int, causal: Bool,
                distribution: String, seed: UInt64, metrics: [String: Double]) {
      self.scheme = scheme
      self.algorithm = algorithm
      self.seqLen = seqLen
      self.headDim = headDim
      self.heads = heads
      self.causal = causal
      self.distribution = distribution
      self.seed = seed
      self.metrics = metrics
    }

    /// The configuration without the scheme, e.g. `N=256 d=64 h=1 sparse-outliers seed 0 blocked-hopper-tiles`.
    public var configuration: String {
      "N=\(seqLen) d=\(headDim) h=\(heads)\(causal ? " causal" : "") \(distribution) seed \(seed) \(algorithm)"
    }

    /// The entry as a measured point against an MPFR reference of `referenceBits` bits (the
    /// entry was validated: its scheme, algorithm and distribution exist).
    func point(referenceBits: Int, scheme: AttentionScheme) throws -> MeasuredPoint {
      guard let d = InputDistribution.bare[distribution] else { throw BaselineError("distribution '\(distribution)' is not sparse-outliers or gaussian") }
      let inputs = InputSpec(seqLen: seqLen, headDim: headDim, heads: heads, causal: causal, distribution: d, seed: seed)
      return MeasuredPoint(inputs: inputs, scheme: scheme, algorithm: try AlgorithmChoice(algorithm),
                           reference: .mpfr(bits: referenceBits))
    }
  }

  /// The metrics a baseline pins.
  public static let metricNames = ["rmse", "relative_frobenius", "max_abs"]

  /// Keys of the first baseline format and their names now.
  static let renamedKeys = [
    "absoluteTolerance": "absolute_tolerance", "seqLen": "seq_len", "headDim": "head_dim",
    "relativeFrobenius": "relative_frobenius", "maxAbs": "max_abs",
  ]

  /// Reads a baseline file; every problem is one line naming the file, the entry and the key.
  public static func load(_ path: String) throws -> RegressionBaseline {
    guard let data = FileManager.default.contents(atPath: path) else { throw BaselineError("\(path): cannot read") }
    try checkKeys(data, path)
    var baseline = try decodeJSONFile(RegressionBaseline.self, from: data, path: path, expected: "a baseline", error: BaselineError.init)
    for file in baseline.schemeFiles ?? [] {
      for s in try SchemeFile.load(file, relativeTo: path) {
        guard baseline.definedSchemes[s.name] == nil else { throw BaselineError("\(path): scheme_files: '\(s.name)' is defined twice") }
        baseline.definedSchemes[s.name] = s
      }
    }
    try baseline.validate(path)
    return baseline
  }

  /// Rejects unknown keys and the renamed keys of an old baseline (``FileKeys``).
  static func checkKeys(_ data: Data, _ path: String) throws {
    guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return }
    let entries = top["entries"] as? [[String: Any]] ?? []
    // An old baseline is named as a whole: every renamed key, wherever it stands.
    var all = Set(top.keys)
    for entry in entries { all.formUnion(entry.keys); all.formUnion((entry["metrics"] as? [String: Any] ?? [:]).keys) }
    do {
      try FileKeys.checkRenamed(all, renamed: renamedKeys, at: path)
      try FileKeys.check(top.keys, allowed: CodingKeys.allCases.map(\.stringValue), at: path)
      for (i, entry) in entries.enumerated() {
        try FileKeys.check(entry.keys, allowed: Entry.CodingKeys.allCases.map(\.stringValue), at: "\(path): entries[\(i)]")
      }
    } catch { throw BaselineError(error.description) }
  }

  func validate(_ path: String) throws {
    guard tolerance >= 0 && absoluteTolerance >= 0 else { throw BaselineError("\(path): tolerances must be ≥ 0") }
    guard !entries.isEmpty else { throw BaselineError("\(path): entries: the baseline has no entries, so it would guard nothing") }
    for (i, e) in entries.enumerated() {
      let at = "\(path): entries[\(i)]"
      guard let scheme = scheme(named: e.scheme) else {
        let known = AttentionScheme.shipped.map(\.name) + definedSchemes.keys.sorted()
        throw BaselineError("\(at).scheme: unknown scheme '\(e.scheme)' (known: \(known.joined(separator: ", ")); or add its file to scheme_files)")
      }
      do { try scheme.validate(headDim: e.headDim) } catch { throw BaselineError("\(at).scheme: \(error.description)") }
      do { _ = try AlgorithmChoice(e.algorithm) } catch { throw BaselineError("\(at).algorithm: \(error.description)") }
      guard InputDistribution.bare[e.distribution] != nil else {
        if let retired = RetiredName.message(e.distribution, in: RetiredName.distributions) { throw BaselineError("\(at).distribution: \(retired)") }
        throw BaselineError("\(at).distribution: '\(e.distribution)' is not sparse-outliers or gaussian")
      }
      guard e.seqLen >= 1, e.headDim >= 1, e.heads >= 1 else { throw BaselineError("\(at): seq_len, head_dim and heads must be positive") }
      do { try AttentionShape(seqLenQ: e.seqLen, headsQ: e.heads, headDim: e.headDim).validate() } catch {
        throw BaselineError("\(at): \(error.description)")
      }
      if let bad = e.metrics.keys.sorted().first(where: { !Self.metricNames.contains($0) }) {
        throw BaselineError("\(at).metrics: unknown metric '\(bad)' (known: \(Self.metricNames.joined(separator: ", ")))")
      }
      if let bad = e.metrics.first(where: { !($0.value.isFinite && $0.value >= 0) }) {
        throw BaselineError("\(at).metrics.\(bad.key): must be a finite value ≥ 0, got \(bad.value)")
      }
    }
  }
}

/// Runs a ``RegressionBaseline``.
public enum RegressionGate {
  /// One metric of one entry, pinned and now.
  public struct Row: Hashable, Sendable {
    public var scheme: String
    public var configuration: String
    public var metric: String
    public var pinned: Double
    public var now: Double
    public var worse: Bool
    /// (now − pinned) / pinned.
    public var change: Double { pinned > 0 ? (now - pinned) / pinned : (now > 0 ? .infinity : 0) }
  }

  /// Measures every entry (the MPFR reference, `referenceBits` bits, is shared by entries of the
  /// same configuration) and compares with the pinned values; `progress` gets one line per entry.
  public static func run(_ baseline: RegressionBaseline, referenceBits: Int = 64, threads: Int = 1,
                         progress: (String) -> Void = { _ in }) throws -> (rows: [Row], measured: RegressionBaseline) {
    var rows: [Row] = []
    var measured = baseline
    let cache = ReferenceCache()
    for (i, e) in baseline.entries.enumerated() {
      let point = try e.point(referenceBits: referenceBits, scheme: baseline.scheme(named: e.scheme)!)
      let (inputs, reference) = try cache.entry(for: point, threads: threads)
      let (metrics, _) = try point.measure(inputs, reference: reference, threads: threads)
      var now: [String: Double] = [:]
      for name in RegressionBaseline.metricNames { now[name] = metrics[name] }
      for name in RegressionBaseline.metricNames {
        guard let pinned = e.metrics[name], let value = now[name] else { continue }
        rows.append(Row(scheme: e.scheme, configuration: e.configuration, metric: name, pinned: pinned, now: value,
                        worse: value > pinned * (1 + baseline.tolerance) + baseline.absoluteTolerance))
      }
      measured.entries[i].metrics = now.filter { e.metrics.isEmpty || e.metrics[$0.key] != nil }
      progress("[\(i + 1)/\(baseline.entries.count)] \(e.scheme) \(e.configuration): RMSE \(String(format: "%.4e", metrics.rmse))")
    }
    return (rows, measured)
  }

  /// The rows that got worse, as a Markdown table (empty string when none did).
  public static func regressions(_ rows: [Row], tolerance: Double) -> String {
    let worse = rows.filter(\.worse)
    guard !worse.isEmpty else { return "" }
    var s = "| scheme | configuration | metric | pinned | now | change |\n|---|---|---|---|---|---|\n"
    for r in worse {
      s += String(format: "| %@ | %@ | %@ | %.4e | %.4e | %+.1f %% |\n", r.scheme, r.configuration, r.metric, r.pinned, r.now, 100 * r.change)
    }
    return s
  }

  /// The baseline as written by `--update`: keys in a stable order, values in shortest
  /// round-trip form (reading the file back gives the measured `Double`s).
  public static func encode(_ baseline: RegressionBaseline) -> Data {
    let entries = baseline.entries.map { e -> JSONText in
      .object([
        ("scheme", .string(e.scheme)), ("algorithm", .string(e.algorithm)), ("seq_len", .int(e.seqLen)),
        ("head_dim", .int(e.headDim)), ("heads", .int(e.heads)), ("causal", .bool(e.causal)),
        ("distribution", .string(e.distribution)), ("seed", .int(e.seed)),
        ("metrics", .object(e.metrics.sorted { $0.key < $1.key }.map { ($0.key, JSONText.double($0.value)) })),
      ])
    }
    let document = JSONText.object([
      ("description", .string(baseline.description)), ("tolerance", .double(baseline.tolerance)),
      ("absolute_tolerance", .double(baseline.absoluteTolerance)),
    ] + (baseline.schemeFiles.map { [("scheme_files", .array($0.map(JSONText.string)))] } ?? [])
      + (baseline.provenance.map { [("provenance", .object($0.sorted { $0.key < $1.key }.map { ($0.key, JSONText.string($0.value)) }))] } ?? [])
      + [("entries", .array(entries))])
    return Data(document.document.utf8)
  }
}
