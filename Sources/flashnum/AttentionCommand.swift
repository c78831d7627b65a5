import ArgumentParser
import Attention
import Experiments
import LowPrecision
import Measurement
import NPY
import Reference

/// `flashnum attention`: emulated attention on given inputs.
struct AttentionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Run emulated attention (naive, blocked, or the FA3 kernel schedule) on .npy inputs.",
    discussion: """
      Value inputs (float32/float64) are rotated (schemes ending in -hadamard, signs from --seed) and \
      quantized by --scheme (default fp32), then run by --algorithm: the same path as sweeps, the \
      FA3 table and the regression gate. Code inputs (uint8/uint16 with --input-format) are used \
      exactly as given, with their descales; the plan is --scheme's (default: fa3-fp8-per-head for \
      e4m3fn, the format's FlashAttention plan for bf16/fp16); --algorithm fa3 runs the kernel \
      schedule on them. Output: float32 values of O, shape (batch, seqlen_q, heads, headdim), or \
      with --out-bits the output format's bit patterns.
      Algorithms: naive, blocked (128x128), blocked(BRxBC), blocked(BRxBC,reverse), blocked-hopper-tiles, fa3.
      Schemes: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")).
      """)

  @OptionGroup var inputs: AttentionInputOptions
  @Option(help: "naive, blocked, blocked(BRxBC[,reverse]), blocked-hopper-tiles (FA3 tiles on the scheme's plan), or fa3 (the bit-exact FA3 kernel schedule).")
  var algorithm: String
  @Option(help: "Named scheme (quantization, incoherent processing, precision plan): shipped, or from --scheme-file.") var scheme: String?
  @Option(name: .customLong("scheme-file"), help: "A scheme file (YAML or JSON; docs/scheme-files.md): its scheme, or the one --scheme names.")
  var schemeFile: String?
  @Option(name: .customLong("block-rows"), help: "blocked: query rows per block (Br).") var blockRows: Int?
  @Option(name: .customLong("block-columns"), help: "blocked: keys per block (Bc).") var blockColumns: Int?
  @Flag(name: .customLong("reverse-blocks"), help: "blocked: visit key blocks last to first (as FA3).") var reverseBlocks = false
  @Option(help: "Seed of the scheme's random rotation (random-hadamard, random-orthogonal); other schemes do not depend on it.")
  var seed: UInt64 = 0
  @Option(help: "Output .npy file.") var out: String
  @Flag(name: .customLong("out-bits"), help: "Write the output format's bit patterns instead of float32 values.")
  var outBits = false
  @Flag(help: "Also print the RMSE against the MPFR reference and its per-stage attribution (value inputs only).")
  var attribute = false
  @Option(name: .customLong("progress-seconds"), help: "Seconds between progress lines on stderr while it runs (default 4; none before the first).")
  var progressSeconds: Double?
  @Option(name: .customLong("fa3-set"), help: "fa3: change one schedule parameter, NAME=VALUE (repeatable); names: \(FA3Schedule.parameterNames.joined(separator: ", ")).")
  var fa3Set: [String] = []
  @Flag(help: "Print a JSON object on stdout (scheme, algorithm, shape, output; with --attribute the metrics and the attribution).")
  var json = false
  @Option(name: .customLong("lse-out"), help: "fa3 on code inputs: also write the LSE, float32 (batch, heads, seqlen_q), natural log; varlen: (heads, total_q).")
  var lseOut: String?
  @Option(name: .customLong("num-splits"), help: "fa3 on code inputs: the kernel's num_splits (1: none, as flash_attn_func; 0: the kernel's heuristic, as flash_attn_with_kvcache; at most 256).")
  var numSplits: Int?
  @Option(name: .customLong("cache-seqlens"), help: "fa3 on code inputs: int32/int64 .npy of shape (batch,): K and V are KV caches (batch, cache_len, kv_heads, d) of which entry b uses its first cache_seqlens[b] keys (flash_attn_with_kvcache; --num-splits defaults to 0 then).")
  var cacheSeqLens: String?
  @Option(name: .customLong("cu-seqlens-q"), help: "fa3 on code inputs: int32/int64 .npy of batch + 1 offsets: Q, K, V are packed sequences (total_tokens, heads, d), as flash_attn_varlen_func (with --cu-seqlens-k).")
  var cuSeqLensQ: String?
  @Option(name: .customLong("cu-seqlens-k"), help: "fa3 with --cu-seqlens-q: the key sequences' offsets.")
  var cuSeqLensK: String?
  @Option(name: .customLong("max-seqlen-q"), help: "fa3 varlen: max_seqlen_q as passed to the kernel (default: the longest query sequence).")
  var maxSeqLenQ: Int?
  @Option(name: .customLong("max-seqlen-k"), help: "fa3 varlen: max_seqlen_k (default: the longest key sequence).")
  var maxSeqLenK: Int?
  @Option(name: .customLong("cache-batch-idx"), help: "fa3 on code inputs: int32/int64 .npy of shape (batch,): K and V are KV caches with their own batch size, and entry b reads cache entry cache_batch_idx[b] (flash_attn_with_kvcache; --num-splits defaults to 0 then).")
  var cacheBatchIdx: String?
  @Option(help: "fa3 on code inputs: the kernel's softcap (scores become softcap·tanh(score·scale/softcap), tanh by MUFU.TANH); 0 (the default) is off.")
  var softcap: Double?

  /// The algorithm as named, with --block-rows/--block-columns/--reverse-blocks applied to `blocked`.
  func choice() throws -> AlgorithmChoice {
    var choice = try AlgorithmChoice(algorithm)
    let custom = blockRows != nil || blockColumns != nil || reverseBlocks
    if custom {
      guard case .blocked(var s) = choice else { throw InputError("--block-rows, --block-columns and --reverse-blocks apply to --algorithm blocked only") }
      s.blockRows = blockRows ?? s.blockRows
      s.blockColumns = blockColumns ?? s.blockColumns
      s.reverseOrder = s.reverseOrder || reverseBlocks
      try s.validate()
      choice = .blocked(s)
    }
    if choice != .fa3Kernel && (!fa3Set.isEmpty || lseOut != nil || kernelOnly) {
      throw InputError("--fa3-set, --lse-out, --num-splits, --cache-seqlens, --cache-batch-idx, --cu-seqlens-q/k, --max-seqlen-q/k and --softcap apply to --algorithm fa3 only")
    }
    return choice
  }

  /// The schedule with every --fa3-set applied.
  func adjusted(_ schedule: FA3Schedule) throws -> FA3Schedule {
    var schedule = schedule
    for setting in fa3Set {
      let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { throw InputError("--fa3-set: expected NAME=VALUE, got '\(setting)'") }
      try schedule.set(parts[0], to: parts[1])
    }
    return schedule
  }

  func validate() throws {
    try checkOutputs([out, lseOut], notAmong: inputs.paths + [cacheSeqLens, cacheBatchIdx, cuSeqLensQ, cuSeqLensK])
    if let progressSeconds { try checkProgressSeconds(progressSeconds) }
  }

  /// Whether a kernel-launch option (splits, caches, varlen, softcap) was given.
  var kernelOnly: Bool {
    numSplits != nil || cacheSeqLens != nil || cuSeqLensQ != nil || cuSeqLensK != nil || maxSeqLenQ != nil || maxSeqLenK != nil || softcap != nil
      || cacheBatchIdx != nil
  }

  func run() throws {
    let choice = try choice()
    // Progress on stderr for runs longer than a few seconds (nothing for quick ones).
    let ticker = ProgressTicker("attention", interval: progressSeconds ?? 4, announce: false)
    defer { ticker.stop() }
    ticker.stage(attribute ? "running \(algorithm), then the MPFR reference and one run per rounding stage" : "running \(algorithm)")
    if cuSeqLensQ != nil || cuSeqLensK != nil || maxSeqLenQ != nil || maxSeqLenK != nil { return try runVarlen() }
    let files = try inputs.load()
    if inputs.capture != nil && choice == .fa3Kernel {
      throw InputError("--capture: the fa3 kernel takes no mask and aligns causal bottom-right; run a captured call with naive, blocked or blocked-hopper-tiles")
    }
    // A captured call's bf16/fp16 tensors are values, quantized by the scheme like any other.
    let codes = files.format != nil && inputs.capture == nil
    if choice == .fa3Kernel && codes { return try runKernel(files) }
    if choice == .fa3Kernel && scheme == nil && schemeFile == nil {
      throw InputError("--algorithm fa3 needs code inputs (--input-format bf16, fp16 or e4m3fn), or value inputs with a --scheme the kernel takes (bf16, fp16, fa3-fp8-per-head, fp8-per-tensor)")
    }
    if lseOut != nil || kernelOnly {
      throw InputError("--lse-out, --num-splits, --cache-seqlens, --cache-batch-idx, --cu-seqlens-q/k, --max-seqlen-q/k and --softcap need code inputs (the kernel's own inputs)")
    }
    let chosen = try scheme(codes: codes, format: codes ? files.format : nil)
    let operands = try files.operands()
    var algorithm = try choice.resolve(for: chosen, headDim: operands.q.headDim, causal: inputs.causal, seqLenQ: operands.q.seqLen)
    if case .fa3Kernel(let s) = algorithm { algorithm = .fa3Kernel(try adjusted(s)) }
    let options = try inputs.options()   // once: with --capture it reads the capture file
    let output = codes ? try chosen.run(operands, algorithm: algorithm, options: options)
      : try chosen.run(operands.dequantized(), rotationSeed: seed, algorithm: algorithm, options: options)
    var report: [(String, JSONText)] = [("scheme", .string(chosen.name)), ("algorithm", .string(algorithm.name)),
                                        ("shape", .array(inputs.axes.outward(output.o.shape).map { .int($0) })), ("output", .string(out)),
                                        ("output_format", .string(output.format.description))]
    if attribute {
      guard !codes else { throw InputError("--attribute needs value inputs (the reference is that of the unquantized values)") }
      let exact = operands.dequantized()
      let reference = try ReferenceAttention.compute(exact, options: options, precision: 128, threads: max(1, inputs.threads))
      let (total, entries) = try ErrorAttribution.run(exact, scheme: chosen, algorithm: algorithm, options: options,
                                                      reference: reference, rotationSeed: seed)
      if json {
        report.append(("reference", .string("mpfr-128")))
        report.append(("metrics", total.json))
        report.append(("attribution", .array(entries.map { e in
          .object([("stage", .string(e.stage.rawValue)), ("rmse_with_stage_exact", .double(e.rmseWithStageExact)),
                   ("contribution", .double(e.contribution))])
        })))
      } else {
        print("scheme \(chosen.name), algorithm \(algorithm.name): RMSE \(total.rmse), max abs \(total.maxAbs), SQNR \(total.sqnrDB) dB")
        print("| stage made exact | RMSE | contribution |\n|---|---|---|")
        for e in entries { print("| \(e.stage.rawValue) | \(e.rmseWithStageExact) | \(e.contribution) |") }
      }
    }
    if json { print(JSONText.object(report).document, terminator: "") }
    try writeNPY(inputs.axes.outward(outBits ? try bits(output.o.values, output.format, output.o.shape)
                 : NPYArray(shape: output.o.shape, float32: output.o.values.map { Float($0) })), out)
  }

  /// --scheme, or the default for the inputs; code inputs must be the scheme's stored format and
  /// cannot be rotated again.
  func scheme(codes: Bool, format: FloatFormat?) throws -> AttentionScheme {
    var chosen: AttentionScheme
    if let file = schemeFile {
      let schemes = try SchemeFile.load(file)
      if let name = scheme {
        guard let s = schemes.first(where: { $0.name == name }) else {
          throw InputError("--scheme: '\(name)' is not in \(file) (it defines \(schemes.map(\.name).joined(separator: ", ")))")
        }
        chosen = s
      } else {
        guard schemes.count == 1 else {
          throw InputError("\(file) defines \(schemes.count) schemes (\(schemes.map(\.name).joined(separator: ", "))); choose one with --scheme")
        }
        chosen = schemes[0]
      }
    } else if let name = scheme {
      guard let s = AttentionScheme.named(name) else {
        throw InputError("--scheme: unknown scheme '\(name)' (known: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
      }
      chosen = s
    } else if let f = format {
      chosen = f.bitWidth <= 8 ? AttentionScheme.named("fa3-fp8-per-head")! : AttentionScheme.named(f.name) ?? AttentionScheme.named("fp32")!
    } else {
      chosen = AttentionScheme.named("fp32")!
    }
    if codes {
      if case .low(let f, _) = chosen.q.format, let c = format, f != c {
        throw InputError("--scheme \(chosen.name) stores \(f.name) but the inputs are \(c.name) codes")
      }
      if chosen.incoherentProcessing {
        throw InputError("--scheme \(chosen.name) rotates Q and K before quantization; code inputs are already quantized")
      }
    }
    return chosen
  }

  /// The bit-exact FA3 schedule on code inputs: bf16/fp16 bits or e4m3fn bytes, FP8 descales.
  func runKernel(_ files: AttentionInputFiles) throws {
    if scheme != nil || schemeFile != nil { throw InputError("--algorithm fa3 on code inputs takes no --scheme: its numerics are the kernel's (change them with --fa3-set)") }
    if inputs.windowLeft != nil || inputs.windowRight != nil { throw InputError("--algorithm fa3 supports no sliding window (FA3's local kernels use other tiles)") }
    if attribute { throw InputError("--attribute needs value inputs; use flashnum crosscheck for the FA3 schedule") }
    let index = try cacheBatchIdx.map { path in try readNPY(path).perEntry("cache_batch_idx", batch: files.q.shape[0], path: path) }
    var fa3 = try files.fa3Inputs(causal: inputs.causal, softmaxScale: inputs.softmaxScale, cacheBatchIdx: index)
    if index != nil { fa3.numSplits = 0 }
    if let cacheSeqLens {
      fa3.cacheSeqLens = try readNPY(cacheSeqLens).perEntry("cache_seqlens", batch: fa3.batch, path: cacheSeqLens)
      fa3.numSplits = 0
    }
    if let numSplits { fa3.numSplits = numSplits }
    if let softcap { fa3.softcap = softcap }
    try fa3.validate()
    let schedule = try adjusted(FA3Schedule.fa3(for: fa3))
    for problem in schedule.lint(element: fa3.element) { note("schedule: \(problem)") }
    let output = try FA3Forward.run(fa3, schedule: schedule, threads: max(1, inputs.threads))
    try writeKernelOutputs(output.o, shape: [fa3.batch, fa3.seqLenQ, fa3.heads, fa3.valueHeadDim], format: fa3.element.outputFormat,
                           lse: output.lse, lseShape: [fa3.batch, fa3.heads, fa3.seqLenQ])
  }

  /// O (bits with --out-bits, else float32 values) to --out, and the LSE to --lse-out if given.
  func writeKernelOutputs(_ o: [UInt16], shape: [Int], format: FloatFormat, lse: [Float], lseShape: [Int]) throws {
    try writeNPY(inputs.axes.outward(outBits ? NPYArray(shape: shape, uint16: o)
                                                : NPYArray(shape: shape, float32: o.map { Float(format.decode(UInt32($0))) })), out)
    if let lseOut { try writeNPY(NPYArray(shape: lseShape, float32: lse), lseOut) }
    if json {
      print(JSONText.object([("algorithm", .string("fa3")), ("shape", .array(inputs.axes.outward(shape).map { .int($0) })),
                             ("output", .string(out)), ("output_format", .string(outBits ? "\(format.name) bits" : format.name)),
                             ("lse_output", lseOut.map { .string($0) } ?? .null)]).document, terminator: "")
    }
  }

  /// The varlen kernel on packed code inputs (--cu-seqlens-q and --cu-seqlens-k).
  func runVarlen() throws {
    guard let cuQPath = cuSeqLensQ, let cuKPath = cuSeqLensK else {
      throw InputError("--cu-seqlens-q and --cu-seqlens-k go together (--max-seqlen-q/k need them)")
    }
    if scheme != nil || schemeFile != nil || attribute || cacheSeqLens != nil || cacheBatchIdx != nil || inputs.windowLeft != nil || inputs.windowRight != nil {
      throw InputError("--cu-seqlens-q/k take code inputs with --algorithm fa3 and no --scheme, --attribute, --cache-seqlens, --cache-batch-idx or window")
    }
    func offsets(_ path: String, _ name: String) throws -> [Int] {
      let a = try readNPY(path)
      guard a.shape.count == 1, a.count >= 2, let values = a.indices else {
        throw InputError("\(path): \(name) must be a 1-D int32 or int64 array of batch + 1 ≥ 2 offsets, got \(a.dtype) \(a.shape)")
      }
      return values
    }
    let cuQ = try offsets(cuQPath, "cu_seqlens_q"), cuK = try offsets(cuKPath, "cu_seqlens_k")
    guard cuQ.count == cuK.count else { throw InputError("cu_seqlens_q and cu_seqlens_k must have the same length (batch + 1), got \(cuQ.count) and \(cuK.count)") }
    let files = try inputs.load(packedBatch: cuQ.count - 1)
    guard files.format != nil else { throw InputError("--cu-seqlens-q/k take code inputs (--input-format bf16, fp16 or e4m3fn)") }
    let varlen = try files.fa3VarlenInputs(cuSeqLensQ: cuQ, cuSeqLensK: cuK, maxSeqLenQ: maxSeqLenQ, maxSeqLenK: maxSeqLenK,
                                           causal: inputs.causal, softmaxScale: inputs.softmaxScale, numSplits: numSplits ?? 1,
                                           softcap: softcap ?? 0)
    let longest = maxSeqLenQ ?? (0..<(cuQ.count - 1)).map { cuQ[$0 + 1] - cuQ[$0] }.max() ?? 1
    let schedule = try adjusted(FA3Schedule.fa3(element: varlen.element, headDim: varlen.headDim, valueHeadDim: varlen.valueHeadDim,
                                                causal: varlen.causal, seqLenQ: longest))
    for problem in schedule.lint(element: varlen.element) { note("schedule: \(problem)") }
    let output = try FA3Forward.run(varlen, schedule: schedule, threads: max(1, inputs.threads))
    try writeKernelOutputs(output.o, shape: [varlen.totalQ, varlen.heads, varlen.valueHeadDim], format: varlen.element.outputFormat,
                           lse: output.lse, lseShape: [varlen.heads, varlen.totalQ])
  }

  func bits(_ values: [Double], _ format: NumberFormat, _ shape: [Int]) throws -> NPYArray {
    switch format {
    case .fp64: throw InputError("--out-bits: the output format is fp64; write values instead")
    case .fp32: return NPYArray(shape: shape, uint32: values.map { Float($0).bitPattern })
    case .low(let f, let r):
      let codes = values.map { f.encode($0, r) }
      return f.bitWidth <= 8 ? NPYArray(shape: shape, uint8: codes.map { UInt8($0) })
        : NPYArray(shape: shape, uint16: codes.map { UInt16($0) })
    }
  }
}
