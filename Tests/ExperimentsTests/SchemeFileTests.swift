import Attention
import Experiments
import Foundation
import LowPrecision
import Measurement
import NPY
import TestSupport
import XCTest

/// Scheme files: the shipped schemes written as files read back to the same definitions (and
/// the committed `schemes/` files are those texts), a mixed-precision scheme equals the same
/// scheme built in code, and every mistake is one line naming the file, line and key.
final class SchemeFileTests: XCTestCase {
  static let repository = Repository.root

  func testShippedSchemesRoundTripAndTheCommittedFilesAreTheirs() throws {
    for s in AttentionScheme.shipped {
      let text = SchemeFile.text(for: s)
      let back = try SchemeFile.parse(text, file: "\(s.name).yaml", shippedNames: true)
      XCTAssertEqual(back.count, 1)
      XCTAssertEqual(back[0].definition, s.definition, s.name)
      XCTAssertEqual(back[0].name, s.name)
      XCTAssertEqual(back[0].summary, s.summary)
      // Summaries with line breaks, tabs, quotes and backslashes read back unchanged too.
      var odd = s
      odd.summary = "two\nlines\r\twith \"quotes\" and \\ backslash"
      XCTAssertEqual(try SchemeFile.parse(SchemeFile.text(for: odd), file: "odd.yaml", shippedNames: true)[0].summary, odd.summary)
      let committed = try String(contentsOf: Self.repository.appendingPathComponent("schemes/\(s.name).yaml"), encoding: .utf8)
      XCTAssertEqual(committed, text, "schemes/\(s.name).yaml is stale: flashnum schemes --out-dir schemes")
    }
    let files = try FileManager.default.contentsOfDirectory(atPath: Self.repository.appendingPathComponent("schemes").path)
    XCTAssertEqual(Set(files.filter { $0.hasSuffix(".yaml") }), Set(AttentionScheme.shipped.map { "\($0.name).yaml" }))
  }

  func testMixedPrecisionSchemeEqualsTheSameSchemeInCode() throws {
    let yaml = """
      name: q16-kv8
      plan: fa3-fp8
      format: e4m3fn
      scaling: per-head
      q: {format: bf16, scaling: none}
      v: {scaling: per-token, rounding: toward-zero}
      rotation: {kind: hadamard, block: 16}
      """
    let s = try XCTUnwrap(SchemeFile.parse(yaml, file: "q16.yaml").first)
    let manual = AttentionScheme(
      name: "x", summary: "", precision: "bf16", q: QuantizationScheme(format: .rne(.bf16)),
      k: QuantizationScheme(format: .rne(.e4m3fn, overflow: .saturate), granularity: .perHead),
      v: QuantizationScheme(format: .low(.e4m3fn, Rounding(.towardZero, overflow: .saturate)), granularity: .perToken),
      rotation: Rotation(.hadamard, block: 16), plan: .flashFP8)
    XCTAssertEqual(s.definition, manual.definition)
    let inputs = AttentionInputs.generate(AttentionShape(seqLenQ: 40, headsQ: 2, headDim: 32), .paperOutliers, seed: 3)
    let options = AttentionOptions()
    let a = try s.run(inputs, rotationSeed: 3, algorithm: .blocked(.flash2), options: options)
    let b = try manual.run(inputs, rotationSeed: 3, algorithm: .blocked(.flash2), options: options)
    XCTAssertEqual(a.o.values, b.o.values)
    // The rotation block matters, and Q is really bf16 (not e4m3): changing either changes the output.
    var wholeBlock = manual
    wholeBlock.rotation.block = nil
    XCTAssertNotEqual(try wholeBlock.run(inputs, rotationSeed: 3, algorithm: .blocked(.flash2), options: options).o.values, a.o.values)
    var q8 = manual
    q8.q = manual.k
    XCTAssertNotEqual(try q8.run(inputs, rotationSeed: 3, algorithm: .blocked(.flash2), options: options).o.values, a.o.values)
    XCTAssertNotEqual(s.definitionFingerprint, wholeBlock.definitionFingerprint)
  }

  func testMistakesAreOneLineWithFileLineAndKey() {
    let cases: [(String, String)] = [
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nscalling: per-head\n", "a.yaml:4: scalling: unknown key 'scalling'"),
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nq: {format: e3m3}\n", "a.yaml:4: q.format: unknown format 'e3m3'"),
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nrandom_bits: 8\n", "random_bits: applies to rounding stochastic only"),
      ("name: a\nformat: e4m3fn\nplan: {score_format: {format: bf16, rounding: stochastic}}\n", "this stage cannot round stochastically"),
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nrotation: {kind: hadamard, block: 24}\n", "a.yaml:4: rotation.block: a Hadamard block is a power of two"),
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nscaling: per-head\nscale_block: 16\n", "scale_block: applies to scaling nvfp4 only"),
      ("name: a\nplan: fa3-fp8\nk: {format: e4m3fn}\n", "missing key 'format' for q"),
      ("name: a\nformat: e4m3fn\n", "missing key 'plan'"),
      ("name: fp16\nbase: fp16\n", "scheme 'fp16' is already defined"),
      ("name: a b\nbase: fp16\n", "no spaces"),
      ("name: a\nplan: fp32\nformat: e2m1\noverflow: nan\n", "has no NaN"),
      ("name: a\nplan: {softmax_scaling: sideways}\nformat: bf16\n", "plan.softmax_scaling: 'sideways' is not allowed"),
      ("schemes: [{name: a, base: fp16}, {name: a, base: bf16}]\n", "scheme 'a' is already defined"),
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nscaling: per-channel\nscale_rule: amax\n", "a.yaml:5: scale_rule: per-channel scales are powers of two"),
      ("name: a\nplan: fa3-fp8\nformat: e4m3fn\nscaling: mx\nscale_rule: amax-pow2\n", "a.yaml:5: scale_rule: applies to the per-tensor"),
    ]
    for (text, says) in cases {
      XCTAssertThrowsError(try SchemeFile.parse(text, file: "a.yaml"), says) { error in
        XCTAssertTrue("\(error)".contains(says), "\(error) does not say \(says)")
        XCTAssertFalse("\(error)".contains("\n"), "one line")
      }
    }
  }

  /// Rotations as data: every kind by name, blocks, V rotated too, and a matrix file read
  /// relative to the scheme file, checked orthogonal; each survives the round trip through text.
  func testRotationsAsData() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rotations-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    // A 32×32 orthogonal matrix with no Hadamard structure: a random orthogonal block, stored as float64.
    let d = 32
    let r = Rotation(.randomOrthogonal).matrix(headDim: d, seed: 77)
    try NPYFile.write(NPYArray(shape: [d, d], float64: r), to: folder.appendingPathComponent("r.npy").path)
    try NPYFile.write(NPYArray(shape: [d, d], float32: r.map(Float.init)), to: folder.appendingPathComponent("r32.npy").path)
    var bad = r
    bad[5] += 1e-3
    try NPYFile.write(NPYArray(shape: [d, d], float64: bad), to: folder.appendingPathComponent("bad.npy").path)
    try NPYFile.write(NPYArray(shape: [d, 2 * d], float64: r + r), to: folder.appendingPathComponent("wide.npy").path)
    try NPYFile.write(NPYArray(shape: [1025, 1025], float32: [Float](repeating: 0, count: 1025 * 1025)), to: folder.appendingPathComponent("wide1025.npy").path)
    XCTAssertTrue(FileManager.default.createFile(atPath: folder.appendingPathComponent("huge.npy").path, contents: nil))
    let huge = try FileHandle(forWritingTo: folder.appendingPathComponent("huge.npy"))
    try huge.truncate(atOffset: 16 << 20)   // larger than any 1024×1024 float64 matrix, never read
    try huge.close()
    var nan = r
    nan[7] = .nan
    try NPYFile.write(NPYArray(shape: [d, d], float64: nan), to: folder.appendingPathComponent("nan.npy").path)
    let file = folder.appendingPathComponent("s.yaml").path
    func parse(_ rotation: String) throws -> AttentionScheme {
      try SchemeFile.parse("name: a\nbase: fa3-fp8-per-head\nrotation: \(rotation)\n", file: file)[0]
    }
    XCTAssertEqual(try parse("none").rotation, .none)
    XCTAssertEqual(try parse("hadamard").rotation, Rotation(.hadamard))
    XCTAssertEqual(try parse("random-hadamard").rotation, Rotation(.randomHadamard))
    XCTAssertEqual(try parse("random-orthogonal").rotation, Rotation(.randomOrthogonal))
    XCTAssertEqual(try parse("{kind: random-hadamard, block: 16, rotate: qkv}").rotation, Rotation(.randomHadamard, block: 16, target: .qkv))
    XCTAssertEqual(try parse("{kind: random-orthogonal, block: 24}").rotation, Rotation(.randomOrthogonal, block: 24))
    let fromFile = try parse("r.npy")
    guard case .matrix(let m) = fromFile.rotation.kind else { return XCTFail("not a matrix rotation") }
    XCTAssertEqual(m.values, r)
    XCTAssertEqual(try parse("{kind: matrix, file: r32.npy, rotate: qkv}").rotation.target, .qkv)
    // The matrix rotation runs as the same rotation in code, and different matrices are different definitions.
    let inputs = AttentionInputs.generate(AttentionShape(seqLenQ: 24, headDim: d), .paperOutliers, seed: 1)
    var manual = AttentionScheme.named("fa3-fp8-per-head")!
    manual.rotation = Rotation(.randomOrthogonal)
    XCTAssertEqual(try fromFile.run(inputs, rotationSeed: 5, algorithm: .naive, options: AttentionOptions()).o.values,
                   try manual.run(inputs, rotationSeed: 77, algorithm: .naive, options: AttentionOptions()).o.values)
    XCTAssertNotEqual(try parse("r32.npy").definition, fromFile.definition)
    for s in [try parse("{kind: random-hadamard, block: 16, rotate: qkv}"), fromFile] {
      let back = try SchemeFile.parse(SchemeFile.text(for: s), file: file)[0]
      XCTAssertEqual(back.definition, s.definition)
    }
    // Bad rotations: one line naming the file and the problem.
    let cases: [(String, String)] = [
      ("bad.npy", "not orthogonal"), ("nan.npy", "non-finite"), ("wide.npy", "square d×d matrix"), ("missing.npy", "missing.npy"),
      ("{kind: matrix, file: bad.npy, tolerance: 1e-2}", ""), ("{kind: matrix, file: r.npy, tolerance: -1}", "must be in [0, 1)"),
      ("sideways", "unknown rotation 'sideways'"), ("{kind: hadamard, block: 24}", "a Hadamard block is a power of two"),
      ("{kind: matrix}", "needs key 'file'"), ("{kind: hadamard, rotate: qv}", "'qv' is not allowed"),
      ("{kind: random-hadamard, file: r.npy}", "applies to kind matrix only"),
      ("{kind: none, rotate: qkv}", "kind none rotates nothing"), ("{kind: matrix, file: ''}", "give the path"),
      ("wide1025.npy", "at most 1024×1024"), ("huge.npy", "more than a rotation matrix"),
    ]
    for (text, says) in cases {
      if says.isEmpty { XCTAssertNoThrow(try parse(text), text); continue }
      XCTAssertThrowsError(try parse(text), text) { error in
        XCTAssertTrue("\(error)".contains(says), "\(error) does not say \(says)")
        XCTAssertTrue("\(error)".hasPrefix(file), "\(error) names the scheme file")
        XCTAssertFalse("\(error)".contains("\n"), "one line")
      }
    }
    // A matrix of another size than the head dim: refused when the scheme meets the inputs.
    XCTAssertThrowsError(try fromFile.run(AttentionInputs.generate(AttentionShape(seqLenQ: 4, headDim: 64), .paperOutliers, seed: 1),
                                          rotationSeed: 0, algorithm: .naive, options: AttentionOptions())) {
      XCTAssertTrue("\($0)".contains("32×32 but the head dim is 64"), "\($0)")
    }
  }

  /// P rounded stochastically: the same bits for any thread count, other bits for another seed,
  /// and unbiased — the mean over seeds is much closer to P in FP32 than one seed is.
  func testStochasticProbabilities() throws {
    let yaml = """
      name: sr-p
      format: bf16
      plan: {base: flash-bf16, probability_format: {format: e4m3fn, rounding: stochastic, random_bits: 12, seed: SEED}}
      """
    func scheme(_ seed: Int) throws -> AttentionScheme { try SchemeFile.parse(yaml.replacingOccurrences(of: "SEED", with: "\(seed)"), file: "sr.yaml")[0] }
    let s = try scheme(1)
    XCTAssertTrue(s.plan.stochasticProbabilities)
    XCTAssertEqual(try SchemeFile.parse(SchemeFile.text(for: s), file: "again.yaml")[0].definition, s.definition)
    XCTAssertTrue(s.definition.contains("P seed 1"))
    let inputs = AttentionInputs.generate(AttentionShape(seqLenQ: 48, headsQ: 2, headDim: 32), .gaussian(std: 1), seed: 9)
    func run(_ s: AttentionScheme, threads: Int) throws -> [Double] {
      try s.run(inputs, rotationSeed: 0, algorithm: .blocked(.flash2), options: AttentionOptions(threads: threads)).o.values
    }
    let one = try run(s, threads: 1)
    XCTAssertEqual(try run(s, threads: 3), one)
    XCTAssertNotEqual(try run(try scheme(2), threads: 1), one)
    var exact = s
    exact.plan.probabilityFormat = .fp32
    let target = try run(exact, threads: 1)
    var mean = [Double](repeating: 0, count: one.count)
    for seed in 1...32 { for (i, v) in try run(try scheme(seed), threads: 2).enumerated() { mean[i] += v / 32 } }
    func distance(_ a: [Double]) -> Double { zip(a, target).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() }
    XCTAssertLessThan(distance(mean), distance(one) / 3)
  }

  func testTheResearchSchemeFileRunsInSweepAndRegress() throws {
    // The committed mixed-precision schemes, as an experiment and the shipped baseline use them.
    let schemes = try SchemeFile.load(Self.repository.appendingPathComponent("notebooks-data/schemes/bf16q-fp8kv.yaml").path)
    XCTAssertEqual(schemes.map(\.name), ["bf16q-fp8kv", "bf16q-fp8kv-channel", "bf16q-fp8kv-stochastic"])
    XCTAssertEqual(schemes[0].q.format, .rne(.bf16))
    XCTAssertEqual(schemes[0].k.granularity, .perHead)
    let e = try Experiment.load(Self.repository.appendingPathComponent("notebooks-data/experiments/bf16q-fp8kv.yaml").path)
    XCTAssertTrue(e.schemes.contains { $0.name == "bf16q-fp8kv" })
    XCTAssertGreaterThanOrEqual(e.seeds.count, 3)
    let baseline = try RegressionBaseline.load(Self.repository.appendingPathComponent("Reports/baselines/shipped-schemes.json").path)
    XCTAssertTrue(baseline.entries.contains { $0.scheme == "bf16q-fp8kv" })
  }
}
