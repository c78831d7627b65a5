import Measurement
import Experiments
import Attention
import Foundation
import LowPrecision
import Reference
import XCTest

/// Experiment files: parsing (YAML and JSON alike), grids, and one-line errors for bad input.
final class ExperimentTests: XCTestCase {
  static let yaml = """
    name: tiny
    schemes: [fp16, fa3-fp8-per-head, mine]
    algorithms: [naive, blocked-hopper-tiles]
    seq_len: [16, 40]
    head_dim: 32
    mask: [none, causal]
    distributions:
      - gaussian
      - {kind: sparse-outliers, probability: 0.01, outlier_std: [5, 50]}
    seeds: [3, 4]
    metrics: [rmse, max_abs, sqnr_db]
    reference: {kind: fp64}
    define_schemes:
      - {name: mine, base: fa3-fp8-per-head, format: e5m2, scaling: per-block, block_rows: 8, incoherent_processing: true}
    """

  func testYAMLAndJSONDescribeTheSameGrid() throws {
    let a = try Experiment.parse(Self.yaml, file: "tiny.yaml")
    let json = """
      {"name": "tiny", "schemes": ["fp16", "fa3-fp8-per-head", "mine"], "algorithms": ["naive", "blocked-hopper-tiles"],
       "seq_len": [16, 40], "head_dim": [32], "mask": ["none", "causal"],
       "distributions": ["gaussian", {"kind": "sparse-outliers", "probability": 0.01, "outlier_std": [5, 50]}],
       "seeds": [3, 4], "metrics": ["rmse", "max_abs", "sqnr_db"], "reference": {"kind": "fp64"},
       "define_schemes": [{"name": "mine", "base": "fa3-fp8-per-head", "format": "e5m2", "scaling": "per-block",
                           "block_rows": 8, "incoherent_processing": true}]}
      """
    let b = try Experiment.parse(json, file: "tiny.json")
    // 3 schemes × 2 algorithms × 2 lengths × 2 masks × 3 distributions × 2 seeds.
    XCTAssertEqual(a.points.count, 3 * 2 * 2 * 2 * 3 * 2)
    XCTAssertEqual(a.points.map(\.key), b.points.map(\.key))
    XCTAssertEqual(Set(a.points.map(\.key)).count, a.points.count, "keys identify points")
    let mine = try XCTUnwrap(a.schemes.last)
    XCTAssertEqual(mine.q.granularity, .perBlock(rows: 8))
    XCTAssertEqual(mine.q.format, .rne(.e5m2, overflow: .saturate))
    XCTAssertTrue(mine.incoherentProcessing)
    XCTAssertEqual(mine.plan, PrecisionPlan.flashFP8)
    XCTAssertEqual(a.distributions, [.gaussian(std: 1), .sparseOutliers(probability: 0.01, outlierStd: 5), .sparseOutliers(probability: 0.01, outlierStd: 50)])
    XCTAssertEqual(a.reference, .fp64)
  }

  /// Every mistake: an error naming the file, the place and what is allowed; never accepted.
  func testBadInputNamesFileKeyAndWhatIsAllowed() {
    func fails(_ change: (String) -> String, _ fragments: [String], line: UInt = #line) {
      do {
        _ = try Experiment.parse(change(Self.yaml), file: "e.yaml")
        XCTFail("accepted", line: line)
      } catch let error as ExperimentFileError {
        XCTAssertFalse(error.description.contains("\n"), error.description, line: line)
        XCTAssertTrue(error.description.hasPrefix("e.yaml"), error.description, line: line)
        for f in fragments { XCTAssertTrue(error.description.contains(f), "\(error.description) lacks \(f)", line: line) }
      } catch {
        XCTFail("an experiment file's mistake is an ExperimentFileError, got \(type(of: error)): \(error)", line: line)
      }
    }
    fails({ $0.replacingOccurrences(of: "fp16, fa3", with: "fp17, fa3") }, ["schemes[0]", "unknown scheme 'fp17'", "fa3-fp8-per-block"])
    fails({ $0.replacingOccurrences(of: "seq_len:", with: "seqlen:") }, ["unknown key 'seqlen'", "allowed:", "seq_len"])
    fails({ $0.replacingOccurrences(of: "seq_len: [16, 40]", with: "seq_len: [16, forty]") }, ["seq_len[1]", "expected an integer"])
    fails({ $0.replacingOccurrences(of: "seq_len: [16, 40]", with: "seq_len: [16, 0]") }, ["seq_len[1]", "out of range"])
    fails({ $0.replacingOccurrences(of: "naive, blocked-hopper-tiles", with: "naive, flash") }, ["algorithms[1]", "'flash'", "blocked-hopper-tiles"])
    fails({ $0.replacingOccurrences(of: "[none, causal]", with: "[none, casual]") }, ["mask[1]", "causal"])
    fails({ $0.replacingOccurrences(of: "outlier_std", with: "outlier_sd") }, ["distributions[1]", "unknown key 'outlier_sd'"])
    fails({ $0.replacingOccurrences(of: "probability: 0.01", with: "probability: 2") }, ["distributions[1].probability", "in [0, 1]"])
    fails({ $0.replacingOccurrences(of: "kind: sparse-outliers, probability: 0.01, outlier_std: [5, 50]", with: "kind: gaussian, keys: 3") },
          ["distributions[1].keys", "not a parameter of gaussian"])
    fails({ $0.replacingOccurrences(of: "metrics: [rmse,", with: "metrics: [rsme,") }, ["metrics[0]", "rmse"])
    fails({ $0.replacingOccurrences(of: "kind: fp64", with: "kind: mpfr, bits: 3") }, ["reference.bits", "out of range"])
    fails({ $0.replacingOccurrences(of: "format: e5m2", with: "format: e5m3") }, ["define_schemes[0].format", "unknown format 'e5m3'", "e4m3fn"])
    fails({ $0.replacingOccurrences(of: "scaling: per-block", with: "scaling: per-row") }, ["define_schemes[0].scaling", "per-head"])
    fails({ $0.replacingOccurrences(of: "block_rows: 8", with: "blok_rows: 8") }, ["unknown key 'blok_rows'"])
    fails({ $0.replacingOccurrences(of: "name: mine, base", with: "name: fp16, base") }, ["already defined"])
    fails({ $0.replacingOccurrences(of: "name: tiny\n", with: "") }, ["missing key 'name'"])
    // A rotating scheme at a head dim that is not a power of two is fine (block-diagonal Hadamard).
    XCTAssertNoThrow(try Experiment.parse(Self.yaml.replacingOccurrences(of: "head_dim: 32", with: "head_dim: 48"), file: "e.yaml"))
    fails({ $0.replacingOccurrences(of: "algorithms: [naive, blocked-hopper-tiles]", with: "algorithms: fa3") }, ["fa3 cannot run scheme 'mine'"])
    fails({ $0 + "\n  - {name: x, format: e4m3fn}" }, ["define_schemes[1]", "missing key 'plan'"])
    fails({ _ in "name: [unclosed" }, ["not valid YAML or JSON"])
    fails({ $0.replacingOccurrences(of: "incoherent_processing: true", with: "incoherent_processing: maybe") }, ["expected true or false"])
  }

  /// The kernel's inputs built from a scheme's quantized operands stand for the same values.
  func testFA3InputsFromOperandsKeepTheValues() throws {
    let shape = AttentionShape(batch: 2, seqLenQ: 20, seqLenK: 24, headsQ: 4, headsKV: 2, headDim: 32)
    let inputs = AttentionInputs.generate(shape, .paperOutliers, seed: 9)
    for name in ["fa3-fp8-per-head", "bf16", "fp16"] {
      let scheme = try XCTUnwrap(AttentionScheme.named(name))
      let element = try FA3Inputs.Element(scheme: scheme)
      // Q's scales must be shared by the heads of a group: quantize Q per KV head as FA3 does by
      // giving every Q head of a group its group's scale.
      var operands = try scheme.prepare(inputs, rotationSeed: 0)
      if var qs = operands.qScales {
        let t = operands.q
        for b in 0..<t.batch { for i in 0..<t.seqLen { for h in 0..<t.heads {
          let scale = qs[(b * t.seqLen + i) * t.heads + (h / 2) * 2]
          qs[(b * t.seqLen + i) * t.heads + h] = scale
        } } }
        operands.qScales = qs
        operands.q.values = zip(inputs.q.values.indices, inputs.q.values).map { i, x in
          NumberFormat.rne(.e4m3fn, overflow: .saturate).roundQuotient(x, qs[i / t.headDim])
        }
      }
      let fa3 = try FA3Inputs(operands: operands, element: element, causal: false)
      let decoded = fa3.values()
      let expected = operands.dequantized()
      XCTAssertEqual(decoded.q.values, expected.q.values, name)
      XCTAssertEqual(decoded.k.values, expected.k.values, name)
      XCTAssertEqual(decoded.v.values, expected.v.values, name)
    }
    XCTAssertThrowsError(try FA3Inputs.Element(scheme: XCTUnwrap(AttentionScheme.named("fa3-fp8-per-block"))))
    XCTAssertThrowsError(try FA3Inputs.Element(scheme: XCTUnwrap(AttentionScheme.named("fp8-e5m2-per-head"))))
  }
}

/// Sweeps: results equal a direct computation; resume, interruption and shards lose nothing.
final class SweepTests: XCTestCase {
  var directory: String!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString)").path
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

  static let text = """
    name: small
    schemes: [bf16, fa3-fp8-per-head, fa3-fp8-per-head-hadamard]
    algorithms: [blocked, fa3]
    seq_len: [24, 48]
    head_dim: 32
    mask: [none, causal]
    distributions: [{kind: sparse-outliers, outlier_std: [4, 40], probability: 0.02}]
    seeds: [1]
    reference: {kind: mpfr, bits: 64}
    """

  func experiment() throws -> Experiment { try Experiment.parse(Self.text, file: "small.yaml") }

  func testRowsEqualADirectComputation() throws {
    let e = try experiment()
    let results = try Sweep(experiment: e, directory: directory, threads: 2).run()
    XCTAssertEqual(results.rows.count, e.points.count)
    XCTAssertEqual(results.rows.map(\.index), Array(0..<e.points.count))
    // Recompute three points without the sweep: inputs, the MPFR reference, the scheme, metrics.
    for p in [e.points[0], e.points[7], e.points.last!] {
      let shape = AttentionShape(seqLenQ: p.seqLen, headDim: p.headDim)
      let inputs = AttentionInputs.generate(shape, p.distribution, seed: p.seed)
      let options = AttentionOptions(mask: AttentionMask(causal: p.causal))
      let reference = try ReferenceAttention.compute(inputs, options: options, precision: 64).values
      let values: [Double]
      // One seed rule: the inputs' seed also draws the Hadamard signs.
      let operands = try p.scheme.prepare(inputs, rotationSeed: p.seed)
      if p.algorithm == .fa3Kernel {
        let element = try FA3Inputs.Element(scheme: p.scheme)
        let out = try FA3Forward.run(try FA3Inputs(operands: operands, element: element, causal: p.causal),
                                     schedule: .fa3(element: element, headDim: p.headDim, causal: p.causal, seqLenQ: p.seqLen))
        values = out.o.map { FloatFormat.bf16.decode(UInt32($0)) }
      } else {
        values = try EmulatedAttention.run(operands, plan: p.scheme.plan, algorithm: .blocked(.flash2), options: options).values
      }
      let m = ErrorMetrics(output: values, reference: reference, format: .rne(.bf16))
      let row = results.rows[p.index]
      XCTAssertEqual(row.metrics["rmse"], m.rmse, p.key)
      XCTAssertEqual(row.metrics["max_abs"], m.maxAbs, p.key)
      XCTAssertEqual(row.metrics["max_ulp"], m.maxULP, p.key)
      XCTAssertEqual(row.outlierMagnitude, p.distribution.outlierMagnitude)
    }
    // The files hold the same rows (CSV exactly; JSON except non-finite metrics, written as null).
    let csv = try SweepResults.readCSV(Sweep(experiment: e, directory: directory, threads: 1).paths.csv)
    XCTAssertEqual(csv.rows, results.rows)
    let json = try SweepResults.readJSON(Sweep(experiment: e, directory: directory, threads: 1).paths.json)
    XCTAssertEqual(json.rows.map(\.key), results.rows.map(\.key))
    XCTAssertEqual(json.rows, results.rows, "JSON numbers round-trip")
    XCTAssertEqual(json.provenance("experiment_fingerprint"), e.fingerprint)
    XCTAssertTrue(json.experimentText.contains("fa3-fp8-per-head-hadamard"))
    XCTAssertNotNil(csv.provenance("machine_cores"))
  }

  func testResumeAfterAnInterruptionRunsOnlyWhatIsMissing() throws {
    let e = try experiment()
    let sweep = Sweep(experiment: e, directory: directory, threads: 2)
    let full = try sweep.run()
    // Nothing left: a rerun computes no point.
    var ran = 0
    _ = try sweep.run(progress: { _ in ran += 1 })
    XCTAssertEqual(ran, 0)
    // Cut the CSV in the middle of its last 3 rows' first line (as a kill during a write would).
    let csv = try String(contentsOfFile: sweep.paths.csv, encoding: .utf8)
    var lines = csv.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    lines.removeLast()   // ""
    let keep = lines.dropLast(3).joined(separator: "\n") + "\n" + lines[lines.count - 3].prefix(30)
    try keep.write(toFile: sweep.paths.csv, atomically: true, encoding: .utf8)
    ran = 0
    let resumed = try sweep.run(progress: { _ in ran += 1 })
    XCTAssertEqual(ran, 3)
    XCTAssertEqual(resumed.rows.map(\.key), full.rows.map(\.key))
    XCTAssertEqual(resumed.rows.map(\.metrics), full.rows.map(\.metrics))
    let reread = try SweepResults.readCSV(sweep.paths.csv).rows.sorted { $0.index < $1.index }
    XCTAssertEqual(reread.map(\.metrics), full.rows.map(\.metrics))
    // Results for points the experiment no longer has are not dropped silently.
    let other = try Experiment.parse(Self.text.replacingOccurrences(of: "seeds: [1]", with: "seeds: [2]"), file: "other.yaml")
    XCTAssertThrowsError(try Sweep(experiment: other, directory: directory, threads: 1).run()) {
      XCTAssertTrue("\($0)".contains("results for points this experiment does not have"), "\($0)")
    }
  }

  func testAddingASeedRunsOnlyTheNewPoints() throws {
    let e = try experiment()
    let sweep = Sweep(experiment: e, directory: directory, threads: 2)
    let first = try sweep.run()
    // The same experiment with a second seed and a new description: only the seed-2 points run.
    let grown = try Experiment.parse(Self.text.replacingOccurrences(of: "seeds: [1]", with: "seeds: [1, 2]")
                                       .replacingOccurrences(of: "name: small", with: "name: small\ndescription: one more seed"),
                                     file: "small.yaml")
    XCTAssertNotEqual(grown.fingerprint, e.fingerprint)
    var ran: [SweepRow] = []
    let extended = try Sweep(experiment: grown, directory: directory, threads: 2).run(progress: { ran.append($0.row) })
    XCTAssertEqual(ran.count, e.points.count)
    XCTAssertEqual(Set(ran.map(\.seed)), [2])
    XCTAssertEqual(extended.rows.count, grown.points.count)
    // The first run's rows are kept as they were (same metrics, same seconds: not recomputed).
    let kept = Dictionary(uniqueKeysWithValues: extended.rows.map { ($0.key, $0) })
    for row in first.rows { XCTAssertEqual(kept[row.key]?.seconds, row.seconds, row.key) }
    XCTAssertEqual(extended.rows.map(\.index), Array(0..<grown.points.count))
    let csv = try SweepResults.readCSV(sweep.paths.csv)
    XCTAssertEqual(csv.provenance("experiment_fingerprint"), grown.fingerprint)
    XCTAssertNotNil(csv.provenance("extended"))
    // A scheme defined differently under the same name is another point: its old results are
    // not taken for it (the run refuses until they are moved away or --fresh).
    let redefined = try Experiment.parse(Self.text.replacingOccurrences(of: "schemes: [bf16, fa3-fp8-per-head, fa3-fp8-per-head-hadamard]",
                                                                        with: "schemes: [bf16, fa3-fp8-per-head, mine]\ndefine_schemes: [{name: mine, base: fa3-fp8-per-head-hadamard, scaling: per-tensor}]")
                                           .replacingOccurrences(of: "seeds: [1]", with: "seeds: [1, 2]"), file: "small.yaml")
    XCTAssertThrowsError(try Sweep(experiment: redefined, directory: directory, threads: 1).run()) {
      XCTAssertTrue("\($0)".contains("fa3-fp8-per-head-hadamard#"), "\($0)")
    }
  }

  func testASecondWriterOfTheSameResultsIsRefusedAtOnce() throws {
    let e = try experiment()
    let sweep = Sweep(experiment: e, directory: directory, threads: 1)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    // Another process's temporary, left by a kill mid-write, and this set's lock held elsewhere.
    let stale = sweep.paths.json + ".tmp-99999-1"
    XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data("{".utf8)))
    var held: ResultsLock? = try ResultsLock(directory: directory, name: e.name)
    XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "temporaries of killed runs are removed under the lock")
    XCTAssertThrowsError(try sweep.run()) { XCTAssertTrue("\($0)".contains("being written by another flashnum process"), "\($0)") }
    XCTAssertFalse(FileManager.default.fileExists(atPath: sweep.paths.csv), "the refused run wrote nothing")
    held = nil
    XCTAssertNil(held)
    XCTAssertEqual(try sweep.run().rows.count, e.points.count)
  }

  func testRepeatedRowsAreDroppedOnResume() throws {
    let e = try experiment()
    let sweep = Sweep(experiment: e, directory: directory, threads: 2)
    let full = try sweep.run()
    // Two runs that appended the same rows (as before the lock): every row twice.
    let csv = try String(contentsOfFile: sweep.paths.csv, encoding: .utf8)
    let rows = csv.split(separator: "\n").filter { !$0.hasPrefix("#") }.dropFirst()
    try (csv + rows.joined(separator: "\n") + "\n").write(toFile: sweep.paths.csv, atomically: true, encoding: .utf8)
    XCTAssertEqual(try SweepResults.readCSV(sweep.paths.csv).rows.count, 2 * full.rows.count)
    var notes: [String] = []
    var ran = 0
    let resumed = try sweep.run(progress: { _ in ran += 1 }, note: { notes.append($0) })
    XCTAssertEqual(ran, 0)
    XCTAssertEqual(resumed.rows.map(\.key), full.rows.map(\.key))
    XCTAssertEqual(try SweepResults.readCSV(sweep.paths.csv).rows.count, full.rows.count)
    XCTAssertTrue(notes.contains { $0.contains("\(full.rows.count) repeated rows dropped") }, "\(notes)")
  }

  func testShardsMergeToTheWholeGrid() throws {
    let e = try experiment()
    let whole = try Sweep(experiment: e, directory: directory + "/whole", threads: 2).run()
    var files: [String] = []
    var counts: [Int] = []
    for i in 1...3 {
      let s = Sweep(experiment: e, directory: directory, shard: (i, 3), threads: 1)
      counts.append(try s.run().rows.count)
      files.append(i == 2 ? s.paths.json : s.paths.csv)
    }
    XCTAssertEqual(counts.reduce(0, +), e.points.count)
    XCTAssertTrue(counts.allSatisfy { $0 > 0 })
    let merged = try Sweep.merge(files)
    XCTAssertEqual(merged.missing, 0)
    XCTAssertEqual(merged.results.rows.map(\.key), whole.rows.map(\.key))
    XCTAssertEqual(merged.results.rows.map(\.metrics), whole.rows.map(\.metrics))
    // Two shards only: the rest is reported missing.
    XCTAssertEqual(try Sweep.merge(Array(files.prefix(2))).missing, counts[2])
  }
}
