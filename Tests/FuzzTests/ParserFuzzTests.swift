import Attention
import Experiments
import Foundation
import NPY
import TestSupport
import XCTest
import ZIPFoundation

/// Every parser of user files under mutated inputs (``Mutator``): each input is parsed or
/// refused with the parser's own error, never a trap, and what parses keeps the parser's
/// invariants (sizes within ``ResourceLimits``, a value that writes and reads back the same).
final class ParserFuzzTests: XCTestCase {
  static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Seeds")
  static let repository = Repository.root

  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("flashnum-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  func bytes(_ url: URL) throws -> [UInt8] { Array(try Data(contentsOf: url)) }

  /// Writes `input` to a file of this test and returns its path.
  func file(_ input: [UInt8], _ name: String) -> String {
    let path = directory.appendingPathComponent(name).path
    FileManager.default.createFile(atPath: path, contents: Data(input))
    return path
  }

  func testNPY() throws {
    let seeds = [
      NPYArray(shape: [3, 4], float32: (0..<12).map { Float($0) / 3 }),
      NPYArray(shape: [2, 2, 3], uint8: Array(0..<12)),
      NPYArray(shape: [], float64: [1.5]),
      NPYArray(shape: [0, 5], uint16: []),
      NPYArray(shape: [4], uint32: [1, 2, 3, 0xFFFF_FFFF]),
    ].map(NPYFile.serialize)
    let mutator = Mutator(seeds: seeds, dictionary: ["'descr'", "'<f4'", "'|u1'", "'<u2'", "'>f8'", "'fortran_order': True", "'shape': (", "(-1,)", ", ", "L"])
    var parsed = 0
    let n = try mutator.run("npy") { input, i in
      guard let array = try? NPYFile.parse(input) else { return }
      parsed += 1
      XCTAssertEqual(array.bytes.count, array.count * array.dtype.size, "case \(i)")
      XCTAssertEqual(try NPYFile.parse(NPYFile.serialize(array)), array, "case \(i): write and read back")
    }
    XCTAssertGreaterThan(n, 0)
    XCTAssertGreaterThan(parsed, 0, "some mutations stay valid")
  }

  func testExperimentFiles() throws {
    let quick = try bytes(Self.repository.appendingPathComponent("notebooks-data/experiments/quick-fp8.yaml"))
    let json = try bytes(Self.repository.appendingPathComponent("notebooks-data/experiments/kernel-vs-model.json"))
    let small = Array("""
      name: small
      schemes: [fp16, fa3-fp8-per-block-hadamard]
      algorithms: [blocked, naive]
      seq_len: [16, 32]
      head_dim: 16
      batch: [1, 2]
      heads: 2
      mask: [none, causal]
      distributions: [{kind: sparse-outliers, outlier_std: [3, 30]}, {kind: gaussian}]
      seeds: [0, 1]
      reference: {kind: mpfr, bits: 64}
      define_schemes:
        - {name: mine, base: fa3-fp8-per-head, format: e5m2}
      """.utf8)
    let mutator = Mutator(seeds: [quick, json, small], dictionary: Experiment.topKeys.map { "\n\($0): " } + [
      "&a [1, 2, 3, 4, 5, 6, 7, 8]", "*a", "!!binary", "{kind: ", "channel-outliers", "attention-sinks", "mpfr", "fp64",
      "blocked(64x64,reverse)", "fa3", "[", "]", "- ", ": ",
    ])
    var parsed = 0
    try mutator.run("experiment") { input, i in
      guard let text = String(bytes: input, encoding: .utf8), let e = try? Experiment.parse(text, file: "e.yaml") else { return }
      parsed += 1
      let count = try XCTUnwrap(e.pointCount, "case \(i)")
      XCTAssertLessThanOrEqual(count, ResourceLimits.gridPoints, "case \(i)")
      XCTAssertTrue(SweepResults.isValidName(e.name), "case \(i): name '\(e.name)'")
      for (b, n, h, d) in [(e.batches.max()!, e.seqLens.max()!, e.heads.max()!, e.headDims.max()!)] {
        XCTAssertNoThrow(try AttentionShape(batch: b, seqLenQ: n, headsQ: h, headDim: d).validate(), "case \(i)")
      }
    }
    XCTAssertGreaterThan(parsed, 0)
  }

  func testResultsFiles() throws {
    let csv = try bytes(Self.seeds.appendingPathComponent("results.csv"))
    let json = try bytes(Self.seeds.appendingPathComponent("results.json"))
    let mutator = Mutator(seeds: [csv, json], dictionary: SweepRow.leadingColumns + [",", "\"", "\n", "# experiment_name: ", "inf", "nan", "causal", "null", "\"rows\": ["])
    var parsed = 0
    try mutator.run("results") { input, i in
      // The same bytes as CSV and as JSON.
      for name in ["r.csv", "r.json"] {
        guard let results = try? SweepResults.read(file(input, name)) else { continue }
        parsed += 1
        for row in results.rows {
          for size in [row.batch, row.heads, row.seqLen, row.headDim] { XCTAssertTrue(SweepRow.sizes.contains(size), "case \(i)") }
        }
        let again = try SweepResults.readCSV(file(Array(results.csv().utf8), "again.csv"))
        XCTAssertEqual(again.rows.map(\.key), results.rows.map(\.key), "case \(i): CSV written and read back")
      }
    }
    XCTAssertGreaterThan(parsed, 0)
  }

  func testBaselines() throws {
    // Its scheme files made absolute: the mutants are written elsewhere.
    let shipped = Array(String(decoding: try bytes(Self.repository.appendingPathComponent("Reports/baselines/shipped-schemes.json")), as: UTF8.self)
      .replacingOccurrences(of: "\"../../notebooks-data/", with: "\"\(Self.repository.path)/notebooks-data/").utf8)
    let mutator = Mutator(seeds: [shipped], dictionary: ["\"entries\": []", "\"seq_len\": ", "\"metrics\": {}", "\"rmse\": ", "null", "\"seqLen\": 1, "])
    var parsed = 0
    try mutator.run("baseline") { input, i in
      guard let baseline = try? RegressionBaseline.load(file(input, "b.json")) else { return }
      parsed += 1
      XCTAssertFalse(baseline.entries.isEmpty, "case \(i)")
      XCTAssertEqual(try RegressionBaseline.load(file(Array(RegressionGate.encode(baseline)), "again.json")), baseline, "case \(i)")
    }
    XCTAssertGreaterThan(parsed, 0)
  }

  /// `.safetensors` files: header sizes, JSON, dtypes, shapes and offsets mutated.
  func testSafetensors() throws {
    func make(_ tensors: [(String, String, [Int], Int)]) -> [UInt8] {
      var entries: [String] = [], offset = 0
      for (name, dtype, shape, bytes) in tensors {
        entries.append("\"\(name)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": [\(offset), \(offset + bytes)]}")
        offset += bytes
      }
      let header = Array(("{\"__metadata__\": {\"format\": \"pt\"}, " + entries.joined(separator: ", ") + "}").utf8)
      return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + (0..<offset).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    }
    let seeds = [make([("q", "BF16", [1, 4, 2, 8], 128), ("k", "F32", [2, 3], 24)]), make([("x", "F8_E4M3", [5], 5)]), make([("y", "F16", [0, 3], 0)])]
    let mutator = Mutator(seeds: seeds, dictionary: ["\"dtype\": \"F64\"", "\"shape\": [", "\"data_offsets\": [0, ", "\"U16\"", "\"F8_E5M2\"", "-1", "18446744073709551615"])
    var parsed = 0
    try mutator.run("safetensors") { input, i in
      let path = file(input, "t.safetensors")
      for key in [nil, "q", "x"] as [String?] {
        guard let t = try? TensorFile.read(path + (key.map { ":" + $0 } ?? "")) else { continue }
        parsed += 1
        XCTAssertEqual(t.array.bytes.count, t.array.count * t.array.dtype.size, "case \(i)")
        XCTAssertLessThanOrEqual(t.array.count, ResourceLimits.tensorElements, "case \(i)")
      }
    }
    XCTAssertGreaterThan(parsed, 0)
  }

  /// `.npz` archives (stored and deflated) with their members' bytes and the zip structure mutated.
  func testNPZ() throws {
    var seeds: [[UInt8]] = []
    for (i, method) in [CompressionMethod.none, .deflate].enumerated() {
      let url = directory.appendingPathComponent("seed\(i).npz")
      let archive = try Archive(url: url, accessMode: .create)
      for (name, array) in [("q", NPYArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6])), ("k", NPYArray(shape: [4], uint16: [1, 2, 3, 4]))] {
        let bytes = Data(NPYFile.serialize(array))
        try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: method) { p, n in
          bytes.subdata(in: Int(p)..<Int(p) + n)
        }
      }
      seeds.append(try bytes(url))
    }
    let mutator = Mutator(seeds: seeds, dictionary: ["PK\u{03}\u{04}", "PK\u{01}\u{02}", "PK\u{05}\u{06}", "q.npy", "'shape': (", "\u{93}NUMPY"])
    var parsed = 0
    try mutator.run("npz") { input, i in
      let path = file(input, "t.npz")
      for key in ["q", "k"] {
        guard let t = try? TensorFile.read(path + ":" + key) else { continue }
        parsed += 1
        XCTAssertEqual(t.array.bytes.count, t.array.count * t.array.dtype.size, "case \(i)")
      }
    }
    XCTAssertGreaterThan(parsed, 0)
  }

  func testCrosscheckCases() throws {
    let cases = try bytes(Self.seeds.appendingPathComponent("cases.json"))
    let mutator = Mutator(seeds: [cases], dictionary: ["\"head_dim\": ", "\"kv_heads\": ", "\"element\": \"bf16\"", "\"seed\": -1", "{}", "null"])
    var parsed = 0
    try mutator.run("cases") { input, i in
      guard let list = try? decodeJSONFile([FA3Case].self, from: Data(input), path: "c.json", expected: "cases") else { return }
      for c in list where (try? c.validate()) != nil {
        parsed += 1
        XCTAssertNoThrow(try AttentionShape(batch: c.batch, seqLenQ: c.seqLenQ, seqLenK: c.seqLenK, headsQ: c.heads, headsKV: c.kvHeads,
                                            headDim: c.headDim).validate(), "case \(i)")
      }
    }
    XCTAssertGreaterThan(parsed, 0)
  }
}
