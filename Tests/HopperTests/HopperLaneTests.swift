import LowPrecision
import Hopper
import XCTest

/// The lane chains (AVX2, ``HopperStep/laneCount`` at once) against the general model chained step by step
/// (``HopperInstruction/dot(_:_:c:)``), on chains whose steps mix ordinary blocks, zeros and
/// subnormals, specials, and products or C at the edges of the vector window.
final class HopperLaneTests: XCTestCase {
  func testLaneChainsEqualGeneralModel() throws {
    try XCTSkipUnless(HopperStepPath.fastest == .avx2, "this CPU has no AVX2: the eight-lane path is never taken")
    var rng = SplitMix64(seed: 23)
    let instructions: [HopperInstruction] = [.wgmmaE4M3E4M3K32, .wgmmaE5M2E5M2K32, .wgmmaE4M3E5M2K32, .wgmmaE5M2E4M3K32,
                                             .wgmmaBF16K16, .wgmmaF16K16]
    let edges = [-127, -126, -113, -101, -100, -99, -98, 98, 99, 100, 101, 102, 127]
    for instruction in instructions {
      let step = HopperStep(instruction)
      let (fa, fb) = instruction.inputFormats
      let k = instruction.k
      func code(_ f: FloatFormat, _ style: UInt64, edge: Int) -> UInt32 {
        let all = UInt32(1) << UInt32(f.bitWidth)
        switch style {
        case 0: return UInt32(rng.next() % UInt64(all))  // anything, specials included
        case 1: return UInt32(rng.next() % 8) | (UInt32(rng.next() % 2) << UInt32(f.bitWidth - 1))  // zeros and subnormals
        case 2: return f.encode(Double.random(in: -2...2, using: &rng), Rounding(.nearestEven, overflow: .saturate))
        default:  // near an edge exponent, as far as the format reaches
          let v = Double(sign: rng.next() % 2 == 0 ? .plus : .minus, exponent: edge, significand: 1 + Double(rng.next() % 1024) / 1024)
          return f.encode(v, Rounding(.towardZero, overflow: .saturate))
        }
      }
      var fallbacks = 0, pureLaneTrials = 0
      for trial in 0..<3_000 {
        let steps = 1 + trial % 4
        // A shared by the lanes; each step's block has one style for A and one per lane for B.
        let L = HopperStep.laneCount
        var a = [UInt32](), b = [[UInt32]](repeating: [], count: L)
        for _ in 0..<steps {
          // Ordinary blocks are the common case: most steps stay in the window.
          let style = rng.next() % 8 < 5 ? 2 : rng.next() % 4
          let edge = edges[Int(rng.next() % UInt64(edges.count))]
          a += (0..<k).map { _ in code(fa, style, edge: edge / 2) }
          for lane in 0..<L {
            let laneStyle = rng.next() % 16 == 0 ? rng.next() % 4 : style
            b[lane] += (0..<k).map { _ in code(fb, laneStyle, edge: edge - edge / 2) }
          }
        }
        let cChoices: [UInt32] = [0, 0x8000_0000, UInt32(truncatingIfNeeded: rng.next()), Float(Double.random(in: -8...8, using: &rng)).bitPattern,
                                  0x7F80_0000, 0x0000_0001, UInt32(127 + edges[Int(rng.next() % UInt64(edges.count))]) << 23]
        let c = (0..<L).map { _ in rng.next() % 4 == 0 ? cChoices[Int(rng.next() % UInt64(cChoices.count))] : 0 }
        let expected = (0..<L).map { instruction.dot(a, b[$0], c: c[$0]) }
        let aLanes = HopperOperandRows(zeros: a.count, table: step.aTable, codes: false)
        let bLanes = HopperOperandRows(zeros: L * a.count, table: step.bTable, codes: false)
        for i in 0..<a.count {
          aLanes.set(i, code: Int(a[i]), table: step.aTable)
          for lane in 0..<L { bLanes.set(L * i + lane, code: Int(b[lane][i]), table: step.bTable) }
        }
        var acc = SIMD16<UInt32>(c)
        let before = fallbacks
        step.laneChains(aLanes.lanePointer(0), bLanes.lanePointer(0), steps: steps, acc: &acc) { j, lane, c in
          fallbacks += 1
          return instruction.step(a[(j * k)..<((j + 1) * k)], b[lane][(j * k)..<((j + 1) * k)], c: c)
        }
        if fallbacks == before { pureLaneTrials += 1 }
        for lane in 0..<L where acc[lane] != expected[lane] {
          XCTFail(String(format: "%@ trial %d lane %d: lanes 0x%08x, general 0x%08x", instruction.rawValue, trial, lane, acc[lane], expected[lane]))
          return
        }
      }
      // Both branches ran: whole chains in the lanes, and steps through the general model.
      XCTAssertGreaterThan(fallbacks, 0, "\(instruction): no step left the window")
      XCTAssertGreaterThan(pureLaneTrials, 300, "\(instruction): chains that never leave the lanes")
    }
  }
}
