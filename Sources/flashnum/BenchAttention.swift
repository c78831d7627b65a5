import Experiments
import Hopper
import ArgumentParser
import Attention
import Foundation
import NPY
import Reference
import CVectorShims
import Measurement

/// `flashnum bench attention`: emulated attention and the MPFR reference, wall-clock seconds.
struct BenchAttention: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Seconds for emulated FP8 and FP32 blocked attention, the FA3 schedule (1 and 2 threads) and the MPFR reference.",
    discussion: """
      Inputs: FA3 outlier distribution, seed 0, one head, not causal. FP8 = scheme fa3-fp8-per-head \
      (e4m3fn, P·2^8 in e4m3fn, FP32 accumulation) with FA3's tile sizes and reverse order; FP32 = \
      scheme fp32 with 128×128 blocks. FA3 schedule = the bit-exact kernel emulation on e4m3fn \
      (per-head descales) and bf16 codes of the same distribution. Reference = MPFR at 128 bits (uncertified), and \
      with its a-priori error bound at the least precision (64, 80, 96, ... bits) that certifies ≥ 53 bits in \
      every output. Each figure is the median of --repeats runs; \
      outputs of every thread count are checked bitwise equal. Peers, in the same run (python3 on PATH; skipped \
      with a message when missing): Scripts/numpy_attention.py (NumPy + ml_dtypes fake-quantized FP8 attention on \
      the same inputs and tiles) and Scripts/mpmath_reference.py (the reference's algorithm in mpmath at the same precision, \
      timed on --mpmath-rows rows; rows cost the same, so the whole is per-row time × rows). \
      The FP32 peak is one core's register-resident FMA loop (fn_fma_peak) times the cores; \
      attention's flop count is 4·N²·d (two products, multiply and add). --json rows: computation \
      (fp32-fma-peak, fp32-blocked, fp8-blocked, fa3-e4m3fn, fa3-bf16, reference-mpfr-128, \
      reference-certified, reference-double-word, peer-numpy, peer-mpmath), threads, seq_len, \
      head_dim, seconds, and where they apply gflops and certified_bits.
      """)

  @Option(name: .customLong("seq-len"), help: "Sequence length of the attention runs.") var seqLen = 4096
  @Option(name: .customLong("reference-seq-len"), help: "Sequence length of the reference run.") var referenceSeqLen = 1024
  @Option(name: .customLong("head-dim"), help: "Head dimension.") var headDim = 128
  @Option(help: "Runs per figure (median reported).") var repeats = 3
  @Flag(name: .customLong("no-peers"), help: "Skip the Python peers (NumPy + ml_dtypes, mpmath).") var noPeers = false
  @Option(name: .customLong("mpmath-rows"), help: "Query rows the mpmath peer computes (its time is per row × N).") var mpmathRows = 2
  @Option(help: "Folder of the peer scripts.") var scripts = "Scripts"
  @Option(name: .customLong("only"), parsing: .upToNextOption,
          help: "Comma-separated parts to run (default: all): blocked (FP32 and FP8 blocked), fa3 (the FA3 schedule), reference, peers. Peers need blocked and reference.")
  var onlyText: [String] = []
  var only: [Part] { (try? commaList(onlyText, "--only", { Part(rawValue: $0) })).flatMap { $0.isEmpty ? nil : $0 } ?? Part.allCases }
  @Flag(help: "Print one JSON array of rows instead of the tables.") var json = false

  enum Part: String, CaseIterable, ExpressibleByArgument {
    case blocked, fa3, reference, peers
  }

  func validate() throws {
    _ = try commaList(onlyText, "--only", { Part(rawValue: $0) })
    for (option, n) in [("--seq-len", seqLen), ("--reference-seq-len", referenceSeqLen)] {
      do { try AttentionShape(seqLenQ: n, headDim: headDim).validate() } catch { throw ValidationError("\(option) \(n), --head-dim \(headDim): \(error.description)") }
    }
    try checkCount(repeats, 1...10_000, "--repeats")
    try checkCount(mpmathRows, 1...referenceSeqLen, "--mpmath-rows")
  }

  func run() throws {
    let out = BenchOutput(json: json)
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: seqLen, headDim: headDim), .paperOutliers, seed: 0)
    func emit(_ computation: String, _ times: [Double], n: Int, extra: [(String, JSONText)] = []) {
      for (k, t) in times.enumerated() {
        out.row([("computation", .string(computation)), ("threads", .int(k + 1)), ("seq_len", .int(n)), ("head_dim", .int(headDim)),
                 ("seconds", .double(t))] + extra)
      }
    }
    let flops = 4 * Double(seqLen) * Double(seqLen) * Double(headDim)
    // The FP32 FMA peak: one core's register-resident loop, times the cores.
    let cores = ProcessInfo.processInfo.activeProcessorCount
    var peak = Double.nan
    if fn_hardware_fma() != 0 {
      let iterations = 20_000_000
      var sink: Float = 0
      let t = medianNanoseconds(max(repeats, 3)) { sink += fn_fma_peak(iterations) } * 1e-9
      if sink == 42 { out.line("") }
      peak = 192 * Double(iterations) / t / 1e9 * Double(cores)
      out.row([("computation", .string("fp32-fma-peak")), ("threads", .int(cores)), ("seq_len", .null), ("head_dim", .null),
               ("seconds", .double(t)), ("gflops", .double(peak))])
    }
    out.line("flashnum bench attention: N=\(seqLen), d=\(headDim), one head; median of \(repeats) runs; seconds")
    out.line(String(format: "FP32 FMA peak (register-resident FMA loop, %d cores): %.0f GFLOP/s", cores, peak))
    out.line()
    out.line("| computation | 1 thread | 2 threads | speed-up | vs FP32 blocked (2 threads) | GFLOP/s (2 threads) | of FP32 peak |")
    out.line("|---|---|---|---|---|---|---|")
    func row(_ label: String, _ times: [Double], _ fp32: Double, gflops: Double? = nil) {
      let ratio = fp32.isNaN ? "—" : String(format: "%.2f×", times[1] / fp32)
      let g = gflops.map { String(format: "%.1f", $0) } ?? "—"
      let share = gflops.map { peak.isNaN ? "—" : String(format: "%.0f %%", 100 * $0 / peak) } ?? "—"
      out.line("| \(label) | \(f(times[0])) | \(f(times[1])) | \(String(format: "%.2f×", times[0] / times[1])) | \(ratio) | \(g) | \(share) |")
    }
    var fp32Seconds = Double.nan
    var fp8Seconds: [Double] = []
    var fa3Seconds: [Double]?
    for (label, name, algorithm) in !only.contains(.blocked) ? [] : [
      ("FP32 blocked (fp32, 128×128)", "fp32", AttentionAlgorithm.blocked(.flash2)),
      ("FP8 blocked (fa3-fp8-per-head, FA3 tiles)", "fa3-fp8-per-head",
       AttentionAlgorithm.blocked(.hopperTiles(headDim: headDim, fp8: true, causal: false))),
    ] {
      let scheme = AttentionScheme.named(name)!
      let operands = try scheme.prepare(x, rotationSeed: 0)
      var outputs: [[Double]] = []
      var times: [Double] = []
      for threads in [1, 2] {
        let t = try median {
          let o = try EmulatedAttention.run(operands, plan: scheme.plan, algorithm: algorithm, options: AttentionOptions(threads: threads))
          outputs.append(o.values)
        }
        times.append(t)
      }
      guard outputs.allSatisfy({ $0 == outputs[0] }) else { throw ValidationError("outputs differ between thread counts") }
      if name == "fp32" { fp32Seconds = times[1] } else { fp8Seconds = times }
      row(label, times, fp32Seconds, gflops: flops / times[1] / 1e9)
      emit(name == "fp32" ? "fp32-blocked" : "fp8-blocked", times, n: seqLen, extra: [("gflops", .double(flops / times[1] / 1e9))])
    }
    // The bit-exact FA3 schedule (H100 wgmma arithmetic, MUFU, FTZ) on the same distribution, quantized as
    // `flashnum crosscheck` does (FP8: per-head descales).
    for element in !only.contains(.fa3) ? [] : [FA3Inputs.Element.e4m3fn, .bf16] {
      let inputs = try FA3Case(element: element, headDim: headDim, seqLenQ: seqLen, heads: 1, seed: 0).inputs()
      let schedule = FA3Schedule.fa3(element: element, headDim: headDim, causal: false, seqLenQ: seqLen)
      var outputs: [FA3Output] = []
      var times: [Double] = []
      for threads in [1, 2] {
        times.append(try median { outputs.append(try FA3Forward.run(inputs, schedule: schedule, threads: threads)) })
      }
      guard outputs.allSatisfy({ $0 == outputs[0] }) else { throw ValidationError("FA3 outputs differ between thread counts") }
      if element == .e4m3fn { fa3Seconds = times }
      row("FA3 schedule \(element.rawValue) (--algorithm fa3, kBlockN \(schedule.blocks.blockColumns))", times, fp32Seconds)
      emit("fa3-\(element.rawValue)", times, n: seqLen)
    }
    guard only.contains(.reference) else { out.finish(); return }
    let r = AttentionInputs.generate(AttentionShape(seqLenQ: referenceSeqLen, headDim: headDim), .paperOutliers, seed: 0)
    var refs: [[Double]] = []
    var times: [Double] = []
    for threads in [1, 2] {
      times.append(try median {
        refs.append(try ReferenceAttention.compute(r, precision: 128, threads: threads).values)
      })
    }
    guard refs.allSatisfy({ $0 == refs[0] }) else { throw ValidationError("reference outputs differ between thread counts") }
    out.line("| MPFR reference, 128 bits, N=\(referenceSeqLen) (uncertified) | \(f(times[0])) | \(f(times[1])) | \(String(format: "%.2f×", times[0] / times[1])) | — | — | — |")
    emit("reference-mpfr-128", times, n: referenceSeqLen)
    // The certified MPFR reference: the a-priori error bound, at the least precision (from 64
    // bits, in steps of 16) whose bound guarantees ≥ 53 bits in every output.
    var precision = 64
    var bound = try ReferenceAttention.bounded(r, precision: precision, threads: 2).bound
    while bound.certifiedBits < 53 && precision < 256 {
      precision += 16
      bound = try ReferenceAttention.bounded(r, precision: precision, threads: 2).bound
    }
    var certified: [Double] = []
    var boundedOutputs: [[Double]] = []
    for threads in [1, 2] {
      certified.append(try median {
        boundedOutputs.append(try ReferenceAttention.bounded(r, precision: precision, threads: threads).output.values)
      })
    }
    guard boundedOutputs.allSatisfy({ $0 == boundedOutputs[0] }) else { throw ValidationError("reference outputs differ between thread counts") }
    out.line("| MPFR reference, \(precision) bits with error bound (≥ \(bound.certifiedBits) bits certified), N=\(referenceSeqLen) | \(f(certified[0])) | \(f(certified[1])) | \(String(format: "%.2f×", certified[0] / certified[1])) | — | — | — |")
    emit("reference-certified", certified, n: referenceSeqLen, extra: [("certified_bits", .int(bound.certifiedBits)), ("precision_bits", .int(precision))])
    // The double-word reference with its own bound (MPFR only for quotients and uncertified rows).
    var dw: [Double] = []
    var dwRuns: [(output: AttentionTensor, bound: ErrorBound, fallbackRows: Int)] = []
    for threads in [1, 2] {
      dw.append(try median { dwRuns.append(try ReferenceAttention.doubleWord(r, threads: threads)) })
    }
    guard dwRuns.allSatisfy({ $0.output.values == dwRuns[0].output.values }) else { throw ValidationError("double-word reference outputs differ between thread counts") }
    let dwRun = dwRuns[0]
    let differing = zip(dwRun.output.values, boundedOutputs[0]).filter { $0 != $1 }.count
    out.line("| Double-word reference with error bound (≥ \(dwRun.bound.certifiedBits) bits certified, \(dwRun.fallbackRows) rows redone in MPFR; \(differing) outputs differ from the MPFR certified one), N=\(referenceSeqLen) | \(f(dw[0])) | \(f(dw[1])) | \(String(format: "%.2f×", dw[0] / dw[1])) | — | — | — |")
    out.line()
    out.line(String(format: "Double-word reference: %.1f× faster than the MPFR certified reference on 1 thread, %.1f× on 2.", certified[0] / dw[0], certified[1] / dw[1]))
    emit("reference-double-word", dw, n: referenceSeqLen, extra: [("certified_bits", .int(dwRun.bound.certifiedBits)), ("fallback_rows", .int(dwRun.fallbackRows))])
    if noPeers || !only.contains(.peers) || !only.contains(.blocked) { out.finish(); return }
    try peers(out, fp8: fp8Seconds, fa3: fa3Seconds, reference: certified, doubleWord: dw, precision: precision, referenceInputs: r, attentionInputs: x)
    out.finish()
  }

  /// Runs the Python peers on the same inputs (written as float64 .npy) and prints the ratios.
  func peers(_ out: BenchOutput, fp8: [Double], fa3: [Double]?, reference: [Double], doubleWord: [Double], precision: Int,
             referenceInputs r: AttentionInputs, attentionInputs x: AttentionInputs) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flashnum-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func save(_ t: AttentionTensor, _ name: String) throws -> String {
      let path = dir + "/" + name
      try writeNPY(NPYArray(shape: [t.batch, t.seqLen, t.heads, t.headDim], float64: t.values), path)
      return path
    }
    out.line("")
    out.line("Peers (same inputs, same session):")
    out.line("| peer | seconds | FlashNumerics seconds | ratio |")
    out.line("|---|---|---|---|")
    let numpyArgs = [try save(x.q, "q.npy"), try save(x.k, "k.npy"), try save(x.v, "v.npy"),
                     "--block", "\(BlockSchedule.hopperTiles(headDim: headDim, fp8: true, causal: false).blockColumns)", "--repeats", "\(repeats)"]
    switch runPythonPeer(scripts + "/numpy_attention.py", numpyArgs) {
    case .success(let o):
      let s = o["seconds"] as? Double ?? .nan
      // Ours ÷ the peer's seconds, in words.
      func versus(_ ours: Double) -> String { ours >= s ? String(format: "%.1f× slower", ours / s) : String(format: "%.1f× faster", s / ours) }
      let fa3Text = fa3.map { " / \(f($0[1])) (FA3 schedule e4m3fn)" } ?? "", fa3Ratio = fa3.map { " / FA3 schedule \(versus($0[1]))" } ?? ""
      out.line("| NumPy \(o["numpy"] ?? "?") + ml_dtypes \(o["ml_dtypes"] ?? "?") fake-quantized FP8 attention, N=\(seqLen) (BLAS) | \(f(s)) | \(f(fp8[1])) (FP8 blocked)\(fa3Text), 2 threads | FP8 blocked \(versus(fp8[1]))\(fa3Ratio) |")
      out.row([("computation", .string("peer-numpy")), ("threads", .null), ("seq_len", .int(seqLen)), ("head_dim", .int(headDim)), ("seconds", .double(s))])
    case .failure(let why):
      out.line("| NumPy + ml_dtypes: skipped: \(why) | — | — | — |")
      if json { note("bench attention: NumPy peer skipped: \(why)") }
    }
    let mpArgs = [try save(r.q, "rq.npy"), try save(r.k, "rk.npy"), try save(r.v, "rv.npy"), "--prec", "\(precision)", "--rows", "\(mpmathRows)"]
    switch runPythonPeer(scripts + "/mpmath_reference.py", mpArgs) {
    case .success(let o):
      let perRow = o["seconds_per_row"] as? Double ?? .nan
      let whole = perRow * Double(r.q.rowCount)
      out.line("| mpmath \(o["mpmath"] ?? "?") (\(o["backend"] ?? "?") backend) reference, \(precision) bits, N=\(referenceSeqLen): \(mpmathRows) rows timed, × \(r.q.rowCount) rows | \(f(whole)) | \(f(reference[0])) MPFR certified / \(f(doubleWord[0])) double-word (1 thread) | FlashNumerics \(String(format: "%.0f×", whole / reference[0])) / \(String(format: "%.0f×", whole / doubleWord[0])) faster |")
      out.row([("computation", .string("peer-mpmath")), ("threads", .int(1)), ("seq_len", .int(referenceSeqLen)), ("head_dim", .int(headDim)),
               ("seconds", .double(whole)), ("precision_bits", .int(precision))])
    case .failure(let why):
      out.line("| mpmath: skipped: \(why) | — | — | — |")
      if json { note("bench attention: mpmath peer skipped: \(why)") }
    }
  }

  func f(_ seconds: Double) -> String { String(format: "%.2f", seconds) }

  /// Median seconds of `--repeats` runs.
  func median(_ body: () throws -> Void) rethrows -> Double { try medianNanoseconds(repeats, body) * 1e-9 }
}
