import ArgumentParser
import Foundation

/// Repeats the current stage of a long computation on stderr every `interval` seconds, with the
/// seconds since the start, until ``stop()``: a stage that runs long still shows progress.
/// ``stage(_:)`` prints a new stage at once, unless the ticker was made with `announce: false`:
/// then nothing is printed before the first interval has passed, so a quick run (or a quick
/// refusal) leaves stderr as it was.
final class ProgressTicker: @unchecked Sendable {
  private let lock = NSLock()
  private var current = ""
  private var running = true
  private let start = Date()
  private let prefix: String
  private let announce: Bool
  private let thread: Thread

  init(_ prefix: String, interval: TimeInterval = 4, announce: Bool = true) {
    self.prefix = prefix
    self.announce = announce
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
    if announce { note("\(prefix): \(text)") }
  }

  /// Stops the repeats (the sleeping thread exits at its next wake-up).
  func stop() { lock.lock(); running = false; lock.unlock() }
}

/// The rule for `--progress-seconds`: a finite number of seconds in 0.01...3600.
func checkProgressSeconds(_ seconds: Double) throws {
  guard seconds.isFinite, (0.01...3600).contains(seconds) else {
    throw ValidationError("--progress-seconds must be in 0.01...3600, got \(seconds)")
  }
}
