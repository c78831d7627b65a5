#if canImport(Glibc)
import Glibc
#endif
import Attention
import Hopper
import LowPrecision

// Number formats through the C ABI: the formats table, encode, decode, MMA and MUFU.

/// The library's version (a static string).
@_cdecl("fn_version")
public func fn_version() -> UnsafePointer<CChar> {
  let s: StaticString = "0.2.0"
  return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// The calling thread's last error message, or NULL when its last call succeeded.
@_cdecl("fn_last_error")
public func fn_last_error() -> UnsafePointer<CChar>? {
  pthread_getspecific(CError.key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
}

/// Releases a string the library returned (`fn_formats_json`, `fn_metrics_json`).
@_cdecl("fn_free")
public func fn_free(_ p: UnsafeMutablePointer<CChar>?) { free(p) }

/// The most elements one tensor may hold (``ResourceLimits/tensorElements``).
@_cdecl("fn_tensor_limit")
public func fn_tensor_limit() -> Int64 { Int64(ResourceLimits.tensorElements) }

/// The named formats as a JSON list of objects: name, bits, exponent_bits, fraction_bits, bias,
/// signed, subnormals, infinity, nan, max_finite, min_normal. The caller frees it (`fn_free`).
@_cdecl("fn_formats_json")
public func fn_formats_json() -> UnsafeMutablePointer<CChar> {
  let items = FloatFormat.presets.map { f in
    "{\"name\": \"\(f.name)\", \"bits\": \(f.bitWidth), \"exponent_bits\": \(f.exponentBits), \"fraction_bits\": \(f.fractionBits), "
      + "\"bias\": \(f.bias), \"signed\": \(f.isSigned), \"subnormals\": \(f.hasSubnormals), \"infinity\": \(f.hasInfinity), "
      + "\"nan\": \(f.hasNaN), \"max_finite\": \(f.maxFinite), \"min_normal\": \(f.minNormal)}"
  }
  return owned("[" + items.joined(separator: ", ") + "]")
}

func format(_ name: UnsafePointer<CChar>?) throws -> FloatFormat {
  guard let name = text(name) else { throw CallError("format: a name is required") }
  guard let f = FloatFormat.named(name) else {
    throw CallError("unknown format '\(name)' (known: \(FloatFormat.presets.map(\.name).joined(separator: ", ")))")
  }
  return f
}

/// Encodes `n` doubles into `codes` (one code per value, in the low bits of a uint32).
/// `rounding`: nearest-even, nearest-away, toward-zero, up, down, odd or stochastic (then
/// `random_bits` in 1...32 and `seed` pick the random words: element i uses word i, so the codes
/// do not depend on `threads`); `overflow`: nan, infinity, saturate, or NULL for the format's own.
@_cdecl("fn_encode")
public func fn_encode(_ name: UnsafePointer<CChar>?, _ roundingName: UnsafePointer<CChar>?, _ overflowName: UnsafePointer<CChar>?,
                      _ seed: UInt64, _ randomBits: Int32, _ x: UnsafePointer<Double>?, _ n: Int64,
                      _ codes: UnsafeMutablePointer<UInt32>?, _ threads: Int32) -> Int32 {
  CError.status {
    let (f, rounding) = try encoding(name, roundingName, overflowName, randomBits)
    try checkCount(n, "n")
    guard n == 0 || (x != nil && codes != nil) else { throw CallError("null array") }
    try checkThreads(threads)
    try f.encode(UnsafeBufferPointer(start: x, count: Int(n)), rounding, seed: seed, threads: Int(threads),
                 into: UnsafeMutableBufferPointer(start: codes, count: Int(n)))
  }
}

/// As `fn_encode` from float32 values, writing codes of the format's width: uint8 for formats
/// of ≤ 8 bits, uint16 up to 16 bits (through the vectorized kernels where one exists).
@_cdecl("fn_encode_f32")
public func fn_encode_f32(_ name: UnsafePointer<CChar>?, _ roundingName: UnsafePointer<CChar>?, _ overflowName: UnsafePointer<CChar>?,
                          _ seed: UInt64, _ randomBits: Int32, _ x: UnsafePointer<Float>?, _ n: Int64,
                          _ codes: UnsafeMutableRawPointer?, _ threads: Int32) -> Int32 {
  CError.status {
    let (f, rounding) = try encoding(name, roundingName, overflowName, randomBits)
    try checkCount(n, "n")
    guard n == 0 || (x != nil && codes != nil) else { throw CallError("null array") }
    try checkThreads(threads)
    guard f.bitWidth <= 16 else { throw CallError("format \(f.name) is wider than 16 bits") }
    let values = UnsafeBufferPointer(start: x, count: Int(n))
    if f.bitWidth <= 8 {
      try f.encode(values, rounding, seed: seed, threads: Int(threads),
                   into: UnsafeMutableBufferPointer(start: codes?.assumingMemoryBound(to: UInt8.self), count: Int(n)))
    } else {
      try f.encode(values, rounding, seed: seed, threads: Int(threads),
                   into: UnsafeMutableBufferPointer(start: codes?.assumingMemoryBound(to: UInt16.self), count: Int(n)))
    }
  }
}

/// The format and rounding the encoders' arguments name.
func encoding(_ name: UnsafePointer<CChar>?, _ roundingName: UnsafePointer<CChar>?, _ overflowName: UnsafePointer<CChar>?,
              _ randomBits: Int32) throws -> (FloatFormat, Rounding) {
  let f = try format(name)
  let r = text(roundingName) ?? "nearest-even"
  guard let mode = RoundingMode(name: r, randomBits: Int(randomBits)) else {
    throw CallError("unknown rounding '\(r)' (known: \(RoundingMode.names.joined(separator: ", ")))")
  }
  if case .stochastic = mode {} else if randomBits != 0 { throw CallError("random_bits applies to stochastic rounding only") }
  var overflow = f.naturalOverflow
  if let o = text(overflowName) {
    guard let p = OverflowPolicy(rawValue: o) else { throw CallError("unknown overflow '\(o)' (known: nan, infinity, saturate)") }
    overflow = p
  }
  return (f, Rounding(mode, overflow: overflow))
}

/// Decodes `n` codes of `format` into doubles (exact); a code wider than the format is an error.
@_cdecl("fn_decode")
public func fn_decode(_ name: UnsafePointer<CChar>?, _ codes: UnsafePointer<UInt32>?, _ n: Int64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
  CError.status {
    let f = try format(name)
    try checkCount(n, "n")
    guard n == 0 || (codes != nil && out != nil) else { throw CallError("null array") }
    for i in 0..<Int(n) {
      guard codes![i] < UInt32(f.codeCount) else { throw CallError("code \(codes![i]) at flat index \(i) has more than the \(f.bitWidth) bits of \(f.name)") }
      out![i] = f.decode(codes![i])
    }
  }
}

/// One emulated H100 MMA per tile: A (t, m, k), B (t, n, k) codes of the instruction's input
/// formats, C and D (t, m, n) FP32 bit patterns.
@_cdecl("fn_mma")
public func fn_mma(_ instruction: UnsafePointer<CChar>?, _ t: Int64, _ m: Int64, _ n: Int64, _ k: Int64,
                   _ a: UnsafePointer<UInt32>?, _ b: UnsafePointer<UInt32>?, _ c: UnsafePointer<UInt32>?,
                   _ d: UnsafeMutablePointer<UInt32>?) -> Int32 {
  CError.status {
    let name = text(instruction) ?? ""
    guard let op = HopperInstruction(rawValue: name) else {
      throw CallError("unknown instruction '\(name)' (known: \(HopperInstruction.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    for (v, s) in [(t, "t"), (m, "m"), (n, "n"), (k, "k")] { try checkCount(v, s, limit: 1 << 28) }
    guard k > 0 && k % Int64(op.k) == 0 else { throw CallError("K = \(k) is not a positive multiple of \(op.rawValue)'s k = \(op.k)") }
    guard let aCount = ResourceLimits.product([Int(t), Int(m), Int(k)]), let bCount = ResourceLimits.product([Int(t), Int(n), Int(k)]),
          let cCount = ResourceLimits.product([Int(t), Int(m), Int(n)]), max(aCount, bCount, cCount) <= ResourceLimits.tensorElements else {
      throw CallError("sizes (t \(t), m \(m), n \(n), k \(k)): an operand would hold more than the limit of \(ResourceLimits.tensorElements) elements")
    }
    if cCount == 0 { return }
    guard let a, let b, let c, let d else { throw CallError("null array") }
    let (fa, fb) = op.inputFormats
    let av = Array(UnsafeBufferPointer(start: a, count: aCount)), bv = Array(UnsafeBufferPointer(start: b, count: bCount))
    if let bad = av.firstIndex(where: { $0 >= UInt32(fa.codeCount) }) { throw CallError("A: code \(av[bad]) at flat index \(bad) is wider than \(fa.name)") }
    if let bad = bv.firstIndex(where: { $0 >= UInt32(fb.codeCount) }) { throw CallError("B: code \(bv[bad]) at flat index \(bad) is wider than \(fb.name)") }
    let out = op.tiles(a: av, b: bv, c: Array(UnsafeBufferPointer(start: c, count: cCount)), tiles: Int(t), m: Int(m), n: Int(n), k: Int(k))
    for i in 0..<cCount { d[i] = out[i] }
  }
}

/// The Hopper MUFU model of `function` (ex2, rcp, lg2, tanh) on `n` floats.
@_cdecl("fn_mufu")
public func fn_mufu(_ function: UnsafePointer<CChar>?, _ x: UnsafePointer<Float>?, _ n: Int64, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
  CError.status {
    let name = text(function) ?? ""
    guard let op = MUFU.Operation(rawValue: name) else { throw CallError("unknown function '\(name)' (known: \(MUFU.Operation.allCases.map(\.rawValue).joined(separator: ", ")))") }
    try checkCount(n, "n")
    guard n == 0 || (x != nil && out != nil) else { throw CallError("null array") }
    for i in 0..<Int(n) { out![i] = op(x![i]) }
  }
}
