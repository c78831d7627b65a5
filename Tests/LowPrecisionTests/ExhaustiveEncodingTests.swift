import LowPrecision
import XCTest

/// Every float32 bit pattern converted to e4m3fn, e5m2, bf16 and fp16 with nearest-even,
/// under the format's own overflow policy and under saturate: the array encoder's tables must
/// hash to the fingerprints of ml_dtypes' tables (Scripts/fingerprints.py), in every run. With
/// `FLASHNUM_EXHAUSTIVE=1` the generic encoder and an independent oracle (the nearest of the
/// sorted representable values; Swift's `Float16` for fp16) are also compared on every input.
final class ExhaustiveEncodingTests: XCTestCase {
  /// Output of `python3 Scripts/fingerprints.py` (ml_dtypes 0.6.0, numpy 2.4).
  static let fingerprints: [String: String] = [
    "e4m3fn nan": "0cb10d172206183c35633f001dd4ee3b906cf8e7480a0c3c5b68a2caae8f72dd",
    "e4m3fn saturate": "80cf7da33390af0eb2ff5fe30b23f065ffc5d4d04562752132fc1492c3376431",
    "e5m2 infinity": "6dccb6b969f36726189dd99f836dd4cfb6f995647f7bb43f5f5df54e39280cb5",
    "e5m2 saturate": "76ea9956866bce8ba5f087608b54b9369c3fc8a6426962c0bdbc295db6656971",
    "bf16 infinity": "86032d34107d41685d01bb03c78df7f8b33fd2a81d4daa1072c7eca80e3bf459",
    "bf16 saturate": "26746c3fca59b8f698d2afbbeef460c2cd13236fb13d11bb3b19cc6b841877f4",
    "fp16 infinity": "d8ba2125bf91b809e80992979a24160d7c3f003c65a1fe8503f5c5a39fe76c4e",
    "fp16 saturate": "2c3afc6ada60ad23c5b08337e8eca3ee4adb63de22de38a672b5b3478c40f2c5",
  ]

  static let chunkBits = 24

  struct ChunkResult: Sendable {
    var mismatches = 0
    var firstMismatch: String?
    var digestNatural: [UInt8] = []
    var digestSaturate: [UInt8] = []
  }

  func testE4M3FN() throws { try exhaustive(.e4m3fn) }
  func testE5M2() throws { try exhaustive(.e5m2) }
  func testBF16() throws { try exhaustive(.bf16) }
  func testFP16() throws { try exhaustive(.fp16) }

  func exhaustive(_ format: FloatFormat) throws {
    #if DEBUG
    throw XCTSkip("the 2^32-input sweeps run in release builds only: swift test -c release (Scripts/test.sh)")
    #endif
    let natural = Rounding(.nearestEven, overflow: format.naturalOverflow)
    let saturate = Rounding(.nearestEven, overflow: .saturate)
    let oracle = GridOracle(format)
    let chunk = 1 << Self.chunkBits
    let results = parallelMap(1 << (32 - Self.chunkBits)) { c -> ChunkResult in
      var result = ChunkResult()
      @inline(__always) func same(_ g: UInt32, _ want: UInt32) -> Bool {
        g == want || (format.isNaN(g) && format.isNaN(want) && (g ^ want) & format.signMask == 0)
      }
      func record(_ i: Int, _ fast: UInt32, _ generic: UInt32, _ want: UInt32, _ what: String) {
        result.mismatches += 1
        if result.firstMismatch == nil {
          let x = Float(bitPattern: UInt32(c * chunk + i))
          result.firstMismatch = "\(format) \(what) input 0x\(String(x.bitPattern, radix: 16)) (\(x)): fast 0x\(String(fast, radix: 16)), generic 0x\(String(generic, radix: 16)), oracle 0x\(String(want, radix: 16))"
        }
      }
      var j = 0
      var jStart = true
      /// Saturation restated: a non-NaN input whose natural result is ±inf or NaN gives ±max.
      @inline(__always) func saturated(_ x: Float, _ natural: UInt32) -> UInt32 {
        !x.isNaN && (format.isNaN(natural) || format.isInfinite(natural))
          ? format.maxFiniteCode(negative: x.sign == .minus) : natural
      }
      @inline(__always) func oracleCodes(_ x: Float) -> (UInt32, UInt32) {
        let want: UInt32
        if !x.isFinite {
          want = oracle.expected(Double(x), natural)
        } else if format == .fp16 {
          // Independent oracle for fp16: Swift's own Float16 conversion.
          want = UInt32(Float16(x).bitPattern)
        } else {
          let m = Double(abs(x))
          if jStart { j = oracle.bracket(m); jStart = false }
          while j + 1 < oracle.values.count && oracle.values[j + 1] <= m { j += 1 }
          want = oracle.expected(Double(x), j: j, natural)
        }
        return (want, saturated(x, want))
      }
      func run<Code: FixedWidthInteger>(_ type: Code.Type, _ encode: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Code>, Rounding) -> Void) {
        let src = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunk)
        defer { src.deallocate() }
        for i in 0..<chunk { src[i] = Float(bitPattern: UInt32(c * chunk + i)) }
        var fastN = [Code](repeating: 0, count: chunk), fastS = fastN
        fastN.withUnsafeMutableBufferPointer { encode(UnsafeBufferPointer(src), $0, natural) }
        fastS.withUnsafeMutableBufferPointer { encode(UnsafeBufferPointer(src), $0, saturate) }
        // Every run: the tables' fingerprints. Opt-in: every input against the generic encoder and the oracle.
        for i in 0..<(exhaustiveSweeps ? chunk : 0) {
          let x = src[i]
          let (wantN, wantS) = oracleCodes(x)
          let fn = UInt32(fastN[i]), gn = format.encode(x, natural)
          if !same(fn, wantN) || !same(gn, wantN) { record(i, fn, gn, wantN, "natural") }
          // The generic encoder's saturate path differs only in the overflow branch; it is
          // checked at every boundary by the MPFR tests. Here: the fast kernel.
          let fs = UInt32(fastS[i])
          if !same(fs, wantS) { record(i, fs, fs, wantS, "saturate") }
        }
        result.digestNatural = fastN.withUnsafeBytes(sha256)
        result.digestSaturate = fastS.withUnsafeBytes(sha256)
      }
      if format.bitWidth <= 8 {
        run(UInt8.self) { format.encode($0, into: $1, $2) }
      } else {
        run(UInt16.self) { format.encode($0, into: $1, $2) }
      }
      return result
    }
    let mismatches = results.reduce(0) { $0 + $1.mismatches }
    XCTAssertEqual(mismatches, 0, results.compactMap(\.firstMismatch).prefix(5).joined(separator: "\n"))
    let natDigest = hex(results.flatMap(\.digestNatural).withUnsafeBytes(sha256))
    let satDigest = hex(results.flatMap(\.digestSaturate).withUnsafeBytes(sha256))
    print("fingerprint \(format.name) \(natural.overflow.rawValue) \(natDigest)")
    print("fingerprint \(format.name) saturate \(satDigest)")
    XCTAssertEqual(natDigest, Self.fingerprints["\(format.name) \(natural.overflow.rawValue)"], "ml_dtypes fingerprint")
    XCTAssertEqual(satDigest, Self.fingerprints["\(format.name) saturate"], "ml_dtypes fingerprint (saturated)")
  }
}

/// Opt-in (`FLASHNUM_EXHAUSTIVE=1`, about two hours on 2 cores): every float32 bit pattern,
/// every preset, every deterministic mode, both a non-saturating and the saturating policy,
/// generic encoder against the grid oracle.
final class ExhaustiveAllModesTests: XCTestCase {
  func testEveryPresetEveryMode() throws {
    try XCTSkipUnless(exhaustiveSweeps, "set FLASHNUM_EXHAUSTIVE=1 to sweep all 2^32 float32 inputs in every mode")
    for format in FloatFormat.presets {
      let oracle = GridOracle(format)
      for mode in RoundingMode.deterministic {
        for overflow in OverflowPolicy.allCases {
          let rounding = Rounding(mode, overflow: overflow)
          guard (try? format.validate(rounding)) != nil else { continue }
          let bad = parallelMap(256) { c -> String? in
            var j = 0, started = false
            for i in 0..<(1 << 24) {
              let x = Float(bitPattern: UInt32(c << 24 | i))
              if x.isNaN && !format.hasNaN { continue }
              let want: UInt32
              if x.isFinite {
                let m = Double(abs(x))
                if !started { j = oracle.bracket(m); started = true }
                while j + 1 < oracle.values.count && oracle.values[j + 1] <= m { j += 1 }
                want = oracle.expected(Double(x), j: j, rounding)
              } else {
                want = oracle.expected(Double(x), rounding)
              }
              let got = format.encode(x, rounding)
              if got != want && !(format.isNaN(got) && format.isNaN(want)) {
                return "\(format) \(mode.name) \(overflow): \(x) gave \(got), oracle \(want)"
              }
            }
            return nil
          }.compactMap { $0 }
          XCTAssertEqual(bad, [], "\(format) \(mode.name) \(overflow)")
        }
      }
    }
  }
}
