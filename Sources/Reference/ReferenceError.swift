import Diagnostics

/// A parameter the references cannot work with (precision, threads, values outside the
/// double-word range, an additive mask); `description` is one line.
public struct ReferenceError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
