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

  /// Reads the file at `path`. A header whose shape holds more than `maxElements` elements is
  /// refused before the data is read (``NPYError/tooManyElements``), as is a file whose size does
  /// not match its header.
  public static func read(_ path: String, maxElements: Int = .max) throws(NPYError) -> NPYArray {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw NPYError("\(path): cannot read the file") }
    defer { try? handle.close() }
    do throws(NPYError) {
      let size = Int((try? handle.seekToEnd()) ?? 0)
      try? handle.seek(toOffset: 0)
      let prefix = [UInt8]((try? handle.read(upToCount: 12)) ?? Data())
      let headerEnd = try headerLength(prefix).end
      guard size >= headerEnd else { throw NPYError("truncated header") }
      // The rest of the header after the bytes already read (a version 1 prefix is 10 bytes).
      let head = prefix.count >= headerEnd ? Array(prefix[..<headerEnd])
        : prefix + [UInt8]((try? handle.read(upToCount: headerEnd - prefix.count)) ?? Data())
      let layout = try Layout(head, maxElements: maxElements)
      guard size - headerEnd == layout.byteCount else {
        throw NPYError("data has \(size - headerEnd) bytes, shape \(layout.fields.shape) of \(layout.fields.descr) needs \(layout.byteCount)")
      }
      try? handle.seek(toOffset: UInt64(headerEnd))
      let body = [UInt8]((try? handle.read(upToCount: layout.byteCount)) ?? Data())
      return try layout.array(body)
    } catch {
      throw NPYError("\(path): \(error.description)", isOverLimit: error.isOverLimit)
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

  /// Parses the bytes of a `.npy` file (a shape of more than `maxElements` elements is refused).
  public static func parse(_ file: [UInt8], maxElements: Int = .max) throws(NPYError) -> NPYArray {
    let end = try headerLength(file).end
    guard file.count >= end else { throw NPYError("truncated header") }
    let layout = try Layout(Array(file[..<end]), maxElements: maxElements)
    let body = Array(file[end...])
    guard body.count == layout.byteCount else {
      throw NPYError("data has \(body.count) bytes, shape \(layout.fields.shape) of \(layout.fields.descr) needs \(layout.byteCount)")
    }
    return try layout.array(body)
  }

  /// Where the header text starts and where it (and so the data) ends, from the first 10 or 12
  /// bytes of a file.
  static func headerLength(_ prefix: [UInt8]) throws(NPYError) -> (start: Int, end: Int) {
    guard prefix.count >= 10, Array(prefix[0..<6]) == magic else {
      throw NPYError("not a .npy file (bad magic string)")
    }
    let start: Int, length: Int
    switch prefix[6] {
    case 1:
      (start, length) = (10, Int(prefix[8]) | Int(prefix[9]) << 8)
    case 2, 3:
      guard prefix.count >= 12 else { throw NPYError("truncated header") }
      (start, length) = (12, Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24)
    default:
      throw NPYError("unsupported .npy format version \(prefix[6]).\(prefix[7])")
    }
    // A header is a short dict; NumPy itself refuses to read one over 10 000 bytes by default.
    guard length <= largestHeader else { throw NPYError("header of \(length) bytes is longer than \(largestHeader)") }
    return (start, start + length)
  }

  /// The longest header read (bytes): far above any shape NumPy writes.
  static let largestHeader = 1 << 20

  /// A parsed header: its fields, dtype, element count and data size, every size checked.
  struct Layout {
    var fields: NPYHeader, dtype: NPYDType, bigEndian: Bool, count: Int, byteCount: Int

    /// From the file's bytes up to the end of its header.
    init(_ head: [UInt8], maxElements: Int) throws(NPYError) {
      let (start, end) = try headerLength(head)
      guard head.count >= end else { throw NPYError("truncated header") }
      guard let header = String(bytes: head[start..<end], encoding: head[6] == 3 ? .utf8 : .isoLatin1) else {
        throw NPYError("header is not text")
      }
      fields = try NPYHeader.parse(header)
      (dtype, bigEndian) = try dtypeOf(fields.descr)
      var n = 1
      for d in fields.shape {
        let (product, overflow) = n.multipliedReportingOverflow(by: d)
        guard !overflow else { throw NPYError.tooManyElements(shape: fields.shape, limit: maxElements) }
        n = product
      }
      guard n <= maxElements else { throw NPYError.tooManyElements(shape: fields.shape, limit: maxElements) }
      let (bytes, overflow) = n.multipliedReportingOverflow(by: dtype.size)
      guard !overflow, bytes <= 1 << 48 else { throw NPYError("shape \(fields.shape) is too large") }
      (count, byteCount) = (n, bytes)
    }

    /// The array of `body` (exactly ``byteCount`` bytes), in little-endian C order.
    func array(_ body: [UInt8]) throws(NPYError) -> NPYArray {
      guard body.count == byteCount else {
        throw NPYError("data has \(body.count) bytes, shape \(fields.shape) of \(fields.descr) needs \(byteCount)")
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
