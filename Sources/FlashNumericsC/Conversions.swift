#if canImport(Glibc)
import Glibc
#endif
import Attention
import CFlashNumericsABI
import Hopper
import LowPrecision
import ToolIdentity

// Number formats through the C ABI: the formats table, encode, decode, MMA and MUFU.

/// The library's version (``ToolIdentity/version``, from the repository's `VERSION` file), as a
/// C string that lives as long as the process.
@_cdecl("fn_version")
public func fn_version() -> UnsafePointer<CChar> { UnsafePointer(versionCString) }

nonisolated(unsafe) private let versionCString: UnsafeMutablePointer<CChar> = strdup(ToolIdentity.version)!

/// The calling thread's last error message, or NULL when its last call succeeded.
@_cdecl("fn_last_error")
public func fn_last_error() -> UnsafePointer<CChar>? {
  pthread_getspecific(CError.key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
}

/// Releases a string the library returned (`fn_formats_json`, `fn_metrics_json`).
@_cdecl("fn_free")
public func fn_free(_ p: UnsafeMutablePointer<CChar>?) { free(p) }

/// The limits in force (``ResourceLimits``); 2 when a limit variable is set but malformed.
@_cdecl("fn_get_limits")
public func fn_get_limits(_ out: UnsafeMutablePointer<fn_limits>?) -> Int32 {
  CError.status {
    guard let out else { throw CallError("null pointer") }
    out.pointee = fn_limits(tensor_elements: Int64(ResourceLimits.tensorElements), grid_points: Int64(ResourceLimits.gridPoints))
  }
}

/// The named formats as a JSON list of objects (``FloatFormat/presetsJSON``, as `flashnum
/// formats --json` prints it). The caller frees it (`fn_free`).
@_cdecl("fn_formats_json")
public func fn_formats_json() -> UnsafeMutablePointer<CChar> { owned(FloatFormat.presetsJSON) }

func format(_ name: UnsafePointer<CChar>?) throws -> FloatFormat {
  guard let name = text(name) else { throw CallError("format: a name is required") }
  guard let f = FloatFormat.named(name) else {
    throw CallError("unknown format '\(name)' (known: \(FloatFormat.presets.map(\.name).joined(separator: ", ")))")
  }
  return f
}

/// Rounds values to a format once (``fn_encode_args``): doubles into uint32 codes, or floats into
/// codes of the format's width through the vectorized kernels. Stochastic rounding uses random
/// word i of `seed` for element i, so the codes do not depend on `threads`.
@_cdecl("fn_encode")
public func fn_encode(_ args: UnsafePointer<fn_encode_args>?, _ codes: UnsafeMutableRawPointer?) -> Int32 {
  CError.status {
    guard let a = args?.pointee else { throw CallError("null arguments") }
    let (f, rounding) = try encoding(a.format, a.rounding, a.overflow, a.random_bits)
    try checkCount(a.count, "count", limit: Int64(ResourceLimits.tensorElements))
    try checkThreads(a.threads)
    let n = Int(a.count)
    guard n == 0 || (a.values != nil && codes != nil) else { throw CallError("null array") }
    switch (a.value_bits, a.code_bits) {
    case (64, 32):
      try f.encode(UnsafeBufferPointer(start: a.values?.assumingMemoryBound(to: Double.self), count: n), rounding, seed: a.seed,
                   threads: Int(a.threads), into: UnsafeMutableBufferPointer(start: codes?.assumingMemoryBound(to: UInt32.self), count: n))
    case (32, 8) where f.bitWidth <= 8:
      try f.encode(UnsafeBufferPointer(start: a.values?.assumingMemoryBound(to: Float.self), count: n), rounding, seed: a.seed,
                   threads: Int(a.threads), into: UnsafeMutableBufferPointer(start: codes?.assumingMemoryBound(to: UInt8.self), count: n))
    case (32, 16) where f.bitWidth > 8 && f.bitWidth <= 16:
      try f.encode(UnsafeBufferPointer(start: a.values?.assumingMemoryBound(to: Float.self), count: n), rounding, seed: a.seed,
                   threads: Int(a.threads), into: UnsafeMutableBufferPointer(start: codes?.assumingMemoryBound(to: UInt16.self), count: n))
    default:
      throw CallError("value_bits \(a.value_bits) with code_bits \(a.code_bits) for \(f.name): expected 64 with 32, or 32 with \(f.bitWidth <= 8 ? 8 : 16)"
                      + (f.bitWidth > 16 ? " (none: \(f.name) is wider than 16 bits)" : ""))
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
    try checkCount(n, "count", limit: Int64(ResourceLimits.tensorElements))
    guard n == 0 || (codes != nil && out != nil) else { throw CallError("null array") }
    for i in 0..<Int(n) {
      guard codes![i] < UInt32(f.codeCount) else { throw CallError("code \(codes![i]) at flat index \(i) has more than the \(f.bitWidth) bits of \(f.name)") }
      out![i] = f.decode(codes![i])
    }
  }
}

/// One emulated H100 MMA per tile (``fn_mma_args``): A (tiles, m, k), B (tiles, n, k) codes of
/// the instruction's input formats, C and D (tiles, m, n) FP32 bit patterns.
@_cdecl("fn_mma")
public func fn_mma(_ args: UnsafePointer<fn_mma_args>?, _ d: UnsafeMutablePointer<UInt32>?) -> Int32 {
  CError.status {
    guard let x = args?.pointee else { throw CallError("null arguments") }
    let name = text(x.instruction) ?? ""
    guard let op = HopperInstruction(rawValue: name) else {
      throw CallError("unknown instruction '\(name)' (known: \(HopperInstruction.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    let (t, m, n, k) = (x.tiles, x.m, x.n, x.k)
    for (v, s) in [(t, "tiles"), (m, "m"), (n, "n"), (k, "k")] { try checkCount(v, s, limit: 1 << 28) }
    guard k > 0 && k % Int64(op.k) == 0 else { throw CallError("K = \(k) is not a positive multiple of \(op.rawValue)'s k = \(op.k)") }
    guard let aCount = ResourceLimits.product([Int(t), Int(m), Int(k)]), let bCount = ResourceLimits.product([Int(t), Int(n), Int(k)]),
          let cCount = ResourceLimits.product([Int(t), Int(m), Int(n)]), max(aCount, bCount, cCount) <= ResourceLimits.tensorElements else {
      throw CallError("sizes (tiles \(t), m \(m), n \(n), k \(k)): an operand would hold more than the limit of \(ResourceLimits.tensorElements) elements")
    }
    if cCount == 0 { return }
    guard let a = x.a, let b = x.b, let c = x.c, let d else { throw CallError("null array") }
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
    try checkCount(n, "count", limit: Int64(ResourceLimits.tensorElements))
    guard n == 0 || (x != nil && out != nil) else { throw CallError("null array") }
    for i in 0..<Int(n) { out![i] = op(x![i]) }
  }
}
