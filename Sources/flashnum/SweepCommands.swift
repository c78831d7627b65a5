import Reporting
import Experiments
import ArgumentParser
import Measurement
import Attention
import Foundation
import NPY
import ToolIdentity

/// `flashnum sweep FILE`: runs an experiment's grid.
struct SweepCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sweep",
    abstract: "Run an experiment file's grid; write CSV and JSON results with provenance.",
    discussion: """
      The experiment file (YAML or JSON) names schemes, algorithms, sizes, masks, distributions, seeds and \
      metrics; see notebooks-data/experiments/ and docs/experiments.md. Results go to DIR/NAME.csv (a row appended \
      as each point completes) and DIR/NAME.json. Rerunning resumes: finished points are skipped. \
      --shard I/N runs every N-th input configuration (files NAME.shard-I-of-N.*); join shards with \
      `flashnum merge`. Progress (done/total, elapsed, time left) goes to stderr.
      """)

  @Argument(help: "Experiment file (.yaml, .yml or .json).") var file: String
  @Option(name: .customLong("out-dir"), help: "Results directory.") var directory = "notebooks-data/results"
  @OptionGroup var folder: FolderOutputConvention
  @OptionGroup var output: JSONFlag
  @Option(help: "Run shard I of N (1 ≤ I ≤ N), e.g. 2/4.") var shard: String?
  @Option(help: "Worker threads per point (results do not depend on it).")
  var threads = ProcessInfo.processInfo.activeProcessorCount

  func validate() throws { try checkThreads(threads) }
  @Flag(help: "Ignore existing results for this experiment and start over.") var fresh = false
  @Flag(help: "No progress lines.") var quiet = false

  func parsedShard() throws -> (index: Int, count: Int)? {
    guard let shard else { return nil }
    let parts = shard.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
      throw InputError("--shard: expected I/N with 1 ≤ I ≤ N (e.g. 1/4), got '\(shard)'")
    }
    return (i, n)
  }

  func run() throws {
    let experiment: Experiment
    experiment = try Experiment.load(file)
    let sweep = Sweep(experiment: experiment, directory: directory, shard: try parsedShard(), threads: max(1, threads),
                      provenance: provenanceOfThisRun(experimentFile: file, schemeFiles: experiment.schemeFiles))
    let total = sweep.points.count
    let results: SweepResults
    do {
      results = try sweep.run(fresh: fresh, started: {
        if !quiet && !output.json { note("sweep: \(experiment.name): \(total) points\(shard.map { " (shard \($0) of a \(experiment.points.count)-point grid)" } ?? "") → \(sweep.paths.csv)") }
      }, progress: { p in
        guard !quiet && !output.json else { return }
        let r = p.row
        let rmse = r.metrics["rmse"].map { String(format: " rmse %.3e", $0) } ?? ""
        let left = p.remaining.map { " left ~\(duration($0))" } ?? ""
        FileHandle.standardError.write(Data(
          "sweep: [\(p.done)/\(p.total)] \(String(format: "%3.0f", 100 * Double(p.done) / Double(max(1, p.total))))% elapsed \(duration(p.elapsed))\(left) | \(r.scheme) \(r.algorithm) N=\(r.seqLen) d=\(r.headDim) \(r.causal ? "causal " : "")\(r.distribution) seed \(r.seed)\(rmse)\n".utf8))
      }, note: { note("sweep: \($0)") })
    }
    output.emit("sweep: \(results.rows.count)/\(total) points in \(sweep.paths.csv) and \(sweep.paths.json)",
                json: .object([("experiment", .string(experiment.name)), ("points", .int(results.rows.count)), ("total", .int(total)),
                               ("csv", .string(sweep.paths.csv)), ("json", .string(sweep.paths.json))]))
  }
}

/// `flashnum merge`: joins the shards of one sweep.
struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Join sweep shards (CSV or JSON results of one experiment) into one result.",
    discussion: "Every file must come from the same experiment file (same fingerprint). Writes DIR/NAME.csv and DIR/NAME.json.")

  @Argument(help: "Shard result files (.csv or .json).") var files: [String]
  @Option(name: .customLong("out-dir"), help: "Output directory (default: the first file's).") var directory: String?
  @OptionGroup var folder: FolderOutputConvention
  @OptionGroup var output: JSONFlag
  @Option(help: "Output name (default: the experiment's name).") var name: String?
  @Flag(name: .customLong("require-complete"), help: "Exit 1 when grid points are missing.") var requireComplete = false

  func run() throws {
    guard !files.isEmpty else { throw InputError("merge: give the shard result files") }
    let (merged, incomplete) = try Sweep.mergeWithShards(files)
    for i in incomplete { note("merge: \(i.path): shard \(i.shard) holds \(i.rows) of its \(i.points) points") }
    let outName = name ?? merged.results.provenance("experiment_name") ?? "merged"
    try SweepResults.checkName(outName, from: name != nil ? "--name" : "\(files[0]): experiment_name")
    let given = directory ?? (files[0] as NSString).deletingLastPathComponent
    let dir = given.isEmpty ? "." : given
    try makeOutputFolder(dir)
    let lock = try ResultsLock(directory: dir, name: outName)
    defer { withExtendedLifetime(lock) {} }
    let (csv, json) = SweepResults.paths(directory: dir, name: outName)
    if files.contains(csv) || files.contains(json) { throw InputError("merge: the output \(csv) is one of the inputs; use --name or --out-dir") }
    do {
      try SweepResults.writeAtomically(Data(merged.results.csv().utf8), to: csv)
      try SweepResults.writeAtomically(merged.results.json(), to: json)
    }
    output.emit("merge: \(merged.results.rows.count) points from \(files.count) files in \(csv) and \(json)",
                json: .object([("points", .int(merged.results.rows.count)), ("files", .int(files.count)), ("missing", .int(merged.missing)),
                               ("csv", .string(csv)), ("json", .string(json))]))
    if merged.missing > 0 {
      note("merge: \(merged.missing) grid points are in none of the files")
      if requireComplete { throw ExitCode(1) }
    }
  }
}

/// `flashnum report`: a Markdown report with tables and SVG figures.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Write a Markdown report (tables per scheme, paired comparison, RMSE vs sequence length and outlier magnitude) with SVG and PNG figures.",
    discussion: """
      Figures are SVG files named by what they show, each with a PNG beside it (rendered by rsvg-convert, \
      Debian's librsvg2-bin; without it the PNGs are skipped with a note).
      """)

  @Argument(help: "Results file (.csv or .json) from sweep or merge.") var file: String
  @Option(name: .customLong("out-dir"), help: "Report directory.") var directory = "Reports"
  @OptionGroup var folder: FolderOutputConvention
  @OptionGroup var output: JSONFlag
  @Option(help: "Report name (default: the experiment's name): writes NAME.md and NAME-*.svg.") var name: String?
  @Option(help: "sweep (tables per scheme, paired comparisons, RMSE curves and heatmaps) or rotation (schemes named BASE+ROTATION: paired ratios to no rotation per format and scaling).")
  var layout: Layout = .sweep

  enum Layout: String, ExpressibleByArgument, CaseIterable { case sweep, rotation }

  func run() throws {
    let results: SweepResults
    results = try SweepResults.read(file)
    guard !results.rows.isEmpty else { throw InputError("\(file): no result rows to report") }
    let reportName = name ?? results.provenance("experiment_name") ?? "report"
    try SweepResults.checkName(reportName, from: name != nil ? "--name" : "\(file): experiment_name")
    let figures: [SweepReport.Figure]
    var text: String
    switch layout {
    case .sweep:
      let report = SweepReport(results: results, name: reportName)
      figures = report.figures()
      text = report.markdown(figures: figures)
    case .rotation:
      let report: RotationReport
      do { report = try RotationReport(results: results, name: reportName) } catch { throw InputError("\(file): \(error.description)") }
      figures = report.figures()
      text = report.markdown(figures: figures)
    }
    try makeOutputFolder(directory)
    let base = directory as NSString
    text += "\nGenerated by `flashnum report\(layout == .sweep ? "" : " --layout \(layout.rawValue)") \(file)` from \(results.rows.count) points "
      + "(\(ToolIdentity.description); results file sha256 \(Provenance.sha256(ofFile: file))).\n"
    var pngs = 0
    do {
      for f in figures {
        let svg = base.appendingPathComponent(f.fileName)
        try SweepResults.writeAtomically(Data(f.svg.utf8), to: svg)
        if pngs >= 0 { pngs = try renderPNG(of: svg) ? pngs + 1 : -1 }
      }
      try SweepResults.writeAtomically(Data(text.utf8), to: base.appendingPathComponent(reportName + ".md"))
    }
    output.emit("report: \(base.appendingPathComponent(reportName + ".md")) with \(figures.count) figures" + (pngs > 0 ? " (SVG and PNG)" : ""),
                json: .object([("report", .string(base.appendingPathComponent(reportName + ".md"))), ("figures", .int(figures.count)),
                               ("png", .bool(pngs > 0))]))
  }
}

/// Renders `svg` to a PNG beside it (144 dpi, through a temporary and a rename); false, with a
/// note, when rsvg-convert (Debian's librsvg2-bin) is missing or cannot start.
@discardableResult
func renderPNG(of svg: String) throws -> Bool {
  let target = String(svg.dropLast(4)) + ".png", temporary = target + ".tmp-\(getpid())"
  switch Subprocess.run("rsvg-convert", ["--dpi-x", "144", "--dpi-y", "144", "--zoom", "1.5", "--format", "png", "--output", temporary, svg]) {
  case .success(let r) where r.status == 0:
    guard rename(temporary, target) == 0 else { throw InputError("\(target): cannot write") }
    return true
  case .success(let r) where r.status == 127:
    note("PNG figures skipped: rsvg-convert not found (Debian package librsvg2-bin)")
    return false
  case .success(let r):
    try? FileManager.default.removeItem(atPath: temporary)
    throw InputError("rsvg-convert failed on \(svg): \(r.output.split(separator: "\n").first ?? "")")
  case .failure:
    note("PNG figures skipped: rsvg-convert could not start")
    return false
  }
}

/// Creates the folder `--out-dir` names (and its parents), or says that it is a file.
func makeOutputFolder(_ path: String, option: String = "--out-dir") throws {
  var isFolder: ObjCBool = false
  if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
    throw InputError("\(option) \(path) is a file, not a folder")
  }
  do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
    throw InputError("cannot create the folder \(path): \(error.localizedDescription)")
  }
}

/// `1m05s`, `2h03m`, `12.3s`.
func duration(_ seconds: Double) -> String {
  guard seconds.isFinite else { return "?" }
  let s = Int(seconds.rounded())
  if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
  if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
  return String(format: "%.1fs", seconds)
}

/// The tool's identity (version and the commit it was built from), the experiment file and the
/// scheme files it reads with their SHA-256, and the command line.
func provenanceOfThisRun(experimentFile: String, schemeFiles: [String] = []) -> [(String, String)] {
  let env = ProcessInfo.processInfo.environment
  // Under Slurm: the job (the array's job id for array tasks) and the array task.
  let slurm = [("slurm_job_id", env["SLURM_ARRAY_JOB_ID"] ?? env["SLURM_JOB_ID"]), ("slurm_array_task_id", env["SLURM_ARRAY_TASK_ID"]),
               ("slurm_restart_count", env["SLURM_RESTART_COUNT"])].compactMap { k, v in v.map { (k, $0) } }
  return Provenance.tool + [
    ("experiment_file", experimentFile), ("experiment_file_sha256", Provenance.sha256(ofFile: experimentFile)),
  ] + Provenance.schemeFiles(schemeFiles.map { (name: $0, path: $0) })
    + [("command", CommandLine.arguments.joined(separator: " "))] + slurm
}
