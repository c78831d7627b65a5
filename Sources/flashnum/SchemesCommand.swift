import ArgumentParser
import Attention
import Experiments
import Foundation

/// `flashnum schemes`: the shipped schemes, a scheme file's schemes, or the shipped ones exported
/// as scheme files.
struct SchemesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schemes",
    abstract: "List the shipped schemes (or a scheme file's) with their definitions, or export them as scheme files.",
    discussion: """
      Without options: one line per shipped scheme (name, definition fingerprint, summary). With FILE: \
      the schemes of that scheme file, checked as every command checks them (a file may carry a \
      shipped name, as the files of schemes/ do: it is then said whether its definition is the \
      shipped one). --export DIR writes one YAML scheme file per shipped scheme (DIR/NAME.yaml), the \
      files of schemes/.
      """)

  @Argument(help: "A scheme file (YAML or JSON) to check and list.") var file: String?
  @Option(help: "Write the shipped schemes as scheme files into this folder.") var export: String?
  @Flag(help: "Also print each scheme's full definition.") var definitions = false

  func run() throws {
    if let export {
      try makeOutputFolder(export, option: "--export")
      for s in AttentionScheme.shipped {
        let path = (export as NSString).appendingPathComponent("\(s.name).yaml")
        guard FileManager.default.createFile(atPath: path, contents: Data(SchemeFile.text(for: s).utf8)) else {
          throw InputError("\(path): cannot write")
        }
      }
      print("schemes: \(AttentionScheme.shipped.count) scheme files in \(export)")
      return
    }
    let schemes = try file.map { try SchemeFile.load($0, shippedNames: true) } ?? AttentionScheme.shipped
    for s in schemes {
      let shipped = file == nil ? nil : AttentionScheme.named(s.name)
      let note = shipped.map { $0.definition == s.definition ? "  (the shipped definition)" : "  (differs from the shipped scheme of this name)" } ?? ""
      print("\(s.name)  #\(s.definitionFingerprint)  \(s.summary)\(note)")
      if definitions { print("  \(s.definition)") }
    }
  }
}
