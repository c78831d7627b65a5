#if canImport(Glibc)
import Glibc
#endif
import Attention
import Diagnostics

/// The C ABI's error channel: a failing call returns a non-zero status and leaves its one-line
/// message (the same text the command line prints after `flashnum: error:`) for the calling
/// thread, read by `fn_last_error`. Each thread has its own message (a pthread key), so calls
/// on several threads at once do not mix them.
enum CError {
  /// Bad input (the command line's exit status 2).
  static let badInput: Int32 = 2

  nonisolated(unsafe) static let key: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
  }()

  /// Keeps `message` for the calling thread, on one line: control characters and line
  /// separators (from quoted input) are shown escaped, as `\u{A}`.
  static func set(_ message: String) {
    let flat = message.escapingLineControls()
    free(pthread_getspecific(key))
    pthread_setspecific(key, strdup(flat))
  }

  static func clear() {
    free(pthread_getspecific(key))
    pthread_setspecific(key, nil)
  }

  /// Runs `body` after checking the limit variables (a malformed one fails every call, as it
  /// fails every command); 0 when it returns, ``badInput`` with the message set when it throws.
  static func status(_ body: () throws -> Void) -> Int32 {
    clear()
    do {
      try ResourceLimits.checkEnvironment()
      try body()
      return 0
    } catch {
      set(oneLineMessage(for: error))
      return badInput
    }
  }
}

/// A C string argument as a Swift string (`nil` for a null pointer).
func text(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

/// A malloc'd copy of `s` for the caller to release with `fn_free`.
func owned(_ s: String) -> UnsafeMutablePointer<CChar> { strdup(s)! }

/// An input error of the C ABI itself (a null pointer, an unknown name).
struct CallError: FlashNumericsError {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Throws unless `threads` is in 1...4096 (the command line's rule).
func checkThreads(_ threads: Int32) throws {
  guard threads >= 1 && threads <= 4096 else { throw CallError("threads must be in 1...4096, got \(threads)") }
}

/// Throws unless `n` is in 0...limit (sizes from the caller).
func checkCount(_ n: Int64, _ name: String, limit: Int64 = 1 << 40) throws {
  guard n >= 0 && n <= limit else { throw CallError("\(name) must be in 0...\(limit), got \(n)") }
}
