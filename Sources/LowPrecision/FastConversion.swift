// Branch-free float32 ⇄ e4m3fn / e5m2 / bf16 / fp16 conversions with round-to-nearest-even,
// written so that the compiler vectorizes the loops. They must give exactly the bits of the
// generic `FloatFormat.encode` / `decode`; the exhaustive tests check all 2^32 inputs.
//
// Technique, for a float32 magnitude `a` (bits, sign cleared):
// - normal range: add `half − 1 + lsb` to the bits and shift (RNE on the bit pattern), then
//   rebias the exponent; a carry out of the fraction correctly moves to the next binade;
// - subnormal range: `|x| + 2^k` in float32 arithmetic, where 2^k's ulp is the format's
//   subnormal step, rounds |x| to that step with RNE in one hardware rounding; the difference of
//   the bit patterns is the code;
// - NaN, infinity and overflow are selected at the end.

import CVectorShims

/// The AVX2 encoder (`fn_vector_encode`) set up for one format and rounding: every mode, including
/// stochastic rounding with the stream's words, for the signed formats with subnormals and a NaN
/// and for e8m0: every 8- and 16-bit preset. `nil` when the CPU lacks AVX2 or the format does not
/// qualify. The specials' codes come from the generic encoder itself.
struct VectorEncoder {
  var traits: fn_encode_traits

  static let available = fn_hardware_avx2() != 0

  init?(_ f: FloatFormat, _ r: Rounding, stream: StochasticStream, codeBytes: Int32) {
    let e8m0 = f == .e8m0
    guard Self.available, (f.isSigned && f.hasSubnormals && f.hasNaN && f.bitWidth >= 8) || e8m0 else { return nil }
    let mode: fn_round_mode
    var bits: UInt32 = 0
    switch r.mode {
    case .nearestEven: mode = FN_ROUND_NEAREST_EVEN
    case .nearestAway: mode = FN_ROUND_NEAREST_AWAY
    case .towardZero: mode = FN_ROUND_TOWARD_ZERO
    case .up: mode = FN_ROUND_UP
    case .down: mode = FN_ROUND_DOWN
    case .odd: mode = FN_ROUND_ODD
    case .stochastic(let b): mode = FN_ROUND_STOCHASTIC; bits = UInt32(b)
    }
    let nan = Float(bitPattern: 0x7FC0_0000)
    traits = fn_encode_traits(
      fraction_bits: UInt32(f.fractionBits), min_normal_exponent: UInt32(f.minExponent + 127),
      max_finite_magnitude: f.maxFiniteMagnitudeCode, sign_mask: f.signMask, has_negative_zero: f.hasNegativeZero ? 1 : 0,
      nan_code: (f.encode(nan, r), e8m0 ? f.encode(Float(0), r) : f.encode(-nan, r)),
      infinity_code: (f.encode(Float.infinity, r), f.encode(-Float.infinity, r)),
      overflow_code: (f.overflowCode(negative: false, r), f.overflowCode(negative: true, r)),
      mode: Int32(mode.rawValue), random_bits: bits, seed: stream.seed, code_bytes: codeBytes,
      unsigned_exponent_only: e8m0 ? 1 : 0)
  }

  func encode<Code>(_ source: UnsafeBufferPointer<Float>, _ destination: UnsafeMutableBufferPointer<Code>, offset: Int) {
    guard let s = source.baseAddress, let d = destination.baseAddress else { return }
    withUnsafePointer(to: traits) { fn_vector_encode(s, d, source.count, $0, UInt64(truncatingIfNeeded: offset)) }
  }
}

/// Which fast kernel serves a (format, rounding) pair, if any.
enum FastKernel {
  case e4m3fn(saturate: Bool), e5m2(saturate: Bool), bf16(saturate: Bool), fp16(saturate: Bool)

  init?(_ format: FloatFormat, _ rounding: Rounding) {
    guard rounding.mode == .nearestEven else { return nil }
    let saturate: Bool
    switch rounding.overflow {
    case .saturate: saturate = true
    case format.naturalOverflow: saturate = false
    default: return nil
    }
    switch format {
    case .e4m3fn: self = .e4m3fn(saturate: saturate)
    case .e5m2: self = .e5m2(saturate: saturate)
    case .bf16: self = .bf16(saturate: saturate)
    case .fp16: self = .fp16(saturate: saturate)
    default: return nil
    }
  }
}

@inline(__always)
func fastE4M3FN(_ x: Float, saturate: Bool) -> UInt8 {
  let u = x.bitPattern
  let sign = UInt8(truncatingIfNeeded: u >> 24) & 0x80
  let a = u & 0x7FFF_FFFF
  let normal = (a &+ 0x7FFFF &+ ((a >> 20) & 1)) &>> 20 &- (120 << 3)
  let sub = (Float(bitPattern: a) + 16384).bitPattern &- 0x4680_0000  // 2^14: ulp 2^-9
  var m = UInt8(truncatingIfNeeded: a < 0x3C80_0000 ? sub : normal)
  // a > 464 (0x43E80000): overflow, ±inf and NaN. 464 itself ties to 448.
  let over: UInt8 = (saturate && a <= 0x7F80_0000) ? 0x7E : 0x7F
  m = a > 0x43E8_0000 ? over : m
  return sign | m
}

@inline(__always)
func fastE5M2(_ x: Float, saturate: Bool) -> UInt8 {
  let u = x.bitPattern
  let sign = UInt8(truncatingIfNeeded: u >> 24) & 0x80
  let a = u & 0x7FFF_FFFF
  let normal = (a &+ 0xFFFFF &+ ((a >> 21) & 1)) &>> 21 &- (112 << 2)
  let sub = (Float(bitPattern: a) + 128).bitPattern &- 0x4300_0000  // 2^7: ulp 2^-16
  var m = UInt8(truncatingIfNeeded: a < 0x3880_0000 ? sub : normal)
  // a ≥ 61440 (0x47700000) rounds to 2^16: overflow.
  m = a >= 0x4770_0000 ? (saturate ? 0x7B : 0x7C) : m
  m = a > 0x7F80_0000 ? 0x7E : m
  return sign | m
}

@inline(__always)
func fastBF16(_ x: Float, saturate: Bool) -> UInt16 {
  let u = x.bitPattern
  let a = u & 0x7FFF_FFFF
  let sign = UInt16(truncatingIfNeeded: u >> 16) & 0x8000
  var m = UInt16(truncatingIfNeeded: (a &+ 0x7FFF &+ ((a >> 16) & 1)) >> 16)
  if saturate { m = m == 0x7F80 ? 0x7F7F : m }
  m = a > 0x7F80_0000 ? 0x7FC0 : m
  return sign | m
}

@inline(__always)
func fastFP16(_ x: Float, saturate: Bool) -> UInt16 {
  let u = x.bitPattern
  let a = u & 0x7FFF_FFFF
  let sign = UInt16(truncatingIfNeeded: u >> 16) & 0x8000
  let normal = (a &+ 0xFFF &+ ((a >> 13) & 1)) &>> 13 &- (112 << 10)
  let sub = (Float(bitPattern: a) + 0.5).bitPattern &- 0x3F00_0000  // 0.5: ulp 2^-24
  var m = UInt16(truncatingIfNeeded: a < 0x3880_0000 ? sub : normal)
  // a ≥ 65520 (0x477FF000) rounds to 2^16: overflow.
  m = a >= 0x477F_F000 ? (saturate ? 0x7BFF : 0x7C00) : m
  m = a > 0x7F80_0000 ? 0x7E00 : m
  return sign | m
}

extension FloatFormat {
  /// Whether the array encoders below run `rounding` in the eight-lane AVX2 encoder on this CPU.
  public func encodesInVectors(_ rounding: Rounding) -> Bool {
    VectorEncoder(self, rounding, stream: StochasticStream(seed: 0), codeBytes: bitWidth <= 8 ? 1 : 2) != nil
  }

  /// The path the array encoders take for `rounding` on this CPU: `avx2` (the eight-lane
  /// encoder), `sse2` (a nearest-even kernel the compiler vectorizes) or `scalar` (the generic
  /// encoder, element by element).
  public func arrayEncoderPath(_ rounding: Rounding) -> String {
    encodesInVectors(rounding) ? "avx2" : (FastKernel(self, rounding) != nil ? "sse2" : "scalar")
  }

  /// Encodes `source` into `destination` (same count; formats of ≤ 8 bits), element `i`
  /// using random word `stream.word(at: offset + i)` for stochastic rounding.
  /// Identical to calling ``encode(_:_:random:)-(Float,_,_)`` on each element. `vectorEncoder:
  /// false` skips the AVX2 encoder (to test the paths CPUs without it take). With AVX2, every
  /// mode of every signed 8-bit format with subnormals and a NaN runs in the eight-lane encoder;
  /// without it, e4m3fn and e5m2 with `nearestEven` use a kernel the compiler vectorizes.
  public func encode(
    _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt8>,
    _ rounding: Rounding, stream: StochasticStream = StochasticStream(seed: 0), offset: Int = 0,
    vectorEncoder: Bool = true
  ) {
    precondition(bitWidth <= 8 && source.count == destination.count)
    if vectorEncoder, let vector = VectorEncoder(self, rounding, stream: stream, codeBytes: 1) {
      vector.encode(source, destination, offset: offset)
      return
    }
    switch FastKernel(self, rounding) {
    case .e4m3fn(let sat)?:
      if sat { apply(source, destination) { fastE4M3FN($0, saturate: true) } }
      else { apply(source, destination) { fastE4M3FN($0, saturate: false) } }
    case .e5m2(let sat)?:
      if sat { apply(source, destination) { fastE5M2($0, saturate: true) } }
      else { apply(source, destination) { fastE5M2($0, saturate: false) } }
    default:
      for i in source.indices {
        destination[i] = UInt8(encode(source[i], rounding, random: stream.word(at: offset + i)))
      }
    }
  }

  /// Encodes `source` into `destination` (same count; formats of 9 to 16 bits). As above; without
  /// AVX2, vectorized kernels for bf16 and fp16 with `nearestEven`.
  public func encode(
    _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>,
    _ rounding: Rounding, stream: StochasticStream = StochasticStream(seed: 0), offset: Int = 0,
    vectorEncoder: Bool = true
  ) {
    precondition(bitWidth > 8 && source.count == destination.count)
    if vectorEncoder, let vector = VectorEncoder(self, rounding, stream: stream, codeBytes: 2) {
      vector.encode(source, destination, offset: offset)
      return
    }
    switch FastKernel(self, rounding) {
    case .bf16(let sat)?:
      if sat { apply(source, destination) { fastBF16($0, saturate: true) } }
      else { apply(source, destination) { fastBF16($0, saturate: false) } }
    case .fp16(let sat)?:
      if sat { apply(source, destination) { fastFP16($0, saturate: true) } }
      else { apply(source, destination) { fastFP16($0, saturate: false) } }
    default:
      for i in source.indices {
        destination[i] = UInt16(encode(source[i], rounding, random: stream.word(at: offset + i)))
      }
    }
  }

  /// Decodes codes into float32 values (exact). 8-bit formats use a 256-entry table,
  /// bf16 a shift, the others the generic decoder.
  public func decode(_ source: UnsafeBufferPointer<UInt8>, into destination: UnsafeMutableBufferPointer<Float>) {
    precondition(bitWidth <= 8 && source.count == destination.count)
    let table = (0..<256).map { decodeFloat(UInt32($0)) }
    table.withUnsafeBufferPointer { t in
      for i in source.indices { destination[i] = t[Int(source[i])] }
    }
  }

  /// Decodes 16-bit codes into float32 values (exact): bf16 and fp16 eight lanes at a time with
  /// AVX2 and F16C, else bf16 by a shift, fp16 by ``fastDecodeFP16(_:)``, the others generically.
  public func decode(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
    precondition(bitWidth > 8 && source.count == destination.count)
    if VectorEncoder.available && (self == .bf16 || self == .fp16), let s = source.baseAddress, let d = destination.baseAddress {
      fn_vector_decode16(s, d, source.count, self == .fp16 ? 1 : 0)
    } else if self == .bf16 {
      // The top half of binary32; NaN codes decode to the canonical quiet NaN with their sign,
      // like `decode(_:)`.
      for i in source.indices {
        let u = UInt32(source[i]) << 16
        destination[i] = Float(bitPattern: u & 0x7FFF_FFFF > 0x7F80_0000 ? (u & 0x8000_0000) | 0x7FC0_0000 : u)
      }
    } else if self == .fp16 {
      for i in source.indices { destination[i] = fastDecodeFP16(source[i]) }
    } else {
      for i in source.indices { destination[i] = decodeFloat(UInt32(source[i])) }
    }
  }
}

/// fp16 → float32, exact: the 15 magnitude bits moved under the float32 exponent field and
/// multiplied by 2^112 (rebias 15 → 127, also right for subnormals); specials fixed after.
@inline(__always)
func fastDecodeFP16(_ h: UInt16) -> Float {
  let mag = UInt32(h & 0x7FFF)
  let sign = UInt32(h & 0x8000) << 16
  var f = Float(bitPattern: mag << 13) * Float(bitPattern: 0x7780_0000)  // 2^112
  let special = mag >= 0x7C00
  f = special ? (mag == 0x7C00 ? Float.infinity : Float.nan) : f
  return Float(bitPattern: f.bitPattern | sign)
}

/// `destination[i] = kernel(source[i])`, a loop the compiler can vectorize once `kernel` is inlined.
@inline(__always)
func apply<Code>(_ source: UnsafeBufferPointer<Float>, _ destination: UnsafeMutableBufferPointer<Code>,
                 _ kernel: (Float) -> Code) {
  guard let s = source.baseAddress, let d = destination.baseAddress else { return }
  for i in 0..<source.count { d[i] = kernel(s[i]) }
}
