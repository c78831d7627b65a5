import ArgumentParser
import Dispatch
import Foundation
import Experiments
import NPY
import LowPrecision

/// `flashnum convert`: values → codes, or codes → values with `--decode`.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Round values (or another format's codes) to a format's codes, or decode codes to float32.",
    discussion: """
      Encoding reads float16, float32 or float64 values, or the codes of another format (an \
      ml_dtypes array such as bfloat16 or float8_e5m2, safetensors BF16/F8, or uint8/uint16 codes \
      with --input-format), and writes uint8 codes (formats of 8 bits or fewer) or uint16 codes, \
      same shape. Every value is rounded once from its exact value (float64 inputs are not \
      rounded to float32 first; codes are decoded exactly). NaN and infinite inputs are encoded \
      per the overflow policy and counted in a note on stderr. --decode reads uint8/uint16 \
      codes and writes their exact float32 values.
      """)

  @Option(help: "Target format: \(FloatFormat.presets.map(\.name).joined(separator: ", ")).")
  var format: FloatFormat
  @Flag(help: "Decode codes to float32 instead of encoding.")
  var decode = false
  @Option(name: .customLong("input-format"), help: "The format of the input's codes when it holds codes the file does not name (ml_dtypes V1/V2 arrays, uint8/uint16): decoded exactly, then rounded to --format.")
  var inputFormat: FloatFormat?
  @OptionGroup var roundingOptions: RoundingOptions
  @Argument(help: "Input tensor: a .npy file, FILE.npz:KEY or FILE.safetensors:NAME.") var inputs: [String] = []
  @Option(name: .customLong("out"), help: "Output .npy file.") var outFile: String?
  @OptionGroup var output: JSONFlag

  var input: String { inputs.first ?? "" }
  var out: String { outFile ?? "" }

  func validate() throws {
    if inputs.count == 2 && outFile == nil {
      throw ValidationError("the output file goes after --out: flashnum convert \(inputs[0]) --out \(inputs[1])")
    }
    guard inputs.count == 1 else { throw ValidationError("give one input tensor (and the output with --out), got \(inputs.count) arguments") }
    guard outFile != nil else { throw ValidationError("give the output file: --out FILE") }
    try checkOutputs([out], notAmong: [input])
  }

  func run() throws {
    let file = try TensorFile.read(input)
    if decode && inputFormat != nil { throw InputError("--input-format applies to encoding; --decode reads codes of --format") }
    let result = try decode ? decodeCodes(file.array) : encodeValues(file)
    try writeNPY(result, out)
    output.emit(nil, json: .object([("input", .string(input)), ("output", .string(out)), ("format", .string(format.name)),
                                    ("decode", .bool(decode)), ("shape", .array(result.shape.map { .int($0) })), ("dtype", .string("\(result.dtype)"))]))
  }

  /// The exact values of the input: its values, or its codes decoded in the format the file
  /// names or --input-format gives (the two must agree).
  func inputValues(_ file: TensorFile) throws -> [Double] {
    let array = file.array
    if let values = array.values, file.format == nil {
      if let inputFormat { throw InputError("\(input): holds \(array.dtype) values, not codes; --input-format \(inputFormat.name) applies to codes") }
      return values
    }
    if let named = file.format, let inputFormat, named != inputFormat {
      throw InputError("\(input): holds \(named.name) codes, not \(inputFormat.name)")
    }
    guard let source = file.format ?? inputFormat else {
      throw InputError("\(input): holds \(array.dtype) codes; name their format with --input-format (e.g. bf16 for an ml_dtypes bfloat16 array)")
    }
    return try array.codes(of: source, path: input).map { source.decode($0) }
  }

  func encodeValues(_ file: TensorFile) throws -> NPYArray {
    let array = file.array
    let rounding = try roundingOptions.resolve(for: format)
    let values = try inputValues(file)
    let nans = values.lazy.filter(\.isNaN).count
    let infinities = values.lazy.filter(\.isInfinite).count
    var codes = [UInt32](repeating: 0, count: values.count)
    try values.withUnsafeBufferPointer { v in
      try codes.withUnsafeMutableBufferPointer { c in
        try format.encode(v, rounding, seed: roundingOptions.seed ?? 0, threads: ProcessInfo.processInfo.activeProcessorCount, into: c)
      }
    }
    if nans + infinities > 0 {
      note("\(input): \(nans) NaN and \(infinities) infinite values, encoded per --overflow \(rounding.overflow.rawValue)")
    }
    return format.bitWidth <= 8 ? NPYArray(shape: array.shape, uint8: codes.map { UInt8(truncatingIfNeeded: $0) })
      : NPYArray(shape: array.shape, uint16: codes.map { UInt16(truncatingIfNeeded: $0) })
  }

  func decodeCodes(_ array: NPYArray) throws -> NPYArray {
    let codes = try array.codes(of: format, path: input)
    return NPYArray(shape: array.shape, float32: codes.map(format.decodeFloat))
  }
}
