import Measurement
import Experiments
import ArgumentParser
import Attention
import Reference
import NPY
import LowPrecision

/// `flashnum attention`: emulated attention on given inputs.
struct AttentionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Run emulated attention (naive or blocked) on .npy inputs.",
    discussion: """
      Value inputs (float32/float64) are rotated (schemes ending in -hadamard) and quantized by \
      --scheme (default fp32). Code inputs (uint8/uint16 with --input-format) are used exactly as \
      given, with their descales; the plan is --scheme's (default: fa3-fp8-per-head for e4m3fn, \
      the format's FlashAttention plan for bf16/fp16). Output: float32 values of O, shape \
      (batch, seqlen_q, heads, headdim), or with --out-bits the output format's bit patterns.
      Schemes: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")).
      """)

  enum AlgorithmName: String, ExpressibleByArgument, CaseIterable { case naive, blocked, fa3 }

  @OptionGroup var inputs: AttentionInputOptions
  @Option(help: "naive, blocked, or fa3 (the bit-exact FA3 schedule).") var algorithm: AlgorithmName
  @Option(help: "Named scheme (quantization, incoherent processing, precision plan).") var scheme: String?
  @Option(name: .customLong("block-rows"), help: "Blocked: query rows per block (Br).") var blockRows = 128
  @Option(name: .customLong("block-columns"), help: "Blocked: keys per block (Bc).") var blockColumns = 128
  @Flag(name: .customLong("reverse-blocks"), help: "Blocked: visit key blocks last to first (as FA3).") var reverseBlocks = false
  @Option(help: "Seed of the Hadamard signs (schemes with incoherent processing).") var seed: UInt64 = 0
  @Option(help: "Output .npy file.") var out: String
  @Flag(name: .customLong("out-bits"), help: "Write the output format's bit patterns instead of float32 values.")
  var outBits = false
  @Flag(help: "Also print the RMSE against the MPFR reference and its per-stage attribution (value inputs only).")
  var attribute = false
  @Option(name: .customLong("fa3-set"), help: "fa3: change one schedule parameter, NAME=VALUE (repeatable); names: \(FA3Schedule.parameterNames.joined(separator: ", ")).")
  var fa3Set: [String] = []
  @Option(name: .customLong("lse-out"), help: "fa3: also write the LSE, float32 (batch, heads, seqlen_q), natural log.")
  var lseOut: String?

  func run() throws {
    if algorithm == .fa3 { return try runFA3() }
    if !fa3Set.isEmpty || lseOut != nil { throw InputError("--fa3-set and --lse-out apply to --algorithm fa3 only") }
    let (loaded, codes) = try inputs.load()
    let codeFormat = try inputs.codeFormat()
    var chosen: AttentionScheme
    if let name = scheme {
      guard let s = AttentionScheme.named(name) else {
        throw InputError("--scheme: unknown scheme '\(name)' (known: \(AttentionScheme.shipped.map(\.name).joined(separator: ", ")))")
      }
      chosen = s
    } else if codes, let f = codeFormat {
      chosen = f.bitWidth <= 8 ? AttentionScheme.named("fa3-fp8-per-head")! : AttentionScheme.named(f.name) ?? AttentionScheme.named("fp32")!
    } else {
      chosen = AttentionScheme.named("fp32")!
    }
    let operands: AttentionOperands
    if codes {
      if case .low(let f, _) = chosen.q.format, let c = codeFormat, f != c {
        throw InputError("--scheme \(chosen.name) stores \(f.name) but the inputs are \(c.name) codes")
      }
      if chosen.incoherentProcessing {
        throw InputError("--scheme \(chosen.name) rotates Q and K before quantization; code inputs are already quantized")
      }
      operands = loaded
    } else {
      do { operands = try chosen.prepare(loaded.dequantized(), seed: seed) } catch { throw InputError(error.description) }
    }
    let algo: AttentionAlgorithm = algorithm == .naive ? .naive
      : .blocked(BlockSchedule(blockRows: blockRows, blockColumns: blockColumns, reverseOrder: reverseBlocks))
    let o: AttentionTensor
    do {
      o = try EmulatedAttention.run(operands, plan: chosen.plan, algorithm: algo, options: inputs.options())
    } catch { throw InputError(error.description) }
    if attribute {
      guard !codes else { throw InputError("--attribute needs value inputs (the reference is that of the unquantized values)") }
      do {
        let exact = loaded.dequantized()
        let reference = try ReferenceAttention.compute(exact, options: inputs.options(), precision: 128, threads: max(1, inputs.threads))
        let (total, entries) = try ErrorAttribution.run(exact, scheme: chosen, algorithm: algo, options: inputs.options(),
                                                        reference: reference, seed: seed)
        print("scheme \(chosen.name), algorithm \(algo.name): RMSE \(total.rmse), max abs \(total.maxAbs), SQNR \(total.sqnrDB) dB")
        print("| stage made exact | RMSE | contribution |\n|---|---|---|")
        for e in entries { print("| \(e.stage.rawValue) | \(e.rmseWithStageExact) | \(e.contribution) |") }
      } catch { throw InputError(error.description) }
    }
    if outBits {
      try writeNPY(try bits(o.values, chosen.plan.outputFormat, o.shape), out)
    } else {
      try writeNPY(NPYArray(shape: o.shape, float32: o.values.map { Float($0) }), out)
    }
  }

  /// The bit-exact FA3 schedule on code inputs: bf16/fp16 bits or e4m3fn bytes, FP8 descales.
  func runFA3() throws {
    guard let format = try inputs.codeFormat(), let element = FA3Inputs.Element(rawValue: format.name) else {
      throw InputError("--algorithm fa3 needs code inputs: --input-format bf16, fp16 or e4m3fn (FA3's element types)")
    }
    if scheme != nil { throw InputError("--algorithm fa3 takes no --scheme: its numerics are the kernel's (change them with --fa3-set)") }
    if inputs.windowLeft != nil || inputs.windowRight != nil { throw InputError("--algorithm fa3 supports no sliding window (FA3's local kernels use other tiles)") }
    if attribute { throw InputError("--attribute needs value inputs; use flashnum crosscheck for the FA3 schedule") }
    func codes(_ path: String, _ name: String) throws -> (NPYArray, [UInt16]) {
      let a = try readNPY(path)
      guard a.shape.count == 4 else { throw InputError("\(path): \(name) must have 4 dimensions (batch, seqlen, heads, headdim), got shape \(a.shape)") }
      return (a, try formatCodes(a, path, format).map { UInt16($0) })
    }
    let (qa, q) = try codes(inputs.q, "Q"), (ka, k) = try codes(inputs.k, "K"), (va, v) = try codes(inputs.v, "V")
    guard ka.shape == va.shape, qa.shape[0] == ka.shape[0], qa.shape[3] == ka.shape[3] else {
      throw InputError("shapes do not fit: Q \(qa.shape), K \(ka.shape), V \(va.shape) (K and V equal; batch and headdim as Q's)")
    }
    func descale(_ path: String?, _ name: String) throws -> [Float]? {
      guard let path else { return nil }
      let a = try readNPY(path)
      guard a.dtype == .float32, let values = a.float32, a.shape == [qa.shape[0], ka.shape[2]] else {
        throw InputError("\(path): \(name) descales must be float32 (batch, kv_heads) = [\(qa.shape[0]), \(ka.shape[2])], got \(a.dtype) \(a.shape)")
      }
      return values
    }
    let fa3 = FA3Inputs(element: element, batch: qa.shape[0], seqLenQ: qa.shape[1], seqLenK: ka.shape[1], heads: qa.shape[2],
                        kvHeads: ka.shape[2], headDim: qa.shape[3], q: q, k: k, v: v,
                        qDescale: try descale(inputs.descaleQ, "Q"), kDescale: try descale(inputs.descaleK, "K"),
                        vDescale: try descale(inputs.descaleV, "V"), causal: inputs.causal, softmaxScale: inputs.softmaxScale)
    var schedule = FA3Schedule.fa3(element: element, headDim: fa3.headDim, causal: fa3.causal, seqLenQ: fa3.seqLenQ)
    for setting in fa3Set {
      let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { throw InputError("--fa3-set: expected NAME=VALUE, got '\(setting)'") }
      do { try schedule.set(parts[0], to: parts[1]) } catch { throw InputError("--fa3-set: \(error.description)") }
    }
    let output: FA3Output
    do { output = try FA3Forward.run(fa3, schedule: schedule, threads: max(1, inputs.threads)) } catch { throw InputError(error.description) }
    let shape = [fa3.batch, fa3.seqLenQ, fa3.heads, fa3.headDim]
    if outBits {
      try writeNPY(NPYArray(shape: shape, uint16: output.o), out)
    } else {
      let f = element.outputFormat
      try writeNPY(NPYArray(shape: shape, float32: output.o.map { Float(f.decode(UInt32($0))) }), out)
    }
    if let lseOut { try writeNPY(NPYArray(shape: [fa3.batch, fa3.heads, fa3.seqLenQ], float32: output.lse), lseOut) }
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
