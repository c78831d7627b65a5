import ArgumentParser
import Foundation

/// `flashnum`: the command-line face of FlashNumerics. Thin: parses, calls the modules, prints.
///
/// Exit status: 0 success; 1 a check failed; 2 bad input or usage, with one line on stderr.
@main
struct Flashnum: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flashnum",
    abstract: "Numerical accuracy of attention in low precision.",
    version: "0.1.0",
    subcommands: [Convert.self, Formats.self, MMA.self, MUFUCommand.self, AttentionCommand.self, ReferenceCommand.self, Table.self, Crosscheck.self, Regress.self, SweepCommand.self, MergeCommand.self, ReportCommand.self, Bench.self])

  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        print(fullMessage(for: error))
        Foundation.exit(0)
      }
      if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
      let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
      FileHandle.standardError.write(Data("flashnum: error: \(message)\n".utf8))
      Foundation.exit(2)
    }
  }
}

/// A bad input: reported as one line on stderr, exit status 2.
struct InputError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Prints a one-line note on stderr.
func note(_ text: String) {
  FileHandle.standardError.write(Data("flashnum: note: \(text)\n".utf8))
}
