import LowPrecision
import XCTest

/// The eight-lane encoder gives the generic encoder's bits in every mode (stochastic included,
/// with the stream's words), for every preset it serves and every overflow policy the format
/// takes: on a structured sample in every run, on all 2^32 inputs opt-in.
final class VectorEncoderTests: XCTestCase {
  /// Every rounding to compare: the deterministic modes and stochastic rounding with 1, 13 and 32 bits.
  static let modes: [RoundingMode] = RoundingMode.deterministic + [.stochastic(randomBits: 1), .stochastic(randomBits: 13), .stochastic(randomBits: 32)]

  static func roundings(_ format: FloatFormat) -> [Rounding] {
    modes.flatMap { mode in
      OverflowPolicy.allCases.map { Rounding(mode, overflow: $0) }.filter { (try? format.validate($0)) != nil }
    }
  }

  /// Presets the vector encoder serves: every 8- and 16-bit one (e8m0 through its own lanes).
  static let served: [FloatFormat] = FloatFormat.presets.filter { $0.bitWidth >= 8 }

  func testServesEveryEightAndSixteenBitPreset() throws {
    try XCTSkipUnless(FloatFormat.e4m3fn.encodesInVectors(Rounding(.nearestEven, overflow: .nan)), "the CPU has no AVX2: the vector encoder is not used")
    for format in Self.served { for r in Self.roundings(format) { XCTAssertTrue(format.encodesInVectors(r), "\(format.name) \(r)") } }
    XCTAssertEqual(Self.served.count, 8)
    XCTAssertFalse(FloatFormat.e2m1.encodesInVectors(Rounding(.nearestEven, overflow: .saturate)))
  }

  /// Every sign, exponent and top 8 fraction bits, with the 15 low bits from a set that holds
  /// every rounding position's half, half ± 1, 0 and all ones, and a random pattern; plus the
  /// specials. About 10^6 inputs per rounding.
  static let sample: [Float] = {
    var rng = SplitMix64(seed: 9)
    var lows: Set<UInt32> = [0, 1, 0x7FFF, 0x4000, 0x3FFF]
    for bit in 0..<15 { lows.formUnion([1 << bit, (1 << bit) - 1, (1 << bit) + 1]) }
    let lowList = lows.sorted()
    var out: [Float] = []
    for high in 0..<(1 << 17) {
      for low in lowList where low & 0x7FFF == low {
        if low == lowList[0] || Int(rng.next() % 4) == 0 {
          out.append(Float(bitPattern: UInt32(high) << 15 | low))
        }
      }
      out.append(Float(bitPattern: UInt32(high) << 15 | UInt32(truncatingIfNeeded: rng.next()) & 0x7FFF))
    }
    return out + [.infinity, -.infinity, .nan, -.nan, 0, -0.0]
  }()

  func testAgreesWithTheGenericEncoderOnASample() throws {
    try XCTSkipUnless(FloatFormat.e4m3fn.encodesInVectors(Rounding(.nearestEven, overflow: .nan)), "the CPU has no AVX2: the vector encoder is not used")
    let x = Self.sample
    for format in Self.served {
      let failures = parallelMap(Self.roundings(format).count) { k -> String? in
        let r = Self.roundings(format)[k]
        return Self.compare(format, r, x, offset: 1000 * k + 3)
      }.compactMap { $0 }
      XCTAssertEqual(failures, [], format.name)
    }
  }

  /// Offsets and counts that are not multiples of the lane count reach the tail path.
  func testTailsAndOffsetsUseTheSameWords() throws {
    try XCTSkipUnless(FloatFormat.e4m3fn.encodesInVectors(Rounding(.nearestEven, overflow: .nan)), "the CPU has no AVX2: the vector encoder is not used")
    let x = Array(Self.sample[40_000..<40_013])
    for r in [Rounding(.stochastic(randomBits: 7), overflow: .saturate), Rounding(.odd, overflow: .nan)] {
      for offset in [0, 5, -3, Int.max - 20] {
        XCTAssertNil(Self.compare(.e4m3fn, r, x, offset: offset))
        XCTAssertNil(Self.compare(.bf16, r.overflow == .nan ? Rounding(r.mode, overflow: .infinity) : r, x, offset: offset))
      }
    }
  }

  /// The paths a CPU without AVX2 takes (the nearest-even SSE2 kernels of e4m3fn, e5m2, bf16 and
  /// fp16, the generic encoder for the rest) give the same bits on the sample.
  func testPathsWithoutTheVectorEncoderAgree() {
    for format in [FloatFormat.e4m3fn, .e5m2, .bf16, .fp16] {
      for overflow in [format.naturalOverflow, .saturate] {
        XCTAssertNil(Self.compare(format, Rounding(.nearestEven, overflow: overflow), Self.sample, offset: 0, vectorEncoder: false))
      }
    }
    XCTAssertNil(Self.compare(.e4m3fn, Rounding(.stochastic(randomBits: 5), overflow: .saturate), Array(Self.sample.prefix(50_000)), offset: 9,
                              vectorEncoder: false))
  }

  /// The first difference between the array encoder and the generic one, as text (nil if none).
  static func compare(_ format: FloatFormat, _ r: Rounding, _ x: [Float], offset: Int, seed: UInt64 = 0xC0FFEE,
                      vectorEncoder: Bool = true) -> String? {
    let stream = StochasticStream(seed: seed)
    var codes = [UInt32](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { src in
      if format.bitWidth <= 8 {
        var c = [UInt8](repeating: 0, count: x.count)
        c.withUnsafeMutableBufferPointer { format.encode(src, into: $0, r, stream: stream, offset: offset, vectorEncoder: vectorEncoder) }
        codes = c.map(UInt32.init)
      } else {
        var c = [UInt16](repeating: 0, count: x.count)
        c.withUnsafeMutableBufferPointer { format.encode(src, into: $0, r, stream: stream, offset: offset, vectorEncoder: vectorEncoder) }
        codes = c.map(UInt32.init)
      }
    }
    for i in x.indices {
      let want = format.encode(x[i], r, random: stream.word(at: offset &+ i))
      if codes[i] != want {
        return "\(format.name) \(r.mode.name) \(r.overflow): input 0x\(String(x[i].bitPattern, radix: 16)) (\(x[i])) index \(offset &+ i): vector 0x\(String(codes[i], radix: 16)), generic 0x\(String(want, radix: 16))"
      }
    }
    return nil
  }
}

/// Opt-in (`FLASHNUM_EXHAUSTIVE=1`): every float32 bit pattern, every served preset, every mode
/// of ``VectorEncoderTests/modes`` and overflow policy: the vector encoder against the generic one.
/// `FLASHNUM_EXHAUSTIVE_FORMATS=e4m3fn,bf16` limits the formats.
final class ExhaustiveVectorEncoderTests: XCTestCase {
  func testEveryInputEveryMode() throws {
    try XCTSkipUnless(exhaustiveSweeps, "set FLASHNUM_EXHAUSTIVE=1 to compare the vector encoder on all 2^32 inputs in every mode")
    try XCTSkipUnless(FloatFormat.e4m3fn.encodesInVectors(Rounding(.nearestEven, overflow: .nan)), "the CPU has no AVX2")
    let only = ProcessInfo.processInfo.environment["FLASHNUM_EXHAUSTIVE_FORMATS"].map { Set($0.split(separator: ",").map(String.init)) }
    for format in VectorEncoderTests.served where only?.contains(format.name) ?? true {
      for r in VectorEncoderTests.roundings(format) {
        let bad = parallelMap(256) { c -> String? in
          let x = (0..<(1 << 24)).map { Float(bitPattern: UInt32(c << 24 | $0)) }
          return VectorEncoderTests.compare(format, r, x, offset: c << 24)
        }.compactMap { $0 }
        XCTAssertEqual(bad, [], "\(format.name) \(r.mode.name) \(r.overflow)")
        print("exhaustive vector encoder: \(format.name) \(r.mode.name) \(r.overflow.rawValue): \(bad.isEmpty ? "equal" : "DIFFERENT") on 2^32 inputs")
      }
    }
  }
}
