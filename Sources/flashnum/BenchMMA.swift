import Hopper
import ArgumentParser
import Attention
import Foundation
import LowPrecision
import Measurement

/// `flashnum bench mma`: ns per tensor-core step of the fast paths (four SSE2 lanes per step, and
/// sixteen chains per call in AVX2 lanes) and of the general model, one core.
struct BenchMMA: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mma",
    abstract: "ns per wgmma step: HopperStep's vector path (chained and independent), its AVX2 lane chains, and the general TensorCoreBlock model, one core.",
    discussion: """
      Operands: --rows rows of k codes (k = 32 FP8, 16 BF16/FP16) from a standard normal times \
      2^j, j uniform in [-4, 4], seed 2, quantized to the instruction's formats; every step pairs \
      row i of A with row (i·7 + 3) mod rows of B. 'chained' feeds each step's result as the next \
      step's C (as along K in a GEMM: latency-bound); 'independent' starts each from C = +0 \
      (throughput). 'lanes' runs sixteen chains of 8 steps at once (HopperStep.laneChains, \
      AVX2; the FA3 schedule's path), chain l of group g pairing A rows 8g ..< 8g + 8 with B rows \
      partner((16g + l)·8 + j); '—' without AVX2. Each figure is the median of --repeats passes \
      over all rows; the general model is timed on the first 1/64 of the rows. Results of the \
      fast paths and the general model are compared on every timed step (the lanes' chains on \
      their first 64).
      """)

  @Option(help: "Rows of operands per pass.") var rows = 4096
  @Option(help: "Passes per figure (median reported).") var repeats = 9
  @Flag(help: "Print one JSON array of rows (instruction, chained_ns, independent_ns, lanes_ns (null without AVX2), general_ns) instead of the table.") var json = false

  func validate() throws {
    try checkCount(rows, 64...(ResourceLimits.tensorElements / 32), "--rows")
    try checkCount(repeats, 1...10_000, "--repeats")
  }

  func run() throws {
    let out = BenchOutput(json: json)
    defer { out.finish() }
    out.line("flashnum bench mma: \(rows) steps per pass, median of \(repeats) passes, 1 thread, ns/step")
    out.line("| instruction | vector, chained | vector, independent | lanes (AVX2, 16 chains) | general model | general ÷ vector (chained) | general ÷ lanes |")
    out.line("|---|---|---|---|---|---|---|")
    for instruction in [HopperInstruction.wgmmaE4M3E4M3K32, .wgmmaE5M2E5M2K32, .wgmmaBF16K16, .wgmmaF16K16] {
      let step = HopperStep(instruction)
      let k = instruction.k
      let (fa, fb) = instruction.inputFormats
      var rng = SplitMix64(seed: 2)
      func codes(_ f: FloatFormat) -> [UInt32] {
        (0..<(rows * k)).map { _ in
          let u1 = Double(rng.next() >> 11 + 1) / 9007199254740993.0, u2 = Double(rng.next() >> 11) / 9007199254740992.0
          let g = (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
          return f.encode(g * Double(sign: .plus, exponent: Int(rng.next() % 9) - 4, significand: 1), Rounding(.nearestEven, overflow: .saturate))
        }
      }
      let a = codes(fa), b = codes(fb)
      let aRows = HopperOperandRows(zeros: rows * k, table: step.aTable), bRows = HopperOperandRows(zeros: rows * k, table: step.bTable)
      for i in 0..<(rows * k) {
        aRows.set(i, code: Int(a[i]), table: step.aTable)
        bRows.set(i, code: Int(b[i]), table: step.bTable)
      }
      let partner = (0..<rows).map { ($0 &* 7 &+ 3) % rows }
      var chainedResults = [UInt32](repeating: 0, count: rows)
      let chained = medianNanoseconds(repeats) {
        var acc: UInt32 = 0
        for i in 0..<rows {
          acc = step(aRows.pointer(i * k), bRows.pointer(partner[i] * k), c: acc)
          chainedResults[i] = acc
        }
      } / Double(rows)
      var sink: UInt32 = 0
      let independent = medianNanoseconds(repeats) {
        for i in 0..<rows { sink ^= step(aRows.pointer(i * k), bRows.pointer(partner[i] * k), c: 0) }
      } / Double(rows)
      let few = rows / 64
      var generalResults = [UInt32](repeating: 0, count: few)
      let general = medianNanoseconds(repeats) {
        var acc: UInt32 = 0
        for i in 0..<few {
          let j = partner[i]
          acc = instruction.step(a[(i * k)..<((i + 1) * k)], b[(j * k)..<((j + 1) * k)], c: acc)
          generalResults[i] = acc
        }
      } / Double(few)
      guard generalResults == Array(chainedResults[0..<few]) else { throw ValidationError("\(instruction.rawValue): vector path and general model differ") }
      let lanes = try laneSteps(step, a, b, partner)
      out.row([("instruction", .string(instruction.rawValue)), ("chained_ns", .double(chained)), ("independent_ns", .double(independent)),
               ("lanes_ns", lanes.map { .double($0) } ?? .null), ("general_ns", .double(general)), ("threads", .int(1))])
      let lanesText = lanes.map { String(format: "%.1f", $0) } ?? "—", lanesRatio = lanes.map { String(format: "%.0f×", general / $0) } ?? "—"
      out.line("| \(instruction.rawValue) | \(String(format: "%.1f", chained)) | \(String(format: "%.1f", independent)) | \(lanesText) | \(String(format: "%.0f", general)) | \(String(format: "%.0f×", general / chained)) | \(lanesRatio) |")
      if sink == 0x5EED { out.line("") }  // keeps the independent steps alive
    }
  }

  /// ns per step of sixteen 8-step chains at once (`nil` without AVX2), checked against the general
  /// model chained over the same steps on the first 64 chains.
  func laneSteps(_ step: HopperStep, _ a: [UInt32], _ b: [UInt32], _ partner: [Int]) throws -> Double? {
    guard HopperStepPath.fastest == .avx2 else { return nil }
    let (k, L, S) = (step.instruction.k, HopperStep.laneCount, 8)
    let groups = max(1, rows / (L * S))  // B rows wrap around (partner indices mod rows)
    let aLanes = HopperOperandRows(zeros: groups * S * k, table: step.aTable, codes: false)
    let bLanes = HopperOperandRows(zeros: groups * L * S * k, table: step.bTable, codes: false)
    func bRow(_ g: Int, _ l: Int, _ j: Int) -> Int { partner[((g * L + l) * S + j) % rows] }
    for g in 0..<groups {
      for i in 0..<(S * k) {
        aLanes.set(g * S * k + i, code: Int(a[g * S * k + i]), table: step.aTable)
        for l in 0..<L { bLanes.set((g * S * k + i) * L + l, code: Int(b[bRow(g, l, i / k) * k + i % k]), table: step.bTable) }
      }
    }
    var results = [SIMD16<UInt32>](repeating: .zero, count: groups)
    let ns = medianNanoseconds(repeats) {
      for g in 0..<groups {
        var acc = SIMD16<UInt32>(repeating: 0)
        step.laneChains(aLanes.lanePointer(g * S * k), bLanes.lanePointer(g * S * k * L), steps: S, acc: &acc) { j, l, c in
          step.instruction.step(a[((g * S + j) * k)..<((g * S + j + 1) * k)], b[(bRow(g, l, j) * k)..<((bRow(g, l, j) + 1) * k)], c: c)
        }
        results[g] = acc
      }
    } / Double(groups * L * S)
    for g in 0..<min(groups, 64 / L) {
      for l in 0..<L {
        let aChain = Array(a[(g * S * k)..<((g + 1) * S * k)])
        let bChain = (0..<S).flatMap { j in b[(bRow(g, l, j) * k)..<((bRow(g, l, j) + 1) * k)] }
        guard step.instruction.dot(aChain, bChain, c: 0) == results[g][l] else {
          throw ValidationError("\(step.instruction.rawValue): lane chains and general model differ")
        }
      }
    }
    return ns
  }
}
