import Foundation
import NPY
import TestSupport
import XCTest

/// The command-line conventions (docs/cli-conventions.md), over every subcommand the binary
/// lists: `--json` everywhere, printing one JSON value on stdout; `--out` a file and `--out-dir`
/// a folder; comma-separated lists; old spellings refused with the new one named.
final class ConventionsCLITests: CLITestCase {
  /// Every leaf subcommand and what it writes. A subcommand the binary lists but this table does
  /// not fails the test: a new command must be placed under the conventions.
  enum Writes { case file, folder, nothing }
  static let commands: [String: Writes] = [
    "convert": .file, "formats": .nothing, "mma": .file, "mufu": .file, "attention": .file, "reference": .file,
    "table paper-rmse": .folder, "table p-overflow": .folder, "crosscheck": .file, "invariance": .nothing, "lint-schedule": .nothing,
    "regress": .nothing, "schemes": .folder, "sweep": .folder, "merge": .folder, "report": .folder, "slurm": .folder,
    "bench convert": .nothing, "bench mma": .nothing, "bench attention": .nothing, "bench scaling": .nothing,
  ]

  /// The subcommands a help text lists.
  func subcommands(of command: [String]) throws -> [String] {
    let help = try run(command + ["--help"]).stdout
    guard let start = help.range(of: "SUBCOMMANDS:") else { return [] }
    return help[start.upperBound...].split(separator: "\n").compactMap { line in
      guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first,
            word.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else { return nil }
      return String(word)
    }
  }

  func leaves() throws -> [String] {
    var out: [String] = []
    for top in try subcommands(of: []) {
      let nested = try subcommands(of: [top])
      out += nested.isEmpty ? [top] : nested.map { "\(top) \($0)" }
    }
    return out
  }

  /// The help line(s) of `option` in `help`.
  func optionHelp(_ help: String, _ option: String) -> String? {
    let options = help.range(of: "OPTIONS:").map { String(help[$0.upperBound...]) } ?? help
    let lines = options.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let i = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(option + " ") }) else { return nil }
    var text = lines[i]
    var j = i + 1
    while j < lines.count, lines[j].hasPrefix("                        ") { text += " " + lines[j].trimmingCharacters(in: .whitespaces); j += 1 }
    return text
  }

  func testEverySubcommandFollowsTheConventionsInItsHelp() throws {
    let listed = try leaves()
    XCTAssertEqual(Set(listed), Set(Self.commands.keys), "classify every subcommand in ConventionsCLITests.commands")
    for command in listed {
      let help = try run(command.split(separator: " ").map(String.init) + ["--help"]).stdout
      XCTAssertNotNil(optionHelp(help, "--json"), "\(command) has no --json")
      let out = optionHelp(help, "--out"), outDir = optionHelp(help, "--out-dir")
      if let out {
        XCTAssertFalse(out.lowercased().contains("folder") || out.lowercased().contains("directory"), "\(command): --out must name a file: \(out)")
      }
      if let outDir { XCTAssertTrue(outDir.lowercased().contains("folder") || outDir.lowercased().contains("directory"), "\(command): \(outDir)") }
      switch Self.commands[command] {
      case .file?: XCTAssertTrue(out != nil && outDir == nil, "\(command) writes one file: --out")
      case .folder?: XCTAssertTrue(outDir != nil && out == nil, "\(command) writes a folder: --out-dir")
      default: XCTAssertTrue(out == nil && outDir == nil, "\(command) writes no file")
      }
      XCTAssertFalse(help.contains("--export") || help.contains("--report <"), "\(command): an old spelling is still listed")
    }
  }

  func testOldSpellingsNameTheNewOnes() throws {
    let experiment = path("e.yaml")
    try "name: e\nschemes: [fp32]\nseq_len: [16]\nhead_dim: [16]\ndistributions: [gaussian]\nreference: {kind: fp64}\n"
      .write(toFile: experiment, atomically: true, encoding: .utf8)
    let x = try write(NPYArray(shape: [4], float32: [1, 2, 3, 4]), "x.npy")
    for (arguments, says) in [
      (["sweep", experiment, "--out", path("r")], "--out-dir \(path("r"))"),
      (["merge", path("r/e.csv"), "--out", path("m")], "--out-dir"),
      (["report", path("r/e.csv"), "--out", path("m")], "--out-dir"),
      (["slurm", experiment, "--tasks", "1", "--out", path("m")], "--out-dir"),
      (["table", "paper-rmse", "--out", path("t")], "--out-dir"),
      (["table", "p-overflow", "--out", path("t")], "--out-dir"),
      (["schemes", "--export", path("s")], "--export is now --out-dir"),
      (["convert", "--format", "e4m3fn", x, path("y.npy")], "flashnum convert \(x) --out \(path("y.npy"))"),
      (["mufu", "--function", "ex2", x, path("y.npy")], "--out \(path("y.npy"))"),
      (["crosscheck", "--report", path("c.md")], "--report is now --out"),
      (["crosscheck", "--json", path("c.json")], "--json is a flag (JSON on stdout): --json > \(path("c.json"))"),
      (["bench", "scaling", "--seq-lens", "64", "128"], "--seq-lens 64,128"),
      (["bench", "attention", "--only", "fa3", "reference"], "--only fa3,reference"),
    ] {
      try assertBadInput(arguments, says)
    }
  }

  /// `fa3` names the kernel only: the paper's table, its input distribution and the tile preset
  /// have names of their own, and a command line or a file with an old one is refused with the
  /// new one named.
  func testOldFA3NamesNameTheNewOnes() throws {
    func experiment(_ name: String, _ lines: String) throws -> String {
      let file = path(name)
      try ("name: e\nschemes: [fp32]\nseq_len: [16]\nhead_dim: [16]\nreference: {kind: fp64}\n" + lines)
        .write(toFile: file, atomically: true, encoding: .utf8)
      return file
    }
    /// A committed results file with one column's new names put back to the old ones.
    func oldResults(_ column: String) throws -> String {
      var text = try String(contentsOfFile: Repository.path("notebooks-data/results/quick-fp8.csv"), encoding: .utf8)
      text = column == "algorithm" ? text.replacingOccurrences(of: ",blocked-hopper-tiles,", with: ",blocked-fa3,")
        : text.replacingOccurrences(of: ",sparse-outliers,", with: ",fa3-outliers,")
      let file = path("old-\(column).csv")
      try text.write(toFile: file, atomically: true, encoding: .utf8)
      return file
    }
    let plain = try experiment("plain.yaml", "distributions: [fa3]\n")
    let kind = try experiment("kind.yaml", "distributions:\n  - {kind: fa3-outliers, probability: 0.01}\n")
    let tiles = try experiment("tiles.yaml", "distributions: [gaussian]\nalgorithms: [blocked-fa3]\n")
    let cases = path("cases.json")
    try #"[{"element": "bf16", "head_dim": 64, "seq_len_q": 8, "distribution": "fa3"}]"#.write(toFile: cases, atomically: true, encoding: .utf8)
    let baseline = path("baseline.json")
    try #"{"description": "d", "tolerance": 0.1, "absolute_tolerance": 0, "entries": [{"scheme": "fp32", "seq_len": 16, "head_dim": 16, "heads": 1, "causal": false, "distribution": "fa3", "seed": 0, "algorithm": "naive", "metrics": {"rmse": 0}}]}"#
      .write(toFile: baseline, atomically: true, encoding: .utf8)
    for (arguments, says) in [
      (["table", "fa3", "--seq-len", "16"], "'table fa3' is now 'table paper-rmse'"),
      (["sweep", plain, "--out-dir", path("r1")], "'fa3' is now called 'sparse-outliers'"),
      (["sweep", kind, "--out-dir", path("r2")], "'fa3-outliers' is now called 'sparse-outliers'"),
      (["sweep", tiles, "--out-dir", path("r3")], "'blocked-fa3' is now called 'blocked-hopper-tiles'"),
      (["crosscheck", "--cases", cases, "--kernel-outputs", path("none")], "distribution 'fa3' is now called 'sparse-outliers'"),
      (["regress", "--baseline", baseline], "distribution: 'fa3' is now called 'sparse-outliers'"),
      (["report", try oldResults("distribution_kind"), "--out-dir", path("rep1")], "distribution_kind 'fa3-outliers' is now called 'sparse-outliers'"),
      (["report", try oldResults("algorithm"), "--out-dir", path("rep2")], "algorithm 'blocked-fa3' is now called 'blocked-hopper-tiles'"),
    ] {
      try assertBadInput(arguments, says)
    }
  }

  /// `--json` prints exactly one JSON value on stdout, for every command cheap enough to run here
  /// (the others print theirs in their own tests: regress in the regression-gate test, mufu
  /// --check in the MUFU hash test, which needs all 2^32 inputs).
  func testJSONOnStdoutIsOneValue() throws {
    let x = try write(NPYArray(shape: [2, 3], float32: [1, 2, 3, -1, 0.5, 7]), "x.npy")
    let a = try write(NPYArray(shape: [1, 64, 32], uint8: Array(repeating: 0x38, count: 64 * 32)), "a.npy")
    let b = try write(NPYArray(shape: [1, 8, 32], uint8: Array(repeating: 0x38, count: 8 * 32)), "b.npy")
    let c = try write(NPYArray(shape: [1, 64, 8], uint32: Array(repeating: 0, count: 64 * 8)), "c.npy")
    let q = try write(NPYArray(shape: [1, 8, 1, 16], float32: (0..<128).map { Float(sin(Double($0))) }), "q.npy")
    let qb = try write(NPYArray(shape: [1, 8, 1, 64], uint16: (0..<512).map { UInt16(truncatingIfNeeded: Float(sin(Double($0))).bitPattern >> 16) }), "qb.npy")
    let experiment = path("e.yaml")
    try "name: e\nschemes: [fp32, bf16]\nseq_len: [16]\nhead_dim: [16]\ndistributions: [gaussian]\nreference: {kind: fp64}\n"
      .write(toFile: experiment, atomically: true, encoding: .utf8)
    let runs: [(String, [String])] = [
      ("formats", ["formats"]),
      ("schemes", ["schemes"]),
      ("lint-schedule", ["lint-schedule"]),
      ("convert", ["convert", "--format", "e4m3fn", x, "--out", path("y.npy")]),
      ("mma", ["mma", "--instruction", "wgmma-e4m3-e4m3-k32", "--a", a, "--b", b, "--c", c, "--out", path("d.npy")]),
      ("mufu", ["mufu", "--function", "ex2", x, "--out", path("m.npy")]),
      ("attention", ["attention", "--q", q, "--k", q, "--v", q, "--scheme", "bf16", "--algorithm", "naive", "--out", path("o.npy")]),
      ("reference", ["reference", "--q", q, "--k", q, "--v", q, "--out", path("r.npy")]),
      ("attention", ["attention", "--q", qb, "--k", qb, "--v", qb, "--input-format", "bf16", "--algorithm", "fa3", "--out", path("k.npy")]),
      ("table paper-rmse", ["table", "paper-rmse", "--seq-len", "32", "--head-dim", "32", "--heads", "1", "--seeds", "0", "--rotation-seeds", "0", "--fp64-reference"]),
      ("table p-overflow", ["table", "p-overflow", "--seq-lens", "128", "--logit-stds", "1", "--seeds", "0", "--residues", "0", "--head-dim", "16", "--heads", "1"]),
      ("invariance", ["invariance", "--heads", "2", "--kv-heads", "1", "--keys", "300", "--batch-sizes", "1,2", "--cache-lengths", "300"]),
      ("sweep", ["sweep", experiment, "--out-dir", path("res"), "--threads", "1"]),
      ("merge", ["merge", path("res/e.csv"), "--out-dir", path("merged")]),
      ("report", ["report", path("res/e.json"), "--out-dir", path("rep")]),
      ("slurm", ["slurm", experiment, "--tasks", "1", "--out-dir", path("slurm")]),
      ("bench convert", ["bench", "convert", "--count", "1000", "--repeats", "1", "--no-peers"]),
      ("bench mma", ["bench", "mma", "--rows", "64", "--repeats", "1"]),
      ("bench attention", ["bench", "attention", "--only", "fa3", "--seq-len", "64", "--head-dim", "64", "--repeats", "1", "--no-peers"]),
      ("bench scaling", ["bench", "scaling", "--seq-lens", "64,128", "--head-dims", "64", "--engines", "reference", "--threads", "1"]),
    ]
    var covered = Set<String>()
    for (command, arguments) in runs {
      let r = try run(arguments + ["--json"])
      XCTAssertEqual(r.status, 0, "\(command): \(r.stderr)")
      XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed]), "\(command) stdout: \(r.stdout.prefix(300))")
      covered.insert(command)
    }
    // crosscheck's --json runs in CrosscheckCLITests (saved kernel outputs), regress's and mufu
    // --check's in their own tests (minutes each).
    XCTAssertEqual(Set(Self.commands.keys).subtracting(covered), ["crosscheck", "regress"])
  }

  /// The version is written once, in VERSION: `flashnum --version` shows it.
  func testVersionComesFromTheVersionFile() throws {
    let version = try String(contentsOfFile: Repository.path("VERSION"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    let r = try run(["--version"])
    XCTAssertTrue(r.stdout.hasPrefix("flashnum \(version) ("), r.stdout)
  }
}
