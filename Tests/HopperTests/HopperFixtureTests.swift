import Foundation
import NPY
import LowPrecision
import Hopper
import XCTest

/// Replays H100 tensor-core outputs (measured on an H100 with probe kernels, 2026-11-25) through
/// the models, bit for bit: targeted corner cases (alignment floor, truncation, carries,
/// subnormals, overflow, NaN, signed zeros) and 32 768 random e4m3 wgmma outputs.
final class HopperFixtureTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/h100-mma")

  func load(_ name: String) throws -> NPYArray {
    try NPYFile.read(Self.fixtures.appendingPathComponent(name + ".npy").path)
  }

  func codes(_ a: NPYArray) -> [UInt32] {
    a.uint8.map { $0.map(UInt32.init) } ?? a.uint16.map { $0.map(UInt32.init) } ?? a.uint32!
  }

  func names(_ stem: String) throws -> [String] {
    try String(contentsOf: Self.fixtures.appendingPathComponent(stem + ".names.txt"), encoding: .utf8)
      .split(separator: "\n").map(String.init)
  }

  func testTargetedCases() throws {
    for stem in ["cases2", "cases3"] {
      let labels = try names(stem)
      for (prefix, k, kernels) in [("bf", 16, [("wgmma", HopperInstruction.wgmmaBF16K16), ("mma", .mmaBF16K16)]),
                                   ("e4", 32, [("wgmma_ss", .wgmmaE4M3E4M3K32), ("wgmma_rs", .wgmmaE4M3E4M3K32), ("mma", .mmaE4M3K32)])] {
        let a = codes(try load("\(stem).\(prefix)_A")), b = codes(try load("\(stem).\(prefix)_B"))
        let c = codes(try load("\(stem).\(prefix)_C"))
        for (kernel, instruction) in kernels {
          let d = codes(try load("\(stem).D.\(prefix).\(kernel)"))
          for row in 0..<c.count {
            let got = instruction.dot(Array(a[row * k..<(row + 1) * k]), Array(b[row * k..<(row + 1) * k]), c: c[row])
            let label = labels.filter { $0.hasPrefix(prefix + ":") }[row]
            XCTAssertEqual(got, d[row], "\(stem) \(instruction.rawValue) [\(label)]: 0x\(String(got, radix: 16)) vs H100 0x\(String(d[row], radix: 16))")
          }
        }
      }
    }
  }

  func testRandomE4M3Tiles() throws {
    var checked = 0
    for form in ["rs_sd1", "rs_sd0", "ss_sd0"] {
      let a = try load("rand.\(form).A"), b = try load("rand.\(form).B")
      let c = codes(try load("rand.\(form).C")), d = codes(try load("rand.\(form).D"))
      let (tiles, m, k) = (a.shape[0], a.shape[1], a.shape[2])
      let n = b.shape[1]
      // scale-d = 0 ignores C: the same as C = +0.
      let accumulators = form.hasSuffix("sd0") ? [UInt32](repeating: 0, count: c.count) : c
      let got = HopperInstruction.wgmmaE4M3E4M3K32.tiles(a: codes(a), b: codes(b), c: accumulators, tiles: tiles, m: m, n: n, k: k)
      let mismatches = zip(got, d).filter { $0 != $1 }.count
      checked += got.count
      XCTAssertEqual(mismatches, 0, form)
    }
    XCTAssertEqual(checked, 32_768)
  }

  /// Neighbouring models must fail on the same data (the fixture distinguishes them).
  func testRejectedNeighboursDoNotMatch() throws {
    let a = codes(try load("rand.rs_sd1.A")), b = codes(try load("rand.rs_sd1.B")), c = codes(try load("rand.rs_sd1.C"))
    let d = codes(try load("rand.rs_sd1.D"))
    for (f, p) in [(14, 13), (12, 13), (13, 23)] {
      let model = TensorCoreBlock(aFormat: .e4m3fn, bFormat: .e4m3fn, alignedFractionBits: f, outputFractionBits: p)
      var matches = 0
      for index in 0..<d.count {
        let (t, i, j) = (index / 512, (index / 8) % 64, index % 8)
        let row = a[(t * 64 + i) * 32..<(t * 64 + i + 1) * 32], col = b[(t * 8 + j) * 32..<(t * 8 + j + 1) * 32]
        if model(row, col, c: c[index]) == d[index] { matches += 1 }
      }
      XCTAssertLessThan(matches, d.count * 9 / 10, "F = \(f), p_out = \(p) should not reproduce the H100")
    }
  }
}
