import Hopper
import ArgumentParser
import Measurement
import Experiments
import NPY
import LowPrecision

/// `flashnum mma`: one emulated H100 MMA per tile.
struct MMA: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mma",
    abstract: "Emulate H100 tensor-core MMA bit for bit: D[t,i,j] = Σ_k A[t,i,k]·B[t,j,k] + C[t,i,j].",
    discussion: """
      A (T,M,K) and B (T,N,K) hold raw input codes (uint8 for FP8, uint16 for bf16/fp16); C and \
      D (T,M,N) hold FP32 bit patterns as uint32. K must be a multiple of the instruction's k; \
      longer K chains the instruction (each step takes the previous result as its C).
      """)

  @Option(help: "Instruction: \(HopperInstruction.allCases.map(\.rawValue).joined(separator: ", ")).")
  var instruction: String
  @Option(name: .customLong("a"), help: "A codes (T,M,K).") var aPath: String
  @Option(name: .customLong("b"), help: "B codes (T,N,K).") var bPath: String
  @Option(name: .customLong("c"), help: "C as FP32 bits, uint32 (T,M,N).") var cPath: String
  @Option(name: .customLong("out"), help: "Output D, FP32 bits as uint32 (T,M,N).") var outPath: String

  func validate() throws { try checkOutputs([outPath], notAmong: [aPath, bPath, cPath]) }

  func run() throws {
    guard let op = HopperInstruction(rawValue: instruction) else {
      throw InputError("unknown --instruction '\(instruction)'; use one of \(HopperInstruction.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let (fa, fb) = op.inputFormats
    let a = try readNPY(aPath), b = try readNPY(bPath), c = try readNPY(cPath)
    let ac = try a.codes(of: fa, path: aPath), bc = try b.codes(of: fb, path: bPath)
    guard let cc = c.uint32 else { throw InputError("\(cPath): C must be uint32 FP32 bits, got \(c.dtype)") }
    guard a.shape.count == 3, b.shape.count == 3, c.shape.count == 3 else {
      throw InputError("A, B and C must be 3-d: A (T,M,K), B (T,N,K), C (T,M,N); got \(a.shape), \(b.shape), \(c.shape)")
    }
    let (t, m, k, n) = (a.shape[0], a.shape[1], a.shape[2], b.shape[1])
    guard b.shape[0] == t, b.shape[2] == k, c.shape == [t, m, n] else {
      throw InputError("shapes do not match: A \(a.shape), B \(b.shape), C \(c.shape) (want B (\(t),N,\(k)), C (\(t),\(m),N))")
    }
    guard k > 0, k % op.k == 0 else { throw InputError("K = \(k) is not a positive multiple of \(op.rawValue)'s k = \(op.k)") }
    // An empty output needs no step (and T may be huge when M or N is 0).
    let d = t == 0 || m == 0 || n == 0 ? [] : op.tiles(a: ac, b: bc, c: cc, tiles: t, m: m, n: n, k: k)
    try writeNPY(NPYArray(shape: [t, m, n], uint32: d), outPath)
    output.emit(nil, json: .object([("instruction", .string(op.rawValue)), ("output", .string(outPath)),
                                    ("shape", .array([t, m, n].map { .int($0) }))]))
  }
  @OptionGroup var output: JSONFlag
}
