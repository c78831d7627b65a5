import Attention
import LowPrecision
import NPY

/// `.npy` reads and writes of the experiment layer: the `NPY` module's message (file and
/// problem, one line) carried unchanged in this layer's error type.
public enum NPYFiles {
  /// Reads `path`, refusing a header of more elements than the tensor limit before the data.
  public static func read(_ path: String) throws -> NPYArray {
    do { return try NPYFile.read(path, maxElements: ResourceLimits.tensorElements) } catch {
      throw TensorFileError(error.description + (error.isOverLimit ? " (\(ResourceLimits.tensorElementsVariable))" : ""))
    }
  }

  static func write(_ array: NPYArray, to path: String) throws {
    do { try NPYFile.write(array, to: path) } catch { throw TensorFileError(error.description) }
  }
}

extension NPYArray {
  /// One integer per batch entry (`cache_seqlens`, `cache_batch_idx`): an int32 or int64 array of
  /// shape (batch,), read from `path`.
  public func perEntry(_ name: String, batch: Int, path: String) throws -> [Int] {
    guard shape == [batch], let values = indices else {
      throw TensorFileError("\(path): \(name) must be int32 or int64 of shape (batch,) = (\(batch),), got \(dtype) \(shape)")
    }
    return values
  }

  /// The raw codes of `format` held in this array (read from `path`): uint8 for formats of at
  /// most 8 bits, uint16 for wider ones, and no code wider than the format (a code of e2m1 above
  /// 0xF is an error, never masked).
  public func codes(of format: FloatFormat, path: String) throws -> [UInt32] {
    let wide = format.bitWidth > 8
    guard let (width, codes) = codeBytes, width == (wide ? 16 : 8) else {
      throw TensorFileError("\(path): \(format.name) codes must be \(wide ? "uint16" : "uint8"), got \(dtype)")
    }
    if dtype == .float8e5m2 && format != .e5m2 {
      throw TensorFileError("\(path): holds ml_dtypes float8_e5m2 codes, not \(format.name)")
    }
    if let i = codes.firstIndex(where: { $0 >> UInt32(format.bitWidth) != 0 }) {
      throw TensorFileError("\(path): code \(codes[i]) at flat index \(i) has more than the \(format.bitWidth) bits of \(format.name)")
    }
    return codes
  }
}
