extension NPYArray {
  /// The 4-D array with its axes 1 and 2 exchanged, elements moved as whole (byte-exact):
  /// (B, H, N, D) ⇄ (B, N, H, D). The same exchange undoes itself.
  public func swappingAxes12() -> NPYArray {
    precondition(shape.count == 4, "swappingAxes12 needs a 4-D array")
    let (b, x, y, d) = (shape[0], shape[1], shape[2], shape[3])
    let run = d * dtype.size  // one row of D elements, contiguous in both layouts
    var out = [UInt8](repeating: 0, count: bytes.count)
    bytes.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for i in 0..<b { for j in 0..<x { for k in 0..<y {
          let from = ((i * x + j) * y + k) * run, to = ((i * y + k) * x + j) * run
          for r in 0..<run { dst[to + r] = src[from + r] }
        } } }
      }
    }
    return NPYArray(shape: [b, y, x, d], dtype: dtype, bytes: out)
  }
}
