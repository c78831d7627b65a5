import CVectorShims

extension MUFU {
  /// ``ex2(_:)`` of every element of `x` into `y` (same count): eight at a time in AVX2 lanes
  /// when the CPU has it (CVectorShims' SoftmaxLanes.c, the same operations lane by lane), else one
  /// by one. The same bits either way; `vector: false` forces the scalar loop.
  public static func ex2(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, vector: Bool = true) {
    precondition(x.count == y.count, "ex2: \(x.count) arguments, \(y.count) results")
    guard vector && HopperStepPath.fastest == .avx2, let xs = x.baseAddress, let ys = y.baseAddress else {
      for i in x.indices { y[i] = ex2(x[i]) }
      return
    }
    fn_mufu_ex2(xs, ys, x.count, ex2TablePointer)
  }

  /// `y[i]` = ``ex2(_:)`` of `x[i]·a + b`: one fused multiply-add (`fused`), or a product rounded
  /// before the sum, in FP32 with `.ftz` flushing when `flushSubnormals` (``FlushToZero``). Eight
  /// lanes at a time when the CPU has AVX2 and `vector`, else one by one; the same bits.
  public static func ex2(multiplyAdd x: UnsafeBufferPointer<Float>, _ a: Float, _ b: Float, fused: Bool, flushSubnormals: Bool,
                         into y: UnsafeMutableBufferPointer<Float>, vector: Bool = true) {
    precondition(x.count == y.count, "ex2: \(x.count) arguments, \(y.count) results")
    guard vector && HopperStepPath.fastest == .avx2, let xs = x.baseAddress, let ys = y.baseAddress else {
      for i in x.indices {
        let argument: Float
        switch (fused, flushSubnormals) {
        case (true, true): argument = FlushToZero.fma(x[i], a, b)
        case (true, false): argument = b.addingProduct(x[i], a)
        case (false, true): argument = FlushToZero.add(FlushToZero.multiply(x[i], a), b)
        case (false, false): argument = x[i] * a + b
        }
        y[i] = ex2(argument)
      }
      return
    }
    fn_mufu_ex2_multiply_add(xs, ys, x.count, a, b, fused ? 1 : 0, flushSubnormals ? 1 : 0, ex2TablePointer)
  }

  /// ``ex2Table`` at a fixed address, for the vector kernel (written once, then only read).
  nonisolated(unsafe) static let ex2TablePointer: UnsafePointer<UInt32> = {
    let p = UnsafeMutablePointer<UInt32>.allocate(capacity: ex2Table.count)
    p.initialize(from: ex2Table, count: ex2Table.count)
    return UnsafePointer(p)
  }()
}
