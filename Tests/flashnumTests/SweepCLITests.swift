import Foundation
import ToolIdentity
import TestSupport
import XCTest

/// `flashnum sweep`, `merge` and `report` as a user runs them.
final class SweepCLITests: CLITestCase {
  static let experiment = """
    name: cli
    schemes: [fp16, fa3-fp8-per-block-hadamard]
    seq_len: [16, 32]
    head_dim: 16
    distributions: [{kind: sparse-outliers, outlier_std: [3, 30]}]
    seeds: 0
    reference: {kind: mpfr, bits: 64}
    """

  func experimentFile(_ text: String = experiment, _ name: String = "cli.yaml") throws -> String {
    try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    return path(name)
  }

  /// Run from inside an unrelated git repository, a sweep records the commit the tool was built
  /// from (never that repository's), the experiment file's SHA-256, and the scheme files'.
  func testProvenanceIsTheToolsOwnCommitWhereverItRuns() throws {
    let repo = directory.appendingPathComponent("other-repo")
    try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
    func git(_ args: [String]) throws -> String {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = ["git", "-C", repo.path, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"] + args
      let out = Pipe()
      p.standardOutput = out
      p.standardError = Pipe()
      try p.run()
      let data = out.fileHandleForReading.readDataToEndOfFile()
      p.waitUntilExit()
      return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    _ = try git(["init", "-q"])
    try "schemes: [{name: mine, base: fp16}]\n".write(to: repo.appendingPathComponent("s.yaml"), atomically: true, encoding: .utf8)
    try (Self.experiment.replacingOccurrences(of: "schemes: [fp16,", with: "scheme_files: [s.yaml]\nschemes: [mine,"))
      .write(to: repo.appendingPathComponent("e.yaml"), atomically: true, encoding: .utf8)
    _ = try git(["add", "."])
    _ = try git(["commit", "-q", "-m", "x"])
    let theirs = try git(["rev-parse", "HEAD"])
    XCTAssertEqual(theirs.count, 40)
    let r = try run(["sweep", "e.yaml", "--out-dir", "results", "--quiet"], in: repo)
    XCTAssertEqual(r.status, 0, r.stderr)
    let csv = try String(contentsOfFile: repo.appendingPathComponent("results/cli.csv").path, encoding: .utf8)
    XCTAssertFalse(csv.contains(theirs), "the results name the other repository's commit")
    XCTAssertTrue(csv.contains("# git_commit: \(ToolIdentity.commit)\n"), csv)
    XCTAssertTrue(csv.contains("# git_dirty: \(ToolIdentity.dirty)\n"), csv)
    XCTAssertTrue(ToolIdentity.commit == "unknown" || ToolIdentity.commit.count == 40)
    // SHA-256 of the inputs, checked against the digest of the same bytes computed here.
    for (key, file) in [("experiment_file_sha256", "e.yaml")] {
      XCTAssertTrue(csv.contains("# \(key): "), key)
      let digest = try sha256(repo.appendingPathComponent(file).path)
      XCTAssertTrue(csv.contains("# \(key): \(digest)\n"), "\(key) ≠ \(digest)")
    }
    XCTAssertTrue(csv.contains("# scheme_file_1: s.yaml sha256:\(try sha256(repo.appendingPathComponent("s.yaml").path))\n"), csv)
  }

  /// SHA-256 of a file by the system's `sha256sum` (an oracle apart from the tool's libcrypto call).
  func sha256(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["sha256sum", path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(String(decoding: data, as: UTF8.self).prefix(64))
  }

  func testNamesFromResultsFilesNeverLeaveTheOutputFolder() throws {
    let file = try experimentFile()
    XCTAssertEqual(try run(["sweep", file, "--out-dir", path("results"), "--quiet"]).status, 0)
    let csv = try String(contentsOfFile: path("results/cli.csv"), encoding: .utf8)
    let crafted = path("results/crafted.csv")
    try csv.replacingOccurrences(of: "# experiment_name: cli", with: "# experiment_name: ../../escaped")
      .write(toFile: crafted, atomically: true, encoding: .utf8)
    try assertBadInput(["merge", crafted, "--out-dir", path("merged")], "'../../escaped' cannot name result files")
    try assertBadInput(["report", crafted, "--out-dir", path("report")], "'../../escaped' cannot name result files")
    try assertBadInput(["report", path("results/cli.csv"), "--out-dir", path("report"), "--name", "../x"], "--name: '../x'")
    try assertBadInput(["report", path("results/cli.csv"), "--out-dir", file], "is a file, not a folder")
    try assertBadInput(["merge", path("results/cli.csv"), "--out-dir", file], "is a file, not a folder")
    let big = try experimentFile(Self.experiment.replacingOccurrences(of: "head_dim: 16", with: "head_dim: 4096\nheads: 4096"), "big.yaml")
    try assertBadInput(["sweep", big, "--out-dir", path("big")], "sizes: Q would hold")
    XCTAssertFalse(FileManager.default.fileExists(atPath: directory.deletingLastPathComponent().appendingPathComponent("escaped.csv").path))
    XCTAssertFalse(FileManager.default.fileExists(atPath: directory.deletingLastPathComponent().appendingPathComponent("escaped.md").path))
  }

  func testSweepMergeReportFromTheCommandLine() throws {
    let file = try experimentFile()
    let results = path("results")
    let r = try run(["sweep", file, "--out-dir", results, "--threads", "2"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("sweep: [8/8] 100% elapsed"), r.stderr)
    XCTAssertTrue(r.stderr.contains("left ~"), r.stderr)
    XCTAssertTrue(r.stdout.contains("8/8 points"), r.stdout)
    let csv = try String(contentsOfFile: results + "/cli.csv", encoding: .utf8)
    XCTAssertTrue(csv.contains("# experiment_fingerprint: "))
    XCTAssertEqual(csv.split(separator: "\n").filter { !$0.hasPrefix("#") }.count, 9)
    // A rerun finds everything done.
    let again = try run(["sweep", file, "--out-dir", results])
    XCTAssertEqual(again.status, 0)
    XCTAssertFalse(again.stderr.contains("sweep: ["), again.stderr)
    // Two shards, merged, give the same rows.
    for i in 1...2 { XCTAssertEqual(try run(["sweep", file, "--out-dir", path("shards"), "--shard", "\(i)/2", "--quiet"]).status, 0) }
    let m = try run(["merge", path("shards/cli.shard-1-of-2.csv"), path("shards/cli.shard-2-of-2.json"), "--require-complete"])
    XCTAssertEqual(m.status, 0, m.stderr)
    let merged = try String(contentsOfFile: path("shards/cli.csv"), encoding: .utf8)
    func body(_ s: String) -> [String] { s.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: ",").dropLast().joined()) } }
    XCTAssertEqual(body(merged), body(csv), "merged rows (without timings) equal the whole sweep's")
    XCTAssertEqual(try run(["merge", path("shards/cli.shard-1-of-2.csv"), "--name", "half", "--require-complete"]).status, 1)
    // The report: Markdown, SVG figures and a PNG beside each (rsvg-convert, installed by Scripts/deps.sh).
    let rep = try run(["report", results + "/cli.json", "--out-dir", path("Reports")])
    XCTAssertEqual(rep.status, 0, rep.stderr)
    let md = try String(contentsOfFile: path("Reports/cli.md"), encoding: .utf8)
    XCTAssertTrue(md.contains("| fa3-fp8-per-block-hadamard | blocked | sparse-outliers"), md)
    XCTAssertTrue(FileManager.default.fileExists(atPath: path("Reports/cli-rmse-vs-outliers-sparse-outliers.svg")))
    let svgs = try FileManager.default.contentsOfDirectory(atPath: path("Reports")).filter { $0.hasSuffix(".svg") }
    XCTAssertFalse(svgs.isEmpty)
    for svg in svgs {
      let png = try Data(contentsOf: URL(fileURLWithPath: path("Reports/" + svg.dropLast(4) + ".png")))
      XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(svg): a PNG beside it")
    }
  }

  /// Two sweeps started at once into one folder, several times: the second waits for nothing —
  /// it exits 2 at once saying the results are in use — or, when the first has already
  /// finished, finds everything done; a third run then completes the grid. Every point is in the
  /// CSV exactly once and no temporary is left.
  func testRacingSweepsLoseAndRepeatNothing() throws {
    let file = try experimentFile()
    for round in 0..<3 {
      let results = path("race-\(round)")
      let processes = (0..<2).map { _ in
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["sweep", file, "--out-dir", results, "--quiet", "--threads", "1"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        return (p, err)
      }
      for (p, _) in processes { try p.run() }
      for (p, err) in processes {
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertTrue(p.terminationStatus == 0 || (p.terminationStatus == 2 && text.contains("being written by another flashnum process")), text)
      }
      XCTAssertEqual(try run(["sweep", file, "--out-dir", results, "--quiet"]).status, 0)
      let csv = try String(contentsOfFile: results + "/cli.csv", encoding: .utf8)
      let keys = csv.split(separator: "\n").filter { !$0.hasPrefix("#") }.dropFirst().map { $0.split(separator: "\"")[1] }
      XCTAssertEqual(keys.count, 8, csv)
      XCTAssertEqual(Set(keys).count, 8, "each point once")
      let left = try FileManager.default.contentsOfDirectory(atPath: results).filter { $0.contains(".tmp") }
      XCTAssertEqual(left, [], "no temporaries left")
    }
  }

  func testBadExperimentsExitTwoWithOneLine() throws {
    let results = path("results")
    try assertBadInput(["sweep", try experimentFile(Self.experiment.replacingOccurrences(of: "fp16,", with: "fp61,"), "a.yaml"), "--out-dir", results],
                       "a.yaml:2: schemes[0]: unknown scheme 'fp61' (allowed: fp32, fp64")
    try assertBadInput(["sweep", try experimentFile(Self.experiment.replacingOccurrences(of: "seeds:", with: "seed:"), "b.yaml"), "--out-dir", results],
                       "b.yaml:6: seed: unknown key 'seed' (allowed: ")
    try assertBadInput(["sweep", try experimentFile(Self.experiment.replacingOccurrences(of: "head_dim: 16", with: "head_dim: -16"), "c.yaml"), "--out-dir", results],
                       "c.yaml:4: head_dim: -16 is out of range 1...4096")
    try assertBadInput(["sweep", try experimentFile(Self.experiment.replacingOccurrences(of: "{kind: sparse-outliers", with: "{kind: fa4-outliers"), "d.json"), "--out-dir", results],
                       "distributions[0].kind: 'fa4-outliers' is not allowed (allowed: attention-sinks, channel-outliers, gaussian, sparse-outliers)")
    try assertBadInput(["sweep", path("missing.yaml")], "missing.yaml: cannot read")
    try assertBadInput(["sweep", try experimentFile(), "--shard", "3/2"], "--shard: expected I/N")
    try assertBadInput(["report", path("missing.csv")], "cannot read")
    try "not,a,results,file\n1,2,3,4\n".write(toFile: path("x.csv"), atomically: true, encoding: .utf8)
    try assertBadInput(["report", path("x.csv")], "not a sweep results header")
    XCTAssertFalse(FileManager.default.fileExists(atPath: results), "nothing written for a bad experiment")
  }
}

/// The notebooks in notebooks-data/ run headless on their shipped results (when Jupyter is installed).
final class NotebookTests: XCTestCase {
  func testNotebooksExecute() throws {
    let root = Repository.root
    let check = Process()
    check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    check.arguments = ["python3", "-c", "import nbconvert, nbclient, ipykernel, pandas, matplotlib"]
    check.standardError = FileHandle.nullDevice
    try? check.run()
    check.waitUntilExit()
    try XCTSkipUnless(check.terminationStatus == 0,
                      "Jupyter/pandas/matplotlib not installed (pip install -r notebooks-data/requirements.txt); notebooks not executed")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = [root.appendingPathComponent("Scripts/run_notebooks.sh").path]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, text)
    XCTAssertTrue(text.contains("sweep-figures.ipynb executed"), text)
  }
}
