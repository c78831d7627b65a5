import ArgumentParser
import Measurement
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
      shipped one). --out-dir DIR writes one YAML scheme file per shipped scheme (DIR/NAME.yaml), the \
      files of schemes/.
      """)

  @Argument(help: "A scheme file (YAML or JSON) to check and list.") var file: String?
  @Option(name: .customLong("out-dir"), help: "Write the shipped schemes as scheme files into this folder.") var export: String?
  @Option(name: .customLong("export"), help: .hidden) var oldExport: String?
  @Flag(help: "Also print each scheme's full definition.") var definitions = false
  @OptionGroup var output: JSONFlag
  @OptionGroup var folder: FolderOutputConvention

  func validate() throws {
    if let oldExport { throw ValidationError("--export is now --out-dir (a folder): --out-dir \(oldExport)") }
  }

  func run() throws {
    if let export {
      try makeOutputFolder(export, option: "--out-dir")
      for s in AttentionScheme.shipped {
        let path = (export as NSString).appendingPathComponent("\(s.name).yaml")
        guard FileManager.default.createFile(atPath: path, contents: Data(SchemeFile.text(for: s).utf8)) else {
          throw InputError("\(path): cannot write")
        }
      }
      output.emit("schemes: \(AttentionScheme.shipped.count) scheme files in \(export)",
                  json: .object([("out_dir", .string(export)), ("files", .array(AttentionScheme.shipped.map { .string("\($0.name).yaml") }))]))
      return
    }
    let schemes = try file.map { try SchemeFile.load($0, shippedNames: true) } ?? AttentionScheme.shipped
    var rows: [JSONText] = []
    for s in schemes {
      let shipped = file == nil ? nil : AttentionScheme.named(s.name)
      let note = shipped.map { $0.definition == s.definition ? "  (the shipped definition)" : "  (differs from the shipped scheme of this name)" } ?? ""
      if !output.json {
        print("\(s.name)  #\(s.definitionFingerprint)  \(s.summary)\(note)")
        if definitions { print("  \(s.definition)") }
      }
      rows.append(.object([("name", .string(s.name)), ("fingerprint", .string(s.definitionFingerprint)), ("summary", .string(s.summary)),
                           ("definition", .string(s.definition)),
                           ("shipped_definition", shipped.map { .bool($0.definition == s.definition) } ?? .null)]))
    }
    output.emit(nil, json: .array(rows))
  }
}
