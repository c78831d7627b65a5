import Diagnostics

/// A table or measurement configuration that cannot run (no seeds, repeated seeds, a grid over
/// its limit); `description` is one line.
public struct MeasurementError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
