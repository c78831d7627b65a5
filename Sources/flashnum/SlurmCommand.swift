import ArgumentParser
import Experiments
import Foundation

/// `flashnum slurm`: a sweep as a Slurm job array (one task per shard) and a merge job.
struct SlurmCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "slurm",
    abstract: "Write (and with --submit, submit) a Slurm job array that runs a sweep's shards, and a job that merges and reports them.",
    discussion: """
      Writes OUT/NAME.array.sbatch (task I of N runs `flashnum sweep FILE --shard I/N --threads \
      $SLURM_CPUS_PER_TASK` into OUT, resuming its own shard file when requeued) and \
      OUT/NAME.merge.sbatch (after every task has ended, however: merges the shards that exist with \
      --require-complete, names each shard that is missing or short, writes the report to \
      OUT/report, and exits 1 when any is). Both are plain scripts to read and edit. With --submit, \
      submits both (the merge with --dependency=afterany on the array) and prints the job ids.
      """)

  @Argument(help: "Experiment file (.yaml, .yml or .json).") var file: String
  @Option(name: .customLong("out"), help: "Results directory (shared by the tasks).") var directory = "notebooks-data/results"
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
    for line in sbatchLines where line.contains("\n") { throw ValidationError("--sbatch-line: one line each, got '\(line)'") }
  }

  /// `text` quoted for a POSIX shell.
  static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

  func run() throws {
    let experiment = try Experiment.load(file)
    guard let points = experiment.pointCount, tasks <= points else {
      throw InputError("--tasks \(tasks) is more than the grid's \(experiment.pointCount ?? 0) points")
    }
    try makeOutputFolder(directory)
    let out = URL(fileURLWithPath: directory).standardizedFileURL.path
    let experimentPath = URL(fileURLWithPath: file).standardizedFileURL.path
    let binary = flashnum ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath().path
    let name = experiment.name
    try makeOutputFolder(out + "/logs")
    var header = ["#SBATCH --job-name=flashnum-\(name)", "#SBATCH --cpus-per-task=\(cpusPerTask)", "#SBATCH --open-mode=append"]
    if let partition { header.append("#SBATCH --partition=\(partition)") }
    if let time { header.append("#SBATCH --time=\(time)") }
    if let mem { header.append("#SBATCH --mem=\(mem)") }
    header += sbatchLines.map { "#SBATCH " + $0 }
    let q = Self.quoted
    let array = """
      #!/bin/bash
      # flashnum sweep \(file) as a Slurm job array: task I of \(tasks) runs shard I/\(tasks) into \(out).
      # A task that is preempted, cancelled and requeued, or rerun by hand, resumes its shard file
      # (NAME.shard-I-of-\(tasks).csv): finished points are kept, none is run twice.
      #SBATCH --array=1-\(tasks)\(throttle.map { "%\($0)" } ?? "")
      #SBATCH --requeue
      #SBATCH --output=\(out)/logs/\(name)-%A_%a.out
      \(header.joined(separator: "\n"))
      set -euo pipefail
      exec \(q(binary)) sweep \(q(experimentPath)) --out \(q(out)) --shard "$SLURM_ARRAY_TASK_ID/\(tasks)" --threads "${SLURM_CPUS_PER_TASK:-1}"

      """
    let merge = """
      #!/bin/bash
      # After the \(tasks) tasks of the array have ended: merge their shards into \(out)/\(name).csv and
      # .json, report in \(out)/report, and exit 1 naming every shard that is missing or short.
      #SBATCH --output=\(out)/logs/\(name)-merge-%j.out
      \(header.joined(separator: "\n"))
      set -uo pipefail
      status=0
      present=()
      for i in $(seq 1 \(tasks)); do
        f=\(q(out))/\(q(name)).shard-$i-of-\(tasks).csv
        if [ -f "$f" ]; then present+=("$f"); else echo "merge: shard $i of \(tasks) has no results (its task never ran or failed before its first point)"; status=1; fi
      done
      if [ ${#present[@]} -gt 0 ]; then
        \(q(binary)) merge "${present[@]}" --out \(q(out)) --require-complete || status=1
        \(q(binary)) report \(q(out))/\(q(name)).csv --out \(q(out))/report || status=1
      fi
      exit $status

      """
    let arrayPath = "\(out)/\(name).array.sbatch", mergePath = "\(out)/\(name).merge.sbatch"
    for (path, text) in [(arrayPath, array), (mergePath, merge)] {
      do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { throw InputError("cannot write \(path): \(error.localizedDescription)") }
    }
    print("slurm: wrote \(arrayPath) (\(tasks) tasks over \(points) points) and \(mergePath)")
    guard submit else {
      print("slurm: submit with: id=$(sbatch --parsable \(arrayPath)) && sbatch --dependency=afterany:$id \(mergePath)")
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
    print("slurm: submitted array job \(arrayJob) and merge job \(mergeJob)")
  }
}
