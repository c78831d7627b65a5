import Measurement
import Attention
import Foundation

/// The results of a sweep (or a shard of it, or merged shards): provenance and rows.
///
/// On disk, as both
/// - CSV: `# key: value` provenance lines, a header row, one row per point (pandas:
///   `pd.read_csv(path, comment="#")`); the sweep appends and flushes a row as each point
///   completes, so this file is the complete record, and what a resumed sweep reads;
/// - JSON: `{"format": "flashnumerics-sweep/1", "provenance": {…}, "columns": […], "rows": [{…}]}`
///   (non-finite metrics as `null`), rewritten from the rows every few seconds and at the end.
public struct SweepResults: Sendable {
  /// Provenance entries (tool version, git commit, experiment name/file/fingerprint, machine,
  /// shard, …), in file order.
  public var provenance: [(String, String)]
  /// The experiment file's text (JSON only; empty when read from CSV).
  public var experimentText: String
  public var metrics: [String]
  public var rows: [SweepRow]

  public static let format = "flashnumerics-sweep/1"

  public init(provenance: [(String, String)], experimentText: String, metrics: [String], rows: [SweepRow]) {
    self.provenance = provenance
    self.experimentText = experimentText
    self.metrics = metrics
    self.rows = rows
  }

  public func provenance(_ key: String) -> String? { provenance.first { $0.0 == key }?.1 }

  public var columns: [String] { SweepRow.columns(metrics: metrics) }

  // MARK: CSV

  /// The provenance lines and the header row.
  public func csvHeader() -> String {
    var s = ""
    for (k, v) in provenance { s += "# \(k): \(v.replacingOccurrences(of: "\n", with: " "))\n" }
    return s + columns.joined(separator: ",") + "\n"
  }

  /// One row as a CSV line (fields quoted when they hold a comma, quote or newline).
  public func csvLine(_ row: SweepRow) -> String {
    columns.map { c -> String in
      let f = row.field(c)
      return f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
    }.joined(separator: ",") + "\n"
  }

  public func csv() -> String { csvHeader() + rows.map(csvLine).joined() }

  /// Reads a results CSV. A last line without its newline (a write cut short) is dropped.
  public static func readCSV(_ path: String) throws -> SweepResults {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw ResultsError("\(path): cannot read the results file")
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() } else if !lines.isEmpty { lines.removeLast() }   // partial last line
    var provenance: [(String, String)] = []
    var header: [String]? = nil
    var rows: [SweepRow] = []
    for (n, line) in lines.enumerated() {
      if line.hasPrefix("# ") && header == nil {
        let body = line.dropFirst(2)
        guard let colon = body.range(of: ": ") else { continue }
        let key = String(body[..<colon.lowerBound])
        guard !provenance.contains(where: { $0.0 == key }) else { throw ResultsError("\(path): line \(n + 1): provenance '\(key)' appears twice") }
        provenance.append((key, String(body[colon.upperBound...])))
        continue
      }
      if line.isEmpty { continue }
      let fields = try splitCSV(line, "\(path): line \(n + 1)")
      guard let columns = header else {
        guard fields.contains("key") && fields.contains("scheme") else {
          throw ResultsError("\(path): line \(n + 1): not a sweep results header (expected columns \(SweepRow.leadingColumns.prefix(4).joined(separator: ", ")), …)")
        }
        if let twice = fields.enumerated().first(where: { fields[..<$0.offset].contains($0.element) })?.element {
          throw ResultsError("\(path): line \(n + 1): column '\(twice)' appears twice in the header")
        }
        header = fields
        continue
      }
      guard fields.count == columns.count else {
        throw ResultsError("\(path): line \(n + 1): \(fields.count) fields, the header has \(columns.count)")
      }
      rows.append(try SweepRow(fields: Dictionary(uniqueKeysWithValues: zip(columns, fields)), where: "\(path): line \(n + 1)"))
    }
    guard let header else { throw ResultsError("\(path): no header row (not a sweep results CSV)") }
    return SweepResults(provenance: provenance, experimentText: "",
                        metrics: header.filter { Experiment.metricNames.contains($0) }, rows: rows)
  }

  static func splitCSV(_ line: String, _ at: String) throws -> [String] {
    var fields: [String] = []
    var current = ""
    var quoted = false
    var chars = line.makeIterator()
    var pending: Character? = nil
    while let c = pending ?? chars.next() {
      pending = nil
      if quoted {
        if c == "\"" {
          if let next = chars.next() {
            if next == "\"" { current.append("\"") } else { quoted = false; pending = next }
          } else { quoted = false }
        } else { current.append(c) }
      } else if c == "\"" {
        quoted = true
      } else if c == "," {
        fields.append(current)
        current = ""
      } else { current.append(c) }
    }
    guard !quoted else { throw ResultsError("\(at): unterminated quoted field") }
    fields.append(current)
    return fields
  }

  // MARK: JSON

  /// The JSON document. Numbers are written in Swift's shortest round-trip form, so reading the
  /// file back gives the same `Double`s.
  public func json() -> Data {
    var p: [(String, JSONText)] = provenance.map { ($0.0, .string($0.1)) }
    if !experimentText.isEmpty { p.append(("experiment_text", .string(experimentText))) }
    let object = JSONText.object([
      ("format", .string(Self.format)), ("provenance", .object(p)), ("columns", .array(columns.map(JSONText.string))),
      ("rows", .array(rows.map { $0.json(columns: columns) })),
    ])
    return Data(object.document.utf8)
  }

  /// Reads a results JSON file (numbers parsed by `JSONDecoder`, correctly rounded).
  public static func readJSON(_ path: String) throws -> SweepResults {
    guard let data = FileManager.default.contents(atPath: path) else { throw ResultsError("\(path): cannot read the results file") }
    struct File: Decodable {
      var format: String
      var provenance: [String: String]
      var columns: [String]
      var rows: [[String: Scalar]]
    }
    enum Scalar: Decodable {
      case text(String)
      init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .text(""); return }
        if let v = try? c.decode(UInt64.self) { self = .text("\(v)"); return }
        if let v = try? c.decode(Int.self) { self = .text("\(v)"); return }
        if let v = try? c.decode(Double.self) { self = .text("\(v)"); return }
        if let v = try? c.decode(Bool.self) { self = .text(v ? "true" : "false"); return }
        self = .text(try c.decode(String.self))
      }
      var text: String { switch self { case .text(let t): t } }
    }
    let file = try decodeJSONFile(File.self, from: data, path: path, expected: "a sweep results file", error: ResultsError.init)
    if let twice = duplicateJSONKey(in: data) { throw ResultsError("\(path): the key '\(twice)' appears twice in one object") }
    guard file.format == format else { throw ResultsError("\(path): format '\(file.format)' is not \(format)") }
    if let twice = file.columns.enumerated().first(where: { file.columns[..<$0.offset].contains($0.element) })?.element {
      throw ResultsError("\(path): columns: '\(twice)' appears twice")
    }
    var provenance: [(String, String)] = []
    var text = ""
    for (k, v) in file.provenance.sorted(by: { $0.key < $1.key }) {
      if k == "experiment_text" { text = v } else { provenance.append((k, v)) }
    }
    var out: [SweepRow] = []
    for (i, r) in file.rows.enumerated() {
      out.append(try SweepRow(fields: r.mapValues(\.text), where: "\(path): rows[\(i)]"))
    }
    return SweepResults(provenance: provenance, experimentText: text,
                        metrics: file.columns.filter { Experiment.metricNames.contains($0) }, rows: out)
  }

  /// Reads a `.csv` or `.json` results file.
  public static func read(_ path: String) throws -> SweepResults {
    let results = path.hasSuffix(".json") ? try readJSON(path) : try readCSV(path)
    try results.checkProvenance(path)
    return results
  }

  /// Throws unless the provenance a merge relies on is well formed: `shard` is `all`, `I/N`
  /// (1 ≤ I ≤ N, decimal) or a merge's note, and `grid_points` and `shard_points` are decimal
  /// counts that an `Int` holds, a shard's no more than its grid.
  func checkProvenance(_ path: String) throws {
    func count(_ key: String) throws -> Int? {
      guard let text = provenance(key) else { return nil }
      guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text) else {
        throw ResultsError("\(path): provenance \(key) '\(text)' is not a count (decimal digits, at most \(Int.max))")
      }
      return n
    }
    let grid = try count("grid_points"), points = try count("shard_points")
    if let shard = provenance("shard"), shard != "all", !shard.hasPrefix("merged from ") {
      let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
      guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let i = Int(parts[0]), let n = Int(parts[1]), 1 <= i, i <= n else {
        throw ResultsError("\(path): provenance shard '\(shard)' is not I/N with 1 ≤ I ≤ N")
      }
    }
    if let grid, let points, points > grid {
      throw ResultsError("\(path): provenance shard_points \(points) is more than grid_points \(grid)")
    }
  }

  /// Writes `data` to `path` through a temporary file of its own (`PATH.tmp-PID-N`) and a rename:
  /// readers never see a half-written file, and two writers never share a temporary.
  public static func writeAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".tmp-\(getpid())-\(temporaryCounter.next())"
    guard FileManager.default.createFile(atPath: temporary, contents: data) else { throw ResultsError("\(path): cannot write") }
    guard rename(temporary, path) == 0 else {
      try? FileManager.default.removeItem(atPath: temporary)
      throw ResultsError("\(path): cannot write (rename failed)")
    }
  }

  /// Numbers the temporaries of this process.
  static let temporaryCounter = Counter()

  final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
  }

  /// Whether `name` can name results files: letters, digits, `-`, `_` and `.`, not starting with
  /// `.` (so a name never leaves its directory).
  public static func isValidName(_ name: String) -> Bool {
    !name.isEmpty && !name.hasPrefix(".") && name.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
  }

  /// Throws unless `name` is a valid results name (``isValidName(_:)``); `origin` says where it
  /// came from.
  public static func checkName(_ name: String, from origin: String) throws {
    guard isValidName(name) else {
      throw ResultsError("\(origin): '\(name)' cannot name result files (letters, digits, '-', '_' or '.', not starting with '.')")
    }
  }

  /// The CSV and JSON paths of results called `name` in `directory`.
  public static func paths(directory: String, name: String) -> (csv: String, json: String) {
    let base = (directory as NSString).appendingPathComponent(name)
    return (base + ".csv", base + ".json")
  }
}
