import Diagnostics
import Attention

/// The two batch scripts of `flashnum slurm`: a job array whose task I runs shard I/N of a sweep,
/// and a job that merges and reports the shards.
///
/// Every value from the caller reaches the scripts in one of two ways, and is checked for it
/// before anything is written:
/// - in an `#SBATCH` line or a comment, which `sbatch` and the shell read up to the end of the
///   line: such values may hold no control character (a newline would start a line the shell
///   runs) and, for `#SBATCH` option values, no space or quote either (sbatch would split them),
///   nor `%` in the `--output` path (sbatch expands it);
/// - in a command, always inside single quotes (``quoted(_:)``), where the shell expands nothing.
/// So a script holds only the lines the templates below write, whatever the values.
public struct SlurmScripts: Sendable {
  /// Absolute paths: the experiment file, the results folder, the flashnum binary.
  public var experimentFile: String, out: String, binary: String
  /// The experiment's name (it names the result files).
  public var name: String
  public var tasks: Int, cpusPerTask: Int, throttle: Int?
  /// `sbatch --partition`, `--time`, `--mem`, when given.
  public var partition: String?, time: String?, mem: String?
  /// Extra `#SBATCH` lines, each the text after `#SBATCH `.
  public var sbatchLines: [String]

  public init(experimentFile: String, out: String, binary: String, name: String, tasks: Int, cpusPerTask: Int, throttle: Int? = nil,
              partition: String? = nil, time: String? = nil, mem: String? = nil, sbatchLines: [String] = []) {
    (self.experimentFile, self.out, self.binary, self.name) = (experimentFile, out, binary, name)
    (self.tasks, self.cpusPerTask, self.throttle) = (tasks, cpusPerTask, throttle)
    (self.partition, self.time, self.mem, self.sbatchLines) = (partition, time, mem, sbatchLines)
  }

  /// `text` quoted for a POSIX shell: inside single quotes, each `'` written as `'\''`.
  public static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

  /// Throws unless `value` (option `option`) can stand in a line of its own kind: no control
  /// character anywhere; in an `#SBATCH` option value also no space, quote or backslash.
  static func check(_ value: String, _ option: String, sbatchValue: Bool) throws {
    if let c = value.unicodeScalars.first(where: \.isLineControl) {
      throw SlurmScriptError("\(option): control character U+\(String(c.value, radix: 16, uppercase: true)) cannot go into a batch script")
    }
    if value.isEmpty && sbatchValue { throw SlurmScriptError("\(option): empty") }
    if sbatchValue, let c = value.unicodeScalars.first(where: { $0 == " " || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == "\t" }) {
      throw SlurmScriptError("\(option): '\(c)' cannot go into an #SBATCH line (sbatch would split the value there)")
    }
  }

  /// Throws for the first value that cannot go into the scripts as described above.
  public func validate() throws {
    for (value, option) in [(experimentFile, "experiment file"), (binary, "--flashnum"), (name, "the experiment's name")] {
      try Self.check(value, option, sbatchValue: false)
    }
    try Self.check(out, "--out-dir", sbatchValue: true)
    try Self.check(name, "the experiment's name", sbatchValue: true)
    // Both make up `#SBATCH --output=…`, where sbatch reads `%` as the start of a pattern (%j, %A).
    for (value, option) in [(out, "--out-dir"), (name, "the experiment's name")] where value.contains("%") {
      throw SlurmScriptError("\(option): '%' cannot go into an #SBATCH --output path (sbatch reads it as a pattern such as %j)")
    }
    for (value, option) in [(partition, "--partition"), (time, "--time"), (mem, "--mem")] {
      if let value { try Self.check(value, option, sbatchValue: true) }
    }
    for line in sbatchLines {
      try Self.check(line, "--sbatch-line", sbatchValue: false)
      guard line.hasPrefix("-"), !line.contains(" ") else {
        throw SlurmScriptError("--sbatch-line: one sbatch option written with '=' (e.g. --sbatch-line=--account=lab), got '\(line)'")
      }
    }
  }

  /// The `#SBATCH` lines both scripts share.
  var header: [String] {
    var lines = ["#SBATCH --job-name=flashnum-\(name)", "#SBATCH --cpus-per-task=\(cpusPerTask)", "#SBATCH --open-mode=append"]
    if let partition { lines.append("#SBATCH --partition=\(partition)") }
    if let time { lines.append("#SBATCH --time=\(time)") }
    if let mem { lines.append("#SBATCH --mem=\(mem)") }
    return lines + sbatchLines.map { "#SBATCH " + $0 }
  }

  /// The array script (task I of N runs shard I/N, resuming its own shard file when requeued).
  public func arrayScript() throws -> String {
    try validate()
    let q = Self.quoted
    return """
      #!/bin/bash
      # flashnum sweep \(experimentFile) as a Slurm job array: task I of \(tasks) runs shard I/\(tasks) into \(out).
      # A task that is preempted, cancelled and requeued, or rerun by hand, resumes its shard file
      # (NAME.shard-I-of-\(tasks).csv): finished points are kept, none is run twice.
      #SBATCH --array=1-\(tasks)\(throttle.map { "%\($0)" } ?? "")
      #SBATCH --requeue
      #SBATCH --output=\(out)/logs/\(name)-%A_%a.out
      \(header.joined(separator: "\n"))
      set -euo pipefail
      exec \(q(binary)) sweep \(q(experimentFile)) --out-dir \(q(out)) --shard "$SLURM_ARRAY_TASK_ID/\(tasks)" --threads "${SLURM_CPUS_PER_TASK:-1}"

      """
  }

  /// The merge script (after every task has ended: merge the shards that exist with
  /// --require-complete, report, exit 1 naming each shard that is missing or short).
  public func mergeScript() throws -> String {
    try validate()
    let q = Self.quoted
    return """
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
        \(q(binary)) merge "${present[@]}" --out-dir \(q(out)) --require-complete || status=1
        \(q(binary)) report \(q(out))/\(q(name)).csv --out-dir \(q(out))/report || status=1
      fi
      exit $status

      """
  }
}
