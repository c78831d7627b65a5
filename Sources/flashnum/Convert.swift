import ArgumentParser
import Dispatch
import Foundation
import Experiments
import NPY
import LowPrecision

/// `flashnum convert`: values → codes, or codes → values with `--decode`.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Round float32/float64 values to a format's codes, or decode codes to float32.",
    discussion: """
      Encoding reads a float32 or float64 .npy and writes uint8 codes (formats of 8 bits or \
      fewer) or uint16 codes, same shape. Every value is rounded once from its exact value \
      (float64 inputs are not rounded to float32 first). NaN and infinite inputs are encoded \
      per the overflow policy and counted in a note on stderr. --decode reads uint8/uint16 \
      codes and writes their exact float32 values.
      """)

  @Option(help: "Target format: \(FloatFormat.presets.map(\.name).joined(separator: ", ")).")
  var format: FloatFormat
  @Flag(help: "Decode codes to float32 instead of encoding.")
  var decode = false
  @OptionGroup var roundingOptions: RoundingOptions
  @Argument(help: "Input tensor: a .npy file, FILE.npz:KEY or FILE.safetensors:NAME.") var input: String
  @Argument(help: "Output .npy file.") var output: String

  func validate() throws { try checkOutputs([output], notAmong: [input]) }

  func run() throws {
    let array = try TensorFile.read(input).array
    try writeNPY(decode ? decodeCodes(array) : encodeValues(array), output)
  }

  func encodeValues(_ array: NPYArray) throws -> NPYArray {
    let rounding = try roundingOptions.resolve(for: format)
    guard let values = array.values else {
      throw InputError("\(input): expected float32 or float64 values, got \(array.dtype) (use --decode for codes)")
    }
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
