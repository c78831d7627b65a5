import Attention
import XCTest

final class IncoherentProcessingTests: XCTestCase {
  func testFastTransformEqualsTheDenseMatrix() {
    for d in [1, 2, 8, 64, 128, 256] {
      let x = (0..<d).map { Double($0 % 7) - 3 + 0.125 * Double($0) }
      var y = x
      y.withUnsafeMutableBufferPointer { Hadamard.transform($0.baseAddress!, count: d) }
      for i in 0..<d {
        let dense = (0..<d).reduce(0.0) { $0 + Hadamard.entry(i, $1) * x[$1] }
        XCTAssertEqual(y[i], dense, accuracy: 1e-9)
      }
    }
  }

  func testRotationIsOrthogonalIncludingBlockDiagonalHeadDims() {
    for d in [64, 96, 128, 192] {
      let m = IncoherentProcessing(seed: 42).matrix(headDim: d)
      let b = Hadamard.blockSize(headDim: d)
      XCTAssertEqual(b, d == 96 ? 32 : (d == 192 ? 64 : d))
      for i in 0..<d { for j in 0..<d {
        let dot = (0..<d).reduce(0.0) { $0 + m[i * d + $1] * m[j * d + $1] }
        XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-13)
      } }
    }
  }

  func testRotatedScoresEqualOriginalScores() throws {
    for d in [64, 96, 128, 192, 256] {
      let x = AttentionInputs.generate(AttentionShape(seqLenQ: 9, seqLenK: 11, headDim: d), .fa3, seed: UInt64(d))
      let rotation = IncoherentProcessing(seed: 5)
      let r = rotation.apply(x)
      XCTAssertEqual(r.v, x.v)
      // Rows really change (outliers are spread).
      XCTAssertNotEqual(r.q.values, x.q.values)
      for i in 0..<9 { for j in 0..<11 {
        var s = 0.0, t = 0.0, scale = 0.0
        for c in 0..<d {
          s += x.q.values[x.q.index(0, i, 0, c)] * x.k.values[x.k.index(0, j, 0, c)]
          t += r.q.values[r.q.index(0, i, 0, c)] * r.k.values[r.k.index(0, j, 0, c)]
          scale += abs(x.q.values[x.q.index(0, i, 0, c)] * x.k.values[x.k.index(0, j, 0, c)])
        }
        XCTAssertEqual(s, t, accuracy: 1e-14 * scale * Double(d))
      } }
      // Rotating by the dense matrix gives the same rows.
      let m = rotation.matrix(headDim: d)
      for c in 0..<d {
        let dense = (0..<d).reduce(0.0) { $0 + x.q.values[x.q.index(0, 2, 0, $1)] * m[$1 * d + c] }
        XCTAssertEqual(r.q.values[r.q.index(0, 2, 0, c)], dense, accuracy: 1e-12)
      }
    }
  }

  func testEveryFP8SchemeExistsWithAndWithoutRotation() {
    let names = Set(AttentionScheme.shipped.map(\.name))
    for s in AttentionScheme.shipped where s.precision == "fp8" {
      let base = s.incoherentProcessing ? String(s.name.dropLast(9)) : s.name
      XCTAssertTrue(names.contains(base) && names.contains(base + "-hadamard"), s.name)
    }
  }

  func testRotationReducesFP8ErrorOnOutliers() throws {
    // The FA3 paper's claim, at a size a test can afford: rotated FP8 is clearly more accurate.
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 512, headDim: 128), .fa3, seed: 11)
    let truth = try EmulatedAttention.run(AttentionOperands(x), plan: .fp64, algorithm: .naive).values
    func rmse(_ name: String) throws -> Double {
      let s = AttentionScheme.named(name)!
      let o = try EmulatedAttention.run(try s.prepare(x, seed: 1), plan: s.plan,
                                        algorithm: .blocked(.flash3(headDim: 128, fp8: true, causal: false)))
      return (zip(o.values, truth).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(truth.count)).squareRoot()
    }
    let with = try rmse("fa3-fp8-per-block-hadamard"), without = try rmse("fa3-fp8-per-block")
    XCTAssertLessThan(with * 1.25, without, "rotated \(with), not rotated \(without)")
  }
}
