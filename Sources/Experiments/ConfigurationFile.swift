import Attention
import Foundation
import Yams

/// One value of a YAML or JSON configuration file, with the file and the key path that lead to
/// it, so every problem is one line: `FILE:LINE: key.path: what is wrong (allowed: …)`.
///
/// JSON files are read by the same YAML parser (JSON is YAML's flow style). Mappings are read
/// with the set of keys allowed there: an unknown key (a typo) is an error, never ignored.
struct ConfigurationValue {
  let node: Node
  let file: String
  /// `schemes[2]`, `distributions[0].outlier_std`, or `top level`.
  let path: String

  /// Parses `text` (the contents of `file`).
  static func parse(_ text: String, file: String) throws -> ConfigurationValue {
    let node: Node?
    do { node = try Yams.compose(yaml: text) } catch let error as YamlError {
      throw ExperimentFileError("\(file): not valid YAML or JSON: \(Self.describe(error))")
    } catch { throw ExperimentFileError("\(file): not valid YAML or JSON: \(error)") }
    guard let node else { throw ExperimentFileError("\(file): the file is empty") }
    return ConfigurationValue(node: node, file: file, path: "top level")
  }

  static func describe(_ error: YamlError) -> String {
    switch error {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
      "line \(mark.line): \(problem)"
    default:
      String(describing: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
  }

  /// An error at this value.
  func error(_ message: String) -> ExperimentFileError {
    let line = node.mark.map { ":\($0.line)" } ?? ""
    return ExperimentFileError("\(file)\(line): \(path): \(message)")
  }

  func child(_ node: Node, _ component: String) -> ConfigurationValue {
    ConfigurationValue(node: node, file: file, path: path == "top level" ? component : path + component)
  }

  /// The entries of a mapping, keyed by name; every key must be in `allowed`.
  func mapping(allowed: [String]) throws -> [String: ConfigurationValue] {
    guard let mapping = node.mapping else { throw error("expected a mapping with keys \(allowed.joined(separator: ", "))") }
    var result: [String: ConfigurationValue] = [:]
    for (key, value) in mapping {
      guard let name = key.string, key.scalar != nil else { throw error("keys must be names") }
      let at = child(value, path == "top level" ? name : "." + name)
      guard allowed.contains(name) else {
        throw ExperimentFileError("\(file)\(key.mark.map { ":\($0.line)" } ?? ""): \(path == "top level" ? name : path + "." + name): "
                             + "unknown key '\(name)' (allowed: \(allowed.joined(separator: ", ")))")
      }
      result[name] = at
    }
    return result
  }

  /// The elements of a sequence; a single scalar or mapping counts as a one-element list.
  func list() throws -> [ConfigurationValue] {
    if let sequence = node.sequence {
      let items = sequence.enumerated().map { child($0.element, "[\($0.offset)]") }
      guard !items.isEmpty else { throw error("the list is empty") }
      return items
    }
    return [self]
  }

  func string() throws -> String {
    guard let scalar = node.scalar else { throw error("expected a single value") }
    return scalar.string
  }

  func int(_ range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
    guard let scalar = node.scalar, let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")) else {
      throw error("expected an integer, got '\(node.scalar?.string ?? "a list or mapping")'")
    }
    guard range.contains(value) else { throw error("\(value) is out of range \(range.lowerBound)...\(range.upperBound)") }
    return value
  }

  func uint64() throws -> UInt64 {
    guard let scalar = node.scalar, let value = UInt64(scalar.string.replacingOccurrences(of: "_", with: "")) else {
      throw error("expected a non-negative integer seed, got '\(node.scalar?.string ?? "a list or mapping")'")
    }
    return value
  }

  /// A finite number (`1e-3`, `0.001`, `10`).
  func double() throws -> Double {
    guard let scalar = node.scalar, let value = Double(scalar.string), value.isFinite else {
      throw error("expected a finite number, got '\(node.scalar?.string ?? "a list or mapping")'")
    }
    return value
  }

  func bool() throws -> Bool {
    guard let scalar = node.scalar else { throw error("expected true or false") }
    switch scalar.string.lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default: throw error("expected true or false, got '\(scalar.string)'")
    }
  }

  /// One of `allowed` (a name).
  func choice(_ allowed: [String]) throws -> String {
    let value = try string()
    guard allowed.contains(value) else { throw error("'\(value)' is not allowed (allowed: \(allowed.joined(separator: ", ")))") }
    return value
  }
}
