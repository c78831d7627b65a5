import LowPrecision
import MatrixMultiply
import XCTest

/// The fast step against the general ``TensorCoreBlock`` (which replays the H100 fixture).
final class HopperStepTests: XCTestCase {
  func testFastStepEqualsGeneralModel() {
    var rng = SplitMix64(seed: 11)
    let instructions: [HopperInstruction] = [.wgmmaE4M3E4M3K32, .wgmmaE5M2E5M2K32, .wgmmaE4M3E5M2K32, .wgmmaE5M2E4M3K32,
                                             .wgmmaBF16K16, .wgmmaF16K16]
    for instruction in instructions {
      let step = HopperStep(instruction)
      let (fa, fb) = instruction.inputFormats
      let k = instruction.k
      func code(_ f: FloatFormat, _ style: Int) -> UInt32 {
        let all = UInt32(1) << UInt32(f.bitWidth)
        switch style {
        case 0: return UInt32(rng.next() % UInt64(all))  // anything, specials included
        case 1: return UInt32(rng.next() % 8) | (UInt32(rng.next() % 2) << UInt32(f.bitWidth - 1))  // zeros and subnormals
        default: // values near one binade, for cancellation and carries
          return f.encode(Double.random(in: -2...2, using: &rng), Rounding(.nearestEven, overflow: .saturate))
        }
      }
      for trial in 0..<20_000 {
        let style = trial % 3
        let stride = 1 + trial % 3
        let a = (0..<k).map { _ in code(fa, style) }
        let bDense = (0..<k).map { _ in code(fb, style) }
        var bStrided = [HopperOperand](repeating: step.bTable[0], count: k * stride)
        for i in 0..<k { bStrided[i * stride] = step.bTable[Int(bDense[i])] }
        let cChoices: [UInt32] = [0, 0x8000_0000, UInt32(truncatingIfNeeded: rng.next()), Float(Double.random(in: -8...8, using: &rng)).bitPattern,
                                  0x7F80_0000, 0x0000_0001]
        let c = cChoices[Int(rng.next() % UInt64(cChoices.count))]
        let expected = instruction.step(a[...], bDense[...], c: c)
        let aSplit = a.map { step.aTable[Int($0)] }
        let got = aSplit.withUnsafeBufferPointer { ap in
          bStrided.withUnsafeBufferPointer { bp in step(ap.baseAddress!, bp.baseAddress!, bStride: stride, c: c) }
        }
        if got != expected {
          XCTFail(String(format: "%@ trial %d: fast 0x%08x, general 0x%08x", instruction.rawValue, trial, got, expected))
          return
        }
      }
    }
  }
}
