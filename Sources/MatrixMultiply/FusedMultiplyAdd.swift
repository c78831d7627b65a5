import CVectorShims

/// Fused multiply-add loops (`fma(a, b, c)`: the exact `a·b + c` rounded once to nearest, ties to
/// even) in `Float` or `Double`, in the order the emulated models fix, run inline on the CPU's
/// FMA instructions where it has them.
///
/// The package is built for baseline x86-64, where `addingProduct` is one call into libm's
/// `fmaf`/`fma` per operation (glibc picks an FMA-instruction or a software version when it
/// loads): about 2.7 ns each, nothing overlapped or vectorized across operations. When
/// ``hardware`` is true these loops run C kernels compiled for FMA3 instead (no call per
/// operation, independent chains interleaved, 256 bits of lanes at a time where the operations
/// are independent). IEEE 754 fixes every result bit of `fma` (NaN payloads aside), so both
/// paths give the same bits, and the `hardware:` argument lets tests run either.
public enum FusedMultiplyAdd {
  /// Whether the CPU executes fused multiply-add in hardware (x86-64: FMA3 and AVX, enabled by
  /// the OS; arm64: always).
  public static let hardware: Bool = fn_hardware_fma() != 0

  /// `acc ← fma(a[i], b[i·bStride], acc)` for i ascending from `acc = initial`.
  @inlinable
  public static func chain<T: FusedMultiplyAddElement>(initial: T, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int,
                                                        bStride: Int = 1, hardware: Bool = FusedMultiplyAdd.hardware) -> T {
    if hardware { return T.kernelChain(initial, a, b, count, bStride) }
    var acc = initial
    for i in 0..<count { acc = acc.addingProduct(a[i], b[i * bStride]) }
    return acc
  }

  /// `rows` independent chains from +0: `out[r] = chain(initial: 0, a, b + r·rowStride, count:)`
  /// (for instance one query row against `rows` key rows).
  @inlinable
  public static func chains<T: FusedMultiplyAddElement>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int, rows: Int, rowStride: Int,
                                                         into out: UnsafeMutablePointer<T>, hardware: Bool = FusedMultiplyAdd.hardware) {
    if hardware { return T.kernelChains(a, b, count, rows, rowStride, out) }
    for r in 0..<rows { out[r] = chain(initial: 0, a, b + r * rowStride, count: count, hardware: false) }
  }

  /// The rows of `rows` (count elements each, `rowStride` apart) in groups of eight, interleaved
  /// for ``laneChains(_:_:count:groups:into:hardware:)``: element i of row 8g + l at
  /// `(g·count + i)·8 + l`; the rows past `rows` in the last group are zero.
  public static func interleaved(_ rows: UnsafePointer<Float>, count: Int, rows n: Int, rowStride: Int) -> [Float] {
    let groups = (n + 7) / 8
    var out = [Float](repeating: 0, count: groups * count * 8)
    for r in 0..<n { for i in 0..<count { out[((r / 8) * count + i) * 8 + r % 8] = rows[r * rowStride + i] } }
    return out
  }

  /// `out[8g + l] = chain(initial: 0, a, row 8g + l, count:)` for `groups` groups of rows laid out
  /// by ``interleaved(_:count:rows:rowStride:)``: the same bits as ``chains(_:_:count:rows:rowStride:into:hardware:)``,
  /// eight chains per vector lane-wise (`out` holds 8·groups values).
  @inlinable
  public static func laneChains(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, groups: Int,
                                into out: UnsafeMutablePointer<Float>, hardware: Bool = FusedMultiplyAdd.hardware) {
    if hardware { return fn_fma_chains8(a, b, count, groups, out) }
    for g in 0..<groups {
      for l in 0..<8 {
        var acc: Float = 0
        for i in 0..<count { acc = acc.addingProduct(a[i], b[(g * count + i) * 8 + l]) }
        out[8 * g + l] = acc
      }
    }
  }

  /// `o[c] ← fma(p[j], v[j·d + c], o[c])` for j ascending, every c < d: the same bits as `n` calls
  /// of ``axpy(_:_:_:count:hardware:)``, with the FP32 kernel keeping `o` in registers.
  @inlinable
  public static func axpyRows(_ o: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, _ p: UnsafePointer<Float>, rows n: Int, count d: Int,
                              hardware: Bool = FusedMultiplyAdd.hardware) {
    if hardware { return fn_fma_axpy_rows(o, v, p, n, d) }
    for j in 0..<n { axpy(o, v + j * d, p[j], count: d, hardware: false) }
  }

  /// `o[i] ← fma(p, x[i], o[i])` for i in 0 ..< count.
  @inlinable
  public static func axpy<T: FusedMultiplyAddElement>(_ o: UnsafeMutablePointer<T>, _ x: UnsafePointer<T>, _ p: T, count: Int,
                                                       hardware: Bool = FusedMultiplyAdd.hardware) {
    if hardware { return T.kernelAxpy(o, x, p, count) }
    for i in 0..<count { o[i] = o[i].addingProduct(p, x[i]) }
  }
}

/// An element type of ``FusedMultiplyAdd``'s loops, with its C kernels (call them only when
/// ``FusedMultiplyAdd/hardware``).
public protocol FusedMultiplyAddElement: BinaryFloatingPoint {
  static func kernelChain(_ initial: Self, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ count: Int, _ bStride: Int) -> Self
  static func kernelChains(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ count: Int, _ rows: Int, _ rowStride: Int,
                           _ out: UnsafeMutablePointer<Self>)
  static func kernelAxpy(_ o: UnsafeMutablePointer<Self>, _ x: UnsafePointer<Self>, _ p: Self, _ count: Int)
}

extension Float: FusedMultiplyAddElement {
  @inlinable @inline(__always)
  public static func kernelChain(_ initial: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int, _ bStride: Int) -> Float {
    fn_fma_chain(initial, a, b, count, bStride)
  }

  @inlinable @inline(__always)
  public static func kernelChains(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int, _ rows: Int, _ rowStride: Int,
                                  _ out: UnsafeMutablePointer<Float>) {
    fn_fma_chains(a, b, count, rows, rowStride, out)
  }

  @inlinable @inline(__always)
  public static func kernelAxpy(_ o: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ p: Float, _ count: Int) {
    fn_fma_axpy(o, x, p, count)
  }
}

extension Double: FusedMultiplyAddElement {
  @inlinable @inline(__always)
  public static func kernelChain(_ initial: Double, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int, _ bStride: Int) -> Double {
    fn_fma_chain_double(initial, a, b, count, bStride)
  }

  @inlinable @inline(__always)
  public static func kernelChains(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int, _ rows: Int, _ rowStride: Int,
                                  _ out: UnsafeMutablePointer<Double>) {
    fn_fma_chains_double(a, b, count, rows, rowStride, out)
  }

  @inlinable @inline(__always)
  public static func kernelAxpy(_ o: UnsafeMutablePointer<Double>, _ x: UnsafePointer<Double>, _ p: Double, _ count: Int) {
    fn_fma_axpy_double(o, x, p, count)
  }
}
