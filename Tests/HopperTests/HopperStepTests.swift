import Foundation
import NPY
import LowPrecision
import Hopper
import XCTest

/// The fast steps (scalar with strided B, and vector on split rows) against the general
/// ``TensorCoreBlock`` (which replays the H100 fixture).
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
      // Values 2^x·(1 + u), for products and C whose exponents sit at the edges of the vector
      // path's window (−99 ≤ top ≤ 100) and of FP32's range.
      let edges = [-127, -126, -113, -101, -100, -99, -98, 98, 99, 100, 101, 102, 127]
      func scaled(_ f: FloatFormat, _ exponent: Int) -> UInt32 {
        let v = Double(sign: rng.next() % 2 == 0 ? .plus : .minus, exponent: exponent, significand: 1 + Double(rng.next() % 1024) / 1024)
        return f.encode(v, Rounding(.towardZero, overflow: .saturate))
      }
      for trial in 0..<24_000 {
        let style = trial % 4
        let stride = 1 + trial % 3
        var a = (0..<k).map { _ in code(fa, style) }
        var bDense = (0..<k).map { _ in code(fb, style) }
        var edgeC: UInt32 = 0
        if style == 3 {
          // Half the products near an edge exponent (as far as the formats reach), the rest zero
          // or ordinary; C at an edge, zero, or subnormal.
          let target = edges[Int(rng.next() % UInt64(edges.count))]
          for i in 0..<k {
            switch rng.next() % 3 {
            case 0: a[i] = scaled(fa, target / 2); bDense[i] = scaled(fb, target - target / 2)
            case 1: a[i] = 0
            default: a[i] = code(fa, 2); bDense[i] = code(fb, 2)
            }
          }
          let fraction = UInt32(truncatingIfNeeded: rng.next()) & 0x7F_FFFF
          let sign = UInt32(rng.next() % 2) << 31
          switch rng.next() % 4 {
          case 0: edgeC = 0
          case 1: edgeC = sign | fraction  // subnormal
          default: edgeC = sign | UInt32(127 + max(target, -126)) << 23 | fraction
          }
        }
        var bStrided = [HopperOperand](repeating: step.bTable[0], count: k * stride)
        for i in 0..<k { bStrided[i * stride] = step.bTable[Int(bDense[i])] }
        let cChoices: [UInt32] = [0, 0x8000_0000, UInt32(truncatingIfNeeded: rng.next()), Float(Double.random(in: -8...8, using: &rng)).bitPattern,
                                  0x7F80_0000, 0x0000_0001]
        let c = style == 3 ? edgeC : cChoices[Int(rng.next() % UInt64(cChoices.count))]
        let expected = instruction.step(a[...], bDense[...], c: c)
        let aSplit = a.map { step.aTable[Int($0)] }
        let got = aSplit.withUnsafeBufferPointer { ap in
          bStrided.withUnsafeBufferPointer { bp in step(ap.baseAddress!, bp.baseAddress!, bStride: stride, c: c) }
        }
        if got != expected {
          XCTFail(String(format: "%@ trial %d: fast 0x%08x, general 0x%08x", instruction.rawValue, trial, got, expected))
          return
        }
        let aRows = HopperOperandRows(zeros: k, table: step.aTable), bRows = HopperOperandRows(zeros: k, table: step.bTable)
        for i in 0..<k {
          aRows.set(i, code: Int(a[i]), table: step.aTable)
          bRows.set(i, code: Int(bDense[i]), table: step.bTable)
        }
        let vector = step(aRows.pointer(0), bRows.pointer(0), c: c)
        if vector != expected {
          XCTFail(String(format: "%@ trial %d: vector 0x%08x, general 0x%08x", instruction.rawValue, trial, vector, expected))
          return
        }
      }
    }
  }
}

/// 512 random H100 outputs of each wgmma form (A and B from shared memory; the first 512 of the
/// 10^6 per form that `Scripts/h100_wgmma.sh` compared on the H100, all equal there), replayed
/// through the general model and the fast step.
final class HopperRandomFixtureTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/h100-wgmma-random")

  func testRandomWgmmaOutputsOfEveryForm() throws {
    let forms: [(String, HopperInstruction)] = [
      ("e4m3.e4m3", .wgmmaE4M3E4M3K32), ("e5m2.e5m2", .wgmmaE5M2E5M2K32), ("e4m3.e5m2", .wgmmaE4M3E5M2K32),
      ("e5m2.e4m3", .wgmmaE5M2E4M3K32), ("bf16", .wgmmaBF16K16), ("f16", .wgmmaF16K16),
    ]
    for (form, instruction) in forms {
      func load(_ x: String) throws -> NPYArray { try NPYFile.read(Self.fixtures.appendingPathComponent("\(form).\(x).npy").path) }
      let a = try load("a"), b = try load("b")
      let c = try XCTUnwrap(try load("c").uint32), d = try XCTUnwrap(try load("d").uint32)
      let k = instruction.k
      XCTAssertEqual(a.shape, [d.count, 1, k])
      let ac = a.uint8.map { $0.map(UInt32.init) } ?? a.uint16!.map(UInt32.init)
      let bc = b.uint8.map { $0.map(UInt32.init) } ?? b.uint16!.map(UInt32.init)
      let step = HopperStep(instruction)
      var general = 0, fast = 0, finite = 0
      for t in 0..<d.count {
        let x = Array(ac[(t * k)..<((t + 1) * k)]), y = Array(bc[(t * k)..<((t + 1) * k)])
        if instruction.dot(x, y, c: c[t]) == d[t] { general += 1 }
        let xs = x.map { step.aTable[Int($0)] }, ys = y.map { step.bTable[Int($0)] }
        let f = xs.withUnsafeBufferPointer { p in ys.withUnsafeBufferPointer { q in step(p.baseAddress!, q.baseAddress!, bStride: 1, c: c[t]) } }
        if f == d[t] { fast += 1 }
        if d[t] != TensorCoreBlock.nan { finite += 1 }
      }
      XCTAssertEqual(general, d.count, "\(form): general model")
      XCTAssertEqual(fast, d.count, "\(form): fast step")
      XCTAssertGreaterThan(finite, d.count / 2, "\(form): the fixture should be mostly non-NaN")
    }
  }
}

/// 16 random H200 tiles (2 048 outputs) of each FP8 `mma.sync.m16n8k16` form (the first of the
/// 4 096 tiles per form that `Scripts/mma_fp8_k16_random.py` compared on the H200, all equal
/// there), replayed through `HopperInstruction.tiles`; the k32 form's split of K would not do.
final class HopperMMAK16FixtureTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/h200-mma-fp8-k16")

  func testRandomMMASyncK16OutputsOfBothForms() throws {
    for (form, instruction) in [("e4m3", HopperInstruction.mmaE4M3K16), ("e5m2", .mmaE5M2K16)] {
      func load(_ x: String) throws -> NPYArray { try NPYFile.read(Self.fixtures.appendingPathComponent("\(form).\(x).npy").path) }
      let a = try load("a"), b = try load("b")
      let c = try XCTUnwrap(try load("c").uint32), d = try XCTUnwrap(try load("d").uint32)
      let tiles = a.shape[0]
      XCTAssertEqual(a.shape, [tiles, 16, 16])
      XCTAssertEqual(b.shape, [tiles, 8, 16])
      XCTAssertEqual(instruction.k, 16)
      let ac = try XCTUnwrap(a.uint8).map(UInt32.init), bc = try XCTUnwrap(b.uint8).map(UInt32.init)
      let got = instruction.tiles(a: ac, b: bc, c: c, tiles: tiles, m: 16, n: 8, k: 16)
      XCTAssertEqual(zip(got, d).filter { $0 != $1 }.count, 0, "\(form): outputs differ from the H200's")
      XCTAssertGreaterThan(d.filter { $0 != TensorCoreBlock.nan }.count, d.count / 2, "\(form): mostly non-NaN")
      // Splitting K in contiguous halves instead of k mod 4 must not reproduce them (the test can fail).
      var halves = 0
      for t in 0..<tiles { for i in 0..<16 { for j in 0..<8 {
        let row = Array(ac[((t * 16 + i) * 16)..<((t * 16 + i + 1) * 16)]), col = Array(bc[((t * 8 + j) * 16)..<((t * 8 + j + 1) * 16)])
        let fp16 = { (code: UInt32) in FloatFormat.fp16.encode(instruction.inputFormats.a.decode(code), Rounding(.nearestEven, overflow: .infinity)) }
        let block = TensorCoreBlock(aFormat: .fp16, bFormat: .fp16, alignedFractionBits: 25, outputFractionBits: 23)
        let p1 = block(row[0..<8].map(fp16), col[0..<8].map(fp16), c: 0)
        let p2 = block(row[8..<16].map(fp16), col[8..<16].map(fp16), c: p1)
        let sum = Float(bitPattern: c[(t * 16 + i) * 8 + j]) + Float(bitPattern: p2)
        if (sum.isNaN ? TensorCoreBlock.nan : sum.bitPattern) != d[(t * 16 + i) * 8 + j] { halves += 1 }
      } } }
      XCTAssertGreaterThan(halves, 0, "\(form): contiguous halves should differ somewhere")
    }
  }
}

/// The CUDA-core exp2 of FlashAttention-4 (`SoftwareExp2`): exact on integers, +0 below −127 and
/// for NaN, and within its polynomial's error of 2^x (measured here against `exp2` in Double).
final class SoftwareExp2Tests: XCTestCase {
  func testClosedFormsAndAccuracy() {
    for degree in SoftwareExp2.degrees {
      for n in -126...127 { XCTAssertEqual(SoftwareExp2.ex2(Float(n), degree: degree), Float(sign: .plus, exponent: n, significand: 1)) }
      XCTAssertEqual(SoftwareExp2.ex2(-.infinity, degree: degree).bitPattern, 0)
      XCTAssertEqual(SoftwareExp2.ex2(.nan, degree: degree).bitPattern, 0)
      XCTAssertEqual(SoftwareExp2.ex2(-500, degree: degree).bitPattern, 0)
    }
    var worst = [Int: Double]()
    var rng = SplitMix64(seed: 5)
    for _ in 0..<200_000 {
      let x = Float.random(in: -60...60, using: &rng)
      for degree in [1, 3, 5] {
        let e = abs(Double(SoftwareExp2.ex2(x, degree: degree)) / Foundation.exp2(Double(x)) - 1)
        worst[degree] = max(worst[degree] ?? 0, e)
      }
    }
    XCTAssertLessThan(worst[5]!, 1e-6)
    XCTAssertLessThan(worst[3]!, 2e-4)
    XCTAssertGreaterThan(worst[3]!, worst[5]!)
    XCTAssertGreaterThan(worst[1]!, 1e-3, "degree 1 is a coarse fit")
  }
}
