import CLibCrypto
import Foundation
import ToolIdentity

/// What every result, report and baseline records about where its numbers came from: the tool's
/// version and the commit it was built from (``ToolIdentity``, fixed at build time, never the
/// commit of the folder the tool runs in), and a SHA-256 of each input file.
public enum Provenance {
  /// `tool`, `tool_version`, `git_commit`, `git_dirty`.
  public static var tool: [(String, String)] {
    [("tool", "flashnum (FlashNumerics)"), ("tool_version", ToolIdentity.version),
     ("git_commit", ToolIdentity.commit), ("git_dirty", ToolIdentity.dirty)]
  }

  /// The SHA-256 of the file at `path` as 64 hex digits, or `unreadable` when it cannot be read.
  public static func sha256(ofFile path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "unreadable" }
    return sha256(data)
  }

  /// The SHA-256 of `data` as 64 hex digits.
  public static func sha256(_ data: Data) -> String {
    var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
    data.withUnsafeBytes { bytes in _ = SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &digest) }
    return digest.map { String(format: "%02x", $0) }.joined()
  }

  /// One `("scheme_file_N", "NAME sha256:HEX")` entry per scheme file: `name` as the file that
  /// cites it spells it, `path` where it is read (N counts from 1).
  public static func schemeFiles(_ files: [(name: String, path: String)]) -> [(String, String)] {
    files.enumerated().map { i, f in ("scheme_file_\(i + 1)", "\(f.name) sha256:\(sha256(ofFile: f.path))") }
  }
}
