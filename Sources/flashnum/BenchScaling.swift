import ArgumentParser
import Attention
import Experiments
import Foundation
import Hopper
import Measurement
import Reference
#if canImport(Glibc)
import Glibc
#endif

/// `flashnum bench scaling`: how time and memory grow with the sequence length.
struct BenchScaling: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scaling",
    abstract: "Seconds and peak memory of the FA3 emulation and the certified reference over sequence lengths and head dims, with fitted exponents.",
    discussion: """
      Each point (engine, N, d) runs once in a child process of its own (this executable, \
      hidden option --point), so its peak resident memory (getrusage) is its own. Engines: fa3 = \
      the bit-exact FA3 schedule on e4m3fn codes with per-head descales (FA3 outlier \
      distribution, one head, not causal); reference = the double-word certified reference of \
      the same distribution (one head). 'inputs' is the memory of the inputs themselves; \
      'working' is the engine's own memory, outputs included: the peak resident memory during \
      the run (its high-water mark reset once the inputs are built, /proc/self/clear_refs) less \
      the resident memory when it starts; where the reset is not available, the peak less that \
      of a child that builds the same inputs and runs nothing. The fitted exponents are the least-squares \
      slopes of log(seconds) and log(working) against log N over the lengths run for one \
      (engine, d). Attention costs N² in time and, for every engine but the naive one, O(N·d) in \
      memory. The default grid takes minutes; N up \
      to 32768 (--seq-lens 1024,2048,4096,8192,16384,32768) takes hours for the reference. \
      --json rows: engine, seq_len, head_dim, threads, seconds, peak_rss_mib, working_mib, input_mib \
      (and rows with engine, head_dim, time_exponent, memory_exponent).
      """)

  @Option(name: .customLong("seq-lens"), parsing: .upToNextOption, help: "Comma-separated sequence lengths (queries = keys). (default: 1024,2048,4096)")
  var seqLensText: [String] = []
  @Option(name: .customLong("head-dims"), parsing: .upToNextOption, help: "Comma-separated head dims (64, 128, 256 for the FA3 schedule). (default: 64,128,256)")
  var headDimsText: [String] = []
  @Option(name: .customLong("engines"), parsing: .upToNextOption, help: "Comma-separated engines: fa3, reference. (default: both)")
  var enginesText: [String] = []
  var seqLens: [Int] { (try? commaList(seqLensText, "--seq-lens", { Int($0) })).flatMap { $0.isEmpty ? nil : $0 } ?? [1024, 2048, 4096] }
  var headDims: [Int] { (try? commaList(headDimsText, "--head-dims", { Int($0) })).flatMap { $0.isEmpty ? nil : $0 } ?? [64, 128, 256] }
  var engines: [Engine] { (try? commaList(enginesText, "--engines", { Engine(rawValue: $0) })).flatMap { $0.isEmpty ? nil : $0 } ?? Engine.allCases }
  @Option(help: "Worker threads (results do not depend on it).") var threads = ProcessInfo.processInfo.activeProcessorCount
  @Flag(help: "Print one JSON array of rows instead of the tables.") var json = false
  @Option(help: .hidden) var point: String?

  enum Engine: String, CaseIterable, ExpressibleByArgument { case fa3, reference }

  func validate() throws {
    try checkThreads(threads)
    _ = try commaList(seqLensText, "--seq-lens", { Int($0) })
    _ = try commaList(headDimsText, "--head-dims", { Int($0) })
    _ = try commaList(enginesText, "--engines", { Engine(rawValue: $0) })
    for n in seqLens { try checkCount(n, 1...(1 << 20), "--seq-lens") }
    for d in headDims {
      guard [64, 96, 128, 192, 256].contains(d) else { throw ValidationError("--head-dims: \(d) is not a head dim of the FA3 schedule (64, 96, 128, 192, 256)") }
    }
    if Set(seqLens).count != seqLens.count || Set(headDims).count != headDims.count || Set(engines).count != engines.count {
      throw ValidationError("--seq-lens, --head-dims and --engines may not list a value twice")
    }
    for n in seqLens { for d in headDims {
      do { try AttentionShape(seqLenQ: n, headDim: d).validate() } catch { throw ValidationError("--seq-lens \(n), --head-dims \(d): \(error.description)") }
    } }
  }

  func run() throws {
    if let point { try runPoint(point); return }
    let out = BenchOutput(json: json)
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    out.line("flashnum bench scaling: one head, \(threads) threads, one run per point in its own process")
    out.line("| engine | d | N | seconds | peak memory (MiB) | working memory (MiB) | inputs (MiB) |")
    out.line("|---|---|---|---|---|---|---|")
    struct Measured { var seconds: Double, peak: Double, inputs: Double, working: Double? }
    func child(_ spec: String) throws -> Measured {
      switch Subprocess.run(exe, ["bench", "scaling", "--point", spec, "--threads", "\(threads)"], standardError: .pass) {
      case .failure(let e): throw ValidationError("point \(spec): \(e.description)")
      case .success(let r):
        let last = r.output.split(separator: "\n").last.map(String.init) ?? ""
        guard r.status == 0, let o = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8))) as? [String: Double],
              let s = o["seconds"], let p = o["peak_rss_mib"], let i = o["input_mib"] else {
          throw ValidationError("point \(spec) failed (exit \(r.status)): \(last)")
        }
        return Measured(seconds: s, peak: p, inputs: i, working: o["working_mib"])
      }
    }
    var fits: [(Engine, Int, Double, Double)] = []
    for engine in engines {
      for d in headDims {
        var points: [(n: Double, seconds: Double, working: Double)] = []
        for n in seqLens.sorted() {
          if json { note("bench scaling: \(engine.rawValue) d=\(d) N=\(n)") }
          let m = try child("\(engine.rawValue):\(n):\(d):run")
          let working = try m.working ?? max(m.peak - child("\(engine.rawValue):\(n):\(d):none").peak, 0)
          points.append((Double(n), m.seconds, working))
          out.line(String(format: "| %@ | %d | %d | %.3f | %.1f | %.1f | %.1f |", engine.rawValue, d, n, m.seconds, m.peak, working, m.inputs))
          out.row([("engine", .string(engine.rawValue)), ("seq_len", .int(n)), ("head_dim", .int(d)), ("threads", .int(threads)),
                   ("seconds", .double(m.seconds)), ("peak_rss_mib", .double(m.peak)), ("working_mib", .double(working)),
                   ("input_mib", .double(m.inputs))])
        }
        let time = slope(points.map { ($0.n, $0.seconds) })
        let memory = slope(points.map { ($0.n, $0.working) })
        fits.append((engine, d, time, memory))
        out.row([("engine", .string(engine.rawValue)), ("head_dim", .int(d)), ("time_exponent", .double(time)), ("memory_exponent", .double(memory))])
      }
    }
    out.line()
    out.line("Fitted exponents (least squares on log–log; time ∝ N^a, working memory ∝ N^b; memory is resident pages, so small sizes are noisy):")
    out.line("| engine | d | a (time) | b (memory) |")
    out.line("|---|---|---|---|")
    for (e, d, a, b) in fits { out.line(String(format: "| %@ | %d | %.2f | %.2f |", e.rawValue, d, a, b)) }
    out.finish()
  }

  /// The least-squares slope of log y against log x (NaN with fewer than two distinct x).
  func slope(_ points: [(Double, Double)]) -> Double {
    let p = points.filter { $0.0 > 0 && $0.1 > 0 }.map { (Foundation.log($0.0), Foundation.log($0.1)) }
    guard Set(p.map(\.0)).count >= 2 else { return .nan }
    let mx = p.map(\.0).reduce(0, +) / Double(p.count), my = p.map(\.1).reduce(0, +) / Double(p.count)
    let sxy = p.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }, sxx = p.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
    return sxy / sxx
  }

  /// One point, in the child: `ENGINE:N:D:run|none`; prints a JSON line with seconds, peak
  /// resident memory and the inputs' size, in MiB.
  func runPoint(_ spec: String) throws {
    let parts = spec.split(separator: ":").map(String.init)
    guard parts.count == 4, let engine = Engine(rawValue: parts[0]), let n = Int(parts[1]), let d = Int(parts[2]),
          ["run", "none"].contains(parts[3]), (1...(1 << 20)).contains(n), [64, 96, 128, 192, 256].contains(d) else {
      throw ValidationError("--point: expected ENGINE:N:D:run|none with N in 1...1048576 and D in 64, 96, 128, 192, 256, got '\(spec)'")
    }
    let run = parts[3] == "run"
    var seconds = 0.0, inputBytes = 0
    var start: (resident: Double, reset: Bool) = (0, false)
    switch engine {
    case .fa3:
      let inputs = try FA3Case(element: .e4m3fn, headDim: d, seqLenQ: n, heads: 1, seed: 0).inputs()
      inputBytes = (inputs.q.count + inputs.k.count + inputs.v.count) * MemoryLayout<UInt16>.stride
      if run {
        let schedule = FA3Schedule.fa3(element: .e4m3fn, headDim: d, causal: false, seqLenQ: n)
        start = Self.resetPeak()
        seconds = try medianNanoseconds(1) { _ = try FA3Forward.run(inputs, schedule: schedule, threads: threads) } * 1e-9
      }
    case .reference:
      let x = AttentionInputs.generate(AttentionShape(seqLenQ: n, headDim: d), .paperOutliers, seed: 0)
      inputBytes = 3 * x.q.values.count * MemoryLayout<Double>.stride
      if run {
        start = Self.resetPeak()
        seconds = try medianNanoseconds(1) { _ = try ReferenceAttention.doubleWord(x, threads: threads) } * 1e-9
      }
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peak = Double(usage.ru_maxrss) / 1024   // KiB on Linux
    var fields: [(String, JSONText)] = [("seconds", .double(seconds)), ("peak_rss_mib", .double(peak)),
                                        ("input_mib", .double(Double(inputBytes) / 1048576))]
    if start.reset, let highWater = Self.statusMiB("VmHWM") { fields.append(("working_mib", .double(max(highWater - start.resident, 0)))) }
    print(JSONText.object(fields).document, terminator: "")
  }

  /// Resets this process's resident high-water mark (Linux `/proc/self/clear_refs`, value 5) and
  /// returns the resident memory now (MiB) and whether the reset took effect.
  static func resetPeak() -> (resident: Double, reset: Bool) {
    let done = (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
    return (statusMiB("VmRSS") ?? 0, done && statusMiB("VmHWM") != nil)
  }

  /// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`) in MiB, or `nil`.
  static func statusMiB(_ field: String) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
      let kB = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) }
      return kB.map { $0 / 1024 }
    }
    return nil
  }
}
