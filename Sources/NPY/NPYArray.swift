import Diagnostics
/// Element types of `.npy` arrays that FlashNumerics reads and writes.
///
/// Besides NumPy's own types: `float16` (`<f2`); `raw8` and `raw16` (`V1`, `V2`), the opaque
/// one- and two-byte elements as which ml_dtypes' bfloat16 and float8/float4 types are saved
/// (their bytes are the format's codes; the format must be named); and `float8e5m2` (`f1`), the
/// descr ml_dtypes gives its float8_e5m2 (bytes are e5m2 codes).
public enum NPYDType: String, Sendable, CaseIterable {
  case float32 = "f4", float64 = "f8", uint8 = "u1", uint16 = "u2", uint32 = "u4", int32 = "i4", int64 = "i8"
  case float16 = "f2", raw8 = "V1", raw16 = "V2", float8e5m2 = "f1"

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .uint8, .raw8, .float8e5m2: 1
    case .uint16, .float16, .raw16: 2
    case .float32, .int32, .uint32: 4
    case .float64, .int64: 8
    }
  }

  /// The numpy `descr` written for this type (little endian).
  public var descr: String { size == 1 ? "|" + rawValue : "<" + rawValue }

  /// Whether the elements are codes of a low-precision format (raw bytes or e5m2).
  public var isCodes: Bool { self == .raw8 || self == .raw16 || self == .float8e5m2 }
}

/// An n-dimensional array as stored in a `.npy` file: shape, element type and the elements
/// as raw little-endian bytes in C (row-major) order.
///
/// Invariant: `bytes.count == shape.product × dtype.size`.
public struct NPYArray: Sendable, Equatable {
  public var shape: [Int]
  public var dtype: NPYDType
  public var bytes: [UInt8]

  public init(shape: [Int], dtype: NPYDType, bytes: [UInt8]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension")
    precondition(bytes.count == shape.reduce(1, *) * dtype.size, "byte count does not match shape")
    self.shape = shape
    self.dtype = dtype
    self.bytes = bytes
  }

  /// Number of elements (1 for a 0-d array).
  public var count: Int { shape.reduce(1, *) }

  init<T: FixedWidthInteger>(shape: [Int], dtype: NPYDType, integers: [T]) {
    precondition(integers.count == shape.reduce(1, *), "element count does not match shape")
    var bytes = [UInt8](repeating: 0, count: integers.count * MemoryLayout<T>.size)
    bytes.withUnsafeMutableBytes { raw in
      for (i, v) in integers.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
    }
    self.init(shape: shape, dtype: dtype, bytes: bytes)
  }

  func integers<T: FixedWidthInteger>(_ expected: NPYDType, as: T.Type) -> [T]? {
    guard dtype == expected else { return nil }
    return bytes.withUnsafeBytes { raw in
      (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
    }
  }

  public init(shape: [Int], float32 values: [Float]) {
    self.init(shape: shape, dtype: .float32, integers: values.map(\.bitPattern))
  }
  public init(shape: [Int], float64 values: [Double]) {
    self.init(shape: shape, dtype: .float64, integers: values.map(\.bitPattern))
  }
  public init(shape: [Int], uint8 values: [UInt8]) { self.init(shape: shape, dtype: .uint8, integers: values) }
  public init(shape: [Int], uint16 values: [UInt16]) { self.init(shape: shape, dtype: .uint16, integers: values) }
  public init(shape: [Int], uint32 values: [UInt32]) { self.init(shape: shape, dtype: .uint32, integers: values) }
  public init(shape: [Int], int32 values: [Int32]) { self.init(shape: shape, dtype: .int32, integers: values) }

  /// The elements, if the array is float32.
  public var float32: [Float]? { integers(.float32, as: UInt32.self)?.map(Float.init(bitPattern:)) }
  /// The elements, if the array is float64.
  public var float64: [Double]? { integers(.float64, as: UInt64.self)?.map(Double.init(bitPattern:)) }
  /// The elements, if the array is uint8.
  public var uint8: [UInt8]? { dtype == .uint8 ? bytes : nil }
  /// The elements, if the array is uint16.
  public var uint16: [UInt16]? { integers(.uint16, as: UInt16.self) }
  /// The elements as codes of one or two bytes: uint8, uint16, and the ml_dtypes types
  /// (`raw8`, `raw16`, `float8e5m2`); `nil` for value arrays.
  public var codeBytes: (width: Int, codes: [UInt32])? {
    switch dtype {
    case .uint8, .raw8, .float8e5m2: (8, bytes.map(UInt32.init))
    case .uint16, .raw16:
      (16, bytes.withUnsafeBytes { raw in (0..<count).map { UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) } })
    default: nil
    }
  }
  /// The elements, if the array is uint32.
  public var uint32: [UInt32]? { integers(.uint32, as: UInt32.self) }
  /// The elements, if the array is int32.
  public var int32: [Int32]? { integers(.int32, as: Int32.self) }
  /// The elements, if the array is int64 (NumPy's default integer).
  public var int64: [Int64]? { integers(.int64, as: Int64.self) }
  /// The elements of an int32 or int64 array as `Int` (int64 values clamped to `Int`'s range),
  /// `nil` for other dtypes: lengths and offsets, as NumPy writes them either way.
  public var indices: [Int]? { int32.map { $0.map(Int.init) } ?? int64.map { $0.map { Int(clamping: $0) } } }

  /// Float16, float32 and float64 arrays as Doubles (exact), `nil` for integer and code arrays.
  public var values: [Double]? {
    switch dtype {
    case .float32: float32.map { $0.map(Double.init) }
    case .float64: float64
    case .float16: integers(.float16, as: UInt16.self)?.map { Double(Float16(bitPattern: $0)) }
    default: nil
    }
  }
}

/// A `.npy` file that cannot be read, with one line saying what is wrong.
public struct NPYError: FlashNumericsError, Equatable {
  public let description: String
  /// Whether the file was refused for holding more elements than the caller's limit.
  public let isOverLimit: Bool
  public init(_ description: String, isOverLimit: Bool = false) { (self.description, self.isOverLimit) = (description, isOverLimit) }

  /// A shape of more than `limit` elements (or more than an `Int` can count).
  static func tooManyElements(shape: [Int], limit: Int) -> NPYError {
    let count = shape.reduce(into: Optional(1)) { p, d in p = p.flatMap { let (q, o) = $0.multipliedReportingOverflow(by: d); return o ? nil : q } }
    return NPYError("shape \(shape) holds \(count.map(String.init) ?? "more than 2^63") elements, more than the limit of \(limit) per tensor",
                    isOverLimit: true)
  }
}
