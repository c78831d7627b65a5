import LowPrecision
import CVectorShims

/// Split operands for ``HopperStep``'s lane chains: values (as `Float`) and unnormalised
/// exponents (as `Int16`, as in ``HopperOperandRows``) in separate buffers. The caller chooses the
/// layout: a shared A operand is stored contiguously, the B operands of ``HopperStep/laneCount``
/// chains interleaved by lane (element i of lane l at `laneCount·i + l`). A reference type with fixed storage; shared read-only between threads once filled.
public final class HopperLaneOperands: @unchecked Sendable {
  public let count: Int
  @usableFromInline let values: UnsafeMutablePointer<Float>
  @usableFromInline let exponents: UnsafeMutablePointer<Int16>

  /// `count` zero operands (code 0 of the table's format).
  public init(zeros count: Int, table: [HopperOperand]) {
    self.count = count
    values = .allocate(capacity: max(count, 1))
    exponents = .allocate(capacity: max(count, 1))
    values.initialize(repeating: table[0].value, count: max(count, 1))
    exponents.initialize(repeating: Int16(table[0].exponent), count: max(count, 1))
  }

  deinit {
    values.deallocate()
    exponents.deallocate()
  }

  /// Element `i` set to the split of `code` (`table` indexed by code, as ``HopperStep/aTable``).
  @inline(__always)
  public func set(_ i: Int, code: Int, table: [HopperOperand]) {
    precondition(i >= 0 && i < count)
    let t = table[code]
    values[i] = t.value
    exponents[i] = Int16(t.exponent)
  }

  /// Elements `start ..< start + codes.count` set to the splits of `codes`.
  public func set(from start: Int, codes: UnsafeBufferPointer<UInt8>, table: [HopperOperand]) {
    precondition(start >= 0 && start + codes.count <= count)
    table.withUnsafeBufferPointer { t in
      for i in 0..<codes.count { store(start + i, t[Int(codes[i])]) }
    }
  }

  /// Elements `start ..< start + codes.count` set to the splits of `codes`.
  public func set(from start: Int, codes: UnsafeBufferPointer<UInt16>, table: [HopperOperand]) {
    precondition(start >= 0 && start + codes.count <= count)
    table.withUnsafeBufferPointer { t in
      for i in 0..<codes.count { store(start + i, t[Int(codes[i])]) }
    }
  }

  @inline(__always)
  func store(_ i: Int, _ split: HopperOperand) {
    values[i] = split.value
    exponents[i] = Int16(truncatingIfNeeded: split.exponent)
  }

  /// The position of element `i`.
  @inlinable @inline(__always)
  public func pointer(_ i: Int) -> HopperLanePointer {
    HopperLanePointer(values: values + i, exponents: exponents + i)
  }
}

/// A position in ``HopperLaneOperands``.
public struct HopperLanePointer {
  public var values: UnsafePointer<Float>
  public var exponents: UnsafePointer<Int16>

  @inlinable
  init(values: UnsafeMutablePointer<Float>, exponents: UnsafeMutablePointer<Int16>) {
    self.values = UnsafePointer(values)
    self.exponents = UnsafePointer(exponents)
  }
}

/// Which implementation runs the long chains of tensor-core steps: sixteen chains at once in AVX2
/// lanes (``HopperStep/laneChains(_:_:steps:acc:general:)``), or one step at a time in four SSE2
/// lanes (``HopperStep/callAsFunction(_:_:c:)``, the reference path). Both give the same bits.
public enum HopperStepPath: String, Sendable, CaseIterable {
  case avx2
  case sse2

  /// AVX2 when the CPU has it (with FMA3 and F16C, and the OS saving its state), else SSE2.
  public static let fastest: HopperStepPath = fn_hardware_avx2() != 0 ? .avx2 : .sse2
}

/// Sixteen chains at once (two AVX2 vectors of eight; the kernel and its derivation are in
/// CVectorShims' HopperLanes.c). Lane l holds one chain; the A operand is shared by all and each
/// step's sums run down the lanes. The arithmetic is that of the four-lane path
/// (``fp8Step(_:_:c:)``, ``halfStep(_:_:c:)``), so the bits are the same; a step in which some
/// lane's alignment point leaves [−99, 100] (NaN, infinite or extreme operands) is computed for
/// every lane by `general`.
extension HopperStep {
  /// Chains per call of ``laneChains(_:_:steps:acc:general:)``.
  public static let laneCount = 16

  /// `acc[l] ← step(A_j, B_l,j, C = acc[l])` for the steps j < `steps` in order, A_j the `k`
  /// operands at `a + j·k` and B_l,j at `b + 16·(j·k + i) + l`, i < k. `general(j, l, c)` returns
  /// step j of lane l from C = `c` by the general model. Only when ``HopperStepPath/fastest`` is
  /// `.avx2`.
  @inlinable
  public func laneChains(_ a: HopperLanePointer, _ b: HopperLanePointer, steps: Int, acc: inout SIMD16<UInt32>,
                         general: (_ step: Int, _ lane: Int, _ c: UInt32) -> UInt32) {
    let k = instruction.k
    var done = 0
    while done < steps {
      var outside: Int32 = 0
      let at = done * k
      let n = withUnsafeMutableBytes(of: &acc) { bytes in
        fn_hopper_lane_steps(a.values + at, a.exponents + at, b.values + 16 * at, b.exponents + 16 * at, steps - done, Int32(k),
                             bytes.baseAddress!.assumingMemoryBound(to: UInt32.self), &outside)
      }
      done += n
      if done == steps { break }
      for lane in 0..<16 { acc[lane] = general(done, lane, acc[lane]) }
      done += 1
    }
  }
}
