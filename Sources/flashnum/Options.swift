import Foundation
import ArgumentParser
import NPY
import Experiments
import LowPrecision
import Measurement

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
    let r = Rounding(RoundingMode(name: rounding.rawValue, randomBits: randomBits ?? 0)!, overflow: overflow ?? format.naturalOverflow)
    try format.validate(r)
    return r
  }
}

/// Reads a `.npy` file; a file that cannot be read, or whose header holds more elements than
/// the tensor limit, is a bad input.
func readNPY(_ path: String) throws -> NPYArray {
  return try NPYFiles.read(path)
}

/// Writes a `.npy` file; a file that cannot be written is a bad input.
func writeNPY(_ array: NPYArray, _ path: String) throws {
  try NPYFile.write(array, to: path)
}

/// The rule for every `--threads`: at least 1 (results never depend on the count; 0 is a
/// mistake, not "automatic"), at most 4096.
func checkThreads(_ threads: Int) throws {
  guard (1...4096).contains(threads) else { throw ValidationError("--threads must be in 1...4096, got \(threads)") }
}

/// The rule for a count option (`--repeats`, `--count`, …): in `range`, else a one-line error
/// naming the option.
func checkCount(_ value: Int, _ range: ClosedRange<Int>, _ option: String) throws {
  guard range.contains(value) else { throw ValidationError("\(option) must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
}

/// Refuses, before any work, an output path that names one of the inputs or another output
/// (after resolving `.`, `..` and symbolic links), so that a run never overwrites what it reads or
/// writes; that is a symbolic link (writing would replace the link, not the file it names) or a
/// folder; or whose folder does not exist or is not writable.
func checkOutputs(_ outputs: [String?], notAmong inputs: [String?]) throws {
  func canonical(_ path: String) -> String { URL(fileURLWithPath: path).standardized.resolvingSymlinksInPath().path }
  let read = Set(inputs.compactMap { $0 }.map(canonical))
  var written = Set<String>()
  for case let out? in outputs {
    guard !read.contains(canonical(out)) else { throw ValidationError("the output \(out) is also an input; write it elsewhere") }
    guard written.insert(canonical(out)).inserted else { throw ValidationError("two outputs are both \(out)") }
    if (try? FileManager.default.destinationOfSymbolicLink(atPath: out)) != nil {
      throw ValidationError("the output \(out) is a symbolic link; name the file itself")
    }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: out, isDirectory: &isFolder), isFolder.boolValue {
      throw ValidationError("the output \(out) is a folder")
    }
    let folder = URL(fileURLWithPath: out).deletingLastPathComponent().path
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
      throw ValidationError("cannot write \(out): no folder \(folder)")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else { throw ValidationError("cannot write \(out): the folder \(folder) is not writable") }
  }
}

// MARK: Conventions shared by every subcommand (docs/cli-conventions.md)

/// `--out` names the one file a command writes; a command that writes several files takes
/// `--out-dir`. This group sits in the folder-writing commands and refuses `--out` there with
/// the spelling to use.
struct FolderOutputConvention: ParsableArguments {
  @Option(name: .customLong("out"), help: .hidden) var out: String?

  func validate() throws {
    if let out { throw ValidationError("--out names one output file; this command writes a folder: --out-dir \(out)") }
  }
}

/// `--json`: the command's results as one JSON value on stdout, and nothing else there.
struct JSONFlag: ParsableArguments {
  @Flag(help: "Print the results as one JSON value on stdout (nothing else goes to stdout).") var json = false

  /// Prints `object` as JSON with `--json`, else `text` (when given).
  func emit(_ text: @autoclosure () -> String?, json object: @autoclosure () -> JSONText) {
    if json { print(object().document, terminator: "") } else if let t = text() { print(t) }
  }
}

/// One list syntax: comma-separated values in one argument (`--seq-lens 512,1024`). Options
/// declared with `.upToNextOption` collect what follows; more than one argument is the old
/// space-separated spelling, refused with the comma form.
func commaList<T>(_ given: [String], _ option: String, _ parse: (String) -> T?) throws -> [T] {
  if given.count > 1 { throw ValidationError("\(option) takes one comma-separated list: \(option) \(given.joined(separator: ","))") }
  guard let text = given.first else { return [] }
  var out: [T] = []
  for item in text.split(separator: ",", omittingEmptySubsequences: false).map({ String($0).trimmingCharacters(in: .whitespaces) }) {
    guard !item.isEmpty, let value = parse(item) else { throw ValidationError("\(option): '\(item)' is not a valid value (in '\(text)')") }
    out.append(value)
  }
  return out
}
