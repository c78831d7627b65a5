/// Element types of `.npy` arrays that FlashNumerics reads and writes.
public enum NPYDType: String, Sendable, CaseIterable {
  case float32 = "f4", float64 = "f8", uint8 = "u1", uint16 = "u2", uint32 = "u4", int32 = "i4"

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .uint8: 1
    case .uint16: 2
    case .float32, .int32, .uint32: 4
    case .float64: 8
    }
  }

  /// The numpy `descr` written for this type (little endian).
  public var descr: String { self == .uint8 ? "|u1" : "<" + rawValue }
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
  /// The elements, if the array is uint32.
  public var uint32: [UInt32]? { integers(.uint32, as: UInt32.self) }
  /// The elements, if the array is int32.
  public var int32: [Int32]? { integers(.int32, as: Int32.self) }

  /// Float32 and float64 arrays as Doubles (exact), `nil` for integer arrays.
  public var values: [Double]? {
    switch dtype {
    case .float32: float32.map { $0.map(Double.init) }
    case .float64: float64
    default: nil
    }
  }
}

/// A `.npy` file that cannot be read, with one line saying what is wrong.
public struct NPYError: Error, CustomStringConvertible, Sendable, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
