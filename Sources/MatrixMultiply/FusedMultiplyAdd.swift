import CVectorShims

/// FP32 fused multiply-add loops (`fma(a, b, c)`: the exact `a·b + c` rounded once to nearest,
/// ties to even) in the order the emulated models fix, run inline on the CPU's FMA instructions
/// where it has them.
///
/// The package is built for baseline x86-64, where `Float.addingProduct` is one call into libm's
/// `fmaf` per operation (glibc picks an FMA-instruction or a software version when it loads):
/// about 2.7 ns each, nothing overlapped or vectorized across operations. When ``hardware`` is
/// true these loops run C kernels compiled for FMA3 instead (no call per operation, independent
/// chains interleaved, eight lanes at a time where the operations are independent). IEEE 754
/// fixes every result bit of `fma` (NaN payloads aside), so both paths give the same bits, and
/// the `hardware:` argument lets tests run either.
public enum FusedMultiplyAdd {
  /// Whether the CPU executes fused multiply-add in hardware (x86-64: FMA3 and AVX, enabled by
  /// the OS; arm64: always).
  public static let hardware: Bool = fn_hardware_fma() != 0

  /// `acc ← fma(a[i], b[i·bStride], acc)` for i ascending from `acc = initial`.
  @inlinable
  public static func chain(initial: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
                           bStride: Int = 1, hardware: Bool = FusedMultiplyAdd.hardware) -> Float {
    if hardware { return fn_fma_chain(initial, a, b, count, bStride) }
    var acc = initial
    for i in 0..<count { acc = acc.addingProduct(a[i], b[i * bStride]) }
    return acc
  }

  /// `rows` independent chains from +0: `out[r] = chain(initial: 0, a, b + r·rowStride, count:)`
  /// (for instance one query row against `rows` key rows).
  @inlinable
  public static func chains(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, rows: Int, rowStride: Int,
                            into out: UnsafeMutablePointer<Float>, hardware: Bool = FusedMultiplyAdd.hardware) {
    if hardware { return fn_fma_chains(a, b, count, rows, rowStride, out) }
    for r in 0..<rows { out[r] = chain(initial: 0, a, b + r * rowStride, count: count, hardware: false) }
  }

  /// `o[i] ← fma(p, x[i], o[i])` for i in 0 ..< count.
  @inlinable
  public static func axpy(_ o: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ p: Float, count: Int,
                          hardware: Bool = FusedMultiplyAdd.hardware) {
    if hardware { return fn_fma_axpy(o, x, p, count) }
    for i in 0..<count { o[i] = o[i].addingProduct(p, x[i]) }
  }
}
