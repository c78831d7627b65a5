import ArgumentParser
import Attention
import Dispatch
import Foundation
import LowPrecision

/// `flashnum bench convert`: encode/decode throughput, single core, medians of repeated runs.
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks (release builds only give meaningful figures).",
    subcommands: [BenchConvert.self, BenchMMA.self, BenchAttention.self])
}

struct BenchConvert: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "ns per element of float32 → format encode (nearest-even) and decode, one core.",
    discussion: """
      Inputs: N float32 values from a standard normal scaled by 2^k, k uniform in [-12, 12] \
      (seed 1), so every binade path is exercised. Each figure is the median of --repeats runs \
      over the whole array. 'generic' is the scalar single-rounding encoder every mode uses, \
      measured in the same run as the baseline.
      """)

  @Option(help: "Elements per run.") var count = 1 << 22
  @Option(help: "Runs per figure (median reported).") var repeats = 15

  func validate() throws {
    try checkCount(count, 1...ResourceLimits.tensorElements, "--count")
    try checkCount(repeats, 1...10_000, "--repeats")
  }

  func run() throws {
    var rng = SplitMix64(seed: 1)
    let inputs: [Float] = (0..<count).map { _ in
      let u1 = Double(rng.next() >> 11 + 1) / 9007199254740993.0, u2 = Double(rng.next() >> 11) / 9007199254740992.0
      let g = (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
      return Float(g * Double(sign: .plus, exponent: Int(rng.next() % 25) - 12, significand: 1))
    }
    print("flashnum bench convert: \(count) elements, median of \(repeats) runs, 1 thread, ns/element")
    print("| format | encode (fast path) | encode (generic) | generic ÷ fast | decode |")
    print("|---|---|---|---|---|")
    for format in [FloatFormat.e4m3fn, .e5m2, .bf16, .fp16] {
      let rounding = Rounding(.nearestEven, overflow: format.naturalOverflow)
      let (fast, generic, decode): (Double, Double, Double)
      if format.bitWidth <= 8 {
        (fast, generic, decode) = measure(format, rounding, inputs, UInt8.self,
          encode: { format.encode($0, into: $1, rounding) }, decode: { format.decode($0, into: $1) })
      } else {
        (fast, generic, decode) = measure(format, rounding, inputs, UInt16.self,
          encode: { format.encode($0, into: $1, rounding) }, decode: { format.decode($0, into: $1) })
      }
      print(String(format: "| %@ | %.3f | %.3f | %.1f× | %.3f |", format.name, fast, generic, generic / fast, decode))
    }
  }

  func measure<Code: FixedWidthInteger>(
    _ format: FloatFormat, _ rounding: Rounding, _ inputs: [Float], _: Code.Type,
    encode: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Code>) -> Void,
    decode: (UnsafeBufferPointer<Code>, UnsafeMutableBufferPointer<Float>) -> Void
  ) -> (Double, Double, Double) {
    var codes = [Code](repeating: 0, count: inputs.count)
    var back = [Float](repeating: 0, count: inputs.count)
    var checksum = 0
    let fast = medianNanoseconds(repeats) {
      inputs.withUnsafeBufferPointer { src in codes.withUnsafeMutableBufferPointer { encode(src, $0) } }
      checksum &+= Int(codes[inputs.count / 2])
    }
    let generic = medianNanoseconds(repeats) {
      inputs.withUnsafeBufferPointer { src in
        codes.withUnsafeMutableBufferPointer { dst in
          for i in src.indices { dst[i] = Code(truncatingIfNeeded: format.encode(src[i], rounding)) }
        }
      }
      checksum &+= Int(codes[inputs.count / 3])
    }
    let dec = medianNanoseconds(repeats) {
      codes.withUnsafeBufferPointer { src in back.withUnsafeMutableBufferPointer { decode(src, $0) } }
      checksum &+= Int(back[inputs.count / 2].bitPattern)
    }
    if checksum == 42 { print("") }  // keeps the work observable
    let n = Double(inputs.count)
    return (fast / n, generic / n, dec / n)
  }
}

/// Median wall time of `runs` executions of `body`, in nanoseconds.
func medianNanoseconds(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
  var times: [Double] = []
  for _ in 0..<runs {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start))
  }
  times.sort()
  return times[times.count / 2]
}
