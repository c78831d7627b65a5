/// What built this program: the tool's version and the commit of its sources, fixed when it was
/// built (by the `ToolCommit` build plugin). Every result, report and baseline records these, so
/// a number can be traced to the code that made it whatever folder the tool ran in.
public enum ToolIdentity {
  /// The tool's release version, from the repository's `VERSION` file (read at build time).
  public static let version: String = buildVersion
  /// The full commit hash of the sources this program was built from, or `unknown` when it was
  /// built outside a git checkout of FlashNumerics.
  public static let commit: String = buildCommit
  /// `false` when the tracked files were those of ``commit`` at build time, `true` when they
  /// differed, `unknown` when that could not be known.
  public static let dirty: String = buildDirty
  /// The folder of the checkout this program was built from (absolute). Files the tool ships
  /// with, such as the regression baseline, are looked up there, so they are found from any
  /// working folder while that checkout exists.
  public static let sourceRoot: String = buildSourceRoot
  /// E.g. `flashnum 0.2.0 (3f2a…, clean)`.
  public static var description: String {
    let state = dirty == "false" ? "clean" : dirty == "true" ? "modified" : "state unknown"
    return "flashnum \(version) (\(commit == "unknown" ? "commit unknown" : String(commit.prefix(12))), \(state))"
  }
}
