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

  func testReplaysH100Outputs() throws {
    let a = try NPYFile.read(Self.fixtures.appendingPathComponent("mufu-h100.npy").path)
    XCTAssertEqual(a.shape.last, 4)
    let rows = try XCTUnwrap(a.uint32)
    XCTAssertGreaterThan(rows.count / 4, 8000)
    var mismatches = 0
    for r in stride(from: 0, to: rows.count, by: 4) {
      let x = Float(bitPattern: rows[r])
      for (i, op) in MUFU.Operation.h100Fixtures.enumerated() where op(x).bitPattern != rows[r + 1 + i] {
        mismatches += 1
        if mismatches < 10 { XCTFail(String(format: "%@(0x%08x): model 0x%08x, H100 0x%08x", op.rawValue, rows[r], op(x).bitPattern, rows[r + 1 + i])) }
      }
    }
    XCTAssertEqual(mismatches, 0)
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
    let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("mufu-h100-hashes.bin"))
    XCTAssertEqual(data.count, 3 * 4096 * 8)
    let given = data.withUnsafeBytes { raw in (0..<(3 * 4096)).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self) } }
    // Chunk hashes on all cores, each written to its own slot.
    let slots = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 3 * 4096)
    defer { slots.deallocate() }
    nonisolated(unsafe) let out = slots
    DispatchQueue.concurrentPerform(iterations: 3 * 4096) { i in
      out[i] = MUFU.chunkHash(MUFU.Operation.h100Fixtures[i / 4096], chunk: i % 4096)
    }
    let computed = Array(slots)
    XCTAssertEqual(zip(given, computed).filter { $0 != $1 }.count, 0)
  }

  func testTanhReplaysH200Outputs() throws {
    let a = try NPYFile.read(Self.fixtures.appendingPathComponent("tanh-h200.npy").path)
    XCTAssertEqual(a.shape.last, 2)
    let rows = try XCTUnwrap(a.uint32)
    XCTAssertGreaterThan(rows.count / 2, 20_000)
    var mismatches = 0
    for r in stride(from: 0, to: rows.count, by: 2) where MUFU.tanh(Float(bitPattern: rows[r])).bitPattern != rows[r + 1] {
      mismatches += 1
      if mismatches < 10 {
        XCTFail(String(format: "tanh(0x%08x): model 0x%08x, H200 0x%08x", rows[r], MUFU.tanh(Float(bitPattern: rows[r])).bitPattern, rows[r + 1]))
      }
    }
    XCTAssertEqual(mismatches, 0)
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
    let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("tanh-h200-hashes.bin"))
    XCTAssertEqual(data.count, 4096 * 8)
    let given = data.withUnsafeBytes { raw in (0..<4096).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self) } }
    let slots = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 4096)
    defer { slots.deallocate() }
    nonisolated(unsafe) let out = slots
    DispatchQueue.concurrentPerform(iterations: 4096) { out[$0] = MUFU.chunkHash(.tanh, chunk: $0) }
    XCTAssertEqual(zip(given, Array(slots)).filter { $0 != $1 }.count, 0)
  }
}
