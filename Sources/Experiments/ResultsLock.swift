import Attention
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock (`flock`) on one set of results files, `DIR/NAME.*`, held while a sweep or a
/// merge writes them: a second writer of the same set exits at once saying the set is in use,
/// instead of interleaving rows. The lock file is `DIR/NAME.lock`; the lock is released when the
/// process ends, however it ends, so a killed run never leaves the set locked.
///
/// Under the lock, temporary files of earlier runs that were killed mid-write
/// (`NAME.csv.tmp…`, `NAME.json.tmp…`) are removed: no live writer can own them.
public final class ResultsLock {
  private let descriptor: Int32
  public let path: String

  /// Takes the lock of `name` in `directory` (which must exist), or throws saying who holds it.
  public init(directory: String, name: String) throws {
    path = (directory as NSString).appendingPathComponent(name + ".lock")
    descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw ResultsError("\(path): cannot open the lock file (\(String(cString: strerror(errno))))") }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      close(descriptor)
      throw ResultsError("\(directory): results '\(name)' are being written by another flashnum process (lock \(path)); wait for it or use another --out")
    }
    let prefixes = [name + ".csv.tmp", name + ".json.tmp"]
    for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where prefixes.contains(where: file.hasPrefix) {
      try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(file))
    }
  }

  deinit {
    flock(descriptor, LOCK_UN)
    close(descriptor)
  }
}
