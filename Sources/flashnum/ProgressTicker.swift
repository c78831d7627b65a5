import Foundation

/// Repeats the current stage of a long computation on stderr every `interval` seconds, with the
/// seconds since the start, until ``stop()``: a stage that runs long still shows progress.
/// ``stage(_:)`` prints a new stage at once.
final class ProgressTicker: @unchecked Sendable {
  private let lock = NSLock()
  private var current = ""
  private var running = true
  private let start = Date()
  private let prefix: String
  private let thread: Thread

  init(_ prefix: String, interval: TimeInterval = 4) {
    self.prefix = prefix
    let box = WeakBox()
    thread = Thread {
      while true {
        Thread.sleep(forTimeInterval: interval)
        guard let ticker = box.ticker, let line = ticker.line() else { return }
        note(line)
      }
    }
    box.ticker = self
    thread.start()
  }

  private final class WeakBox: @unchecked Sendable { weak var ticker: ProgressTicker? }

  private func line() -> String? {
    lock.lock(); defer { lock.unlock() }
    guard running else { return nil }
    return "\(prefix): \(current) (\(Int(Date().timeIntervalSince(start))) s)"
  }

  /// Starts a new stage and prints it.
  func stage(_ text: String) {
    lock.lock(); current = text; lock.unlock()
    note("\(prefix): \(text)")
  }

  /// Stops the repeats (the sleeping thread exits at its next wake-up).
  func stop() { lock.lock(); running = false; lock.unlock() }
}
