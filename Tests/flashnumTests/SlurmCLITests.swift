import Foundation
import TestSupport
import XCTest

/// `flashnum slurm`: the scripts it writes, and a real single-node Slurm cluster (Debian's
/// slurmctld, slurmd and munge on loopback, started by `Scripts/slurm_local.sh`) running a sweep
/// as a 3-task job array plus the merge job, with one task cancelled mid-run and requeued.
final class SlurmCLITests: CLITestCase {
  static let experiment = """
    name: slurmtest
    schemes: [fp16, fa3-fp8-per-block-hadamard, bf16]
    seq_len: [128, 256, 512, 768]
    head_dim: 32
    distributions: [{kind: sparse-outliers, outlier_std: [3, 30]}]
    seeds: [0, 1]
    reference: {kind: mpfr, bits: 64}
    """

  static var repository: URL { Repository.root }

  /// Runs `program` with `arguments` and `environment` added; status and output (stdout + stderr).
  /// The output goes through a file, not a pipe: daemons the program starts may inherit its
  /// descriptors, and a pipe would then never reach its end.
  func shell(_ program: String, _ arguments: [String], _ environment: [String: String] = [:]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [program] + arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let log = path("shell-\(UUID().uuidString).log")
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    p.waitUntilExit()
    try handle.close()
    return (p.terminationStatus, try String(contentsOfFile: log, encoding: .utf8))
  }

  /// The rows of a results CSV without the timing column, sorted.
  func rows(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }.dropFirst()
      .map { String($0[..<$0.lastIndex(of: ",")!]) }.sorted()
  }

  func testScriptsSayWhatTheyRun() throws {
    let file = path("e.yaml")
    try Self.experiment.write(toFile: file, atomically: true, encoding: .utf8)
    let r = try run(["slurm", file, "--out-dir", path("res"), "--tasks", "4", "--cpus-per-task", "2", "--partition", "short", "--time", "01:00:00",
                     "--mem", "2G", "--throttle", "2", "--sbatch-line=--account=lab"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let array = try String(contentsOfFile: path("res/slurmtest.array.sbatch"), encoding: .utf8)
    for line in ["#SBATCH --array=1-4%2", "#SBATCH --requeue", "#SBATCH --cpus-per-task=2", "#SBATCH --partition=short", "#SBATCH --time=01:00:00",
                 "#SBATCH --mem=2G", "#SBATCH --account=lab", "--shard \"$SLURM_ARRAY_TASK_ID/4\" --threads \"${SLURM_CPUS_PER_TASK:-1}\""] {
      XCTAssertTrue(array.contains(line), "\(line) missing from\n\(array)")
    }
    let merge = try String(contentsOfFile: path("res/slurmtest.merge.sbatch"), encoding: .utf8)
    XCTAssertTrue(merge.contains("merge \"${present[@]}\"") && merge.contains("--require-complete") && merge.contains(" report "), merge)
    try assertBadInput(["slurm", file, "--out-dir", path("res"), "--tasks", "0"], "--tasks must be in 1...100000")
    try assertBadInput(["slurm", file, "--out-dir", path("res"), "--tasks", "49"], "more than the grid's 48 points")
    try assertBadInput(["slurm", file, "--out-dir", path("res"), "--tasks", "2", "--sbatch-line", "a\nb"], "control character U+A cannot go into a batch script")
  }

  func testJobArrayWithACancelledAndRequeuedTaskEqualsOneMachine() throws {
    for tool in ["slurmctld", "slurmd", "munged", "sbatch", "scontrol"] {
      try XCTSkipUnless(try shell("which", [tool]).0 == 0, "Slurm cannot start here: \(tool) is not installed (apt-get install slurmctld slurmd slurm-client munge)")
    }
    try XCTSkipUnless(getuid() == 0, "Slurm cannot start here: the local cluster runs its daemons as root")
    let cluster = path("cluster")
    let port = 20_000 + Int(getpid() % 5_000) * 2
    let script = Self.repository.appendingPathComponent("Scripts/slurm_local.sh").path
    let start = try shell("bash", [script, "start", cluster], ["SLURM_LOCAL_PORT": "\(port)"])
    defer { _ = try? shell("bash", [script, "stop", cluster]) }
    try XCTSkipUnless(start.0 == 0, "Slurm cannot start here: \(start.1)")
    let env = ["SLURM_CONF": cluster + "/slurm.conf"]
    let file = path("e.yaml")
    try Self.experiment.write(toFile: file, atomically: true, encoding: .utf8)
    XCTAssertEqual(try run(["sweep", file, "--out-dir", path("single"), "--threads", "1", "--quiet"]).status, 0)

    let submitted = try shell(Self.binary.path, ["slurm", file, "--out-dir", path("res"), "--tasks", "3", "--submit"], env)
    XCTAssertEqual(submitted.0, 0, submitted.1)
    let job = try XCTUnwrap(submitted.1.split(separator: "\n").last?.split(separator: " ").dropFirst(4).first.map(String.init), submitted.1)
    // Task 2 mid-run: cancelled once it has finished a few points, then requeued and released.
    let shard2 = path("res/slurmtest.shard-2-of-3.csv")
    var done = 0
    for _ in 0..<200 where done < 3 {
      done = (try? rows(shard2).count) ?? 0
      Thread.sleep(forTimeInterval: 0.1)
    }
    XCTAssertGreaterThanOrEqual(done, 3, "task 2 never started")
    XCTAssertEqual(try shell("scancel", ["\(job)_2"], env).0, 0)
    Thread.sleep(forTimeInterval: 1)
    let requeue = try shell("scontrol", ["requeue", "\(job)_2"], env)
    XCTAssertEqual(requeue.0, 0, requeue.1)
    _ = try shell("scontrol", ["update", "jobid=\(job)_2", "StartTime=now"], env)
    var queue = "?"
    for _ in 0..<300 {
      queue = try shell("squeue", ["-h"], env).1.trimmingCharacters(in: .whitespacesAndNewlines)
      if queue.isEmpty { break }
      Thread.sleep(forTimeInterval: 0.5)
    }
    XCTAssertEqual(queue, "", "jobs still queued")
    let logs = try FileManager.default.contentsOfDirectory(atPath: path("res/logs"))
    let mergeLog = try String(contentsOfFile: path("res/logs/" + XCTUnwrap(logs.first { $0.contains("merge") })), encoding: .utf8)
    XCTAssertTrue(mergeLog.contains("merge: 48 points from 3 files"), mergeLog)
    XCTAssertEqual(try rows(path("res/slurmtest.csv")), try rows(path("single/slurmtest.csv")), "the cluster's rows equal one machine's")
    let shard = try String(contentsOfFile: shard2, encoding: .utf8)
    XCTAssertTrue(shard.contains("# resumed: ") && shard.contains("# slurm_array_task_id: 2"), shard)
    let merged = try String(contentsOfFile: path("res/slurmtest.csv"), encoding: .utf8)
    XCTAssertTrue(merged.contains("# merged_tasks: 3 files from 3 tasks"), merged)
  }
}
