import ArgumentParser
import NPY
import LowPrecision

extension FloatFormat: ExpressibleByArgument {
  public init?(argument: String) {
    guard let f = FloatFormat.named(argument) else { return nil }
    self = f
  }
  public static var allValueStrings: [String] { presets.map(\.name) }
}

/// Rounding mode names on the command line.
enum RoundingName: String, ExpressibleByArgument, CaseIterable {
  case nearestEven = "nearest-even", nearestAway = "nearest-away", towardZero = "toward-zero"
  case up, down, odd, stochastic
}

extension OverflowPolicy: ExpressibleByArgument {}

/// `--rounding`, `--seed`, `--random-bits`, `--overflow`, shared by commands that round.
struct RoundingOptions: ParsableArguments {
  @Option(help: "Rounding mode.")
  var rounding: RoundingName = .nearestEven
  @Option(help: "Seed of the random stream (stochastic rounding).")
  var seed: UInt64?
  @Option(name: .customLong("random-bits"), help: "Random bits per stochastic rounding (1...32).")
  var randomBits: Int?
  @Option(help: "Overflow policy: nan, infinity or saturate (default: the format's own: infinity if it has one, else nan, else saturate).")
  var overflow: OverflowPolicy?

  func validate() throws {
    if rounding == .stochastic {
      guard seed != nil, randomBits != nil else {
        throw ValidationError("--rounding stochastic needs --seed S and --random-bits B")
      }
    } else if seed != nil || randomBits != nil {
      throw ValidationError("--seed and --random-bits apply to --rounding stochastic only")
    }
  }

  func resolve(for format: FloatFormat) throws -> Rounding {
    let mode: RoundingMode
    switch rounding {
    case .nearestEven: mode = .nearestEven
    case .nearestAway: mode = .nearestAway
    case .towardZero: mode = .towardZero
    case .up: mode = .up
    case .down: mode = .down
    case .odd: mode = .odd
    case .stochastic: mode = .stochastic(randomBits: randomBits ?? 0)
    }
    let r = Rounding(mode, overflow: overflow ?? format.naturalOverflow)
    try format.validate(r)
    return r
  }
}

/// The raw codes of `format` held in `array` (read from `path`): uint8 for formats of ≤ 8 bits,
/// uint16 for wider ones; anything else is a bad input.
func formatCodes(_ array: NPYArray, _ path: String, _ format: FloatFormat) throws -> [UInt32] {
  let codes = format.bitWidth <= 8 ? array.uint8?.map(UInt32.init) : array.uint16?.map(UInt32.init)
  guard let codes else {
    throw InputError("\(path): \(format.name) codes must be \(format.bitWidth <= 8 ? "uint8" : "uint16"), got \(array.dtype)")
  }
  return codes
}

/// Reads a `.npy` file; a file that cannot be read is a bad input.
func readNPY(_ path: String) throws -> NPYArray {
  return try NPYFile.read(path)
}

/// Writes a `.npy` file; a file that cannot be written is a bad input.
func writeNPY(_ array: NPYArray, _ path: String) throws {
  try NPYFile.write(array, to: path)
}
