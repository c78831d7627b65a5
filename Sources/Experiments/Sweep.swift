import Measurement
import Attention
import Foundation

/// Runs an experiment's grid (or one shard of it), writing each result as it completes.
///
/// - Files: `DIR/NAME.csv` and `DIR/NAME.json` (`NAME.shard-I-of-N.*` for a shard); see
///   ``SweepResults`` for the layout.
/// - Resume and extend: points whose key (``MeasuredPoint/key``: scheme definition, algorithm,
///   inputs, reference) is already in the CSV are skipped, so a rerun after an interrupt
///   finishes the grid, and a grid grown by seeds, sizes, schemes or any other value computes
///   only its new points. Results for points the experiment no longer has (a value removed, a
///   scheme redefined) are an error unless `fresh`: nothing is dropped silently. An interrupt
///   loses at most the point in flight.
/// - Shards: `shard = (i, n)` (1 ≤ i ≤ n) takes the input configurations whose position among
///   the grid's distinct configurations is ≡ i − 1 (mod n), with all their schemes and
///   algorithms, so each reference is computed by one shard only.
/// - Threads: each point uses `threads` workers (reference and emulation); results do not
///   depend on the count.
public struct Sweep {
  public var experiment: Experiment
  public var directory: String
  public var shard: (index: Int, count: Int)?
  public var threads: Int
  /// Provenance entries from the caller (tool version, git commit, command line).
  public var provenance: [(String, String)]

  public init(experiment: Experiment, directory: String, shard: (index: Int, count: Int)? = nil, threads: Int,
              provenance: [(String, String)] = []) {
    self.experiment = experiment
    self.directory = directory
    self.shard = shard
    self.threads = threads
    self.provenance = provenance
  }

  /// What a progress report carries.
  public struct Progress: Sendable {
    /// Points finished (including those found finished) and the shard's total.
    public var done: Int
    public var total: Int
    /// Seconds since this run started.
    public var elapsed: Double
    /// Estimated seconds left (cost-weighted by N²·d·heads·batch), `nil` until a point ran.
    public var remaining: Double?
    public var row: SweepRow
  }

  /// The file name without extension.
  public var fileName: String {
    shard.map { "\(experiment.name).shard-\($0.index)-of-\($0.count)" } ?? experiment.name
  }

  public var paths: (csv: String, json: String) { SweepResults.paths(directory: directory, name: fileName) }

  /// The points of this shard, in grid order.
  public var points: [ExperimentPoint] {
    let all = experiment.points
    guard let shard else { return all }
    var group: [String: Int] = [:]
    return all.filter { p in
      let g = group[p.inputKey] ?? { let n = group.count; group[p.inputKey] = n; return n }()
      return g % shard.count == shard.index - 1
    }
  }

  /// The provenance written with results of `shardPoints` points.
  func fullProvenance(shardPoints: Int) -> [(String, String)] {
    var p = provenance
    p += [
      ("experiment_name", experiment.name), ("experiment_description", experiment.description),
      ("experiment_fingerprint", experiment.fingerprint), ("grid_points", "\(experiment.points.count)"),
      ("shard", shard.map { "\($0.index)/\($0.count)" } ?? "all"), ("shard_points", "\(shardPoints)"),
      ("reference", experiment.reference.name), ("threads", "\(threads)"),
    ]
    p += MachineDescription.current.entries
    p.append(("started", ISO8601DateFormatter().string(from: Date())))
    return p
  }

  /// Runs the points not yet in the results; returns all results (found and new). The results
  /// set is locked for the whole run (``ResultsLock``): a second sweep of the same set throws at
  /// once. Rows found twice in the CSV (a file written by two runs at once before the lock existed,
  /// or edited by hand) keep their first occurrence, and `note` says how many were dropped.
  /// `started` is called once the results are checked and opened, before the first point.
  public func run(fresh: Bool = false, started: () -> Void = {}, progress: (Progress) -> Void = { _ in },
                  note: (String) -> Void = { _ in }) throws -> SweepResults {
    let (csvPath, jsonPath) = paths
    do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
      throw ResultsError("\(directory): cannot create the results directory (\(error.localizedDescription))")
    }
    let lock = try ResultsLock(directory: directory, name: fileName)
    defer { withExtendedLifetime(lock) {} }
    let points = self.points
    var results = SweepResults(provenance: fullProvenance(shardPoints: points.count), experimentText: experiment.source,
                               metrics: experiment.metrics, rows: [])
    if !fresh && FileManager.default.fileExists(atPath: csvPath) {
      let found = try SweepResults.readCSV(csvPath)
      // A shard keeps results of the whole grid (a grown grid can move points between shards);
      // kept rows take their position in this grid.
      var position: [String: Int] = [:]
      for p in shard == nil ? points : experiment.points { position[p.key] = p.index }
      let stale = found.rows.filter { position[$0.key] == nil }
      if let first = stale.first {
        let why = first.key.split(separator: " ").first?.contains("#") == true ? "a value removed or a scheme defined differently"
          : "written by an older flashnum, whose keys lack the scheme's definition fingerprint"
        throw ResultsError("\(csvPath): holds \(stale.count) results for points this experiment does not have (e.g. '\(first.key)': "
                             + "\(why)); put them back, move the results away, or pass --fresh")
      }
      var seen = Set<String>()
      results.rows = found.rows.filter { seen.insert($0.key).inserted }.map { row in
        var r = row
        r.index = position[row.key]!
        return r
      }
      let repeated = found.rows.count - results.rows.count
      if repeated > 0 { note("\(csvPath): \(repeated) repeated rows dropped (the first of each point is kept)") }
      if let f = found.provenance("experiment_fingerprint"), f != experiment.fingerprint {
        results.provenance.append(("extended", "from experiment fingerprint \(f): \(results.rows.count) results kept"))
      }
      // Keep the first run's start time; note this resumption.
      if let started = found.provenance("started") {
        results.provenance.removeAll { $0.0 == "started" }
        results.provenance.append(("started", started))
        results.provenance.append(("resumed", ISO8601DateFormatter().string(from: Date())))
      }
    }
    // Rewrite the CSV cleanly (drops a line cut short), then append row by row.
    try SweepResults.writeAtomically(Data(results.csv().utf8), to: csvPath)
    try SweepResults.writeAtomically(results.json(), to: jsonPath)
    guard let csv = FileHandle(forWritingAtPath: csvPath) else { throw ResultsError("\(csvPath): cannot append") }
    defer { try? csv.close() }
    _ = try? csv.seekToEnd()

    started()
    let done = Set(results.rows.map(\.key))
    let todo = points.filter { !done.contains($0.key) }
    let start = Date()
    var lastJSON = Date()
    var costDone = 0.0
    let costTotal = todo.reduce(0) { $0 + $1.cost }
    let cache = ReferenceCache(capacity: 1)
    for p in todo {
      let (inputs, reference) = try cache.entry(for: p.point, threads: threads)
      let row = try p.measure(inputs, reference: reference, metrics: experiment.metrics, threads: threads)
      results.rows.append(row)
      csv.write(Data(results.csvLine(row).utf8))
      try? csv.synchronize()
      costDone += p.cost
      let elapsed = Date().timeIntervalSince(start)
      if Date().timeIntervalSince(lastJSON) > 2 {
        try SweepResults.writeAtomically(sorted(results).json(), to: jsonPath)
        lastJSON = Date()
      }
      progress(Progress(done: results.rows.count, total: points.count, elapsed: elapsed,
                        remaining: elapsed / costDone * (costTotal - costDone), row: row))
    }
    results = sorted(results)
    try SweepResults.writeAtomically(results.json(), to: jsonPath)
    return results
  }

  func sorted(_ r: SweepResults) -> SweepResults {
    var r = r
    r.rows.sort { $0.index < $1.index }
    return r
  }

  /// Joins shard results (CSV or JSON files) of one experiment into one: every input must carry
  /// the same experiment fingerprint; a point present twice must agree. Returns the merged
  /// results and the number of grid points still missing.
  public static func merge(_ paths: [String]) throws -> (results: SweepResults, missing: Int) {
    try mergeWithShards(paths).merged
  }

  /// ``merge(_:)``, and for each file of a shard that holds fewer rows than its shard's points,
  /// the file, its `shard` (`I/N`), rows and points (a task that failed or was cut short).
  public static func mergeWithShards(_ paths: [String]) throws
    -> (merged: (results: SweepResults, missing: Int), incomplete: [(path: String, shard: String, rows: Int, points: Int)]) {
    guard let first = paths.first else { throw ResultsError("merge: no result files given") }
    var parts: [(String, SweepResults)] = []
    for p in paths { parts.append((p, try SweepResults.read(p))) }
    let incomplete = parts.compactMap { (p, part) -> (path: String, shard: String, rows: Int, points: Int)? in
      guard let shard = part.provenance("shard"), shard != "all", let points = Int(part.provenance("shard_points") ?? ""),
            part.rows.count < points else { return nil }
      return (p, shard, part.rows.count, points)
    }
    return (try merge(parts, first: first), incomplete)
  }

  /// Merges results already read (`parts`, each with its path; `first` names the first file).
  static func merge(_ parts: [(String, SweepResults)], first: String) throws -> (results: SweepResults, missing: Int) {
    let fingerprint = parts[0].1.provenance("experiment_fingerprint")
    var byKey: [String: SweepRow] = [:]
    var metrics = parts[0].1.metrics
    for (path, part) in parts {
      guard part.provenance("experiment_fingerprint") == fingerprint else {
        throw ResultsError("\(path): from a different experiment (fingerprint \(part.provenance("experiment_fingerprint") ?? "none"), \(first) has \(fingerprint ?? "none"))")
      }
      guard part.metrics == metrics else { throw ResultsError("\(path): different metric columns from \(first)") }
      for row in part.rows {
        if let old = byKey[row.key], old.metrics != row.metrics {
          throw ResultsError("\(path): point '\(row.key)' differs from another file's result for the same point")
        }
        byKey[row.key] = row
      }
      metrics = part.metrics
    }
    var provenance = parts[0].1.provenance.filter {
      !["shard", "shard_points", "started", "resumed", "machine_host", "slurm_job_id", "slurm_array_task_id", "slurm_restart_count",
        "merged_hosts", "merged_tasks", "merged"].contains($0.0)
    }
    provenance.append(("shard", "merged from \(parts.count) files"))
    let hosts = Set(parts.compactMap { $0.1.provenance("machine_host") }).sorted()
    let tasks = Set(parts.map { p in [p.1.provenance("slurm_job_id"), p.1.provenance("slurm_array_task_id")].compactMap { $0 }.joined(separator: "_") })
    provenance.append(("merged_hosts", "\(hosts.count) (\(hosts.joined(separator: ", ")))"))
    provenance.append(("merged_tasks", "\(parts.count) files from \(tasks.count) tasks"))
    provenance.append(("merged", ISO8601DateFormatter().string(from: Date())))
    let rows = byKey.values.sorted { $0.index < $1.index }
    let grid = Int(parts[0].1.provenance("grid_points") ?? "") ?? rows.count
    let text = parts.first { !$0.1.experimentText.isEmpty }?.1.experimentText ?? ""
    return (SweepResults(provenance: provenance, experimentText: text, metrics: metrics, rows: rows), max(0, grid - rows.count))
  }
}

/// The machine a sweep ran on, for provenance.
public struct MachineDescription: Sendable {
  public var entries: [(String, String)]

  public static var current: MachineDescription {
    let info = ProcessInfo.processInfo
    var cpu = "unknown"
    if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
       let colon = line.firstIndex(of: ":") {
      cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return MachineDescription(entries: [
      ("machine_host", info.hostName), ("machine_os", info.operatingSystemVersionString),
      ("machine_cpu", cpu), ("machine_cores", "\(info.activeProcessorCount)"),
      ("machine_memory_gib", String(format: "%.1f", Double(info.physicalMemory) / 1_073_741_824)),
    ])
  }
}
