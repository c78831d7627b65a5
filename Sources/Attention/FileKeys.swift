/// The one check of the keys of an object read from a file (a JSON case, a baseline, a case
/// directory's `meta.json`): keys are snake_case everywhere; a key of a file's first format that
/// was renamed is an error naming its new name, and any other unknown key is an error naming the
/// allowed ones. A misspelt key is never ignored.
public enum FileKeys {
  /// Throws for the first key of `keys` (in sorted order) that is not `allowed`; the message
  /// starts with `place` (e.g. `cases.json: [2]`).
  public static func check(_ keys: some Sequence<String>, allowed: [String], renamed: [String: String] = [:],
                           at place: String) throws(AttentionError) {
    let given = Set(keys)
    try checkRenamed(given, renamed: renamed, at: place)
    if let bad = given.subtracting(allowed).sorted().first {
      throw AttentionError("\(place): unknown key '\(bad)' (known: \(allowed.sorted().joined(separator: ", ")))")
    }
  }

  /// Throws, naming every one at once, when `keys` hold keys of a file's first format.
  public static func checkRenamed(_ keys: Set<String>, renamed: [String: String], at place: String) throws(AttentionError) {
    let old = keys.filter { renamed[$0] != nil }.sorted()
    guard old.isEmpty else {
      let list = old.map { "\($0) → \(renamed[$0]!)" }.joined(separator: ", ")
      throw AttentionError("\(place): keys of the first file format; keys are snake_case now (rename \(list))")
    }
  }
}
