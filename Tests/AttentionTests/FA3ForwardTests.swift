import Attention
import Foundation
import NPY
import LowPrecision
import XCTest

/// The FA3 schedule against outputs of the real kernel (`Fixtures/fa3-kernel`: prefill cases from an
/// H100 by `Scripts/h100_crosscheck.sh`; split, KV-cache, NaN, unequal-head-dim and softcap cases
/// from an H200 by `flashnum crosscheck --random 100 --random-kind … --save-fixture`), against textbook
/// attention, and its input checks.
final class FA3ForwardTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fa3-kernel")

  func testReplaysH100KernelOutputsBitForBit() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).sorted()
    XCTAssertGreaterThanOrEqual(names.count, 6)
    var elements = Set<FA3Inputs.Element>()
    var softcaps = 0
    for name in names {
      let dir = Self.fixtures.appendingPathComponent(name)
      let c = try JSONDecoder().decode(FA3Case.self, from: Data(contentsOf: dir.appendingPathComponent("case.json")))
      XCTAssertEqual(c.description, name)
      let inputs = try c.inputs()
      let fingerprint = try String(contentsOf: dir.appendingPathComponent("fingerprint.txt"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      XCTAssertEqual(String(format: "%016llx", inputs.fingerprint), fingerprint, "\(name): regenerated inputs differ from the kernel's")
      let o = try XCTUnwrap(NPYFile.read(dir.appendingPathComponent("o.npy").path).uint16)
      let lse = try XCTUnwrap(NPYFile.read(dir.appendingPathComponent("lse.npy").path).float32)
      let schedule = FA3Schedule.fa3(for: inputs)
      let out = try FA3Forward.run(inputs, schedule: schedule, threads: 2)
      XCTAssertEqual(out.o.count, o.count)
      XCTAssertEqual(zip(out.o, o).filter { $0 != $1 }.count, 0, "\(name): O bits differ from the H100's")
      XCTAssertEqual(zip(out.lse, lse).filter { $0.bitPattern != $1.bitPattern }.count, 0, "\(name): LSE bits differ from the H100's")
      elements.insert(c.element)
      // A schedule that is not the kernel's must not reproduce it (the replay can fail).
      var wrong = schedule
      wrong.blocks.reverseOrder = false
      wrong.blocks.blockColumns = 64
      (wrong.exp2, wrong.reciprocal, wrong.log2) = (.ieee, .ieee, .ieee)  // also for single-block cases
      let other = try FA3Forward.run(inputs, schedule: wrong)
      XCTAssertTrue(other.o != o || other.lse.map(\.bitPattern) != lse.map(\.bitPattern), name)
      if inputs.kernelSoftcap != nil {
        // Nor does tanh in double in place of the GPU's tanh.approx.
        var ieeeTanh = schedule
        ieeeTanh.tanh = .ieee
        let t = try FA3Forward.run(inputs, schedule: ieeeTanh, threads: 2)
        XCTAssertTrue(t.o != o || t.lse.map(\.bitPattern) != lse.map(\.bitPattern), "\(name): tanh in double")
        softcaps += 1
      }
    }
    XCTAssertEqual(elements, [.bf16, .e4m3fn])
    XCTAssertGreaterThanOrEqual(softcaps, 6)
  }

  /// Textbook attention in Double on the same values: the schedule's relative RMSE is below 1 %
  /// for BF16 and 15 % for FP8 (P rounded to e4m3, e8m13 accumulation), and its LSE is within 1e-3.
  func testCloseToTextbookAttention() throws {
    for c in [FA3Case(element: .bf16, headDim: 64, seqLenQ: 77, seqLenK: 300, heads: 2, kvHeads: 1, causal: true, seed: 3),
              FA3Case(element: .e4m3fn, headDim: 128, seqLenQ: 50, seqLenK: 260, heads: 1, distribution: "gaussian", seed: 4)] {
      let inputs = try c.inputs()
      let out = try FA3Forward.run(inputs, schedule: .fa3(element: c.element, headDim: c.headDim, causal: c.causal, seqLenQ: c.seqLenQ))
      let values = inputs.values()
      let (o, lse) = textbook(values, scale: inputs.scale, causal: c.causal)
      let got = out.o.map { FloatFormat.bf16.decode(UInt32($0)) }
      let error = zip(got, o).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, norm = o.reduce(0) { $0 + $1 * $1 }
      XCTAssertLessThan((error / norm).squareRoot(), c.element == .bf16 ? 0.01 : 0.15, "\(c)")
      for i in lse.indices { XCTAssertEqual(Double(out.lse[i]), lse[i], accuracy: 1e-3, "\(c) LSE[\(i)]") }
    }
  }

  /// O (b, s, h, d) and LSE (b, h, s) in Double, bottom-right causal mask.
  func textbook(_ x: AttentionInputs, scale: Double, causal: Bool) -> ([Double], [Double]) {
    let (b, sq, sk, h, hk, d) = (x.q.batch, x.q.seqLen, x.k.seqLen, x.q.heads, x.k.heads, x.q.headDim)
    var o = [Double](repeating: 0, count: b * sq * h * d), lse = [Double](repeating: 0, count: b * h * sq)
    for bi in 0..<b { for hi in 0..<h { for i in 0..<sq {
      let kvh = hi / (h / hk)
      let keys = causal ? min(sk, max(0, i + sk - sq + 1)) : sk
      var s = [Double](repeating: 0, count: keys)
      for j in 0..<keys {
        var dot = 0.0
        for c in 0..<d { dot += x.q.values[((bi * sq + i) * h + hi) * d + c] * x.k.values[((bi * sk + j) * hk + kvh) * d + c] }
        s[j] = dot * scale
      }
      let m = s.max() ?? 0
      let e = s.map { Foundation.exp($0 - m) }
      let l = e.reduce(0, +)
      lse[(bi * h + hi) * sq + i] = keys == 0 ? -.infinity : m + Foundation.log(l)
      for c in 0..<d {
        var acc = 0.0
        for j in 0..<keys { acc += e[j] * x.v.values[((bi * sk + j) * hk + kvh) * d + c] }
        o[((bi * sq + i) * h + hi) * d + c] = keys == 0 ? 0 : acc / l
      }
    } } }
    return (o, lse)
  }

  func testThreadCountDoesNotChangeBits() throws {
    let inputs = try FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 150, seqLenK: 200, batch: 2, heads: 2, causal: true, hadamard: true, seed: 8).inputs()
    let s = FA3Schedule.fa3(element: .e4m3fn, headDim: 64, causal: true, seqLenQ: 150)
    XCTAssertEqual(try FA3Forward.run(inputs, schedule: s, threads: 1), try FA3Forward.run(inputs, schedule: s, threads: 3))
  }

  func testRowsWithoutKeysAndEmptyKeys() throws {
    // Causal with seqlen_q > seqlen_k: the first rows see no key: O = 0, LSE = −∞.
    let inputs = try FA3Case(element: .bf16, headDim: 64, seqLenQ: 20, seqLenK: 5, heads: 1, causal: true, seed: 1).inputs()
    let out = try FA3Forward.run(inputs, schedule: .fa3(element: .bf16, headDim: 64, causal: true, seqLenQ: 20))
    for i in 0..<15 {
      XCTAssertEqual(out.lse[i], -.infinity)
      XCTAssertTrue(out.o[(i * 64)..<((i + 1) * 64)].allSatisfy { $0 == 0 })
    }
    XCTAssertTrue(out.lse[15...].allSatisfy(\.isFinite))
    var empty = inputs
    empty.seqLenK = 0
    empty.k = []
    empty.v = []
    let e = try FA3Forward.run(empty, schedule: .fa3(element: .bf16, headDim: 64, causal: false, seqLenQ: 20))
    XCTAssertTrue(e.o.allSatisfy { $0 == 0 })
    XCTAssertTrue(e.lse.allSatisfy { $0 == .infinity })
  }

  func testKernelTileTable() {
    // fa3-forward.md §1 (tile_size.h).
    let expected: [(FA3Inputs.Element, Int, Bool, Int)] = [
      (.bf16, 64, false, 192), (.bf16, 64, true, 128), (.bf16, 128, false, 176), (.bf16, 128, true, 128),
      (.bf16, 256, false, 80), (.bf16, 96, false, 144), (.bf16, 192, false, 112),
      (.e4m3fn, 64, false, 160), (.e4m3fn, 128, true, 224), (.e4m3fn, 256, false, 128), (.e4m3fn, 96, false, 128), (.e4m3fn, 192, false, 160),
    ]
    for (e, d, causal, n) in expected {
      XCTAssertEqual(FA3Schedule.fa3(element: e, headDim: d, causal: causal, seqLenQ: 100).blocks.blockColumns, n, "\(e) d\(d) causal \(causal)")
    }
    // seqlen_q = 1 with causal runs as non-causal.
    XCTAssertEqual(FA3Schedule.fa3(element: .bf16, headDim: 64, causal: true, seqLenQ: 1).blocks.blockColumns, 192)
    XCTAssertEqual(FA3Schedule.fa3(element: .e4m3fn, headDim: 128, causal: false, seqLenQ: 9).probabilityOffset, 8)
    XCTAssertEqual(FA3Schedule.fa3(element: .bf16, headDim: 128, causal: false, seqLenQ: 9).probabilityOffset, 0)
  }

  func testBadInputsAndParameters() throws {
    var s = FA3Schedule.fa3(element: .bf16, headDim: 64, causal: false, seqLenQ: 10)
    XCTAssertThrowsError(try s.set("exp3", to: "ieee")) { XCTAssertTrue("\($0)".contains("known:")) }
    XCTAssertThrowsError(try s.set("exp2", to: "fast")) { XCTAssertTrue("\($0)".contains("mufu or ieee")) }
    XCTAssertThrowsError(try s.set("rowSumLanes", to: "3")) { XCTAssertTrue("\($0)".contains("power of two")) }
    try s.set("exp2", to: "ieee")
    XCTAssertEqual(s.exp2, .ieee)
    var inputs = try FA3Case(element: .e4m3fn, headDim: 64, seqLenQ: 8, heads: 1, seed: 1).inputs()
    inputs.headDim = 40
    XCTAssertThrowsError(try FA3Forward.run(inputs, schedule: s)) { XCTAssertTrue("\($0)".contains("multiple of 16")) }
    inputs = try FA3Case(element: .bf16, headDim: 64, seqLenQ: 8, heads: 1, seed: 1).inputs()
    inputs.qDescale = [2]
    XCTAssertThrowsError(try FA3Forward.run(inputs, schedule: s)) { XCTAssertTrue("\($0)".contains("e4m3fn inputs only")) }
    XCTAssertThrowsError(try JSONDecoder().decode(FA3Case.self, from: Data(#"{"element":"bf16","head_dim":64,"seq_len_q":8,"casual":true}"#.utf8))) {
      XCTAssertTrue("\($0)".contains("unknown key 'casual'"), "\($0)")
    }
    XCTAssertThrowsError(try JSONDecoder().decode(FA3Case.self, from: Data(#"{"element":"bf16","headDim":64,"seq_len_q":8}"#.utf8))) {
      XCTAssertTrue("\($0)".contains("rename headDim → head_dim"), "\($0)")
    }
  }
}
