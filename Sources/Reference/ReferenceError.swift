import Diagnostics

/// A parameter the references cannot work with (precision, threads, values outside the
/// double-word range); `description` is one line. An additive mask, which they refuse, is
/// refused by the options' own check (`AttentionOptions.requireBooleanBias`, an `AttentionError`).
public struct ReferenceError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
