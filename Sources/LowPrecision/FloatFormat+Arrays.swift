import Dispatch

extension RoundingMode {
  /// The mode named `name` (``name``'s spellings); `randomBits` is used by `stochastic` only.
  public init?(name: String, randomBits: Int = 0) {
    switch name {
    case "nearest-even": self = .nearestEven
    case "nearest-away": self = .nearestAway
    case "toward-zero": self = .towardZero
    case "up": self = .up
    case "down": self = .down
    case "odd": self = .odd
    case "stochastic": self = .stochastic(randomBits: randomBits)
    default: return nil
    }
  }

  /// Every mode's name, in a fixed order.
  public static let names = ["nearest-even", "nearest-away", "toward-zero", "up", "down", "odd", "stochastic"]
}

extension FloatFormat {
  /// Encodes `values` into `codes` (same count) with `rounding`, on `threads` workers in chunks
  /// of 2^16. Stochastic rounding of element `i` uses word `i` of `StochasticStream(seed:)`, so
  /// the codes do not depend on the number of threads. Throws (before writing anything) when the
  /// format cannot use `rounding` or when a value is NaN and the format has no NaN.
  public func encode(_ values: UnsafeBufferPointer<Double>, _ rounding: Rounding, seed: UInt64 = 0, threads: Int = 1,
                     into codes: UnsafeMutableBufferPointer<UInt32>) throws(FormatError) {
    try validate(rounding)
    precondition(codes.count == values.count, "one code per value")
    if !hasNaN, let i = values.firstIndex(where: \.isNaN) {
      throw FormatError("value NaN at flat index \(i) cannot be encoded in \(name), which has no NaN")
    }
    let stream = StochasticStream(seed: seed)
    let chunk = 1 << 16
    let chunks = (values.count + chunk - 1) / chunk
    nonisolated(unsafe) let src = values, dst = codes
    let format = self
    let work: @Sendable (Int) -> Void = { c in
      for i in c * chunk..<min(src.count, (c + 1) * chunk) { dst[i] = format.encode(src[i], rounding, random: stream.word(at: i)) }
    }
    forEachChunk(chunks, threads: threads, work)
  }
}

extension FloatFormat {
  /// Encodes float32 `values` into `codes` of the format's width (`UInt8` for formats of ≤ 8
  /// bits, `UInt16` up to 16) through the vectorized kernels where one exists (nearest-even
  /// e4m3fn, e5m2, bf16, fp16), on `threads` workers in chunks of 2^16. The codes equal
  /// element-wise ``encode(_:_:random:)-(Float,_,_)`` with word `i` of `StochasticStream(seed:)`
  /// for element `i`, whatever `threads`. Throws as the `Double` version does.
  public func encode<Code: FixedWidthInteger & Sendable>(_ values: UnsafeBufferPointer<Float>, _ rounding: Rounding, seed: UInt64 = 0,
                                                         threads: Int = 1, into codes: UnsafeMutableBufferPointer<Code>) throws(FormatError) {
    try validate(rounding)
    precondition(codes.count == values.count, "one code per value")
    precondition(Code.bitWidth == (bitWidth <= 8 ? 8 : 16), "codes of the format's width")
    if !hasNaN, let i = values.firstIndex(where: \.isNaN) {
      throw FormatError("value NaN at flat index \(i) cannot be encoded in \(name), which has no NaN")
    }
    let stream = StochasticStream(seed: seed)
    let chunk = 1 << 16
    let chunks = (values.count + chunk - 1) / chunk
    nonisolated(unsafe) let src = values, dst = UnsafeMutableRawBufferPointer(codes)
    let format = self
    let work: @Sendable (Int) -> Void = { c in
      let range = c * chunk..<min(src.count, (c + 1) * chunk)
      let part = UnsafeBufferPointer(rebasing: src[range])
      if Code.bitWidth == 8 {
        let out = dst.bindMemory(to: UInt8.self)
        format.encode(part, into: UnsafeMutableBufferPointer(rebasing: out[range]), rounding, stream: stream, offset: range.lowerBound)
      } else {
        let out = dst.bindMemory(to: UInt16.self)
        format.encode(part, into: UnsafeMutableBufferPointer(rebasing: out[range]), rounding, stream: stream, offset: range.lowerBound)
      }
    }
    forEachChunk(chunks, threads: threads, work)
  }
}

/// Runs `work` on chunks 0..<chunks: in order on this thread for one thread, else on `threads`
/// workers, worker w taking chunks w, w + threads, … (at most `threads` run at once).
func forEachChunk(_ chunks: Int, threads: Int, _ work: @Sendable (Int) -> Void) {
  guard threads > 1 && chunks > 1 else {
    for c in 0..<chunks { work(c) }
    return
  }
  DispatchQueue.concurrentPerform(iterations: min(threads, chunks)) { w in
    var c = w
    while c < chunks { work(c); c += threads }
  }
}
