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
  public var entries: [Entry]

  /// One scheme on one configuration, with its pinned metrics.
  public struct Entry: Codable, Hashable, Sendable {
    /// A shipped scheme name (``AttentionScheme/shipped``).
    public var scheme: String
    /// `naive`, `blocked` (128 × 128 blocks) or `blocked-fa3` (FA3's tiles, reverse order).
    public var algorithm: String
    public var seqLen: Int
    public var headDim: Int
    public var heads: Int
    public var causal: Bool
    /// `fa3` (the paper's outliers) or `gaussian`.
    public var distribution: String
    public var seed: UInt64
    /// Metric name (`rmse`, `relativeFrobenius`, `maxAbs`) → pinned value.
    public var metrics: [String: Double]

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

    /// The configuration without the scheme, e.g. `N=256 d=64 h=1 fa3 seed 0 blocked-fa3`.
    public var configuration: String {
      "N=\(seqLen) d=\(headDim) h=\(heads)\(causal ? " causal" : "") \(distribution) seed \(seed) \(algorithm)"
    }
  }

  public static let metricNames = ["rmse", "relativeFrobenius", "maxAbs"]

  /// Reads a baseline file; every problem is one line naming the file, the entry and the key.
  public static func load(_ path: String) throws(AttentionError) -> RegressionBaseline {
    guard let data = FileManager.default.contents(atPath: path) else { throw AttentionError("\(path): cannot read") }
    let baseline = try decodeJSONFile(RegressionBaseline.self, from: data, path: path, expected: "a baseline")
    try checkKeys(data, path)
    try baseline.validate(path)
    return baseline
  }

  /// Rejects unknown keys (a typo must not be silently ignored).
  static func checkKeys(_ data: Data, _ path: String) throws(AttentionError) {
    guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return }
    let topKeys: Set = ["description", "tolerance", "absoluteTolerance", "entries"]
    let entryKeys: Set = ["scheme", "algorithm", "seqLen", "headDim", "heads", "causal", "distribution", "seed", "metrics"]
    if let bad = top.keys.sorted().first(where: { !topKeys.contains($0) }) {
      throw AttentionError("\(path): unknown key '\(bad)' (known: \(topKeys.sorted().joined(separator: ", ")))")
    }
    for (i, entry) in (top["entries"] as? [[String: Any]] ?? []).enumerated() {
      if let bad = entry.keys.sorted().first(where: { !entryKeys.contains($0) }) {
        throw AttentionError("\(path): entries[\(i)]: unknown key '\(bad)' (known: \(entryKeys.sorted().joined(separator: ", ")))")
      }
    }
  }

  func validate(_ path: String) throws(AttentionError) {
    guard tolerance >= 0 && absoluteTolerance >= 0 else { throw AttentionError("\(path): tolerances must be ≥ 0") }
    for (i, e) in entries.enumerated() {
      let at = "\(path): entries[\(i)]"
      guard AttentionScheme.named(e.scheme) != nil else {
        throw AttentionError("\(at).scheme: unknown scheme '\(e.scheme)' (known: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
      }
      guard ["naive", "blocked", "blocked-fa3"].contains(e.algorithm) else {
        throw AttentionError("\(at).algorithm: '\(e.algorithm)' is not naive, blocked or blocked-fa3")
      }
      guard ["fa3", "gaussian"].contains(e.distribution) else {
        throw AttentionError("\(at).distribution: '\(e.distribution)' is not fa3 or gaussian")
      }
      guard e.seqLen >= 1, e.headDim >= 1, e.heads >= 1 else { throw AttentionError("\(at): seqLen, headDim and heads must be positive") }
      if let bad = e.metrics.keys.sorted().first(where: { !Self.metricNames.contains($0) }) {
        throw AttentionError("\(at).metrics: unknown metric '\(bad)' (known: \(Self.metricNames.joined(separator: ", ")))")
      }
      if let bad = e.metrics.first(where: { !($0.value.isFinite && $0.value >= 0) }) {
        throw AttentionError("\(at).metrics.\(bad.key): must be a finite value ≥ 0, got \(bad.value)")
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
                         progress: (String) -> Void = { _ in }) throws(AttentionError) -> (rows: [Row], measured: RegressionBaseline) {
    var rows: [Row] = []
    var measured = baseline
    var references: [String: [Double]] = [:]
    for (i, e) in baseline.entries.enumerated() {
      let scheme = AttentionScheme.named(e.scheme)!
      let shape = AttentionShape(seqLenQ: e.seqLen, headsQ: e.heads, headDim: e.headDim)
      let inputs = AttentionInputs.generate(shape, e.distribution == "fa3" ? .fa3 : .gaussian(std: 1), seed: e.seed)
      let options = AttentionOptions(mask: AttentionMask(causal: e.causal), threads: threads)
      let key = "\(e.seqLen) \(e.headDim) \(e.heads) \(e.causal) \(e.distribution) \(e.seed)"
      let reference: [Double]
      if let r = references[key] { reference = r } else {
        reference = try ReferenceAttention.compute(inputs, options: options, precision: referenceBits, threads: threads).values
        references[key] = reference
      }
      let algorithm = scheme.emulatedAlgorithm(named: e.algorithm, headDim: e.headDim, causal: e.causal)
      let operands = try scheme.prepare(inputs, seed: e.seed)
      let output = try EmulatedAttention.run(operands, plan: scheme.plan, algorithm: algorithm, options: options)
      let metrics = ErrorMetrics(output: output.values, reference: reference)
      let now: [String: Double] = ["rmse": metrics.rmse, "relativeFrobenius": metrics.relativeFrobenius, "maxAbs": metrics.maxAbs]
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

  /// The encoded baseline (stable key order), for `--update`.
  public static func encode(_ baseline: RegressionBaseline) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(baseline) + Data("\n".utf8)
  }
}
