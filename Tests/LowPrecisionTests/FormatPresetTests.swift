import LowPrecision
import XCTest

/// The presets' documented constants, checked against closed forms, and the decoder against
/// Swift's Float16 for every fp16 code.
final class FormatPresetTests: XCTestCase {
  func testDocumentedConstants() {
    let table: [(FloatFormat, max: Double, minNormal: Double, minPositive: Double)] = [
      (.e4m3fn, 448, 0x1p-6, 0x1p-9), (.e5m2, 57344, 0x1p-14, 0x1p-16),
      (.e4m3fnuz, 240, 0x1p-7, 0x1p-10), (.e5m2fnuz, 57344, 0x1p-15, 0x1p-17),
      (.e4m3, 240, 0x1p-6, 0x1p-9), (.fp16, 65504, 0x1p-14, 0x1p-24),
      (.bf16, 0x1.FEp127, 0x1p-126, 0x1p-133), (.e8m0, 0x1p127, 0x1p-127, 0x1p-127),
      (.e2m1, 6, 1, 0.5),
    ]
    for (f, mx, mn, mp) in table {
      XCTAssertEqual(f.maxFinite, mx, f.name)
      XCTAssertEqual(f.minNormal, mn, f.name)
      XCTAssertEqual(f.minPositive, mp, f.name)
    }
    XCTAssertEqual(FloatFormat.e4m3fn.nanCode(negative: true), 0xFF)
    XCTAssertNil(FloatFormat.e4m3fn.infinityCode(negative: false))
    XCTAssertEqual(FloatFormat.e5m2.infinityCode(negative: true), 0xFC)
    XCTAssertEqual(FloatFormat.e4m3fnuz.nanCode(), 0x80)
    XCTAssertEqual(FloatFormat.e4m3.infinityCode(negative: false), 0x78)
    XCTAssertEqual(FloatFormat.e8m0.nanCode(), 0xFF)
    XCTAssertNil(FloatFormat.e2m1.nanCode())
    XCTAssertEqual((0..<16).map { FloatFormat.e2m1.decode(UInt32($0)) },
                   [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])
  }

  /// The number of NaN codes each format documents.
  func testSpecialCodeCounts() {
    let nanCounts: [(FloatFormat, Int)] = [(.e4m3fn, 2), (.e5m2, 6), (.e4m3fnuz, 1), (.e5m2fnuz, 1),
                                           (.e4m3, 14), (.fp16, 2046), (.bf16, 254), (.e8m0, 1), (.e2m1, 0)]
    for (f, n) in nanCounts {
      XCTAssertEqual((0..<UInt32(f.codeCount)).filter(f.isNaN).count, n, f.name)
    }
  }

  func testFP16DecodeMatchesSwiftFloat16() {
    for c in 0..<UInt16.max {
      let mine = FloatFormat.fp16.decode(UInt32(c))
      let swift = Double(Float16(bitPattern: c))
      XCTAssert(mine == swift || (mine.isNaN && swift.isNaN), "0x\(String(c, radix: 16))")
    }
    var out = [Float](repeating: 0, count: 65536)
    let codes = (0...UInt16.max).map { $0 }
    codes.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { FloatFormat.fp16.decode(s, into: $0) } }
    for (c, v) in zip(codes, out) {
      let s = Float(Float16(bitPattern: c))
      XCTAssert(v.bitPattern == s.bitPattern || (v.isNaN && s.isNaN), "batch 0x\(String(c, radix: 16))")
    }
  }

  /// The array decoders (eight AVX2 lanes for bf16 and fp16 where the CPU has them, tables for
  /// 8-bit codes) give the generic decoder's float32 bits for every code, NaNs included; the count
  /// 65 537 leaves a tail.
  func testArrayDecodeIsTheGenericDecodeBitForBit() {
    for f in FloatFormat.presets {
      let count = f.bitWidth <= 8 ? 257 : 65537
      var out = [Float](repeating: 0, count: count)
      let codes = (0..<count).map { UInt32($0 % f.codeCount) }
      if f.bitWidth <= 8 {
        let c8 = codes.map { UInt8($0) }
        c8.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { f.decode(s, into: $0) } }
      } else {
        let c16 = codes.map { UInt16($0) }
        c16.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { f.decode(s, into: $0) } }
      }
      for (c, v) in zip(codes, out) where v.bitPattern != Float(f.decode(c)).bitPattern {
        XCTFail("\(f.name) code 0x\(String(c, radix: 16)): array 0x\(String(v.bitPattern, radix: 16)), generic 0x\(String(Float(f.decode(c)).bitPattern, radix: 16))")
        break
      }
    }
  }

  func testBF16DecodeIsTheTopHalfOfBinary32() {
    var out = [Float](repeating: 0, count: 65536)
    let codes = (0...UInt16.max).map { $0 }
    codes.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { FloatFormat.bf16.decode(s, into: $0) } }
    for (c, v) in zip(codes, out) {
      let expected = Float(bitPattern: UInt32(c) << 16)
      XCTAssert(v.bitPattern == expected.bitPattern || (v.isNaN && expected.isNaN))
      XCTAssert(v.bitPattern == Float(FloatFormat.bf16.decode(UInt32(c))).bitPattern || v.isNaN)
    }
  }
}
