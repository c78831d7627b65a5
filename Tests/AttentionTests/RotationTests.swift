import Attention
import LowPrecision
import Precise
import XCTest

/// Incoherent processing: the rotation matrices against their closed forms and MPFR, the order
/// of signs and transform, and what the seed may and may not change.
final class RotationTests: XCTestCase {
  static let kinds: [Rotation] = [
    Rotation(.hadamard), Rotation(.randomHadamard), Rotation(.randomOrthogonal),
    Rotation(.randomHadamard, block: 16), Rotation(.randomOrthogonal, block: 32),
  ]

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

  /// `M = diag(s) · H / √b`: row i of M is `s_i` times row i of `H/√b` (the signs act on the
  /// input channels, before the transform), with the signs drawn from the seed.
  func testRandomHadamardIsSignsThenTransform() {
    for d in [64, 96, 128] {
      let r = Rotation(.randomHadamard), m = r.matrix(headDim: d, seed: 9), s = r.signs(headDim: d, seed: 9)
      let b = Hadamard.blockSize(headDim: d)
      XCTAssertTrue(s.contains(1) && s.contains(-1))
      for i in 0..<d { for j in 0..<d {
        let expected = i / b == j / b ? s[i] * Hadamard.entry(i % b, j % b) / Double(b).squareRoot() : 0
        XCTAssertEqual(m[i * d + j], expected, "(\(i), \(j))")
      } }
    }
    // Two seeds give rotations that differ by more than the signs of the rotated channels:
    // M₁ᵀ·M₂ is not a diagonal ±1 matrix (it would be if the signs came after the transform).
    let d = 64, r = Rotation(.randomHadamard)
    let a = r.matrix(headDim: d, seed: 1), c = r.matrix(headDim: d, seed: 2)
    var offDiagonal = 0.0
    for i in 0..<d { for j in 0..<d where i != j {
      offDiagonal = max(offDiagonal, abs((0..<d).reduce(0.0) { $0 + a[$1 * d + i] * c[$1 * d + j] }))
    } }
    XCTAssertGreaterThan(offDiagonal, 0.1)
  }

  /// `M · Mᵀ = I`, every entry computed exactly in MPFR: for Hadamard kinds the off-diagonal
  /// entries are exactly 0 and the diagonal is `b · fl(1/√b)²` (exactly 1 when b is a power of
  /// four); random orthogonal blocks are orthogonal to a few ulps. Blocks are block-diagonal.
  func testRotationIsOrthogonalInMPFR() {
    for d in [64, 96, 128, 192] {
      for r in Self.kinds where (r.block ?? 1) <= d {
        let m = r.matrix(headDim: d, seed: 42), b = r.blockSize(headDim: d)
        XCTAssertEqual(b, r.kind == .randomOrthogonal ? (r.block ?? d) : (r.block ?? (d == 96 ? 32 : d == 192 ? 64 : d)))
        let rows = (0..<d).map { i in Array(m[(i * d)..<((i + 1) * d)]) }
        for i in 0..<d { for j in i..<d {
          let dot = BigFloat.dot(rows[i], rows[j], precision: 256).value
          let deviation = abs(dot.double() - (i == j ? 1 : 0))
          if r.kind == .randomOrthogonal {
            XCTAssertLessThanOrEqual(deviation, 1e-14, "\(r.definition) d=\(d) (\(i), \(j))")
          } else if i != j {
            XCTAssertTrue(dot.isZero, "\(r.definition) d=\(d) (\(i), \(j)) = \(dot.double())")
          } else {
            XCTAssertLessThanOrEqual(deviation, b.trailingZeroBitCount % 2 == 0 ? 0 : 0x1p-51, "\(r.definition) d=\(d) diagonal \(i)")
          }
          if i / b != j / b { XCTAssertEqual(m[i * d + j], 0) }
        } }
      }
    }
  }

  func testFastRotationEqualsTheDenseMatrixBothWays() throws {
    for d in [48, 64, 96, 128] {
      let x = AttentionInputs.generate(AttentionShape(seqLenQ: 5, headDim: d), .paperOutliers, seed: UInt64(d)).q
      for r in Self.kinds + [Rotation(.randomHadamard, block: 16, target: .qkv)] where d % (r.block ?? 1) == 0 {
        let m = r.matrix(headDim: d, seed: 5)
        for transposed in [false, true] {
          let y = r.rotate(x, seed: 5, transposed: transposed)
          for row in 0..<x.rowCount { for c in 0..<d {
            let dense = (0..<d).reduce(0.0) { $0 + x.values[row * d + $1] * (transposed ? m[c * d + $1] : m[$1 * d + c]) }
            XCTAssertEqual(y.values[row * d + c], dense, accuracy: 1e-12, "\(r.definition) d=\(d)")
          } }
        }
        // Rotating back undoes the rotation (to rounding).
        let back = r.rotate(r.rotate(x, seed: 5), seed: 5, transposed: true)
        for (a, b) in zip(back.values, x.values) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b))) }
      }
    }
  }

  /// In exact arithmetic (MPFR, wide enough for every product and sum to be exact) the scores of
  /// rotated Q and K equal the unrotated ones exactly when `M·Mᵀ = I` exactly (Hadamard blocks of
  /// a power of four), and to the orthogonality error otherwise.
  func testRotatedScoresEqualUnrotatedScoresInExactArithmetic() {
    for (d, r) in [(64, Rotation(.randomHadamard)), (256, Rotation(.randomHadamard)), (64, Rotation(.hadamard)),
                   (128, Rotation(.randomHadamard, block: 16)), (128, Rotation(.randomHadamard)), (96, Rotation(.randomOrthogonal))] {
      let x = AttentionInputs.generate(AttentionShape(seqLenQ: 3, seqLenK: 4, headDim: d), .paperOutliers, seed: UInt64(d))
      let m = r.matrix(headDim: d, seed: 11)
      let columns = (0..<d).map { c in (0..<d).map { m[$0 * d + c] } }
      func rotatedExactly(_ row: [Double]) -> [BigFloat] { columns.map { BigFloat.dot(row, $0, precision: 512).value } }
      let exact = r.blockSize(headDim: d).trailingZeroBitCount % 2 == 0 && r.kind != .randomOrthogonal
      for i in 0..<3 { for j in 0..<4 {
        let q = Array(x.q.values[(i * d)..<((i + 1) * d)]), k = Array(x.k.values[(j * d)..<((j + 1) * d)])
        let plain = BigFloat.dot(q, k, precision: 2048).value
        let rq = rotatedExactly(q), rk = rotatedExactly(k)
        let rotated = BigFloat.sum(zip(rq, rk).map { BigFloat.multiply($0, $1, precision: 1100).value }, precision: 2048).value
        if exact {
          XCTAssertTrue(rotated == plain, "\(r.definition) d=\(d): \(rotated.double()) ≠ \(plain.double())")
        } else {
          let scale = zip(q, k).reduce(0.0) { $0 + abs($1.0) * abs($1.1) } + 1
          XCTAssertEqual(rotated.double(), plain.double(), accuracy: 1e-14 * scale * Double(d), "\(r.definition) d=\(d)")
        }
      } }
    }
  }

  /// Every rotating shipped scheme: one seed twice gives the same bits, two seeds give different
  /// FP8 outputs; every other shipped scheme gives the same bits for any seed.
  func testTheSeedChangesRotatingSchemesAndNothingElse() throws {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 64, headsQ: 2, headDim: 64), .sparseOutliers(probability: 0.01, outlierStd: 30), seed: 4)
    for s in AttentionScheme.shipped {
      func run(_ seed: UInt64) throws -> [Double] {
        try s.run(x, rotationSeed: seed, algorithm: .blocked(.flash2), options: AttentionOptions(threads: 1)).o.values
      }
      let one = try run(1)
      XCTAssertEqual(try run(1), one, s.name)
      if s.incoherentProcessing {
        XCTAssertTrue(s.rotation.isRandom, s.name)
        XCTAssertNotEqual(try run(2), one, "\(s.name): seeds 1 and 2 give the same bits")
      } else {
        XCTAssertEqual(try run(2), one, "\(s.name) does not rotate but depends on the seed")
      }
    }
    // The deterministic Hadamard transform does not depend on the seed either; random orthogonal does.
    var s = AttentionScheme.named("fa3-fp8-per-head")!
    s.rotation = Rotation(.hadamard)
    let h1 = try s.run(x, rotationSeed: 1, algorithm: .blocked(.flash2), options: AttentionOptions()).o.values
    XCTAssertEqual(try s.run(x, rotationSeed: 2, algorithm: .blocked(.flash2), options: AttentionOptions()).o.values, h1)
    s.rotation = Rotation(.randomOrthogonal, target: .qkv)
    let o1 = try s.run(x, rotationSeed: 1, algorithm: .blocked(.flash2), options: AttentionOptions()).o.values
    XCTAssertNotEqual(try s.run(x, rotationSeed: 2, algorithm: .blocked(.flash2), options: AttentionOptions()).o.values, o1)
  }

  /// Rotating V too and O back leaves exact attention unchanged (to rounding in `Double`).
  func testQKVRotationIsUndoneOnTheOutput() throws {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 20, seqLenK: 33, headsQ: 2, headDim: 96), .paperOutliers, seed: 8)
    let fp64 = AttentionScheme.named("fp64")!
    let plain = try fp64.run(x, rotationSeed: 0, algorithm: .naive, options: AttentionOptions()).o.values
    for r in [Rotation(.randomHadamard, target: .qkv), Rotation(.randomOrthogonal, target: .qkv)] {
      var s = fp64
      s.rotation = r
      let rotated = try s.run(x, rotationSeed: 3, algorithm: .naive, options: AttentionOptions()).o.values
      for (a, b) in zip(rotated, plain) { XCTAssertEqual(a, b, accuracy: 1e-12) }
      // V really was rotated: without restoring, the output is in the rotated basis.
      let raw = try EmulatedAttention.run(try s.prepare(x, rotationSeed: 3), plan: s.plan, algorithm: .naive).values
      XCTAssertGreaterThan(zip(raw, plain).map { abs($0 - $1) }.max()!, 1e-3)
    }
  }

  func testBadRotationsAreOneLineErrors() {
    XCTAssertThrowsError(try OrthogonalMatrix(size: 2, values: [1, 0, 0, 2], source: "r.npy", tolerance: 1e-6)) {
      XCTAssertTrue("\($0)".contains("not orthogonal"), "\($0)")
    }
    XCTAssertThrowsError(try OrthogonalMatrix(size: 2, values: [1, .nan, 0, 1], source: "r.npy", tolerance: 1e-6)) {
      XCTAssertTrue("\($0)".contains("non-finite"), "\($0)")
    }
    XCTAssertThrowsError(try OrthogonalMatrix(size: 2, values: [1, 0, 0], source: "r.npy", tolerance: 1e-6))
    let swap = try! OrthogonalMatrix(size: 2, values: [0, 1, 1, 0], source: "r.npy", tolerance: 0)
    XCTAssertThrowsError(try Rotation(.matrix(swap)).validate(headDim: 4)) { XCTAssertTrue("\($0)".contains("2×2 but the head dim is 4"), "\($0)") }
    XCTAssertThrowsError(try Rotation(.randomHadamard, block: 24).validate(headDim: 48))
    XCTAssertThrowsError(try Rotation(.randomOrthogonal, block: 5).validate(headDim: 48))
  }

  func testEveryFP8SchemeExistsWithAndWithoutRotation() {
    let names = Set(AttentionScheme.shipped.map(\.name))
    for s in AttentionScheme.shipped where s.precision == "fp8" {
      let base = s.incoherentProcessing ? String(s.name.dropLast(9)) : s.name
      XCTAssertTrue(names.contains(base) && names.contains(base + "-hadamard"), s.name)
      if s.incoherentProcessing { XCTAssertEqual(s.rotation, Rotation(.randomHadamard), s.name) }
    }
  }

  func testRotationReducesFP8ErrorOnOutliers() throws {
    // The FA3 paper's claim, at a size a test can afford: rotated FP8 is clearly more accurate.
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 512, headDim: 128), .paperOutliers, seed: 11)
    let truth = try EmulatedAttention.run(AttentionOperands(x), plan: .fp64, algorithm: .naive).values
    func rmse(_ name: String) throws -> Double {
      let s = AttentionScheme.named(name)!
      let o = try EmulatedAttention.run(try s.prepare(x, rotationSeed: 1), plan: s.plan,
                                        algorithm: .blocked(.hopperTiles(headDim: 128, fp8: true, causal: false)))
      return (zip(o.values, truth).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(truth.count)).squareRoot()
    }
    let with = try rmse("fa3-fp8-per-block-hadamard"), without = try rmse("fa3-fp8-per-block")
    XCTAssertLessThan(with * 1.25, without, "rotated \(with), not rotated \(without)")
  }
}
