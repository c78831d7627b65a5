import LowPrecision
import MatrixMultiply
import XCTest

/// The FMA3 kernels against the Swift loops (`Float.addingProduct`, libm's `fmaf` on
/// baseline x86-64) and, one operation at a time, against the exact sum rounded once.
final class FusedMultiplyAddTests: XCTestCase {
  /// Random floats over FP32's whole range (subnormals included), with specials, and pairs built
  /// to cancel (c = −fl(a·b), where only a fused operation keeps a·b's rounding error).
  struct Operands {
    var rng: SplitMix64
    mutating func float(specials: Bool) -> Float {
      let r = rng.next()
      if specials {
        switch r % 64 {
        case 0: return .nan
        case 1: return .infinity
        case 2: return -.infinity
        case 3: return r & 64 == 0 ? 0 : -0.0
        case 4: return Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x807F_FFFF)  // subnormal
        case 5: return r & 64 == 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude
        default: break
        }
      }
      let exponent = Int(rng.next() % 64) - 32 + (r % 8 == 0 ? Int(rng.next() % 250) - 125 : 0)
      let significand = 1 + Float(rng.next() % (1 << 23)) / Float(1 << 23)
      return Float(sign: r & 1 == 0 ? .plus : .minus, exponent: exponent, significand: significand)
    }
  }

  func same(_ x: Float, _ y: Float) -> Bool { x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN) }

  func testSingleOperationsAreRoundedOnce() throws {
    try XCTSkipUnless(FusedMultiplyAdd.hardware, "no FMA3 on this CPU: the kernels are not used, only the Swift loops run")
    var g = Operands(rng: SplitMix64(seed: 3))
    let n = 200_000
    var p = [Float](repeating: 0, count: n), x = [Float](repeating: 0, count: n), o = [Float](repeating: 0, count: n)
    // axpy shares one p; test many p, each over a slice.
    for start in stride(from: 0, to: n, by: 100) {
      let pj = g.float(specials: false)
      for i in start..<(start + 100) {
        p[i] = pj
        x[i] = g.float(specials: false)
        o[i] = i % 3 == 0 ? -(pj * x[i]) : g.float(specials: false)
      }
    }
    var hardware = o
    for start in stride(from: 0, to: n, by: 100) {
      x.withUnsafeBufferPointer { xb in hardware.withUnsafeMutableBufferPointer { ob in
        FusedMultiplyAdd.axpy(ob.baseAddress! + start, xb.baseAddress! + start, p[start], count: 100, hardware: true)
      } }
    }
    var mismatches = 0
    for i in 0..<n {
      var exact = ExactAccumulator()
      exact.addProduct(Double(p[i]), Double(x[i]))
      exact.add(Double(o[i]))
      if !same(hardware[i], exact.float()) { mismatches += 1 }
    }
    XCTAssertEqual(mismatches, 0, "hardware fma differs from the exact sum rounded once")
  }

  func testKernelsMatchSoftwareLoops() {
    var g = Operands(rng: SplitMix64(seed: 17))
    for trial in 0..<400 {
      let count = [0, 1, 3, 7, 8, 9, 16, 31, 64, 128, 130][trial % 11]
      let rows = trial % 9
      let stride = 1 + trial % 3
      let specials = trial % 2 == 0
      let a = (0..<max(count, 1)).map { _ in g.float(specials: specials) }
      let b = (0...(count * stride * max(rows, 1))).map { _ in g.float(specials: specials) }
      let initial = g.float(specials: specials)
      a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
        let (ap, bp) = (a.baseAddress!, b.baseAddress!)
        // One chain, strided B.
        let hw = FusedMultiplyAdd.chain(initial: initial, ap, bp, count: count, bStride: stride, hardware: FusedMultiplyAdd.hardware)
        let sw = FusedMultiplyAdd.chain(initial: initial, ap, bp, count: count, bStride: stride, hardware: false)
        XCTAssertTrue(same(hw, sw), "chain, count \(count), stride \(stride): \(hw) vs \(sw)")
        // Interleaved chains over rows of B.
        var outHW = [Float](repeating: 1, count: rows + 1), outSW = outHW
        FusedMultiplyAdd.chains(ap, bp, count: count, rows: rows, rowStride: count * stride, into: &outHW, hardware: FusedMultiplyAdd.hardware)
        FusedMultiplyAdd.chains(ap, bp, count: count, rows: rows, rowStride: count * stride, into: &outSW, hardware: false)
        XCTAssertTrue(zip(outHW, outSW).allSatisfy(same), "chains, count \(count), rows \(rows)")
        XCTAssertEqual(outHW[rows], 1, "chains wrote past its rows")
        // axpy.
        var oHW = Array(b.prefix(count + 1)), oSW = oHW
        FusedMultiplyAdd.axpy(&oHW, ap, initial, count: count, hardware: FusedMultiplyAdd.hardware)
        FusedMultiplyAdd.axpy(&oSW, ap, initial, count: count, hardware: false)
        XCTAssertTrue(zip(oHW, oSW).allSatisfy(same), "axpy, count \(count)")
        XCTAssertEqual(oHW[count].bitPattern, b[count].bitPattern, "axpy wrote past its count")
      } }
    }
  }
}
