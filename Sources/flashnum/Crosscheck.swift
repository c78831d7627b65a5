import Measurement
import Reference
import Experiments
import ArgumentParser
import Attention
import Diagnostics
import Dispatch
import Foundation
import NPY

/// `flashnum crosscheck`: the FA3 emulator against the real kernel, on the same input bytes.
struct Crosscheck: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare the emulated FlashAttention-3 schedule with the real kernel, bit for bit.",
    discussion: """
      Generates each case's inputs (codes and descales), runs the real kernel through \
      Scripts/fa3_bridge.py when a CUDA device and the fa3_fwd module are present (otherwise one \
      line says why and the kernel columns stay empty), runs the emulator on the same bytes, and \
      reports per case: O and LSE bits equal to the kernel's, the largest O distance in BF16 ulps, \
      and the RMSE of both against an MPFR reference. --kernel-outputs replays saved kernel \
      outputs instead. Exit 1 when any compared bit differs.
      """)

  @Option(help: "JSON file with a list of cases (keys: element, head_dim, seq_len_q, seq_len_k, batch, heads, kv_heads, causal, distribution, hadamard, seed, num_splits, cache_seqlens, nan_codes); default: the standard cases.")
  var cases: String?
  @Option(name: .customLong("case-limit"), help: "Run only the first N cases.") var caseLimit: Int?
  @Option(name: .customLong("case-dir"), help: "Instead of generated cases, a directory of given inputs (q.npy, k.npy, v.npy codes, optional {q,k,v}_descale.npy, meta.json with element, causal, softmax_scale); repeatable.")
  var caseDirs: [String] = []
  @Option(help: "Instead of the standard cases, N random ones (sizes, dims, masks, GQA, distributions; see --random-seed).")
  var random: Int?
  @Option(name: .customLong("random-seed"), help: "Seed of --random.") var randomSeed: UInt64 = 0
  @Option(name: .customLong("random-kind"), help: "Kernel path of --random: \(FA3RandomKind.allCases.map(\.rawValue).joined(separator: ", ")) (default prefill).")
  var randomKind: String = FA3RandomKind.prefill.rawValue
  @Option(name: .customLong("work-dir"), help: "Where case directories are written (default: a fresh temporary directory).")
  var workDir: String?
  @Option(name: .customLong("kernel-outputs"), help: "Directory of saved kernel outputs (one sub-directory per case name) to compare with instead of running the kernel.")
  var kernelOutputs: String?
  @Option(help: "The bridge script.") var script = "Scripts/fa3_bridge.py"
  @Option(help: "Python interpreter for the bridge.") var python = "python3"
  @Option(name: .customLong("reference-bits"), help: "MPFR precision of the reference (0: no reference).") var referenceBits = 64
  @Flag(help: "Also measure, per case with a kernel output, the bits each single change of the schedule costs.") var ablation = false
  @Option(name: .customLong("ablation-limit"), help: "Ablate only cases with at most this many scores (batch·heads·seqlen_q·seqlen_k).")
  var ablationLimit = 2_100_000
  @Option(help: "Worker threads (results do not depend on it).") var threads = ProcessInfo.processInfo.activeProcessorCount

  func validate() throws {
    try checkThreads(threads)
    if referenceBits != 0 { try checkCount(referenceBits, ReferenceAttention.precisions, "--reference-bits") }
    if let oldReport { throw ValidationError("--report is now --out (the Markdown report's file): --out \(oldReport)") }
    if let first = stray.first {
      throw ValidationError("unexpected argument '\(first)'" + (output.json ? "; --json is a flag (JSON on stdout): --json > \(first)" : ""))
    }
    if let report { try checkOutputs([report], notAmong: [cases]) }
  }
  @Option(name: .customLong("out"), help: "Write the Markdown report to this file (it also goes to stdout unless --json).") var report: String?
  @Option(name: .customLong("report"), help: .hidden) var oldReport: String?
  @OptionGroup var output: JSONFlag
  @Argument(help: .hidden) var stray: [String] = []
  @Option(name: .customLong("save-fixture"), help: "Copy each case with at most --fixture-limit outputs (case.json, o.npy, lse.npy) into this directory.")
  var saveFixture: String?
  @Option(name: .customLong("fixture-limit"), help: "Largest O (elements) saved by --save-fixture.") var fixtureLimit = 52_000

  func run() throws {
    let work = workDir ?? NSTemporaryDirectory() + "flashnum-crosscheck-\(ProcessInfo.processInfo.processIdentifier)"
    // (name, generating case if any, inputs, case directory)
    var prepared: [(String, FA3Case?, FA3Inputs, String)] = []
    if !caseDirs.isEmpty {
      guard cases == nil && random == nil else { throw InputError("--case-dir excludes --cases and --random") }
      for path in caseDirs {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let inputs: FA3Inputs
        inputs = try FA3Bridge.readInputs(path)
        do { try inputs.validate() } catch { throw InputError("\(path): \(error.description)") }
        prepared.append((name, nil, inputs, work + "/" + name))
      }
    } else {
      for c in try loadCases() {
        let inputs: FA3Inputs
        do {
          inputs = try c.inputs()
          try inputs.validate()
        } catch { throw InputError("case \(c): \(error.description)") }
        prepared.append((c.description, c, inputs, work + "/" + c.description))
      }
    }
    guard Set(prepared.map(\.0)).count == prepared.count else { throw InputError("case names must be distinct") }
    for (_, _, inputs, dir) in prepared {
      try FA3Bridge.write(inputs, to: dir)
    }
    // The kernel: saved outputs, the bridge, or nothing.
    var kernelDirs: [String]? = nil
    var device: String? = nil
    if let saved = kernelOutputs {
      kernelDirs = prepared.map { saved + "/" + $0.0 }
      device = "saved kernel outputs in \(saved)"
    } else {
      let bridge = FA3Bridge(python: python, script: script)
      switch bridge.check() {
      case .success(let name):
        note("crosscheck: running the FA3 kernel on \(name) for \(prepared.count) cases")
        try bridge.run(prepared.map(\.3))
        kernelDirs = prepared.map(\.3)
        device = "\(name) (fa3-fwd kernel via \(script))"
      case .failure(let why):
        note("crosscheck: kernel skipped: \(why.description)")
      }
    }
    var rows: [FA3Comparison] = []
    var ablationRows: [(String, [(String, Double, Double)])] = []
    var mismatch = false
    let start = Date()
    for (index, (name, c, inputs, _)) in prepared.enumerated() {
      let schedule = FA3Schedule.fa3(for: inputs)
      let t0 = Date()
      let emulated: FA3Output
      do { emulated = try FA3Forward.run(inputs, schedule: schedule, threads: max(1, threads)) } catch { throw InputError("case \(name): \(error.description)") }
      var row = FA3Comparison(name: name, testCase: c, schedule: schedule.description, referenceBits: referenceBits,
                              emulatorSeconds: Date().timeIntervalSince(t0))
      var kernel: FA3Output?
      if let dirs = kernelDirs {
        do {
          let (k, det) = try FA3Bridge.read(dirs[index], for: inputs)
          kernel = k
          row.kernelDeterministic = det
          let a = FA3Comparison.agreement(emulated, k)
          (row.oBitExact, row.lseBitExact, row.maxULP) = (a.o, a.lse, a.maxULP)
          if a.o < 1 || a.lse < 1 { mismatch = true }
          if let saveFixture, let c, inputs.q.count <= fixtureLimit { try save(c, inputs, k, to: saveFixture + "/" + name) }
        } catch let e as any FlashNumericsError { throw e } catch { throw InputError("\(name): \(error.localizedDescription)") }
      }
      if referenceBits > 0 {
        do {
          if let reference = try FA3Comparison.reference(inputs, precision: referenceBits, threads: max(1, threads)) {
            let format = inputs.element.outputFormat
            row.rmseEmulator = FA3Comparison.rmse(emulated.o, format, reference: reference)
            if let kernel { row.rmseKernel = FA3Comparison.rmse(kernel.o, format, reference: reference) }
          }
        } catch { throw InputError("case \(name): reference: \(error)") }
      }
      if ablation, let kernel, inputs.batch * inputs.heads * inputs.seqLenQ * inputs.seqLenK <= ablationLimit {
        var entries: [(String, Double, Double)] = []
        for (change, variant) in FA3Comparison.ablations(of: schedule, element: inputs.element) {
          do {
            let a = FA3Comparison.agreement(try FA3Forward.run(inputs, schedule: variant, threads: max(1, threads)), kernel)
            entries.append((change, a.o, a.lse))
          } catch { entries.append((change + " (not applicable: \(error.description))", .nan, .nan)) }
        }
        ablationRows.append((name, entries))
      }
      rows.append(row)
      let exact = row.oBitExact.map { String(format: ", O %.3f %% / LSE %.3f %% bit-exact", 100 * $0, 100 * (row.lseBitExact ?? 0)) } ?? ""
      note(String(format: "crosscheck: [%d/%d] %@%@ (%.0f s elapsed)", index + 1, prepared.count, name, exact,
                  Date().timeIntervalSince(start)))
    }
    var notes: [String] = []
    if !ablationRows.isEmpty { notes.append(ablationTable(ablationRows)) }
    let command = "flashnum " + CommandLine.arguments.dropFirst().joined(separator: " ")
    let markdown = FA3CrosscheckReport.markdown(rows, command: command, device: device, notes: notes)
    if let report { try write(markdown, report) }
    if output.json { print(JSONText.array(rows.map(\.json)).document, terminator: "") } else { print(markdown, terminator: "") }
    if workDir == nil { try? FileManager.default.removeItem(atPath: work) }
    if mismatch {
      note("crosscheck: some output bits differ from the kernel's")
      throw ExitCode(1)
    }
  }

  func loadCases() throws -> [FA3Case] {
    var list = FA3Comparison.standardCases
    if let n = random {
      guard n >= 1, cases == nil else { throw InputError("--random takes a positive count and excludes --cases") }
      guard let kind = FA3RandomKind(rawValue: randomKind) else {
        throw InputError("--random-kind: unknown kind '\(randomKind)'. Use one of: \(FA3RandomKind.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      list = FA3Comparison.randomCases(count: n, seed: randomSeed, kind: kind)
    }
    if let path = cases {
      guard let data = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read") }
      list = try decodeJSONFile([FA3Case].self, from: data, path: path, expected: "a JSON list of cases")
    }
    if let n = caseLimit {
      guard n >= 1 else { throw InputError("--case-limit must be at least 1, got \(n)") }
      list = Array(list.prefix(n))
    }
    // Every case is checked before any is generated or run.
    for (i, c) in list.enumerated() {
      do { try c.validate() } catch { throw InputError("\(cases ?? "cases"): [\(i)] \(c): \(error.description)") }
    }
    return list
  }

  func ablationTable(_ rows: [(String, [(String, Double, Double)])]) -> String {
    var s = "## Ablation: each single change to the schedule, O / LSE bit-exact against the kernel\n\n"
    s += "| case | change | O bit-exact | LSE bit-exact |\n|---|---|---|---|\n"
    for (name, entries) in rows {
      for (change, o, l) in entries { s += String(format: "| %@ | %@ | %.3f %% | %.3f %% |\n", name, change, 100 * o, 100 * l) }
    }
    return s
  }

  func save(_ c: FA3Case, _ inputs: FA3Inputs, _ kernel: FA3Output, to dir: String) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try c.json.document.write(toFile: dir + "/case.json", atomically: true, encoding: .utf8)
    try String(format: "%016llx\n", inputs.fingerprint).write(toFile: dir + "/fingerprint.txt", atomically: true, encoding: .utf8)
    try writeNPY(NPYArray(shape: [inputs.batch, inputs.seqLenQ, inputs.heads, inputs.valueHeadDim], uint16: kernel.o), dir + "/o.npy")
    try writeNPY(NPYArray(shape: [inputs.batch, inputs.heads, inputs.seqLenQ], float32: kernel.lse), dir + "/lse.npy")
  }

  func write(_ text: String, _ path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
  }
}
