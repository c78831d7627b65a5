import LowPrecision
import CVectorShims

/// A position in ``HopperOperandRows`` for the lane chains (``HopperOperandRows/lanePointer(_:)``).
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
  /// operands at `a + j·k` and B_l,j at `b + laneCount·(j·k + i) + l`, i < k. `general(j, l, c)` returns
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
        fn_hopper_lane_steps(a.values + at, a.exponents + at, b.values + Self.laneCount * at, b.exponents + Self.laneCount * at, steps - done, Int32(k),
                             bytes.baseAddress!.assumingMemoryBound(to: UInt32.self), &outside)
      }
      done += n
      if done == steps { break }
      for lane in 0..<Self.laneCount { acc[lane] = general(done, lane, acc[lane]) }
      done += 1
    }
  }
}
