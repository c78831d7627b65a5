import Attention
import Foundation

/// Decodes a JSON input file, turning every decoding problem into one line that names the file,
/// where in it (`entries[2].scheme`), and what is wrong.
public func decodeJSONFile<T: Decodable>(_ type: T.Type, from data: Data, path: String, expected: String) throws(AttentionError) -> T {
  func place(_ codingPath: [any CodingKey]) -> String {
    codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
  }
  do { return try JSONDecoder().decode(type, from: data) } catch let DecodingError.keyNotFound(key, c) {
    throw AttentionError("\(path): \(place(c.codingPath)): missing key '\(key.stringValue)'")
  } catch let DecodingError.typeMismatch(_, c) {
    throw AttentionError("\(path): \(place(c.codingPath)): \(c.debugDescription)")
  } catch let DecodingError.valueNotFound(_, c) {
    throw AttentionError("\(path): \(place(c.codingPath)): \(c.debugDescription)")
  } catch let DecodingError.dataCorrupted(c) {
    throw AttentionError("\(path): \(place(c.codingPath)): \(c.debugDescription)")
  } catch { throw AttentionError("\(path): not \(expected) (\(error.localizedDescription))") }
}
