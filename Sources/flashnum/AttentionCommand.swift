import Analysis
import ArgumentParser
import Attention
import Reference
import Interop
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

  func run() throws {
    if algorithm == .fa3 {
      throw InputError("--algorithm fa3: the bit-exact FlashAttention-3 schedule is not available yet; use --algorithm blocked --reverse-blocks with FA3's tile sizes")
    }
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
