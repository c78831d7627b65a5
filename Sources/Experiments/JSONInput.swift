import Diagnostics
import Foundation

/// Decodes a JSON input file, turning every decoding problem into one line that names the file,
/// where in it (`entries[2].scheme`), and what is wrong, thrown as the error of the file's layer
/// (`error`: an experiment or case file's by default, a results file's or a baseline's by their readers).
public func decodeJSONFile<T: Decodable, E: FlashNumericsError>(_ type: T.Type, from data: Data, path: String, expected: String,
                                                                 error make: (String) -> E = ExperimentFileError.init) throws -> T {
  func place(_ codingPath: [any CodingKey]) -> String {
    codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
  }
  do { return try JSONDecoder().decode(type, from: data) } catch let DecodingError.keyNotFound(key, c) {
    throw make("\(path): \(place(c.codingPath)): missing key '\(key.stringValue)'")
  } catch let DecodingError.typeMismatch(_, c) {
    throw make("\(path): \(place(c.codingPath)): \(c.debugDescription)")
  } catch let DecodingError.valueNotFound(_, c) {
    throw make("\(path): \(place(c.codingPath)): \(c.debugDescription)")
  } catch let DecodingError.dataCorrupted(c) {
    throw make("\(path): \(place(c.codingPath)): \(c.debugDescription)")
  } catch { throw make("\(path): not \(expected) (\(error.localizedDescription))") }
}

/// The first key that one JSON object of `data` holds more than once (compared after decoding
/// escapes, so `"a"` and `"\u0061"` are one key), or `nil`. JSON parsers keep either the first or
/// the last of such keys without a word; inputs that name a tensor, a column or a setting twice
/// are refused instead. `data` is expected to be valid JSON (parse it first); on anything else the
/// scan stops and reports nothing.
public func duplicateJSONKey(in data: Data) -> String? {
  let bytes = [UInt8](data)
  var i = 0
  // One entry per open container, true for an object; and for each open object the keys seen
  // so far (as UTF-16 code units: JSON compares keys by code units, not by Unicode canonical
  // equivalence), each set held only here so that inserting never copies it.
  var isObject: [Bool] = []
  var keys: [Set<[UInt16]>] = []
  var expectingKey = false

  func readString() -> [UInt16]? {
    // At an opening quote; returns the decoded code units and leaves i after the closing quote.
    var units: [UInt16] = []
    var raw: [UInt8] = []
    func flush() { units += String(decoding: raw, as: UTF8.self).utf16; raw.removeAll() }
    i += 1
    while i < bytes.count {
      let c = bytes[i]
      if c == UInt8(ascii: "\"") { i += 1; flush(); return units }
      if c == UInt8(ascii: "\\") {
        guard i + 1 < bytes.count else { return nil }
        let e = bytes[i + 1]
        i += 2
        flush()
        switch e {
        case UInt8(ascii: "u"):
          guard i + 4 <= bytes.count, let u = UInt16(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else { return nil }
          units.append(u)
          i += 4
        case UInt8(ascii: "n"): units.append(10)
        case UInt8(ascii: "t"): units.append(9)
        case UInt8(ascii: "r"): units.append(13)
        case UInt8(ascii: "b"): units.append(8)
        case UInt8(ascii: "f"): units.append(12)
        default: units.append(UInt16(e))
        }
        continue
      }
      raw.append(c)
      i += 1
    }
    return nil
  }

  while i < bytes.count {
    let c = bytes[i]
    switch c {
    case UInt8(ascii: "{"): isObject.append(true); keys.append([]); expectingKey = true; i += 1
    case UInt8(ascii: "["): isObject.append(false); expectingKey = false; i += 1
    case UInt8(ascii: "}"), UInt8(ascii: "]"):
      if isObject.popLast() == true { keys.removeLast() }
      expectingKey = false
      i += 1
    case UInt8(ascii: ","): expectingKey = isObject.last ?? false; i += 1
    case UInt8(ascii: "\""):
      guard let s = readString() else { return nil }
      if expectingKey {
        if !keys[keys.count - 1].insert(s).inserted { return String(decoding: s, as: UTF16.self) }
        expectingKey = false
      }
    default: i += 1
    }
  }
  return nil
}
