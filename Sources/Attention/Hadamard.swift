/// Fast Walsh–Hadamard transforms.
public enum Hadamard {
  /// Replaces `x[0 ..< n]` by `H_n · x` (Sylvester's unnormalized Hadamard matrix, entries ±1;
  /// `n` a power of two) in `n log₂ n` additions and subtractions, each rounded to `Double`.
  @inlinable
  public static func transform(_ x: UnsafeMutablePointer<Double>, count n: Int) {
    precondition(n > 0 && n & (n - 1) == 0, "Hadamard transform needs a power-of-two length")
    var h = 1
    while h < n {
      var i = 0
      while i < n {
        for j in i..<(i + h) {
          let a = x[j], b = x[j + h]
          x[j] = a + b
          x[j + h] = a - b
        }
        i += 2 * h
      }
      h *= 2
    }
  }

  /// The block size of the (block-diagonal) Hadamard matrix for head dim `d`: `d` itself when
  /// it is a power of two, otherwise the largest power of two dividing `d` (32 for 96, 64 for 192).
  public static func blockSize(headDim d: Int) -> Int { d & -d }

  /// Entry (i, j) of Sylvester's `H_n`: `(−1)^popcount(i & j)`.
  public static func entry(_ i: Int, _ j: Int) -> Double { (i & j).nonzeroBitCount % 2 == 0 ? 1 : -1 }
}
