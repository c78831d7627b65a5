import Attention
import Foundation
import LowPrecision
import NPY
import ZIPFoundation

/// A tensor named on the command line, from any of the files researchers keep them in:
///
/// | spelling | file |
/// |---|---|
/// | `PATH` (any name but the two below) | a `.npy` file: float16/32/64 values, uint8/uint16 codes, ml_dtypes arrays (`V1`/`V2` codes, `f1` e5m2 codes) |
/// | `PATH.npz:KEY` (`:KEY` may be left out when the archive holds one array) | the array `KEY` of a NumPy `.npz` archive (`np.savez`, stored or deflated) |
/// | `PATH.safetensors:NAME` (likewise) | the tensor `NAME` of a safetensors file: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, U8, U16, U32, I32, I64, BOOL (as U8) |
///
/// ``format`` is the format the file itself gives the codes (safetensors' BF16, F8_E4M3,
/// F8_E5M2; ml_dtypes' `f1`), `nil` otherwise. Every size is checked against the tensor limit
/// before anything is read into memory; every problem is one line naming the file.
public struct TensorFile: Sendable {
  public var array: NPYArray
  public var format: FloatFormat?

  public static func read(_ spec: String) throws -> TensorFile {
    let (path, key) = split(spec)
    if path.hasSuffix(".npz") { return try npz(path, key) }
    if path.hasSuffix(".safetensors") { return try safetensors(path, key) }
    let array = try NPYFiles.read(spec)
    return TensorFile(array: array, format: array.dtype == .float8e5m2 ? .e5m2 : nil)
  }

  /// `FILE.npz:KEY` → (FILE.npz, KEY); any other spelling is a path.
  static func split(_ spec: String) -> (String, String?) {
    guard let colon = spec.lastIndex(of: ":") else { return (spec, nil) }
    let path = String(spec[..<colon])
    return path.hasSuffix(".npz") || path.hasSuffix(".safetensors") ? (path, String(spec[spec.index(after: colon)...])) : (spec, nil)
  }

  /// The most bytes one tensor's data may take (the tensor limit at 8 bytes per element; the
  /// largest `Int` when that product overflows, as with the limit at its largest valid value).
  static var largestBytes: Int { ResourceLimits.product([ResourceLimits.tensorElements, 8]) ?? Int.max }

  static func pick(_ names: [String], _ key: String?, _ path: String, _ what: String) throws -> String {
    if let key {
      guard names.contains(key) else { throw TensorFileError("\(path): no \(what) '\(key)' (holds: \(names.sorted().joined(separator: ", ")))") }
      return key
    }
    guard names.count == 1 else {
      throw TensorFileError("\(path): holds \(names.count) \(what)s (\(names.sorted().joined(separator: ", "))); name one as \(path):NAME")
    }
    return names[0]
  }

  static func npz(_ path: String, _ key: String?) throws -> TensorFile {
    let archive: Archive
    do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
      throw TensorFileError("\(path): cannot read the .npz archive (\(FileManager.default.fileExists(atPath: path) ? "not a zip file" : "no such file"))")
    }
    let entries = archive.filter { $0.type == .file && $0.path.hasSuffix(".npy") }
    var seen = Set<String>()
    for e in entries where !seen.insert(e.path).inserted {
      throw TensorFileError("\(path): the archive holds the member '\(e.path)' more than once")
    }
    let name = try pick(entries.map { String($0.path.dropLast(4)) }, key, path, "array")
    let entry = entries.first { $0.path == name + ".npy" }!
    guard entry.uncompressedSize <= UInt64(largestBytes) + 65_536 else {
      throw TensorFileError("\(path):\(name): \(entry.uncompressedSize) bytes, more than the tensor limit allows (\(ResourceLimits.tensorElementsVariable))")
    }
    guard entry.uncompressedSize <= UInt64(Int.max) else {
      throw TensorFileError("\(path):\(name): records \(entry.uncompressedSize) bytes, more than this machine can address")
    }
    var data = Data()
    let most = Int(entry.uncompressedSize)
    let checksum: CRC32
    do {
      // A member that inflates beyond its recorded size (a crafted archive) is cut off, not followed.
      checksum = try archive.extract(entry, skipCRC32: false) { chunk in
        guard data.count + chunk.count <= most else { throw CocoaError(.fileReadCorruptFile) }
        data.append(chunk)
      }
    } catch {
      throw TensorFileError("\(path):\(name): cannot extract (\(error.localizedDescription))")
    }
    guard data.count == most else {
      throw TensorFileError("\(path):\(name): holds \(data.count) bytes, its entry records \(most)")
    }
    guard checksum == entry.checksum else {
      throw TensorFileError("\(path):\(name): CRC-32 \(String(checksum, radix: 16)) does not match the recorded \(String(entry.checksum, radix: 16)) (a corrupted archive)")
    }
    let array: NPYArray
    do { array = try NPYFile.parse(Array(data), maxElements: ResourceLimits.tensorElements) } catch {
      throw TensorFileError("\(path):\(name): \(error.description)" + (error.isOverLimit ? " (\(ResourceLimits.tensorElementsVariable))" : ""))
    }
    return TensorFile(array: array, format: array.dtype == .float8e5m2 ? .e5m2 : nil)
  }

  static let safetensorsTypes: [String: (NPYDType, FloatFormat?)] = [
    "F64": (.float64, nil), "F32": (.float32, nil), "F16": (.float16, nil), "BF16": (.raw16, .bf16),
    "F8_E4M3": (.raw8, .e4m3fn), "F8_E5M2": (.float8e5m2, .e5m2), "U8": (.uint8, nil), "U16": (.uint16, nil),
    "U32": (.uint32, nil), "I32": (.int32, nil), "I64": (.int64, nil), "BOOL": (.uint8, nil),
  ]

  /// The string metadata (`__metadata__`) of a safetensors file (empty when it has none) and
  /// the names of its tensors; refuses a file whose data is cut short of any tensor's end.
  public static func safetensorsIndex(_ path: String) throws -> (metadata: [String: String], tensors: Set<String>) {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw TensorFileError("\(path): cannot read the file") }
    defer { try? handle.close() }
    let (header, headerSize, size) = try safetensorsHeader(handle, path)
    var names = Set<String>()
    let data = size - 8 - headerSize
    for (name, info) in header where name != "__metadata__" {
      guard let offsets = (info as? [String: Any])?["data_offsets"] as? [Int], offsets.count == 2, offsets[0] >= 0, offsets[1] >= offsets[0] else {
        throw TensorFileError("\(path):\(name): expected data_offsets [begin, end]")
      }
      guard UInt64(offsets[1]) <= data else {
        throw TensorFileError("\(path):\(name): the data is cut short (ends at \(offsets[1]) of \(data) data bytes)")
      }
      names.insert(name)
    }
    guard let meta = header["__metadata__"] else { return ([:], names) }
    guard let strings = meta as? [String: String] else { throw TensorFileError("\(path): __metadata__ must map strings to strings") }
    return (strings, names)
  }

  /// The header object, its size and the file's size, checked (JSON object, no key twice).
  static func safetensorsHeader(_ handle: FileHandle, _ path: String) throws -> ([String: Any], UInt64, UInt64) {
    let size = (try? handle.seekToEnd()) ?? 0
    try? handle.seek(toOffset: 0)
    guard size >= 8, let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else {
      throw TensorFileError("\(path): not a safetensors file (shorter than its 8-byte header size)")
    }
    let headerSize = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard headerSize <= min(size - 8, 100_000_000) else {
      throw TensorFileError("\(path): header size \(headerSize) does not fit the file (\(size) bytes)")
    }
    guard let headerData = try? handle.read(upToCount: Int(headerSize)), headerData.count == Int(headerSize),
          let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
      throw TensorFileError("\(path): the header is not a JSON object")
    }
    if let duplicate = duplicateJSONKey(in: headerData) {
      throw TensorFileError("\(path): the header names '\(duplicate)' more than once")
    }
    return (header, headerSize, size)
  }

  static func safetensors(_ path: String, _ key: String?) throws -> TensorFile {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw TensorFileError("\(path): cannot read the file") }
    defer { try? handle.close() }
    let (header, headerSize, size) = try safetensorsHeader(handle, path)
    let names = header.keys.filter { $0 != "__metadata__" }
    let name = try pick(Array(names), key, path, "tensor")
    guard let info = header[name] as? [String: Any], let typeName = info["dtype"] as? String,
          let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
      throw TensorFileError("\(path):\(name): expected dtype, shape and data_offsets [begin, end]")
    }
    guard let (dtype, format) = safetensorsTypes[typeName] else {
      throw TensorFileError("\(path):\(name): unsupported dtype \(typeName) (supported: \(safetensorsTypes.keys.sorted().joined(separator: ", ")))")
    }
    guard shape.allSatisfy({ $0 >= 0 }), let count = ResourceLimits.product(shape), count <= ResourceLimits.tensorElements,
          let byteCount = ResourceLimits.product([count, dtype.size]) else {
      throw TensorFileError("\(path):\(name): shape \(shape) is negative or above the tensor limit (\(ResourceLimits.tensorElementsVariable))")
    }
    let data = UInt64(size) - 8 - headerSize
    guard offsets[0] >= 0, offsets[1] >= offsets[0], UInt64(offsets[1]) <= data, offsets[1] - offsets[0] == byteCount else {
      throw TensorFileError("\(path):\(name): data_offsets \(offsets) do not hold \(shape) of \(typeName) (\(byteCount) bytes) within the \(data) data bytes")
    }
    if byteCount == 0 { return TensorFile(array: NPYArray(shape: shape, dtype: dtype, bytes: []), format: format) }
    try? handle.seek(toOffset: 8 + headerSize + UInt64(offsets[0]))
    guard let bytes = try? handle.read(upToCount: byteCount), bytes.count == byteCount else {
      throw TensorFileError("\(path):\(name): the data is cut short")
    }
    return TensorFile(array: NPYArray(shape: shape, dtype: dtype, bytes: Array(bytes)), format: format)
  }
}
