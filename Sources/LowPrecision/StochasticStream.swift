/// A counter-based source of random words for stochastic rounding.
///
/// `word(at: i)` depends only on the seed and the index `i`, so a conversion of element `i`
/// gets the same random bits whatever the thread count or the order of work. The mixing
/// function is SplitMix64's finalizer (Steele, Lea, Flood 2014) applied to
/// `seed + (i + 1) · 0x9E3779B97F4A7C15`; its output passes BigCrush for such sequences.
public struct StochasticStream: Hashable, Sendable {
  public let seed: UInt64
  public init(seed: UInt64) { self.seed = seed }

  /// The random word for element `index`.
  @inlinable
  public func word(at index: Int) -> UInt64 {
    SplitMix64.mix(seed &+ (UInt64(truncatingIfNeeded: index) &+ 1) &* SplitMix64.increment)
  }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator for reproducible
/// inputs; `mix` is its output function.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public var state: UInt64
  public init(seed: UInt64) { state = seed }

  @usableFromInline static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

  /// The SplitMix64 finalizer: a bijective mixing of 64 bits.
  @inlinable
  public static func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  @inlinable
  public mutating func next() -> UInt64 {
    state &+= Self.increment
    return Self.mix(state)
  }
}
