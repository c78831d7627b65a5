/// What each line of a generated shell script is, for tests that check a generator writes only
/// its template's lines: a shebang, a comment, an `#SBATCH` line, or the command itself with
/// every single-quoted word (and the `\'` between such words) read as one `Q`.
public enum ScriptLines {
  public static func shapes(_ script: String) -> [String] {
    script.split(separator: "\n", omittingEmptySubsequences: false).map { line in
      let t = line.drop { $0 == " " }
      if t.hasPrefix("#!") { return "shebang" }
      if t.hasPrefix("#SBATCH") { return "sbatch" }
      if t.hasPrefix("#") { return "comment" }
      var out = "", quoted = false
      for c in t.replacingOccurrences(of: "'\\''", with: "") {
        if c == "'" { quoted.toggle(); if quoted { out += "Q" } } else if !quoted { out.append(c) }
      }
      return out
    }
  }
}
