import ArgumentParser
import Attention
import Foundation
import Reference

/// `flashnum bench attention`: emulated attention and the MPFR reference, wall-clock seconds.
struct BenchAttention: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Seconds for emulated FP8 and FP32 blocked attention, the FA3 schedule (1 and 2 threads) and the MPFR reference.",
    discussion: """
      Inputs: FA3 outlier distribution, seed 0, one head, not causal. FP8 = scheme fa3-fp8-per-head \
      (e4m3fn, P·2^8 in e4m3fn, FP32 accumulation) with FA3's tile sizes and reverse order; FP32 = \
      scheme fp32 with 128×128 blocks. FA3 schedule = the bit-exact kernel emulation on e4m3fn \
      (per-head descales) and bf16 codes of the same distribution. Reference = MPFR at 128 bits (uncertified; certified doubles \
      the precision and more than doubles the time). Each figure is the median of --repeats runs; \
      outputs of every thread count are checked bitwise equal.
      """)

  @Option(name: .customLong("seq-len"), help: "Sequence length of the attention runs.") var seqLen = 4096
  @Option(name: .customLong("reference-seq-len"), help: "Sequence length of the reference run.") var referenceSeqLen = 1024
  @Option(name: .customLong("head-dim"), help: "Head dimension.") var headDim = 128
  @Option(help: "Runs per figure (median reported).") var repeats = 3

  func run() throws {
    guard seqLen > 0, referenceSeqLen > 0, headDim > 0, repeats > 0 else {
      throw InputError("sizes and --repeats must be positive")
    }
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: seqLen, headDim: headDim), .fa3, seed: 0)
    print("flashnum bench attention: N=\(seqLen), d=\(headDim), one head; median of \(repeats) runs; seconds")
    print("| computation | 1 thread | 2 threads | speed-up | vs FP32 blocked (2 threads) |")
    print("|---|---|---|---|---|")
    var fp32Seconds = 0.0
    for (label, name, algorithm) in [
      ("FP32 blocked (fp32, 128×128)", "fp32", AttentionAlgorithm.blocked(.flash2)),
      ("FP8 blocked (fa3-fp8-per-head, FA3 tiles)", "fa3-fp8-per-head",
       AttentionAlgorithm.blocked(.flash3(headDim: headDim, fp8: true, causal: false))),
    ] {
      let scheme = AttentionScheme.named(name)!
      let operands = try scheme.prepare(x, seed: 0)
      var outputs: [[Double]] = []
      var times: [Double] = []
      for threads in [1, 2] {
        let t = median {
          let o = try! EmulatedAttention.run(operands, plan: scheme.plan, algorithm: algorithm, options: AttentionOptions(threads: threads))
          outputs.append(o.values)
        }
        times.append(t)
      }
      guard outputs.allSatisfy({ $0 == outputs[0] }) else { throw ValidationError("outputs differ between thread counts") }
      if name == "fp32" { fp32Seconds = times[1] }
      row(label, times, fp32Seconds)
    }
    // The bit-exact FA3 schedule (H100 wgmma arithmetic, MUFU, FTZ) on the same distribution, quantized as
    // `flashnum crosscheck` does (FP8: per-head descales).
    for element in [FA3Inputs.Element.e4m3fn, .bf16] {
      let inputs = try FA3Case(element: element, headDim: headDim, seqLenQ: seqLen, heads: 1, seed: 0).inputs()
      let schedule = FA3Schedule.fa3(element: element, headDim: headDim, causal: false, seqLenQ: seqLen)
      var outputs: [FA3Output] = []
      var times: [Double] = []
      for threads in [1, 2] {
        times.append(median { outputs.append(try! FA3Forward.run(inputs, schedule: schedule, threads: threads)) })
      }
      guard outputs.allSatisfy({ $0 == outputs[0] }) else { throw ValidationError("FA3 outputs differ between thread counts") }
      row("FA3 schedule \(element.rawValue) (--algorithm fa3, kBlockN \(schedule.blockColumns))", times, fp32Seconds)
    }
    let r = AttentionInputs.generate(AttentionShape(seqLenQ: referenceSeqLen, headDim: headDim), .fa3, seed: 0)
    var refs: [[Double]] = []
    var times: [Double] = []
    for threads in [1, 2] {
      times.append(median {
        refs.append(try! ReferenceAttention.compute(r, precision: 128, threads: threads).values)
      })
    }
    guard refs.allSatisfy({ $0 == refs[0] }) else { throw ValidationError("reference outputs differ between thread counts") }
    print("| MPFR reference, 128 bits, N=\(referenceSeqLen) | \(f(times[0])) | \(f(times[1])) | \(String(format: "%.2f×", times[0] / times[1])) | — |")
  }

  func row(_ label: String, _ times: [Double], _ fp32: Double) {
    print("| \(label) | \(f(times[0])) | \(f(times[1])) | \(String(format: "%.2f×", times[0] / times[1])) | \(String(format: "%.2f×", times[1] / fp32)) |")
  }

  func f(_ seconds: Double) -> String { String(format: "%.2f", seconds) }

  /// Median seconds of `--repeats` runs.
  func median(_ body: () -> Void) -> Double { medianNanoseconds(repeats, body) * 1e-9 }
}
