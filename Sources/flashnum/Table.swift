import Measurement
import Attention
import Reference
import Experiments
import ArgumentParser
import Foundation
import Reporting
import ToolIdentity

/// `flashnum table paper-rmse`: the FA3 paper's Table 3 on the emulator.
struct Table: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Reproduce a published error table.",
    subcommands: [PaperRMSE.self, POverflow.self, RenamedFA3.self])

  enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case markdown, csv, json }

  /// Seeds from `A-B` (inclusive, at most 4096 of them) or a comma-separated list, none repeated.
  static func seedList(_ text: String, _ option: String) throws -> [UInt64] {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    if parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]) {
      guard a <= b, b - a < 4096 else { throw ValidationError("\(option): a range A-B needs A ≤ B and at most 4096 seeds, got '\(text)'") }
      return Array(a...b)
    }
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else {
      throw ValidationError("\(option): expected seeds as a comma-separated list or a range A-B, got '\(text)'")
    }
    let seeds = items.map { $0! }
    guard Set(seeds).count == seeds.count else { throw ValidationError("\(option): a seed is listed twice in '\(text)'") }
    return seeds
  }

  /// `table fa3`, the table's name before `fa3` came to name the kernel only: refused with the
  /// new name, whatever follows.
  struct RenamedFA3: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fa3", abstract: "Renamed: use 'table paper-rmse'.", shouldDisplay: false)
    @Argument(parsing: .allUnrecognized) var rest: [String] = []
    func run() throws { throw InputError("'table fa3' is now 'table paper-rmse' ('fa3' names the FA3 kernel only)") }
  }

  struct PaperRMSE: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "paper-rmse",
      abstract: "The FlashAttention-3 paper's numerical error table (Table 3): RMSE against a certified reference, over seeds.",
      discussion: """
        Inputs follow the paper's outlier distribution N(0,1) + N(0,100)·Bernoulli(0.001). Every method runs on \
        each input seed (--seeds); the methods with a random rotation run each input seed with each rotation \
        seed (--rotation-seeds), drawn apart from the inputs. The table (median and range of the RMSE, the \
        paper's RMSE, paired ratios, the rotation-seed spread) is printed on stdout; with --out-dir DIR it is also \
        written to DIR/paper-rmse-table.md, .csv (one line per sample), .json and the figure DIR/paper-rmse-table-rmse.svg \
        (and .png). Without --out-dir nothing is written. Progress goes to stderr. The reference is the \
        double-word one, certified to float64 precision by its error bound (MPFR where the bound falls \
        short); --reference-bits N uses MPFR at N bits instead.
        """)

    @Option(name: .customLong("seq-len"), help: "Sequence length (queries = keys).") var seqLen = 1024
    @Option(name: .customLong("head-dim"), help: "Head dimension.") var headDim = 128
    @Option(help: "Batch size.") var batch = 1
    @Option(help: "Number of heads.") var heads = 2
    @Option(help: "Input seeds: a comma-separated list or a range A-B (inclusive).") var seeds = "0-7"
    @Option(name: .customLong("rotation-seeds"), help: "Seeds of the random rotation (list or range), each run on every input seed.")
    var rotationSeeds = "0-7"
    @Option(name: .customLong("reference-bits"),
            help: "Use the MPFR reference at this working precision in bits (certified by a rigorous error bound, one run) instead of the double-word one.")
    var referenceBits: Int?
    @Flag(name: .customLong("fp64-reference"), help: "Use the emulator's FP64 pipeline as reference (fast, uncertified).")
    var fp64Reference = false
    @Option(help: "Worker threads (results do not depend on it).") var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
      try checkThreads(threads)
      if let referenceBits {
        if fp64Reference { throw ValidationError("--reference-bits and --fp64-reference exclude each other") }
        try checkCount(referenceBits, ReferenceAttention.precisions, "--reference-bits")
      }
      do { try AttentionShape(batch: batch, seqLenQ: seqLen, headsQ: heads, headDim: headDim).validate() } catch {
        throw ValidationError("--seq-len, --head-dim, --batch, --heads: \(error.description)")
      }
      _ = try seedList(seeds, "--seeds")
      _ = try seedList(rotationSeeds, "--rotation-seeds")
    }
    @Option(help: "Output format on stdout: markdown, csv or json.") var format: OutputFormat = .markdown
    @Flag(help: "JSON on stdout (the same as --format json, as attention, reference and regress take it).") var json = false
    @Option(name: .customLong("out-dir"), help: "Folder to write paper-rmse-table.md, .csv, .json and the figure into (default: write nothing).")
    var out: String?
    @OptionGroup var folder: FolderOutputConvention

    func run() throws {
      var c = PaperRMSETable.Configuration()
      c.seqLen = seqLen; c.headDim = headDim; c.batch = batch; c.heads = heads
      c.seeds = try seedList(seeds, "--seeds"); c.rotationSeeds = try seedList(rotationSeeds, "--rotation-seeds")
      c.referencePrecision = referenceBits; c.threads = max(1, threads); c.fp64Reference = fp64Reference
      // The output folder first: one that cannot be made fails before the work.
      if let out { try makeOutputFolder(out) }
      let table: PaperRMSETable
      do {
        let ticker = ProgressTicker("table paper-rmse")
        defer { ticker.stop() }
        table = try PaperRMSETable.run(c) { ticker.stage($0) }
      }
      switch json ? .json : format {
      case .markdown: print(table.markdown(), terminator: "")
      case .csv: print(table.csv(), terminator: "")
      case .json: print(table.json(), terminator: "")
      }
      note(String(format: "reference %.1f s, emulation %.1f s", table.referenceSeconds, table.emulationSeconds))
      guard let out else { return }
      let reference = fp64Reference ? " --fp64-reference" : referenceBits.map { " --reference-bits \($0)" } ?? ""
      let command = "flashnum table paper-rmse --seq-len \(seqLen) --head-dim \(headDim) --batch \(batch) --heads \(heads) "
        + "--seeds \(seeds) --rotation-seeds \(rotationSeeds)\(reference) --out-dir DIR"
      let figure = "paper-rmse-table-rmse.svg"
      var report = "# FlashAttention-3 Table 3, reproduced\n\nMade by `\(command)` (\(ToolIdentity.description)).\n\n" + table.markdown()
      report += "\n![RMSE per method: median and range over seeds, and the paper's RMSE](\(figure))\n"
      try write(table.figure().svg(), out, figure)
      try renderPNG(of: (out as NSString).appendingPathComponent(figure))
      try write(report, out, "paper-rmse-table.md")
      try write(table.csv(), out, "paper-rmse-table.csv")
      try write(table.json(), out, "paper-rmse-table.json")
    }
  }

  /// Writes `text` to `folder/name` (through a temporary and a rename).
  static func write(_ text: String, _ folder: String, _ name: String) throws {
    let path = (folder as NSString).appendingPathComponent(name)
    try SweepResults.writeAtomically(Data(text.utf8), to: path)
    note("wrote \(path)")
  }

  /// `flashnum table p-overflow`: FlashAttention-4's FP8 constants on the emulator.
  struct POverflow: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "p-overflow",
      abstract: "FP8 P overflow: e4m3 vs e5m2 P under FlashAttention-4's offset and stale-maximum threshold, and with them fixed.",
      discussion: """
        Runs the bit-exact FA3 schedule on e4m3fn Gaussian inputs with P's offset and a stale-maximum threshold \
        (--fa3-set probabilityOffset, rescaleThreshold) for four variants, P in e4m3fn and e5m2, over sequence \
        lengths and logit standard deviations; prints the Markdown report (--json: the rows as JSON), and with \
        --out-dir DIR writes it to DIR/fp8-p-overflow.md (without it nothing is written). Progress goes to stderr.
        """)

    @Option(name: .customLong("seq-lens"), help: "Comma-separated sequence lengths (queries = keys).") var seqLens = "1024,4096"
    @Option(name: .customLong("logit-stds"), help: "Comma-separated standard deviations of the logits.") var logitStds = "0.5,1,2"
    @Option(help: "Seeds: a comma-separated list or a range A-B (the spread is over them).") var seeds = "0-7"
    @Option(help: "Comma-separated keys in the first key block visited (N mod Bc), each at N = 1024 + r, σ = 1.") var residues = "0,1,64,128,192"
    @Option(name: .customLong("head-dim"), help: "Head dimension (16...256, a multiple of 16).") var headDim = 128
    @Option(help: "Number of heads.") var heads = 2
    @Option(help: "Worker threads (results do not depend on it).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("out-dir"), help: "Folder to write fp8-p-overflow.md into (default: write nothing).") var out: String?
    @OptionGroup var folder: FolderOutputConvention
    @OptionGroup var output: JSONFlag

    func list<T: LosslessStringConvertible>(_ text: String, _ option: String, _ valid: (T) -> Bool) throws -> [T] {
      let items = text.split(separator: ",", omittingEmptySubsequences: false).map { T(String($0).trimmingCharacters(in: .whitespaces)) }
      guard !items.isEmpty, items.allSatisfy({ $0.map(valid) ?? false }) else { throw ValidationError("\(option): expected a comma-separated list of valid values, got '\(text)'") }
      return items.map { $0! }
    }

    func configuration() throws -> POverflowTable.Configuration {
      var c = POverflowTable.Configuration()
      c.seqLens = try list(seqLens, "--seq-lens") { (n: Int) in (1...65_536).contains(n) }
      c.logitStds = try list(logitStds, "--logit-stds") { (x: Double) in x.isFinite && x > 0 && x <= 64 }
      c.seeds = try Table.seedList(seeds, "--seeds")
      c.residues = try list(residues, "--residues") { (r: Int) in (0...65_536).contains(r) }
      try checkCount(headDim, 16...256, "--head-dim")
      guard headDim % 16 == 0 else { throw ValidationError("--head-dim must be a multiple of 16 (e4m3fn), got \(headDim)") }
      try checkCount(heads, 1...1024, "--heads")
      try checkThreads(threads)
      (c.headDim, c.heads, c.threads) = (headDim, heads, threads)
      return c
    }

    func validate() throws { _ = try configuration() }

    func run() throws {
      if let out { try makeOutputFolder(out) }
      let table = try POverflowTable.run(try configuration()) { note("p-overflow: \($0)") }
      let command = "flashnum table p-overflow --seq-lens \(seqLens) --logit-stds \(logitStds) --seeds \(seeds) --residues \(residues) "
        + "--head-dim \(headDim) --heads \(heads)" + (out == nil ? "" : " --out-dir DIR")
      var text = table.markdown(command: command)
      if output.json {
        print(JSONText.array(table.rows.map { r in
          .object([("variant", .string(r.variant.name)), ("offset", .int(r.variant.offset)),
                   ("threshold", r.variant.threshold.map { .double(Double($0)) } ?? .null), ("cell", .string(r.cell.label)),
                   ("seq_len", .int(r.cell.seqLen)), ("logit_std", .double(r.cell.logitStd)),
                   ("rmse_e4m3", .array(r.e4m3.map { .double($0) })), ("rmse_e5m2", .array(r.e5m2.map { .double($0) }))])
        }).document, terminator: "")
      } else {
        print(text, terminator: "")
      }
      guard let out else { return }
      let figures = table.figures()
      if !figures.isEmpty { text += "\n## Figures\n\n" }
      for f in figures {
        try Table.write(f.svg, out, f.fileName)
        try renderPNG(of: (out as NSString).appendingPathComponent(f.fileName))
        text += "![\(f.caption)](\(f.fileName))\n\n*\(f.caption)*\n\n"
      }
      try Table.write(text, out, "fp8-p-overflow.md")
    }
  }
}
