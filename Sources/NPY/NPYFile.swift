import Foundation

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Accepted on reading: dtypes float32, float64, uint8, uint16, uint32, int32, int64 in either byte order
/// (big-endian data is converted), C or Fortran order (Fortran data is reordered to C order),
/// any shape including 0-d and empty. Everything else (other dtypes, object arrays, a header
/// that is not a dict, truncated or over-long data) is rejected with an ``NPYError`` whose
/// text names the file and the problem. Writing always produces version 1.0 (2.0 if the
/// header needs it), little endian, C order, header padded to a multiple of 64 bytes.
public enum NPYFile {
  static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

  /// Reads the file at `path`.
  public static func read(_ path: String) throws(NPYError) -> NPYArray {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw NPYError("\(path): cannot read the file")
    }
    do throws(NPYError) {
      return try parse([UInt8](data))
    } catch {
      throw NPYError("\(path): \(error.description)")
    }
  }

  /// Writes `array` to `path`.
  public static func write(_ array: NPYArray, to path: String) throws(NPYError) {
    let data = Data(serialize(array))
    guard FileManager.default.createFile(atPath: path, contents: data) else {
      throw NPYError("\(path): cannot write the file")
    }
  }

  /// The bytes of a `.npy` file holding `array`.
  public static func serialize(_ array: NPYArray) -> [UInt8] {
    let shape: String
    switch array.shape.count {
    case 0: shape = "()"
    case 1: shape = "(\(array.shape[0]),)"
    default: shape = "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
    }
    var header = "{'descr': '\(array.dtype.descr)', 'fortran_order': False, 'shape': \(shape), }"
    let v1 = 10 + header.utf8.count + 1 <= 65535 + 10
    let prefix = v1 ? 10 : 12
    let padding = (64 - (prefix + header.utf8.count + 1) % 64) % 64
    header += String(repeating: " ", count: padding) + "\n"
    var out = magic + (v1 ? [1, 0] : [2, 0])
    let n = header.utf8.count
    if v1 {
      out += [UInt8(n & 0xFF), UInt8(n >> 8)]
    } else {
      out += [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
    }
    out += Array(header.utf8)
    out += array.bytes
    return out
  }

  /// Parses the bytes of a `.npy` file.
  public static func parse(_ file: [UInt8]) throws(NPYError) -> NPYArray {
    guard file.count >= 10, Array(file[0..<6]) == magic else {
      throw NPYError("not a .npy file (bad magic string)")
    }
    let major = file[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(file[8]) | Int(file[9]) << 8
      headerStart = 10
    case 2, 3:
      guard file.count >= 12 else { throw NPYError("truncated header") }
      headerLength = Int(file[8]) | Int(file[9]) << 8 | Int(file[10]) << 16 | Int(file[11]) << 24
      headerStart = 12
    default:
      throw NPYError("unsupported .npy format version \(major).\(file[7])")
    }
    guard file.count >= headerStart + headerLength else { throw NPYError("truncated header") }
    guard let header = String(bytes: file[headerStart..<headerStart + headerLength], encoding: major == 3 ? .utf8 : .isoLatin1) else {
      throw NPYError("header is not text")
    }
    let fields = try NPYHeader.parse(header)
    let (dtype, bigEndian) = try dtypeOf(fields.descr)
    var count = 1
    for n in fields.shape + [dtype.size] {
      let (product, overflow) = count.multipliedReportingOverflow(by: n)
      guard !overflow, product <= 1 << 48 else { throw NPYError("shape \(fields.shape) is too large") }
      count = product
    }
    count /= dtype.size
    let expected = count * dtype.size
    let body = Array(file[(headerStart + headerLength)...])
    guard body.count == expected else {
      throw NPYError("data has \(body.count) bytes, shape \(fields.shape) of \(fields.descr) needs \(expected)")
    }
    var bytes = body
    if bigEndian && dtype.size > 1 {
      for i in 0..<count { bytes[i * dtype.size..<(i + 1) * dtype.size].reverse() }
    }
    if fields.fortranOrder && fields.shape.count > 1 {
      bytes = fortranToC(bytes, shape: fields.shape, size: dtype.size)
    }
    return NPYArray(shape: fields.shape, dtype: dtype, bytes: bytes)
  }

  static func dtypeOf(_ descr: String) throws(NPYError) -> (NPYDType, bigEndian: Bool) {
    guard let order = descr.first, "<>|=".contains(order),
          let dtype = NPYDType(rawValue: String(descr.dropFirst())) else {
      throw NPYError("unsupported dtype '\(descr)' (use float16, float32, float64, uint8, uint16, uint32, int32, int64, or ml_dtypes' V1/V2/f1 codes)")
    }
    return (dtype, order == ">")
  }

  /// Reorders Fortran-order (column-major) element bytes into C order.
  static func fortranToC(_ bytes: [UInt8], shape: [Int], size: Int) -> [UInt8] {
    let count = shape.reduce(1, *)
    var out = [UInt8](repeating: 0, count: bytes.count)
    var index = [Int](repeating: 0, count: shape.count)  // C-order multi-index of element c
    for c in 0..<count {
      var f = 0, stride = 1
      for d in 0..<shape.count { f += index[d] * stride; stride *= shape[d] }
      for b in 0..<size { out[c * size + b] = bytes[f * size + b] }
      var d = shape.count - 1
      while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
    }
    return out
  }
}

/// The three fields of a `.npy` header dict.
struct NPYHeader {
  var descr: String
  var fortranOrder: Bool
  var shape: [Int]

  /// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
  static func parse(_ text: String) throws(NPYError) -> NPYHeader {
    let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard t.hasPrefix("{"), t.hasSuffix("}") else { throw NPYError("header is not a dict") }
    func value(_ key: String) throws(NPYError) -> Substring {
      guard let k = t.range(of: "'\(key)'") ?? t.range(of: "\"\(key)\""),
            let colon = t[k.upperBound...].firstIndex(of: ":") else {
        throw NPYError("header has no '\(key)'")
      }
      return t[t.index(after: colon)...].drop(while: { $0 == " " })
    }
    let d = try value("descr")
    guard let q = d.first, q == "'" || q == "\"", let end = d.dropFirst().firstIndex(of: q) else {
      throw NPYError("header 'descr' is not a string (structured dtypes are not supported)")
    }
    let descr = String(d[d.index(after: d.startIndex)..<end])
    let f = try value("fortran_order")
    let fortran: Bool
    if f.hasPrefix("True") { fortran = true } else if f.hasPrefix("False") { fortran = false } else {
      throw NPYError("header 'fortran_order' is not True or False")
    }
    let s = try value("shape")
    guard s.first == "(", let close = s.firstIndex(of: ")") else { throw NPYError("header 'shape' is not a tuple") }
    var shape: [Int] = []
    for part in s[s.index(after: s.startIndex)..<close].split(separator: ",") {
      let p = part.trimmingCharacters(in: .whitespaces)
      if p.isEmpty { continue }
      guard let n = Int(p.hasSuffix("L") ? String(p.dropLast()) : p), n >= 0 else {
        throw NPYError("header 'shape' has a bad dimension '\(p)'")
      }
      shape.append(n)
    }
    return NPYHeader(descr: descr, fortranOrder: fortran, shape: shape)
  }
}
