import Hopper
import Dispatch
import Foundation
import NPY
import LowPrecision
import XCTest

/// The MUFU models against H100 outputs (`Fixtures/mufu-h100.npy`, made by
/// `Scripts/mufu_fixture.py`) and H200 tanh outputs (`Fixtures/tanh-h200.npy`,
/// `Scripts/tanh_fixture.py`), against closed forms, and — opt-in — against the GPUs' chunk
/// hashes of all 2^32 inputs (`Fixtures/mufu-h100-hashes.bin`, `Scripts/mufu_probe.cu hashes`;
/// `Fixtures/tanh-h200-hashes.bin`, `Scripts/tanh_probe.cu hashes`).
final class MUFUTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

  /// Replays a fixture of rows (x, then f(x) for each of `operations`, bit patterns) measured on
  /// `gpu`: every output of the models must be the GPU's.
  func replay(_ file: String, _ operations: [MUFU.Operation], gpu: String, atLeast count: Int) throws {
    let width = 1 + operations.count
    let a = try NPYFile.read(Self.fixtures.appendingPathComponent(file).path)
    XCTAssertEqual(a.shape.last, width)
    let rows = try XCTUnwrap(a.uint32)
    XCTAssertGreaterThan(rows.count / width, count)
    var mismatches = 0
    for r in stride(from: 0, to: rows.count, by: width) {
      let x = Float(bitPattern: rows[r])
      for (i, op) in operations.enumerated() where op(x).bitPattern != rows[r + 1 + i] {
        mismatches += 1
        if mismatches < 10 { XCTFail(String(format: "%@(0x%08x): model 0x%08x, %@ 0x%08x", op.rawValue, rows[r], op(x).bitPattern, gpu, rows[r + 1 + i])) }
      }
    }
    XCTAssertEqual(mismatches, 0)
  }

  /// Compares the models' chunk hashes of all 2^32 inputs of each of `operations` with a GPU's
  /// file (operations × 4096 little-endian uint64).
  func checkChunkHashes(_ file: String, _ operations: [MUFU.Operation]) throws {
    let count = operations.count * 4096
    let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(file))
    XCTAssertEqual(data.count, count * 8)
    let given = data.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self) } }
    // Chunk hashes on all cores, each written to its own slot.
    let slots = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: count)
    defer { slots.deallocate() }
    nonisolated(unsafe) let out = slots
    DispatchQueue.concurrentPerform(iterations: count) { i in
      out[i] = MUFU.chunkHash(operations[i / 4096], chunk: i % 4096)
    }
    XCTAssertEqual(zip(given, Array(slots)).filter { $0 != $1 }.count, 0)
  }

  func testReplaysH100Outputs() throws {
    try replay("mufu-h100.npy", MUFU.Operation.h100Fixtures, gpu: "H100", atLeast: 8000)
  }

  func testClosedForms() {
    // ex2 of an integer in [−126, 127] is that power of two exactly; rcp of a power of two too.
    for n in -126...127 {
      XCTAssertEqual(MUFU.ex2(Float(n)), Float(sign: .plus, exponent: n, significand: 1), "ex2(\(n))")
    }
    for n in -125...126 {
      XCTAssertEqual(MUFU.rcp(Float(sign: .plus, exponent: n, significand: 1)), Float(sign: .plus, exponent: -n, significand: 1), "rcp(2^\(n))")
    }
    XCTAssertEqual(MUFU.ex2(0), 1)
    XCTAssertEqual(MUFU.ex2(-.infinity), 0)
    XCTAssertEqual(MUFU.ex2(.infinity), .infinity)
    XCTAssertEqual(MUFU.ex2(-126.5), 0)  // subnormal result flushed
    XCTAssertEqual(MUFU.ex2(128), .infinity)
    XCTAssertEqual(MUFU.ex2(.leastNonzeroMagnitude), 1)  // subnormal argument read as 0
    XCTAssertEqual(MUFU.rcp(0).bitPattern, Float.infinity.bitPattern)
    XCTAssertEqual(MUFU.rcp(-0.0).bitPattern, (-Float.infinity).bitPattern)
    XCTAssertEqual(MUFU.rcp(Float.leastNonzeroMagnitude), .infinity)
    XCTAssertEqual(MUFU.rcp(-.infinity).bitPattern, (-0.0 as Float).bitPattern)
    XCTAssertEqual(MUFU.rcp(.greatestFiniteMagnitude), 0)  // 2^-128: flushed
    XCTAssertEqual(MUFU.lg2(1), 0)
    XCTAssertEqual(MUFU.lg2(0), -.infinity)
    XCTAssertEqual(MUFU.lg2(.infinity), .infinity)
    XCTAssertEqual(MUFU.lg2(-1).bitPattern, 0x7FFF_FFFF)
    XCTAssertEqual(MUFU.ex2(.nan).bitPattern, 0x7FFF_FFFF)
    XCTAssertEqual(MUFU.rcp(.nan).bitPattern, 0x7FFF_FFFF)
  }

  func testAccuracyBounds() {
    // Not the contract (the bits are), but a model that drifted would leave these bounds:
    // ex2 within 2 ulp and rcp within 1 ulp of the correctly rounded value, lg2 within 2^-21 plus
    // 2 ulp of its result (an absolute-error approximation).
    var rng = SplitMix64(seed: 5)
    for _ in 0..<200_000 {
      let x = Float.random(in: -125...127, using: &rng)
      let e = Float(exp2(Double(x)))
      XCTAssertLessThanOrEqual(abs(Int(MUFU.ex2(x).bitPattern) - Int(e.bitPattern)), 2, "ex2(\(x))")
      let y = Float(bitPattern: UInt32.random(in: 0x0080_0000...0x7E7F_FFFF, using: &rng))
      XCTAssertLessThanOrEqual(abs(Int(MUFU.rcp(y).bitPattern) - Int((1 / y).bitPattern)), 1, "rcp(\(y))")
      let l = MUFU.lg2(y)
      XCTAssertLessThan(abs(Double(l) - log2(Double(y))), 0x1p-21 + 2 * Double(l.ulp), "lg2(\(y))")
    }
  }

  func testFlushToZeroArithmetic() {
    let tiny = Float.leastNormalMagnitude
    XCTAssertEqual(FlushToZero.multiply(tiny, 0.5).bitPattern, 0)  // subnormal result → +0
    XCTAssertEqual(FlushToZero.multiply(-tiny, 0.5).bitPattern, (-0.0 as Float).bitPattern)
    XCTAssertEqual(FlushToZero.add(.leastNonzeroMagnitude, 1), 1)
    XCTAssertEqual(FlushToZero.fma(2, 3, .leastNonzeroMagnitude), 6)
    XCTAssertEqual(FlushToZero.fma(0.1, 0.3, 0.7), (0.7 as Float).addingProduct(0.1, 0.3))
    XCTAssertEqual(FlushToZero.add(tiny * 1.5, -tiny).bitPattern, 0)  // result 2^-127 is subnormal
  }

  /// Opt-in (`FLASHNUM_EXHAUSTIVE=1`, about 15 minutes on 2 cores): every float32 input.
  func testAllInputsMatchH100ChunkHashes() throws {
    try XCTSkipUnless(ProcessInfo.processInfo.environment["FLASHNUM_EXHAUSTIVE"] == "1",
                      "set FLASHNUM_EXHAUSTIVE=1 for the 3 × 2^32-input MUFU sweep")
    try checkChunkHashes("mufu-h100-hashes.bin", MUFU.Operation.h100Fixtures)
  }

  /// The AVX2 ex2 (``MUFU/ex2(_:into:vector:)``) against the H100's outputs in the fixture and the
  /// scalar model on 2^24 inputs spread over every exponent and sign (all 2^32 with
  /// `FLASHNUM_EXHAUSTIVE=1`, about 2 minutes on 2 cores).
  func testVectorEx2EqualsScalarModel() throws {
    try XCTSkipUnless(HopperStepPath.fastest == .avx2, "this CPU has no AVX2: the vector ex2 is never taken")
    let a = try NPYFile.read(Self.fixtures.appendingPathComponent("mufu-h100.npy").path)
    let rows = try XCTUnwrap(a.uint32), width = 1 + MUFU.Operation.h100Fixtures.count
    let column = try XCTUnwrap(MUFU.Operation.h100Fixtures.firstIndex(of: .ex2)) + 1
    let x = stride(from: 0, to: rows.count, by: width).map { Float(bitPattern: rows[$0]) }
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { MUFU.ex2(xs, into: $0) } }
    let h100 = stride(from: column, to: rows.count, by: width).map { rows[$0] }
    XCTAssertEqual(zip(y, h100).filter { $0.bitPattern != $1 }.count, 0, "vector ex2 against the H100")
    let exhaustive = ProcessInfo.processInfo.environment["FLASHNUM_EXHAUSTIVE"] == "1"
    let chunks = 256, perChunk = exhaustive ? (1 << 24) : (1 << 16)
    let mismatches = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
    defer { mismatches.deallocate() }
    nonisolated(unsafe) let out = mismatches
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
      // Chunk c covers the inputs with top byte c: all of them, or 2^16 spread by a stride of 257.
      let inputs = (0..<perChunk).map { Float(bitPattern: UInt32(chunk) << 24 | UInt32(truncatingIfNeeded: exhaustive ? $0 : $0 &* 257) & 0xFF_FFFF) }
      var results = [Float](repeating: 0, count: perChunk)
      inputs.withUnsafeBufferPointer { xs in results.withUnsafeMutableBufferPointer { MUFU.ex2(xs, into: $0) } }
      out[chunk] = zip(inputs, results).filter { MUFU.ex2($0).bitPattern != $1.bitPattern }.count
    }
    XCTAssertEqual(mismatches.reduce(0, +), 0, "vector ex2 against the scalar model")
    // The tail of a call that is not a multiple of eight goes through the same lanes.
    let odd: [Float] = [-.infinity, .infinity, .nan, 0, -0.0, 127.99, -126.5, -300, 0x1p-130, -3.25, 1.5]
    var oddOut = [Float](repeating: 0, count: odd.count)
    odd.withUnsafeBufferPointer { xs in oddOut.withUnsafeMutableBufferPointer { MUFU.ex2(xs, into: $0) } }
    XCTAssertEqual(oddOut.map(\.bitPattern), odd.map { MUFU.ex2($0).bitPattern })
  }

  /// The AVX2 ex2 of a multiply-add (the FA3 softmax's exponent argument) against the scalar
  /// FlushToZero operations and ex2, fused or not, flushed or not, on arguments that include
  /// subnormal operands, products and sums, specials and the ends of ex2's range.
  func testVectorEx2OfMultiplyAddEqualsScalar() throws {
    try XCTSkipUnless(HopperStepPath.fastest == .avx2, "this CPU has no AVX2: the vector ex2 is never taken")
    var rng = SplitMix64(seed: 41)
    let specials: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 0x1p-127, -0x1p-130, 0x1p-126, 127, 128, -126, -150, -300]
    for trial in 0..<400 {
      let n = 1 + trial % 37
      let x = (0..<n).map { _ in rng.next() % 6 == 0 ? specials[Int(rng.next() % UInt64(specials.count))]
                                                    : Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
      let scales: [Float] = [0.18033688, 1, 0x1p-100, 0x1p-127, -3.5]
      let a = scales[trial % scales.count], b = [Float(-12.25), 0, -0x1p-140, 0x1p-126, 100][trial / 5 % 5]
      for (fused, flush) in [(true, true), (true, false), (false, true), (false, false)] {
        var vector = [Float](repeating: 0, count: n), scalar = vector
        x.withUnsafeBufferPointer { xs in
          vector.withUnsafeMutableBufferPointer { MUFU.ex2(multiplyAdd: xs, a, b, fused: fused, flushSubnormals: flush, into: $0) }
          scalar.withUnsafeMutableBufferPointer { MUFU.ex2(multiplyAdd: xs, a, b, fused: fused, flushSubnormals: flush, into: $0, vector: false) }
        }
        XCTAssertEqual(vector.map(\.bitPattern), scalar.map(\.bitPattern), "trial \(trial), fused \(fused), flushed \(flush)")
      }
    }
    // The scalar path is the model: an FMA argument of 0.5·2 + 0.25 gives ex2(1.25).
    var y: [Float] = [0]
    [Float(0.5)].withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { MUFU.ex2(multiplyAdd: xs, 2, 0.25, fused: true, flushSubnormals: true, into: $0) } }
    XCTAssertEqual(y[0].bitPattern, MUFU.ex2(1.25).bitPattern)
  }

  /// The AVX2 FMUL over a buffer against the scalar ``FlushToZero/multiply(_:_:)`` and IEEE `*`,
  /// on values and factors that make subnormal operands and products, and lengths with tails.
  func testVectorMultiplyEqualsScalar() throws {
    try XCTSkipUnless(HopperStepPath.fastest == .avx2, "this CPU has no AVX2: the vector multiply is never taken")
    var rng = SplitMix64(seed: 43)
    for trial in 0..<300 {
      let n = trial % 29
      let x = (0..<n).map { _ in rng.next() % 4 == 0 ? [Float(0x1p-127), -0x1p-149, 0x1p-120, .nan, -.infinity][Int(rng.next() % 5)]
                                                    : Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
      let s: Float = [0.5, 0x1p-10, 0x1p-130, 3, -0.0][trial % 5]
      for flush in [true, false] {
        var vector = x, scalar = x
        vector.withUnsafeMutableBufferPointer { FlushToZero.multiply($0, by: s, flushSubnormals: flush) }
        scalar.withUnsafeMutableBufferPointer { FlushToZero.multiply($0, by: s, flushSubnormals: flush, vector: false) }
        XCTAssertEqual(vector.map(\.bitPattern), scalar.map(\.bitPattern), "trial \(trial), flushed \(flush)")
        if flush { XCTAssertEqual(scalar.map(\.bitPattern), x.map { FlushToZero.multiply($0, s).bitPattern }) }
      }
    }
  }

  func testTanhReplaysH200Outputs() throws {
    try replay("tanh-h200.npy", [.tanh], gpu: "H200", atLeast: 20_000)
  }

  func testTanhClosedForms() {
    // The identity below 2^-8 (no flush: subnormals and signed zeros pass), ±1 from 8 on.
    for bits: UInt32 in [0, 1, 0x7F_FFFF, 0x80_0000, 0x3B7F_FFFF, 0x3A12_3456] {
      for sign: UInt32 in [0, 0x8000_0000] {
        XCTAssertEqual(MUFU.tanh(Float(bitPattern: bits | sign)).bitPattern, bits | sign)
      }
    }
    for x: Float in [8, 8.5, 100, .greatestFiniteMagnitude, .infinity] {
      XCTAssertEqual(MUFU.tanh(x), 1)
      XCTAssertEqual(MUFU.tanh(-x), -1)
    }
    XCTAssertEqual(MUFU.tanh(0x1p-8), 0x1p-8)  // the first interval starts at the identity
    XCTAssertEqual(MUFU.tanh(.nan).bitPattern, 0x7FFF_FFFF)
    XCTAssertEqual(MUFU.tanh(-.nan).bitPattern, 0x7FFF_FFFF)
    XCTAssertLessThan(MUFU.tanh(7.9999995), 1)
  }

  func testTanhIsOddAndAccurate() {
    // Not the contract (the bits are): odd for every input, within 2^-16.5 relative of tanh,
    // and blind to the low fraction bits its binade drops.
    var rng = SplitMix64(seed: 9)
    let dropped: [UInt32] = [6, 6, 6, 5, 5, 4, 4, 4, 3, 2, 3]
    for _ in 0..<200_000 {
      let bits = UInt32.random(in: 0x3B80_0000..<0x4100_0000, using: &rng)
      let x = Float(bitPattern: bits), y = MUFU.tanh(x)
      XCTAssertEqual(MUFU.tanh(-x).bitPattern, y.bitPattern ^ 0x8000_0000)
      let exact = Foundation.tanh(Double(x))
      XCTAssertLessThan(abs(Double(y) - exact) / exact, Foundation.exp2(-16.5), "tanh(\(x))")
      let d = dropped[Int(bits >> 23) - 127 + 8]
      XCTAssertEqual(MUFU.tanh(Float(bitPattern: bits & ~((1 << d) - 1))).bitPattern, y.bitPattern)
    }
  }

  /// Every float32 input of tanh (about 12 s on 2 cores in a release build).
  func testTanhAllInputsMatchH200ChunkHashes() throws {
    try checkChunkHashes("tanh-h200-hashes.bin", [.tanh])
  }
}
