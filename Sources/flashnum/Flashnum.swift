import ArgumentParser
import Foundation

/// `flashnum`: the command-line face of FlashNumerics. Thin: parses, calls the modules, prints.
///
/// Exit status: 0 success; 1 a check failed; 2 bad input or usage.
///
/// The error protocol: every error a module throws (`FormatError`, `NPYError`, `AttentionError`)
/// and every `InputError` of the commands is a bad input whose `description` says what and where;
/// the command-line parser's errors say the same of the arguments (with the allowed values and a
/// "did you mean" suggestion). `main` prints the whole message, every line, after
/// `flashnum: error: ` on stderr, and exits 2 (a file-system error of Foundation prints its
/// localized description). Errors pass through unchanged: nothing re-wraps them; a command adds
/// context (the case, the file) only where the module's message lacks it.
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
      var message = (error as? CocoaError).map(\.localizedDescription) ?? misspeltOption() ?? message(for: error)
      if message.isEmpty { message = "\(error)" }
      FileHandle.standardError.write(Data("flashnum: error: \(message)\n".utf8))
      Foundation.exit(2)
    }
  }
}

extension Flashnum {
  /// "Unknown option '--algoritm'. Did you mean '--algorithm'?" for the first option on the command
  /// line that the (sub)command does not know, so that a misspelling is named even when the parser
  /// would first report the option it made look missing; `nil` when every option is known.
  static func misspeltOption() -> String? {
    let arguments = Array(CommandLine.arguments.dropFirst())
    var command: ParsableCommand.Type = Flashnum.self
    var rest = arguments[...]
    while let word = rest.first,
          let sub = command.configuration.subcommands.first(where: { $0._commandName == word }) {
      command = sub
      rest = rest.dropFirst()
    }
    let help = Flashnum.helpMessage(for: command, includeHidden: true, columns: 10_000)
    let known = Set(help.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "-") })
      .filter { $0.hasPrefix("--") }.map(String.init))
    for word in rest where word.hasPrefix("--") && word.count > 2 {
      let name = String(word.split(separator: "=", maxSplits: 1)[0])
      guard !known.contains(name) else { continue }
      let closest = known.min { editDistance($0, name) < editDistance($1, name) }
      if let closest, editDistance(closest, name) <= max(2, name.count / 3) {
        return "Unknown option '\(name)'. Did you mean '\(closest)'?"
      }
      return "Unknown option '\(name)' (known: \(known.sorted().joined(separator: ", ")))"
    }
    return nil
  }

  /// Levenshtein distance.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
      var previous = row[0]
      row[0] = i
      for j in 1...max(b.count, 1) where !b.isEmpty {
        let current = row[j]
        row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
        previous = current
      }
    }
    return row[b.count]
  }
}

/// A bad input found by a command itself (a combination of options, a path): exit status 2.
struct InputError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Prints a one-line note on stderr.
func note(_ text: String) {
  FileHandle.standardError.write(Data("flashnum: note: \(text)\n".utf8))
}
