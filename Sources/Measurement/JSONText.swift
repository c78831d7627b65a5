/// A JSON value written as text: the one JSON writer of the files the tool writes (sweep
/// results, the FA3 table, baselines). Keys keep the given order; numbers are written as given,
/// and ``double(_:)`` gives Swift's shortest round-trip form, so reading a file back gives the
/// same `Double`s (non-finite values are `null`).
public enum JSONText {
  case string(String)
  /// A number or `true`/`false`, already as JSON text.
  case number(String)
  case null
  case array([JSONText])
  case object([(String, JSONText)])

  /// A `Double` in shortest round-trip form; `null` when not finite.
  public static func double(_ x: Double) -> JSONText { x.isFinite ? .number("\(x)") : .null }
  public static func int<T: BinaryInteger>(_ x: T) -> JSONText { .number("\(x)") }
  public static func bool(_ x: Bool) -> JSONText { .number(x ? "true" : "false") }

  /// The document, indented by two spaces, with a final newline.
  public var document: String { text(indent: "") + "\n" }

  /// `s` as a JSON string (also a YAML double-quoted scalar): quote, backslash and every control
  /// character escaped.
  public static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      case _ where u.value < 0x20:
        let hex = String(u.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(u)
      }
    }
    return out + "\""
  }

  func text(indent: String) -> String {
    let inner = indent + "  "
    switch self {
    case .string(let s): return Self.quote(s)
    case .number(let n): return n
    case .null: return "null"
    case .array(let items):
      if items.isEmpty { return "[]" }
      return "[\n" + items.map { inner + $0.text(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
    case .object(let pairs):
      if pairs.isEmpty { return "{}" }
      return "{\n" + pairs.map { inner + Self.quote($0.0) + ": " + $0.1.text(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "}"
    }
  }
}

extension ErrorMetrics {
  /// The metrics as a JSON object (count, then ``ErrorMetrics/names`` that are present; a
  /// non-finite value as `null`).
  public var json: JSONText {
    .object([("count", .int(count))] + ErrorMetrics.names.compactMap { name in self[name].map { (name, JSONText.double($0)) } })
  }
}
