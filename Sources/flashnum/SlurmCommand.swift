import ArgumentParser
import Measurement
import Experiments
import Foundation

/// `flashnum slurm`: a sweep as a Slurm job array (one task per shard) and a merge job.
struct SlurmCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "slurm",
    abstract: "Write (and with --submit, submit) a Slurm job array that runs a sweep's shards, and a job that merges and reports them.",
    discussion: """
      Writes DIR/NAME.array.sbatch (task I of N runs `flashnum sweep FILE --shard I/N --threads \
      $SLURM_CPUS_PER_TASK` into DIR (--out-dir), resuming its own shard file when requeued) and \
      DIR/NAME.merge.sbatch (after every task has ended, however: merges the shards that exist with \
      --require-complete, names each shard that is missing or short, writes the report to \
      DIR/report, and exits 1 when any is). Both are plain scripts to read and edit. With --submit, \
      submits both (the merge with --dependency=afterany on the array) and prints the job ids.
      """)

  @Argument(help: "Experiment file (.yaml, .yml or .json).") var file: String
  @Option(name: .customLong("out-dir"), help: "Results directory (shared by the tasks).") var directory = "notebooks-data/results"
  @OptionGroup var folder: FolderOutputConvention
  @OptionGroup var output: JSONFlag
  @Option(help: "Array tasks, one shard each.") var tasks: Int
  @Option(name: .customLong("cpus-per-task"), help: "CPUs per task (its sweep threads).") var cpusPerTask = 1
  @Option(help: "Partition (sbatch --partition).") var partition: String?
  @Option(help: "Time limit per task (sbatch --time), e.g. 02:00:00.") var time: String?
  @Option(help: "Memory per task (sbatch --mem), e.g. 8G.") var mem: String?
  @Option(help: "At most this many tasks at once (the array's %K).") var throttle: Int?
  @Option(name: .customLong("sbatch-line"), help: "An extra #SBATCH line for both scripts, written with '=': --sbatch-line=--account=lab (repeatable).")
  var sbatchLines: [String] = []
  @Option(help: "The flashnum binary the jobs run (default: this one, by absolute path).") var flashnum: String?
  @Flag(help: "Submit the two jobs with sbatch.") var submit = false

  func validate() throws {
    try checkCount(tasks, 1...100_000, "--tasks")
    try checkCount(cpusPerTask, 1...4096, "--cpus-per-task")
    if let throttle { try checkCount(throttle, 1...100_000, "--throttle") }
  }

  func run() throws {
    let experiment = try Experiment.load(file)
    guard let points = experiment.pointCount, tasks <= points else {
      throw InputError("--tasks \(tasks) is more than the grid's \(experiment.pointCount ?? 0) points")
    }
    let out = URL(fileURLWithPath: directory).standardizedFileURL.path
    let experimentPath = URL(fileURLWithPath: file).standardizedFileURL.path
    let binary = flashnum ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath().path
    let name = experiment.name
    let scripts = SlurmScripts(experimentFile: experimentPath, out: out, binary: binary, name: name, tasks: tasks, cpusPerTask: cpusPerTask,
                               throttle: throttle, partition: partition, time: time, mem: mem, sbatchLines: sbatchLines)
    let (array, merge) = (try scripts.arrayScript(), try scripts.mergeScript())
    try makeOutputFolder(directory)
    try makeOutputFolder(out + "/logs")
    let arrayPath = "\(out)/\(name).array.sbatch", mergePath = "\(out)/\(name).merge.sbatch"
    for (path, text) in [(arrayPath, array), (mergePath, merge)] {
      do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { throw InputError("cannot write \(path): \(error.localizedDescription)") }
    }
    let written: [(String, JSONText)] = [("array_script", .string(arrayPath)), ("merge_script", .string(mergePath)), ("tasks", .int(tasks)),
                                          ("points", .int(points))]
    if !output.json { print("slurm: wrote \(arrayPath) (\(tasks) tasks over \(points) points) and \(mergePath)") }
    guard submit else {
      output.emit("slurm: submit with: id=$(sbatch --parsable \(arrayPath)) && sbatch --dependency=afterany:$id \(mergePath)",
                  json: .object(written + [("submitted", .bool(false))]))
      return
    }
    func sbatch(_ arguments: [String]) throws -> String {
      guard case .success(let r) = Subprocess.run("sbatch", ["--parsable"] + arguments), r.status != 127 else {
        throw InputError("slurm: sbatch is not available (is Slurm's client installed and on PATH?)")
      }
      guard r.status == 0 else { throw InputError("slurm: sbatch failed: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
      return String(r.output.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let arrayJob = try sbatch([arrayPath])
    let mergeJob = try sbatch(["--dependency=afterany:\(arrayJob)", mergePath])
    output.emit("slurm: submitted array job \(arrayJob) and merge job \(mergeJob)",
                json: .object(written + [("submitted", .bool(true)), ("array_job", .string(arrayJob)), ("merge_job", .string(mergeJob))]))
  }
}
