import ArgumentParser
import Attention
import Foundation
import ToolIdentity
import Diagnostics

/// `flashnum`: the command-line face of FlashNumerics. Thin: parses, calls the modules, prints.
///
/// Exit status: 0 success; 1 a check failed; 2 bad input or usage.
///
/// The error protocol: every error a module throws (a `FlashNumericsError`: `FormatError`,
/// `NPYError`, `AttentionError`, `ReferenceError`, the file and results errors of Experiments,
/// ...; Sources/Diagnostics/README.md lists them) and every `InputError` of the commands is a bad
/// input whose `description` says what and where; the command-line parser's errors say the same
/// of the arguments (with the allowed values and a "did you mean" suggestion). `main` prints the
/// message on one line after `flashnum: error: ` on stderr, and exits 2; a module's error and a
/// file-system error of Foundation take the one path the C ABI takes too (`oneLineMessage`).
/// Errors pass through unchanged: nothing re-wraps them; a command adds context (the case, the
/// file) only where the module's message lacks it.
@main
struct Flashnum: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flashnum",
    abstract: "Numerical accuracy of attention in low precision.",
    version: ToolIdentity.description,
    subcommands: [Convert.self, Formats.self, MMA.self, MUFUCommand.self, AttentionCommand.self, ReferenceCommand.self, Table.self, Crosscheck.self, InvarianceCommand.self, LintScheduleCommand.self, Regress.self, SchemesCommand.self, SweepCommand.self, MergeCommand.self, ReportCommand.self, SlurmCommand.self, Bench.self])

  static func main() {
    do {
      try ResourceLimits.checkEnvironment()
      var command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        print(fullMessage(for: error))
        Foundation.exit(0)
      }
      if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
      var message = isModuleError(error) ? oneLineMessage(for: error) : misspeltOption() ?? message(for: error)
      if message.isEmpty { message = "\(error)" }
      message = oneLine(message)
      FileHandle.standardError.write(Data("flashnum: error: \(message)\n".utf8))
      Foundation.exit(2)
    }
  }
}

extension Flashnum {
  /// The (sub)command the words name, and the words after its name.
  static func command(of arguments: [String]) -> (ParsableCommand.Type, ArraySlice<String>) {
    var command: ParsableCommand.Type = Flashnum.self
    var rest = arguments[...]
    while let word = rest.first,
          let sub = command.configuration.subcommands.first(where: { $0._commandName == word }) {
      command = sub
      rest = rest.dropFirst()
    }
    return (command, rest)
  }

  /// `--threads -1` as `--threads=-1`: a negative number after an option that takes a value is
  /// that option's value (the parser would take it for an option and report the value missing),
  /// so that the option's own check names the real problem.
  static func joiningNegativeValues(_ arguments: [String]) -> [String] {
    let (command, _) = command(of: arguments)
    let help = Flashnum.helpMessage(for: command, includeHidden: true, columns: 10_000)
    var takesValue = Set<String>()
    let words = help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "[" || $0 == "]" })
    for (word, next) in zip(words, words.dropFirst()) where word.hasPrefix("--") && next.hasPrefix("<") { takesValue.insert(String(word)) }
    var out: [String] = []
    var i = 0
    while i < arguments.count {
      let word = arguments[i]
      if takesValue.contains(word), i + 1 < arguments.count,
         let next = arguments[i + 1].dropFirst().first, arguments[i + 1].hasPrefix("-"), next.isNumber || next == "." {
        out.append(word + "=" + arguments[i + 1])
        i += 2
      } else {
        out.append(word)
        i += 1
      }
    }
    return out
  }

  /// "Unknown option '--algoritm'. Did you mean '--algorithm'?" for the first option on the command
  /// line that the (sub)command does not know, so that a misspelling is named even when the parser
  /// would first report the option it made look missing; `nil` when every option is known.
  static func misspeltOption() -> String? {
    let (command, rest) = command(of: Array(CommandLine.arguments.dropFirst()))
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

  /// Whether `error` is a module's (or a command's) bad-input error or a file-system error, whose
  /// text `oneLineMessage` gives, rather than the argument parser's.
  static func isModuleError(_ error: any Error) -> Bool { error is any FlashNumericsError || error is CocoaError }

  /// A message on one line: the parser's lists of allowed values (`Please provide one of the
  /// following:` and `- value` lines) joined after the first line.
  static func oneLine(_ message: String) -> String {
    // Any other line break (CR, CRLF as one Character, VT, FF, NEL, U+2028/9) and control
    // character from quoted input is shown escaped, so the message stays one line.
    let flat = message.escapingLineControls(keeping: ["\n"])
    let lines = flat.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard lines.count > 1 else { return lines.first ?? message }
    let first = lines[0].replacingOccurrences(of: " Please provide one of the following:", with: " Use one of:")
    return first + " " + lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }.joined(separator: ", ")
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
struct InputError: FlashNumericsError {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Prints a one-line note on stderr.
func note(_ text: String) {
  FileHandle.standardError.write(Data("flashnum: note: \(text)\n".utf8))
}
