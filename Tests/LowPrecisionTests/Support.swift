import CLibCrypto
import Dispatch
import Foundation
import LowPrecision

/// SHA-256 of `bytes` (OpenSSL's libcrypto).
func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
  var digest = [UInt8](repeating: 0, count: 32)
  _ = SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &digest)
  return digest
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// Runs `body(i)` for i in 0..<count on all cores and returns the results in index order.
func parallelMap<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
  let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
  results.initialize(repeating: nil)
  defer { results.deallocate() }
  nonisolated(unsafe) let r = results
  DispatchQueue.concurrentPerform(iterations: count) { i in r[i] = body(i) }
  return results.map { $0! }
}

/// Whether the long, opt-in sweeps run (`FLASHNUM_EXHAUSTIVE=1`).
var exhaustiveSweeps: Bool { ProcessInfo.processInfo.environment["FLASHNUM_EXHAUSTIVE"] == "1" }

/// The deterministic generator for test inputs.
typealias TestRandom = SplitMix64
