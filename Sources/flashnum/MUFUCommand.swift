import Hopper
import ArgumentParser
import Dispatch
import Foundation
import NPY
import LowPrecision
import Measurement

/// `flashnum mufu`: the Hopper MUFU models (ex2, rcp, lg2 `.approx.ftz.f32`, tanh `.approx.f32`).
struct MUFUCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mufu",
    abstract: "Evaluate the Hopper MUFU models, or check them against the hardware's chunk hashes.",
    discussion: """
      With --function: a float32 .npy file in, --out FILE (float32 .npy) out. With --hashes OUT: for each \
      function (ex2, rcp and lg2, or the one --function names) and each of the 4096 chunks of 2^20 \
      consecutive float32 bit patterns, the sum over the chunk of SplitMix64's finalizer of \
      (x << 32 | f(x)) mod 2^64, written as functions × 4096 little-endian uint64 — the file \
      `Scripts/mufu_probe.cu hashes` (ex2, rcp, lg2) or `Scripts/tanh_probe.cu hashes` (tanh) writes \
      on a GPU. With --check FILE: compute the hashes and compare (exit 1 and the differing chunks \
      when any differ).
      """)

  @Option(help: "ex2, rcp, lg2 or tanh.") var function: MUFU.Operation?
  @Option(help: "Write the chunk hashes of all 2^32 inputs to this file.") var hashes: String?
  @Option(help: "Compare the models' chunk hashes with this file (from the GPU probe).") var check: String?
  @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

  @Argument(help: "float32 .npy input (with --function).") var files: [String] = []
  @Option(help: "Output .npy file (float32; with --function).") var out: String?
  @OptionGroup var output: JSONFlag

  func validate() throws {
    try checkThreads(threads)
    if files.count == 2 && out == nil { throw ValidationError("the output file goes after --out: flashnum mufu --function F \(files[0]) --out \(files[1])") }
    guard files.count <= 1 else { throw ValidationError("give one input file (and the output with --out), got \(files.count)") }
    try checkOutputs([hashes, out], notAmong: [check, files.first])
  }

  /// The functions that --hashes and --check cover.
  var hashed: [MUFU.Operation] { function.map { [$0] } ?? MUFU.Operation.h100Fixtures }

  func run() throws {
    if let function, hashes == nil && check == nil {
      guard files.count == 1, let out else { throw InputError("--function needs an input .npy file and --out FILE") }
      let a = try readNPY(files[0])
      guard let x = a.float32 else { throw InputError("\(files[0]): expected float32, got \(a.dtype)") }
      try writeNPY(NPYArray(shape: a.shape, float32: x.map { function($0) }), out)
      output.emit(nil, json: .object([("function", .string(function.rawValue)), ("input", .string(files[0])), ("output", .string(out)),
                                      ("count", .int(x.count))]))
      return
    }
    guard hashes != nil || check != nil else { throw InputError("give --function with files, --hashes OUT or --check FILE") }
    guard files.isEmpty && out == nil else { throw InputError("an input file and --out go with --function, without --hashes/--check") }
    // The file to check is read before the 2^32 evaluations per function, so a bad one fails at once.
    let count = hashed.count * 4096
    var given: [UInt64]? = nil
    if let check {
      guard let data = FileManager.default.contents(atPath: check) else { throw InputError("\(check): cannot read the file") }
      guard data.count == 8 * count else {
        throw InputError("\(check): expected \(hashed.count) × 4096 uint64 (\(8 * count) bytes) for \(hashed.map(\.rawValue).joined(separator: ", ")), got \(data.count) bytes")
      }
      given = data.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self) } }
    }
    let ticker = ProgressTicker("mufu", announce: false)
    ticker.stage("hashing all 2^32 inputs of \(hashed.map(\.rawValue).joined(separator: ", "))")
    let computed = chunkHashes()
    ticker.stop()
    if let hashes {
      let bytes = computed.flatMap { h in (0..<8).map { UInt8(truncatingIfNeeded: h >> UInt64(8 * $0)) } }
      guard FileManager.default.createFile(atPath: hashes, contents: Data(bytes)) else { throw InputError("\(hashes): cannot write the file") }
    }
    var rows: [JSONText] = []
    if let given {
      var bad = false
      for (f, name) in hashed.enumerated() {
        let differing = (0..<4096).filter { given[f * 4096 + $0] != computed[f * 4096 + $0] }
        if !output.json {
          print("\(name.rawValue): \(4096 - differing.count)/4096 chunks equal (all 2^32 inputs)"
                + (differing.isEmpty ? "" : "; differing chunks (x >> 20): \(differing.prefix(20).map { String(format: "0x%03x", $0) }.joined(separator: " "))"))
        }
        rows.append(.object([("function", .string(name.rawValue)), ("equal_chunks", .int(4096 - differing.count)),
                             ("differing_chunks", .array(differing.map { .int($0) }))]))
        bad = bad || !differing.isEmpty
      }
      output.emit(nil, json: .object([("hashes", hashes.map { .string($0) } ?? .null), ("check", .array(rows))]))
      if bad { throw ExitCode(1) }
    } else {
      output.emit(nil, json: .object([("hashes", hashes.map { .string($0) } ?? .null), ("check", .null)]))
    }
  }

  /// functions × 4096 chunk hashes, computed on `threads` workers.
  func chunkHashes() -> [UInt64] {
    let operations = hashed
    var out = [UInt64](repeating: 0, count: operations.count * 4096)
    out.withUnsafeMutableBufferPointer { buffer in
      nonisolated(unsafe) let p = buffer.baseAddress!
      let workers = max(1, threads)
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        var task = w
        while task < operations.count * 4096 {
          let (f, chunk) = task.quotientAndRemainder(dividingBy: 4096)
          p[task] = MUFU.chunkHash(operations[f], chunk: chunk)
          task += workers
        }
      }
    }
    return out
  }
}

extension MUFU.Operation: ExpressibleByArgument {}
