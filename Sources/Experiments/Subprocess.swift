import Attention
import Foundation

/// Runs helper programs (the Python scripts under `Scripts/`, git): one place for process
/// handling.
public enum Subprocess {
  /// What happens to the program's standard error.
  public enum ErrorStream: Sendable {
    /// Captured together with standard output.
    case merge
    /// Passed through to this process's standard error.
    case pass
    /// Discarded.
    case discard
  }

  /// Runs `program` (looked up on `PATH`) with `arguments`; returns its exit status and
  /// standard output (with standard error when `.merge`), or why it could not start.
  public static func run(_ program: String, _ arguments: [String], standardError: ErrorStream = .merge)
    -> Result<(status: Int32, output: String), KernelBridgeError>
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    switch standardError {
    case .merge: process.standardError = pipe
    case .pass: break
    case .discard: process.standardError = FileHandle.nullDevice
    }
    do { try process.run() } catch { return .failure(KernelBridgeError("cannot run \(program): \(error.localizedDescription)")) }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return .success((process.terminationStatus, String(decoding: data, as: UTF8.self)))
  }
}
