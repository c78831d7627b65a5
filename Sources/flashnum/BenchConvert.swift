import ArgumentParser
import Attention
import Foundation
import LowPrecision
import Measurement

/// `flashnum bench convert`: encode/decode throughput per format and rounding mode, one core.
struct BenchConvert: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "ns per element of float32 → format encode in every rounding mode, and of decode, one core, with ml_dtypes as the peer.",
    discussion: """
      Inputs: N float32 values from a standard normal scaled by 2^k, k uniform in [-12, 12] \
      (seed 1), so every binade path is exercised; their magnitudes for e8m0, which has no sign. \
      Each figure is the median of --repeats runs over the whole array, one thread. Every 8- and \
      16-bit preset, every mode (stochastic with 16 random bits), the format's own overflow \
      policy. 'path' is the array encoder's: avx2 (the eight-lane encoder, every mode), sse2 \
      (nearest-even kernels the compiler vectorizes, without AVX2) or scalar (the generic encoder). \
      'generic' is the scalar single-rounding encoder, timed once per format (nearest-even) as \
      the baseline. The peer, python3 Scripts/bench_ml_dtypes.py, runs in the same session on \
      the same inputs' distribution (nearest-even only; skipped with a message when python3 or \
      ml_dtypes is missing). --json rows: format, mode, implementation (flashnumerics, generic, \
      ml_dtypes), path, encode_ns, decode_ns, count, threads.
      """)

  @Option(help: "Elements per run.") var count = 1 << 22
  @Option(help: "Runs per figure (median reported).") var repeats = 15
  @Flag(help: "Print one JSON array of rows instead of the tables.") var json = false
  @Flag(name: .customLong("no-peers"), help: "Skip the ml_dtypes peer.") var noPeers = false
  @Option(help: "Folder of the peer scripts.") var scripts = "Scripts"

  func validate() throws {
    try checkCount(count, 1...ResourceLimits.tensorElements, "--count")
    try checkCount(repeats, 1...10_000, "--repeats")
  }

  static let formats: [FloatFormat] = FloatFormat.presets.filter { $0.bitWidth >= 8 }
  static let modes: [RoundingMode] = RoundingMode.deterministic + [.stochastic(randomBits: 16)]

  func run() throws {
    var rng = SplitMix64(seed: 1)
    let signed: [Float] = (0..<count).map { _ in
      let u1 = Double(rng.next() >> 11 + 1) / 9007199254740993.0, u2 = Double(rng.next() >> 11) / 9007199254740992.0
      let g = (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
      return Float(g * Double(sign: .plus, exponent: Int(rng.next() % 25) - 12, significand: 1))
    }
    let magnitudes = signed.map(abs)
    let out = BenchOutput(json: json)
    out.line("flashnum bench convert: \(count) elements, median of \(repeats) runs, 1 thread, ns/element")
    out.line("| format | mode | encode | path | generic encode (nearest-even) | decode |")
    out.line("|---|---|---|---|---|---|")
    var worstEncode = (0.0, ""), decodes: [String: Double] = [:], encodes: [String: Double] = [:]
    for format in Self.formats {
      let inputs = format.isSigned ? signed : magnitudes
      let decode: Double
      let generic: Double
      if format.bitWidth <= 8 {
        (generic, decode) = baseline(format, inputs, UInt8.self) { format.decode($0, into: $1) }
      } else {
        (generic, decode) = baseline(format, inputs, UInt16.self) { format.decode($0, into: $1) }
      }
      decodes[format.name] = decode
      out.row([("format", .string(format.name)), ("mode", .string("nearest-even")), ("implementation", .string("generic")),
               ("path", .string("scalar")), ("encode_ns", .double(generic)), ("decode_ns", .null), ("count", .int(count)), ("threads", .int(1))])
      for mode in Self.modes {
        let rounding = Rounding(mode, overflow: format.naturalOverflow)
        let encode = format.bitWidth <= 8 ? timeEncode(format, rounding, inputs, UInt8.self) : timeEncode(format, rounding, inputs, UInt16.self)
        let path = format.arrayEncoderPath(rounding)
        if path != "scalar" && encode > worstEncode.0 { worstEncode = (encode, "\(format.name) \(mode.name)") }
        if mode == .nearestEven { encodes[format.name] = encode }
        let first = mode == Self.modes[0]
        out.line("| \(format.name) | \(mode.name) | \(String(format: "%.3f", encode)) | \(path) | \(first ? String(format: "%.2f", generic) : "") | \(first ? String(format: "%.3f", decode) : "") |")
        out.row([("format", .string(format.name)), ("mode", .string(mode.name)), ("implementation", .string("flashnumerics")),
                 ("path", .string(path)), ("encode_ns", .double(encode)), ("decode_ns", .double(decode)), ("count", .int(count)), ("threads", .int(1))])
      }
    }
    out.line()
    out.line(String(format: "Slowest vector-path encode: %.3f ns/element (%@).", worstEncode.0, worstEncode.1))
    if !noPeers { peer(out, encodes: encodes, decodes: decodes) }
    out.finish()
  }

  /// The ml_dtypes peer's figures beside ours (nearest-even).
  func peer(_ out: BenchOutput, encodes: [String: Double], decodes: [String: Double]) {
    out.line()
    switch runPythonPeer(scripts + "/bench_ml_dtypes.py", ["--count", "\(count)", "--repeats", "\(repeats)", "--json"]) {
    case .failure(let why):
      out.line("Peer ml_dtypes: skipped: \(why)")
      if json { note("bench convert: ml_dtypes peer skipped: \(why)") }
    case .success(let o):
      out.line("Peer (same session): ml_dtypes \(o["ml_dtypes"] ?? "?"), numpy \(o["numpy"] ?? "?") (fp16: numpy), nearest-even, ns/element")
      out.line("| format | encode, ml_dtypes | encode, FlashNumerics | ml_dtypes ÷ FlashNumerics | decode, ml_dtypes | decode, FlashNumerics | ml_dtypes ÷ FlashNumerics |")
      out.line("|---|---|---|---|---|---|---|")
      for r in o["rows"] as? [[String: Any]] ?? [] {
        guard let name = r["format"] as? String, let e = r["encode_ns"] as? Double, let d = r["decode_ns"] as? Double else { continue }
        out.row([("format", .string(name)), ("mode", .string("nearest-even")), ("implementation", .string("ml_dtypes")),
                 ("path", .string("ml_dtypes")), ("encode_ns", .double(e)), ("decode_ns", .double(d)), ("count", .int(count)), ("threads", .int(1))])
        guard let me = encodes[name], let md = decodes[name] else { continue }
        out.line(String(format: "| %@ | %.3f | %.3f | %.1f× | %.3f | %.3f | %.1f× |", name, e, me, e / me, d, md, d / md))
      }
    }
  }

  func timeEncode<Code: FixedWidthInteger>(_ format: FloatFormat, _ rounding: Rounding, _ inputs: [Float], _: Code.Type) -> Double {
    var codes = [Code](repeating: 0, count: inputs.count)
    let stream = StochasticStream(seed: 7)
    var checksum = 0
    let t = medianNanoseconds(repeats) {
      inputs.withUnsafeBufferPointer { src in
        codes.withUnsafeMutableBufferPointer { dst in
          if Code.bitWidth == 8 {
            dst.withMemoryRebound(to: UInt8.self) { format.encode(src, into: $0, rounding, stream: stream) }
          } else {
            dst.withMemoryRebound(to: UInt16.self) { format.encode(src, into: $0, rounding, stream: stream) }
          }
        }
      }
      checksum &+= Int(codes[inputs.count / 2])
    }
    if checksum == 42 { print("") }  // keeps the work observable
    return t / Double(inputs.count)
  }

  /// The generic encoder (nearest-even) and the array decoder, ns per element.
  func baseline<Code: FixedWidthInteger>(_ format: FloatFormat, _ inputs: [Float], _: Code.Type,
                                         decode: (UnsafeBufferPointer<Code>, UnsafeMutableBufferPointer<Float>) -> Void) -> (Double, Double) {
    let rounding = Rounding(.nearestEven, overflow: format.naturalOverflow)
    var codes = [Code](repeating: 0, count: inputs.count)
    var back = [Float](repeating: 0, count: inputs.count)
    var checksum = 0
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
    if checksum == 42 { print("") }
    let n = Double(inputs.count)
    return (generic / n, dec / n)
  }
}
