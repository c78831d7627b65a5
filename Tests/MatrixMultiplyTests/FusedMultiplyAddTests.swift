import LowPrecision
import MatrixMultiply
import XCTest

/// The FMA3 kernels against the Swift loops (`addingProduct`, libm's `fmaf`/`fma` on baseline
/// x86-64) and, one operation at a time, against the exact sum rounded once.
final class FusedMultiplyAddTests: XCTestCase {
  /// Random values with exponents in [−32, 32) and now and then over `wideExponents`, with
  /// specials (NaN, ±∞, ±0, subnormals, ±max) when asked.
  struct Operands {
    var rng: SplitMix64

    mutating func value<T: BinaryFloatingPoint>(_: T.Type, specials: Bool, wideExponents: ClosedRange<Int>) -> T {
      let r = rng.next()
      if specials {
        switch r % 64 {
        case 0: return .nan
        case 1: return .infinity
        case 2: return -.infinity
        case 3: return r & 64 == 0 ? 0 : -T(0)
        case 4: return T(sign: r & 64 == 0 ? .plus : .minus, exponent: 0, significand: 1) * T.leastNormalMagnitude
                  * T(rng.next() % 1000) / 1024   // subnormal
        case 5: return r & 64 == 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude
        default: break
        }
      }
      let exponent = r % 8 == 0 ? Int.random(in: wideExponents, using: &rng) : Int(rng.next() % 64) - 32
      let bits = T.significandBitCount
      let significand = 1 + T(rng.next() >> UInt64(64 - bits)) / T(sign: .plus, exponent: T.Exponent(bits), significand: 1)
      return T(sign: r & 1 == 0 ? .plus : .minus, exponent: T.Exponent(exponent), significand: significand)
    }
  }

  func same<T: BinaryFloatingPoint>(_ x: T, _ y: T) -> Bool { x == y && x.sign == y.sign || (x.isNaN && y.isNaN) }

  /// `o + p·x` through the kernels' axpy, with o = −fl(p·x) for every third element (where only
  /// a fused operation keeps p·x's rounding error), against the exact sum rounded once.
  func checkSingleOperations<T: FusedMultiplyAddElement>(_: T.Type, seed: UInt64, wideExponents: ClosedRange<Int>,
                                                         rounded: (ExactAccumulator) -> T) {
    var g = Operands(rng: SplitMix64(seed: seed))
    let n = 200_000, slice = 100
    var p = [T](repeating: 0, count: n), x = p, o = p
    for start in stride(from: 0, to: n, by: slice) {
      let pj = g.value(T.self, specials: false, wideExponents: wideExponents)
      for i in start..<(start + slice) {
        p[i] = pj
        x[i] = g.value(T.self, specials: false, wideExponents: wideExponents)
        o[i] = i % 3 == 0 ? -(pj * x[i]) : g.value(T.self, specials: false, wideExponents: wideExponents)
      }
    }
    var fused = o
    for start in stride(from: 0, to: n, by: slice) {
      x.withUnsafeBufferPointer { xb in fused.withUnsafeMutableBufferPointer { ob in
        FusedMultiplyAdd.axpy(ob.baseAddress! + start, xb.baseAddress! + start, p[start], count: slice, hardware: true)
      } }
    }
    var mismatches = 0
    for i in 0..<n {
      var exact = ExactAccumulator()
      exact.addProduct(Double(p[i]), Double(x[i]))
      exact.add(Double(o[i]))
      if !same(fused[i], rounded(exact)) { mismatches += 1 }
    }
    XCTAssertEqual(mismatches, 0, "\(T.self): FMA3 kernel differs from the exact sum rounded once")
  }

  func testSingleOperationsAreRoundedOnce() throws {
    try XCTSkipUnless(FusedMultiplyAdd.hardware, "no FMA3 on this CPU: the kernels are not used, only the Swift loops run")
    checkSingleOperations(Float.self, seed: 3, wideExponents: -125...127) { $0.float() }
    // Products stay far from Double's subnormals, where the exact read-out would round twice.
    checkSingleOperations(Double.self, seed: 4, wideExponents: -400...400) { $0.double() }
  }

  /// Chains (strided B), interleaved chains and axpy on random and special operands: the
  /// kernels give the Swift loops' bits and write nothing past their outputs.
  func checkKernels<T: FusedMultiplyAddElement>(_: T.Type, seed: UInt64, wideExponents: ClosedRange<Int>) {
    var g = Operands(rng: SplitMix64(seed: seed))
    for trial in 0..<400 {
      let count = [0, 1, 3, 7, 8, 9, 16, 31, 64, 128, 130][trial % 11]
      let rows = trial % 9
      let stride = 1 + trial % 3
      let specials = trial % 2 == 0
      let a = (0...count).map { _ in g.value(T.self, specials: specials, wideExponents: wideExponents) }
      let b = (0...(count * stride * max(rows, 1))).map { _ in g.value(T.self, specials: specials, wideExponents: wideExponents) }
      let initial = g.value(T.self, specials: specials, wideExponents: wideExponents)
      a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
        let (ap, bp) = (a.baseAddress!, b.baseAddress!)
        let hw = FusedMultiplyAdd.chain(initial: initial, ap, bp, count: count, bStride: stride)
        let sw = FusedMultiplyAdd.chain(initial: initial, ap, bp, count: count, bStride: stride, hardware: false)
        XCTAssertTrue(same(hw, sw), "\(T.self) chain, count \(count), stride \(stride): \(hw) vs \(sw)")
        var outHW = [T](repeating: 1, count: rows + 1), outSW = outHW
        FusedMultiplyAdd.chains(ap, bp, count: count, rows: rows, rowStride: count * stride, into: &outHW)
        FusedMultiplyAdd.chains(ap, bp, count: count, rows: rows, rowStride: count * stride, into: &outSW, hardware: false)
        XCTAssertTrue(zip(outHW, outSW).allSatisfy(same), "\(T.self) chains, count \(count), rows \(rows)")
        XCTAssertEqual(outHW[rows], 1, "chains wrote past its rows")
        var oHW = Array(b.prefix(count + 1)), oSW = oHW
        FusedMultiplyAdd.axpy(&oHW, ap, initial, count: count)
        FusedMultiplyAdd.axpy(&oSW, ap, initial, count: count, hardware: false)
        XCTAssertTrue(zip(oHW, oSW).allSatisfy(same), "\(T.self) axpy, count \(count)")
        XCTAssertTrue(same(oHW[count], b[count]), "axpy wrote past its count")
      } }
    }
  }

  /// The lane-wise chains (keys interleaved by eight) and the register-blocked axpy rows give the
  /// bits of the plain chains and axpy calls, for sizes around every blocking boundary.
  func testLaneChainsAndAxpyRowsMatchThePlainLoops() {
    var g = Operands(rng: SplitMix64(seed: 23))
    for trial in 0..<300 {
      let count = [1, 3, 8, 31, 64, 65, 128, 130, 200][trial % 9]
      let rows = [1, 7, 8, 9, 31, 32, 33, 40][trial % 8]
      let specials = trial % 3 == 0
      let a = (0..<count).map { _ in g.value(Float.self, specials: specials, wideExponents: -150...127) }
      let b = (0..<(count * rows)).map { _ in g.value(Float.self, specials: specials, wideExponents: -150...127) }
      a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
        var want = [Float](repeating: 0, count: rows)
        FusedMultiplyAdd.chains(a.baseAddress!, b.baseAddress!, count: count, rows: rows, rowStride: count, into: &want, hardware: false)
        let lanes = FusedMultiplyAdd.interleaved(b.baseAddress!, count: count, rows: rows, rowStride: count)
        let groups = (rows + 7) / 8
        for hardware in [true, false] where hardware ? FusedMultiplyAdd.hardware : true {
          var got = [Float](repeating: 1, count: groups * 8 + 1)
          lanes.withUnsafeBufferPointer { FusedMultiplyAdd.laneChains(a.baseAddress!, $0.baseAddress!, count: count, groups: groups, into: &got, hardware: hardware) }
          XCTAssertTrue(zip(got.prefix(rows), want).allSatisfy(same), "lane chains, count \(count), rows \(rows), hardware \(hardware)")
          XCTAssertEqual(got[groups * 8], 1, "lane chains wrote past their groups")
        }
        // axpy rows: p has `rows` entries, V is rows × count, O has count channels.
        let p = Array(a.prefix(min(rows, count))) + (0..<max(0, rows - count)).map { _ in g.value(Float.self, specials: false, wideExponents: -20...20) }
        var oWant = (0...count).map { _ in g.value(Float.self, specials: specials, wideExponents: -150...127) }
        var oGot = oWant
        for j in 0..<rows { FusedMultiplyAdd.axpy(&oWant, b.baseAddress! + j * count, p[j], count: count, hardware: false) }
        p.withUnsafeBufferPointer { FusedMultiplyAdd.axpyRows(&oGot, b.baseAddress!, $0.baseAddress!, rows: rows, count: count) }
        XCTAssertTrue(zip(oGot, oWant).allSatisfy(same), "axpy rows, count \(count), rows \(rows)")
      } }
    }
  }

  func testKernelsMatchSwiftLoops() {
    checkKernels(Float.self, seed: 17, wideExponents: -150...127)
    checkKernels(Double.self, seed: 18, wideExponents: -1075...1023)
  }
}
