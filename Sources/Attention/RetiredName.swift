/// Names that files and commands used before `fa3` came to name the FA3 kernel only, with their
/// names now. A file that still uses one is refused with ``message(_:in:)``, never read under
/// the old meaning.
public enum RetiredName {
  /// Input distributions: the paper's inputs and the parametric kind (``InputDistribution``).
  public static let distributions = ["fa3": "sparse-outliers", "fa3-outliers": "sparse-outliers"]
  /// Algorithms (``AlgorithmChoice``): the blocked engine on the kernel's tiles.
  public static let algorithms = ["blocked-fa3": "blocked-hopper-tiles"]

  /// "'fa3' is now called 'sparse-outliers' ('fa3' names the FA3 kernel only)" for a retired
  /// name of `table`; `nil` for any other name.
  public static func message(_ name: String, in table: [String: String]) -> String? {
    table[name].map { "'\(name)' is now called '\($0)' ('fa3' names the FA3 kernel only)" }
  }
}
