import Attention
import Foundation
import NPY
import LowPrecision
import TestSupport
import XCTest

/// `flashnum attention`, `reference` and `table paper-rmse`, run as a user would.
final class AttentionCLITests: CLITestCase {
  /// Long runs say they are running (on stderr, every --progress-seconds, none before the first);
  /// stdout and the result stay as they are.
  func testLongRunsShowProgress() throws {
    var rng = SplitMix64(seed: 77)
    let t = { (n: String) in
      try self.write(NPYArray(shape: [1, 64, 2, 32], float32: (0..<(64 * 2 * 32)).map { _ in Float(Double.random(in: -2...2, using: &rng)) }), n)
    }
    let q = try t("q.npy"), k = try t("k.npy"), v = try t("v.npy")
    let r = try run(["reference", "--q", q, "--k", k, "--v", v, "--precision-bits", "2048", "--progress-seconds", "0.05", "--json",
                     "--out", path("r.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("flashnum: note: reference: MPFR at 2048 and 4096 bits, 128 query rows ("), r.stderr)
    XCTAssertTrue(r.stderr.contains("certificate: "), r.stderr)
    XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), "stdout holds only the JSON")
    let quiet = try run(["reference", "--q", q, "--k", k, "--v", v, "--precision-bits", "2048", "--progress-seconds", "3600", "--out", path("r2.npy")])
    XCTAssertFalse(quiet.stderr.contains("reference: MPFR"), "no progress line before the first interval")
    XCTAssertEqual(try NPYFile.read(path("r.npy")), try NPYFile.read(path("r2.npy")))
    // Larger inputs for attention, whose attribution runs the MPFR reference and one run per stage.
    let big = { (n: String) in
      try self.write(NPYArray(shape: [1, 512, 2, 64], float32: (0..<(512 * 2 * 64)).map { _ in Float(Double.random(in: -2...2, using: &rng)) }), n)
    }
    let bq = try big("bq.npy"), bk = try big("bk.npy"), bv = try big("bv.npy")
    let a = try run(["attention", "--q", bq, "--k", bk, "--v", bv, "--scheme", "fa3-fp8-per-head", "--algorithm", "blocked", "--attribute",
                     "--progress-seconds", "0.01", "--threads", "1", "--out", path("o.npy")])
    XCTAssertEqual(a.status, 0, a.stderr)
    XCTAssertTrue(a.stderr.contains("attention: running blocked, then the MPFR reference"), a.stderr)
    try assertBadInput(["reference", "--q", q, "--k", k, "--v", v, "--precision-bits", "8192", "--out", path("r3.npy")], "at most 4096")
    try assertBadInput(["attention", "--q", q, "--k", k, "--v", v, "--algorithm", "naive", "--progress-seconds", "0", "--out", path("o3.npy")],
                       "--progress-seconds must be in 0.01...3600")
  }

  func tensor(_ name: String, _ shape: [Int], seed: UInt64, scale: Float = 1) throws -> String {
    var rng = SplitMix64(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ in Float.random(in: -2...2, using: &rng) * scale }
    return try write(NPYArray(shape: shape, float32: values), name)
  }

  func testAttentionAndReferenceAgree() throws {
    let q = try tensor("q.npy", [1, 33, 4, 16], seed: 1)
    let k = try tensor("k.npy", [1, 40, 2, 16], seed: 2)
    let v = try tensor("v.npy", [1, 40, 2, 16], seed: 3)
    let ref = try self.run(["reference", "--q", q, "--k", k, "--v", v, "--causal", "--out", path("ref.npy")])
    XCTAssertEqual(ref.status, 0, ref.stderr)
    XCTAssertTrue(ref.stderr.contains("certificate:"), ref.stderr)
    let r = try NPYFile.read(path("ref.npy"))
    XCTAssertEqual(r.dtype, .float64)
    XCTAssertEqual(r.shape, [1, 33, 4, 16])
    // The double-word reference: the same float64 bits here, certified by its own bound.
    let dw = try self.run(["reference", "--q", q, "--k", k, "--v", v, "--causal", "--certify", "double-word", "--json",
                           "--out", path("dw.npy")])
    XCTAssertEqual(dw.status, 0, dw.stderr)
    XCTAssertTrue(dw.stdout.contains("\"certify\": \"double-word\""), dw.stdout)
    XCTAssertEqual(try NPYFile.read(path("dw.npy")).values!, r.values!)
    for (algorithm, scheme) in [("naive", "fp32"), ("blocked", "fp32"), ("blocked", "bf16"), ("naive", "fa3-fp8-per-head")] {
      let a = try self.run(["attention", "--q", q, "--k", k, "--v", v, "--causal", "--algorithm", algorithm,
                           "--scheme", scheme, "--out", path("o.npy")])
      XCTAssertEqual(a.status, 0, a.stderr)
      let o = try NPYFile.read(path("o.npy"))
      XCTAssertEqual(o.dtype, .float32)
      let err = zip(o.values!, r.values!).reduce(0) { max($0, abs($1.0 - $1.1)) }
      XCTAssertLessThan(err, scheme == "fp32" ? 1e-5 : (scheme == "bf16" ? 0.05 : 0.3), "\(algorithm) \(scheme)")
    }
  }

  /// Every bench prints one JSON array of flat rows with --json, with the keys the README names.
  func testBenchJSONRows() throws {
    func rows(_ arguments: [String]) throws -> [[String: Any]] {
      let r = try run(["bench"] + arguments + ["--json"])
      XCTAssertEqual(r.status, 0, r.stderr)
      return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
    }
    let convert = try rows(["convert", "--count", "1000", "--repeats", "1", "--no-peers"])
    XCTAssertEqual(Set(convert.compactMap { $0["format"] as? String }), ["e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e4m3", "fp16", "bf16", "e8m0"])
    let ours = convert.filter { $0["implementation"] as? String == "flashnumerics" }
    XCTAssertEqual(ours.count, 8 * 7)
    for row in ours {
      XCTAssertNotNil(row["mode"] as? String); XCTAssertNotNil(row["encode_ns"] as? Double); XCTAssertNotNil(row["decode_ns"] as? Double)
    }
    let attention = try rows(["attention", "--only", "fa3", "--seq-len", "128", "--head-dim", "64", "--repeats", "1"])
    let fa3 = attention.filter { $0["computation"] as? String == "fa3-e4m3fn" }
    XCTAssertEqual(fa3.compactMap { $0["threads"] as? Int }, [1, 2])
    XCTAssertTrue(fa3.allSatisfy { $0["seq_len"] as? Int == 128 && $0["seconds"] is Double })
    let mma = try rows(["mma", "--rows", "64", "--repeats", "1"])
    XCTAssertEqual(mma.count, 4)
    let scaling = try rows(["scaling", "--seq-lens", "64,128", "--head-dims", "64", "--engines", "reference", "--threads", "1"])
    let points = scaling.filter { $0["seq_len"] != nil }
    XCTAssertEqual(points.compactMap { $0["seq_len"] as? Int }, [64, 128])
    XCTAssertTrue(points.allSatisfy { ($0["peak_rss_mib"] as? Double ?? 0) > 0 && $0["seconds"] is Double })
    XCTAssertNotNil(scaling.first { $0["time_exponent"] != nil })
  }

  /// `--num-splits`, `--cache-seqlens`, `--softcap` and `--cu-seqlens-q/k` give the library's bits
  /// (`FA3Forward` with the same launch), and `invariance --json` reads back.
  func testKernelLaunchOptions() throws {
    let c = FA3Case(element: .bf16, headDim: 64, seqLenQ: 3, seqLenK: 900, batch: 2, heads: 4, kvHeads: 2, causal: true, seed: 4)
    let inputs = try c.inputs()
    let q = try write(NPYArray(shape: [2, 3, 4, 64], uint16: inputs.q), "q16.npy")
    let k = try write(NPYArray(shape: [2, 900, 2, 64], uint16: inputs.k), "k16.npy")
    let v = try write(NPYArray(shape: [2, 900, 2, 64], uint16: inputs.v), "v16.npy")
    let lens = try write(NPYArray(shape: [2], int32: [900, 123]), "lens.npy")
    let base = ["attention", "--q", q, "--k", k, "--v", v, "--input-format", "bf16", "--algorithm", "fa3", "--causal", "--out-bits"]
    for (extra, change) in [(["--num-splits", "5"], { (x: inout FA3Inputs) in x.numSplits = 5 }),
                            (["--cache-seqlens", lens], { $0.cacheSeqLens = [900, 123]; $0.numSplits = 0 }),
                            (["--cache-seqlens", lens, "--num-splits", "3"], { $0.cacheSeqLens = [900, 123]; $0.numSplits = 3 }),
                            (["--softcap", "2.5", "--num-splits", "2"], { $0.softcap = 2.5; $0.numSplits = 2 }),
                            (["--cache-batch-idx", try write(NPYArray(shape: [2], int32: [1, 1]), "idx.npy")],
                             { $0.cacheBatchIdx = [1, 1]; $0.numSplits = 0 })] {
      let r = try self.run(base + extra + ["--out", path("o.npy"), "--lse-out", path("l.npy")])
      XCTAssertEqual(r.status, 0, r.stderr)
      var expected = inputs
      change(&expected)
      let out = try FA3Forward.run(expected, schedule: .fa3(for: expected))
      XCTAssertEqual(try NPYFile.read(path("o.npy")).uint16, out.o, "\(extra)")
      XCTAssertEqual(try NPYFile.read(path("l.npy")).float32?.map(\.bitPattern), out.lse.map(\.bitPattern), "\(extra)")
    }
    // Varlen: the two entries packed, keys 900 and 123.
    let packedQ = try write(NPYArray(shape: [6, 4, 64], uint16: inputs.q), "pq.npy")
    let kv = Array(inputs.k[0..<(900 * 128)]) + Array(inputs.k[(900 * 128)..<((900 + 123) * 128)])
    let vv = Array(inputs.v[0..<(900 * 128)]) + Array(inputs.v[(900 * 128)..<((900 + 123) * 128)])
    let packedK = try write(NPYArray(shape: [1023, 2, 64], uint16: kv), "pk.npy"), packedV = try write(NPYArray(shape: [1023, 2, 64], uint16: vv), "pv.npy")
    let cuQ = try write(NPYArray(shape: [3], int32: [0, 3, 6]), "cuq.npy"), cuK = try write(NPYArray(shape: [3], int32: [0, 900, 1023]), "cuk.npy")
    let r = try self.run(["attention", "--q", packedQ, "--k", packedK, "--v", packedV, "--input-format", "bf16", "--algorithm", "fa3",
                          "--causal", "--out-bits", "--cu-seqlens-q", cuQ, "--cu-seqlens-k", cuK, "--num-splits", "0", "--out", path("o.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    let varlen = FA3VarlenInputs(element: .bf16, cuSeqLensQ: [0, 3, 6], cuSeqLensK: [0, 900, 1023], heads: 4, kvHeads: 2, headDim: 64,
                                 q: inputs.q, k: kv, v: vv, causal: true, numSplits: 0)
    XCTAssertEqual(try NPYFile.read(path("o.npy")).uint16, try FA3Forward.run(varlen).o)
    // Invariance as JSON.
    let inv = try self.run(["invariance", "--heads", "4", "--kv-heads", "2", "--keys", "1000", "--batch-sizes", "1,50",
                            "--cache-lengths", "1000,3000", "--json", "--threads", "2"])
    XCTAssertEqual(inv.status, 0, inv.stderr)
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inv.stdout.utf8)) as? [String: Any])
    let rows = try XCTUnwrap(object["rows"] as? [[String: Any]])
    XCTAssertEqual(rows.map { $0["batch"] as? Int }, [1, 1, 50, 50])
    XCTAssertEqual(rows.first?["o_bits_equal"] as? Double, 1)
  }

  /// `lint-schedule` exits 1 exactly when P can pass its format's largest value, and
  /// `table p-overflow` shows e4m3 P worse than e5m2 P under FA4's constants only.
  func testScheduleLintAndPOverflowTable() throws {
    let flagged = try self.run(["lint-schedule", "--fa3-set", "rescaleThreshold=4"])
    XCTAssertEqual(flagged.status, 1, flagged.stderr)
    XCTAssertTrue(flagged.stdout.contains("4096"), flagged.stdout)
    for fine in [[], ["--fa3-set", "rescaleThreshold=0.75"], ["--fa3-set", "rescaleThreshold=4", "--fa3-set", "fp8ProbabilityFormat=e5m2"],
                 ["--element", "bf16", "--fa3-set", "rescaleThreshold=20"]] {
      let r = try self.run(["lint-schedule"] + fine)
      XCTAssertEqual(r.status, 0, "\(fine): \(r.stdout) \(r.stderr)")
    }
    let bad = try self.run(["lint-schedule", "--fa3-set", "rescaleThreshold=-2"])
    XCTAssertEqual(bad.status, 2)
    let table = try self.run(["table", "p-overflow", "--seq-lens", "256", "--logit-stds", "2", "--seeds", "0-1", "--residues", "0,1",
                              "--head-dim", "64", "--threads", "2"])
    XCTAssertEqual(table.status, 0, table.stderr)
    let lines = table.stdout.split(separator: "\n").filter { $0.hasPrefix("- ") }
    XCTAssertEqual(lines.count, 4, table.stdout)
    // Cells: one size, two residues (N = 1024 and 1025), causal and outlier inputs.
    XCTAssertTrue(lines[0].contains("P up to 2^12") && lines[0].contains("of 5 cells"), String(lines[0]))
    XCTAssertFalse(lines[0].contains("in 0 of 5"), String(lines[0]))
    for line in lines.dropFirst() { XCTAssertTrue(line.contains("in 0 of 5"), String(line)) }
    XCTAssertTrue(table.stdout.contains("| N | N mod ") && table.stdout.contains(" | 1 | "), table.stdout)
    XCTAssertTrue(table.stdout.contains("docs/fp8-p-overflow.md"), table.stdout)
  }

  /// `--scheme-file`: a file's scheme runs as the library runs it; several need `--scheme`;
  /// `flashnum schemes` checks files and exports the shipped ones.
  func testSchemeFiles() throws {
    let q = try tensor("q.npy", [1, 24, 2, 32], seed: 4)
    let file = path("mine.yaml")
    try """
      schemes:
        - {name: q16, plan: fa3-fp8, format: e4m3fn, scaling: per-head, q: {format: bf16, scaling: none}}
        - {name: nv, plan: fa3-fp8, format: e2m1, scaling: nvfp4}
      """.write(toFile: file, atomically: true, encoding: .utf8)
    let base = ["attention", "--q", q, "--k", q, "--v", q, "--algorithm", "blocked", "--scheme-file", file, "--seed", "2"]
    let r = try self.run(base + ["--scheme", "q16", "--out", path("o.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    // The same scheme built in code.
    let fp8 = QuantizationScheme(format: .rne(.e4m3fn, overflow: .saturate), granularity: .perHead)
    let scheme = AttentionScheme(name: "q16", summary: "", precision: "bf16", q: QuantizationScheme(format: .rne(.bf16)), k: fp8, v: fp8,
                                 plan: .flashFP8)
    let values = try AttentionTensor(batch: 1, seqLen: 24, heads: 2, headDim: 32, values: try XCTUnwrap(NPYFile.read(q).values))
    let expected = try scheme.run(AttentionInputs(q: values, k: values, v: values), rotationSeed: 2, algorithm: .blocked(.flash2),
                                  options: AttentionOptions())
    XCTAssertEqual(try NPYFile.read(path("o.npy")).values, expected.o.values.map { Double(Float($0)) })
    try assertBadInput(base + ["--out", path("o.npy")], "defines 2 schemes (q16, nv); choose one with --scheme")
    try assertBadInput(base + ["--scheme", "fp16", "--out", path("o.npy")], "'fp16' is not in")
    try "name: x\nplan: fa3-fp8\nformat: e4m3fn\nscaling: per-hed\n".write(toFile: path("bad.yaml"), atomically: true, encoding: .utf8)
    try assertBadInput(["attention", "--q", q, "--k", q, "--v", q, "--algorithm", "blocked", "--scheme-file", path("bad.yaml"), "--out", path("o.npy")],
                       "bad.yaml:4: scaling: 'per-hed' is not allowed")
    // The schemes command: a file's definitions, and the shipped schemes exported and read back.
    let listed = try self.run(["schemes", file, "--definitions"])
    XCTAssertEqual(listed.status, 0, listed.stderr)
    XCTAssertTrue(listed.stdout.contains("nv  #") && listed.stdout.contains("e2m1:nearest-even:saturate/nvfp4(16)"), listed.stdout)
    XCTAssertEqual(try self.run(["schemes", "--out-dir", path("exported")]).status, 0)
    try assertBadInput(["schemes", "--out-dir", file], "--out-dir \(file) is a file, not a folder")
    try assertBadInput(["schemes", "--export", path("x")], "--export is now --out-dir")
    let check = try self.run(["schemes", path("exported/fa3-fp8-per-block-hadamard.yaml")])
    XCTAssertTrue(check.stdout.contains("(the shipped definition)"), check.stdout)
  }

  func testCodeInputsWithDescalesAndBits() throws {
    // e4m3fn codes with per-(batch, kv head) descales: the output bits are bf16 codes.
    var rng = SplitMix64(seed: 9)
    func codes(_ name: String, _ shape: [Int]) throws -> String {
      let c = (0..<shape.reduce(1, *)).map { _ in UInt8(FloatFormat.e4m3fn.encode(Double.random(in: -40...40, using: &rng),
                                                                                  Rounding(.nearestEven, overflow: .saturate))) }
      return try write(NPYArray(shape: shape, uint8: c), name)
    }
    let q = try codes("q8.npy", [2, 20, 2, 32]), k = try codes("k8.npy", [2, 30, 1, 32]), v = try codes("v8.npy", [2, 30, 1, 32])
    let dq = try write(NPYArray(shape: [2, 1], float32: [0.02, 0.03]), "dq.npy")
    let dk = try write(NPYArray(shape: [2, 1], float32: [0.05, 0.01]), "dk.npy")
    let dv = try write(NPYArray(shape: [2, 1], float32: [0.5, 0.25]), "dv.npy")
    let a = try self.run(["attention", "--q", q, "--k", k, "--v", v, "--input-format", "e4m3fn", "--algorithm", "blocked",
                         "--descale-q", dq, "--descale-k", dk, "--descale-v", dv, "--out", path("o.npy"), "--out-bits"])
    XCTAssertEqual(a.status, 0, a.stderr)
    let bits = try NPYFile.read(path("o.npy"))
    XCTAssertEqual(bits.dtype, .uint16)
    XCTAssertEqual(bits.shape, [2, 20, 2, 32])
    let ref = try self.run(["reference", "--q", q, "--k", k, "--v", v, "--input-format", "e4m3fn",
                           "--descale-q", dq, "--descale-k", dk, "--descale-v", dv, "--out", path("r.npy")])
    XCTAssertEqual(ref.status, 0, ref.stderr)
    let r = try NPYFile.read(path("r.npy")).values!
    let o = bits.uint16!.map { FloatFormat.bf16.decode(UInt32($0)) }
    let err = zip(o, r).reduce(0) { max($0, abs($1.0 - $1.1) / 40) }
    XCTAssertLessThan(err, 0.05)
  }

  func testBadInputsExitTwoWithOneLine() throws {
    let q = try tensor("q.npy", [1, 8, 2, 16], seed: 1)
    let k = try tensor("k.npy", [1, 9, 2, 16], seed: 2)
    let v = try tensor("v.npy", [1, 9, 2, 16], seed: 3)
    let v7 = try tensor("v7.npy", [1, 7, 2, 16], seed: 3)
    let k3 = try tensor("k3.npy", [1, 9, 3, 16], seed: 2)
    let flat = try write(NPYArray(shape: [16], float32: Array(repeating: 1, count: 16)), "flat.npy")
    var nanValues = [Float](repeating: 0.5, count: 8 * 2 * 16); nanValues[5] = .nan
    let nan = try write(NPYArray(shape: [1, 8, 2, 16], float32: nanValues), "nan.npy")
    let empty = try write(NPYArray(shape: [1, 0, 2, 16], float32: []), "empty.npy")
    let base = ["attention", "--algorithm", "blocked", "--out", path("o.npy")]
    try assertBadInput(base + ["--q", q, "--k", k, "--v", v7], "sequence lengths differ")
    try assertBadInput(base + ["--q", q, "--k", k3, "--v", v], "head counts differ")
    try assertBadInput(base + ["--q", flat, "--k", k, "--v", v], "4 dimensions")
    try assertBadInput(base + ["--q", nan, "--k", k, "--v", v], "non-finite")
    try assertBadInput(base + ["--q", empty, "--k", k, "--v", v], "at least 1")
    try assertBadInput(base + ["--q", q, "--k", k, "--v", v, "--scheme", "mx-e4m3"], "multiple of 32")
    try assertBadInput(base + ["--q", q, "--k", k, "--v", v, "--scheme", "nope"], "unknown scheme")
    try assertBadInput(base + ["--q", q, "--k", k, "--v", v, "--window-left", "-1"], "window")
    try assertBadInput(["attention", "--algorithm", "fa3", "--q", q, "--k", k, "--v", v, "--out", path("o.npy")], "fa3")
    try assertBadInput(["reference", "--q", q, "--k", k, "--v", v, "--precision-bits", "8", "--out", path("r.npy")],
                           "precision")
    try assertBadInput(["reference", "--q", q, "--k", k, "--v", path("missing.npy"), "--out", path("r.npy")], "missing.npy")
  }

  /// A scheme file whose rotation is bad (not orthogonal, of the wrong size, NaN, unknown) exits
  /// 2 with one line naming the file; a good matrix file runs.
  func testBadRotationInputsExitTwoWithOneLine() throws {
    let d = 16
    var identityish = [Double](repeating: 0, count: d * d)
    for i in 0..<d { identityish[i * d + (i + 3) % d] = 1 }   // a permutation: orthogonal
    _ = try write(NPYArray(shape: [d, d], float64: identityish), "perm.npy")
    var skew = identityish
    skew[1] = 0.5
    _ = try write(NPYArray(shape: [d, d], float64: skew), "skew.npy")
    var nan = identityish
    nan[2] = .nan
    _ = try write(NPYArray(shape: [d, d], float64: nan), "nan.npy")
    _ = try write(NPYArray(shape: [8, 8], float64: (0..<64).map { $0 % 9 == 0 ? 1 : 0 }), "small.npy")
    let q = try write(NPYArray(shape: [1, 8, 1, d], float32: (0..<(8 * d)).map { Float($0 % 7) - 3 }), "q.npy")
    let io = ["--q", q, "--k", q, "--v", q, "--algorithm", "blocked", "--out", path("o.npy")]
    func scheme(_ rotation: String) throws -> String {
      try "name: r\nbase: fa3-fp8-per-head\nrotation: \(rotation)\n".write(toFile: path("r.yaml"), atomically: true, encoding: .utf8)
      return path("r.yaml")
    }
    let good = try self.run(["attention"] + io + ["--scheme-file", try scheme("perm.npy")])
    XCTAssertEqual(good.status, 0, good.stderr)
    for (rotation, says) in [("skew.npy", "not orthogonal"), ("nan.npy", "non-finite"), ("small.npy", "8×8 but the head dim is 16"),
                             ("{kind: random-orthogonal, block: 5}", "must divide the head dim 16"), ("spin.npy", "spin.npy"),
                             ("sideways", "unknown rotation")] {
      try assertBadInput(["attention"] + io + ["--scheme-file", try scheme(rotation)], says)
    }
  }

  /// `table paper-rmse` writes only into `--out-dir`: run in an empty folder without it, the folder stays
  /// empty; with it, the report, CSV (a line per sample), JSON and figure are there.
  func testTableFA3WritesOnlyWhereOutSays() throws {
    let empty = directory.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    let small = ["table", "paper-rmse", "--seq-len", "64", "--head-dim", "64", "--heads", "1", "--seeds", "0-1", "--rotation-seeds", "3,4",
                 "--fp64-reference", "--threads", "2"]
    let quiet = try self.run(small, in: empty)
    XCTAssertEqual(quiet.status, 0, quiet.stderr)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty.path), [])
    let r = try self.run(small + ["--format", "json", "--out-dir", path("table")], in: empty)
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty.path), [])
    let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.count, 7)
    XCTAssertEqual(rows[4]["method"] as? String, "FlashAttention-3 FP8")
    XCTAssertEqual(rows[4]["paper_rmse"] as? Double, 9.1e-3)
    // Rotating rows: 2 input seeds × 2 rotation seeds; the others one sample per input seed.
    XCTAssertEqual((rows[4]["samples"] as? [Any])?.count, 4)
    XCTAssertEqual((rows[3]["samples"] as? [Any])?.count, 2)
    for file in ["paper-rmse-table.md", "paper-rmse-table.csv", "paper-rmse-table.json", "paper-rmse-table-rmse.svg"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: path("table/" + file)), file)
    }
    XCTAssertEqual(try String(contentsOfFile: path("table/paper-rmse-table.csv"), encoding: .utf8).split(separator: "\n").count, 1 + 5 * 2 + 2 * 4)
    try assertBadInput(["table", "paper-rmse", "--seq-len", "0"], "at least 1")
    try assertBadInput(["table", "paper-rmse", "--seeds", "3-1"], "--seeds")
    try assertBadInput(["table", "paper-rmse", "--rotation-seeds", "1,1"], "listed twice")
    try assertBadInput(["table", "paper-rmse", "--seeds", "0-4095", "--rotation-seeds", "0-4095"], "more than the limit")
  }
}

/// `flashnum crosscheck` and `attention --algorithm fa3`, against the committed H100 kernel outputs.
final class CrosscheckCLITests: CLITestCase {
  static let kernelFixtures = Repository.path("Tests/AttentionTests/Fixtures/fa3-kernel")

  func testReplaysSavedKernelOutputs() throws {
    // Three small standard cases (bf16 causal, bf16 GQA with seqlen_q ≠ seqlen_k, e4m3fn d256 causal),
    // read back from their fixtures' case.json into a case list.
    let names = ["bf16-d64-200x200-causal-h2-sparse-outliers-s1", "bf16-d128-130x300-h2k1-sparse-outliers-s2", "e4m3fn-d256-100x190-causal-h1-sparse-outliers-s4"]
    let cases = try names.map { name -> Any in
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.kernelFixtures + "/" + name + "/case.json")))
    }
    try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: path("cases.json")))
    let common = ["crosscheck", "--cases", path("cases.json"), "--reference-bits", "0", "--kernel-outputs", Self.kernelFixtures, "--threads", "2"]
    let r = try run(common + ["--out", path("cc.md")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(r.stdout.components(separatedBy: "| 100.000 % | 100.000 % | 0 |").count - 1, 3, r.stdout)
    XCTAssertEqual(try String(contentsOfFile: path("cc.md"), encoding: .utf8), r.stdout)
    let j = try run(common + ["--json"])
    XCTAssertEqual(j.status, 0, j.stderr)
    let rows = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: Any]]
    XCTAssertEqual(rows?.count, 3)
  }

  func testSkipsTheKernelWithOneLineWhenAbsent() throws {
    let r = try run(["crosscheck", "--case-limit", "1", "--reference-bits", "0", "--python", "python3",
                     "--script", path("missing_bridge.py")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("crosscheck: kernel skipped:"), r.stderr)
    XCTAssertTrue(r.stdout.contains("no kernel run"), r.stdout)
  }

  func testAttentionFA3OnCodesEqualsKernelFixture() throws {
    // The case directory written by crosscheck holds the exact bytes the kernel received.
    let name = "bf16-d64-200x200-causal-h2-sparse-outliers-s1"
    let w = try run(["crosscheck", "--case-limit", "1", "--reference-bits", "0", "--work-dir", path("work"), "--script", path("none.py")])
    XCTAssertEqual(w.status, 0, w.stderr)
    let dir = path("work/" + name)
    let a = try run(["attention", "--algorithm", "fa3", "--q", dir + "/q.npy", "--k", dir + "/k.npy", "--v", dir + "/v.npy",
                     "--input-format", "bf16", "--causal", "--out", path("o.npy"), "--out-bits", "--lse-out", path("lse.npy")])
    XCTAssertEqual(a.status, 0, a.stderr)
    XCTAssertEqual(try NPYFile.read(path("o.npy")), try NPYFile.read(Self.kernelFixtures + "/\(name)/o.npy"))
    XCTAssertEqual(try NPYFile.read(path("lse.npy")), try NPYFile.read(Self.kernelFixtures + "/\(name)/lse.npy"))
    // A switched-off detail changes the bits (the flag reaches the schedule).
    let b = try run(["attention", "--algorithm", "fa3", "--q", dir + "/q.npy", "--k", dir + "/k.npy", "--v", dir + "/v.npy",
                     "--input-format", "bf16", "--causal", "--out", path("o2.npy"), "--out-bits", "--lse-out", path("lse2.npy"),
                     "--fa3-set", "rowSumLanes=1"])
    XCTAssertEqual(b.status, 0, b.stderr)
    XCTAssertNotEqual(try NPYFile.read(path("lse2.npy")), try NPYFile.read(path("lse.npy")))
  }

  func testCrosscheckOfGivenInputDirectories() throws {
    let name = "bf16-d64-200x200-causal-h2-sparse-outliers-s1"
    let w = try run(["crosscheck", "--case-limit", "1", "--reference-bits", "0", "--work-dir", path("work"), "--script", path("none.py")])
    XCTAssertEqual(w.status, 0, w.stderr)
    let r = try run(["crosscheck", "--case-dir", path("work/" + name), "--kernel-outputs", Self.kernelFixtures,
                     "--reference-bits", "64", "--work-dir", path("again")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("| \(name) | 192×128 | 100.000 % | 100.000 % | 0 |"), r.stdout)
    try Data(#"{"element":"bf16","causal":true,"scale":0.1}"#.utf8).write(to: URL(fileURLWithPath: path("work/\(name)/meta.json")))
    try assertBadInput(["crosscheck", "--case-dir", path("work/" + name)], "unknown key 'scale'")
  }

  func testBadCrosscheckAndFA3InputsExitTwo() throws {
    let file = path("cases.json")
    try Data(#"[{"element":"bf16","head_dim":64,"seq_len_q":8,"causual":true}]"#.utf8).write(to: URL(fileURLWithPath: file))
    try assertBadInput(["crosscheck", "--cases", file], "unknown key 'causual'")
    try Data(#"[{"element":"bf16","headDim":64,"seqLenQ":8}]"#.utf8).write(to: URL(fileURLWithPath: file))
    try assertBadInput(["crosscheck", "--cases", file], "rename headDim → head_dim, seqLenQ → seq_len_q")
    try Data(#"[{"element":"fp8","head_dim":64,"seq_len_q":8}]"#.utf8).write(to: URL(fileURLWithPath: file))
    try assertBadInput(["crosscheck", "--cases", file], "cases.json")
    try Data(#"[{"element":"e4m3fn","head_dim":40,"seq_len_q":8}]"#.utf8).write(to: URL(fileURLWithPath: file))
    try assertBadInput(["crosscheck", "--cases", file, "--script", path("none.py")], "multiple of 16")
    let q = try write(NPYArray(shape: [1, 4, 1, 64], float32: [Float](repeating: 1, count: 256)), "q.npy")
    try assertBadInput(["attention", "--algorithm", "fa3", "--q", q, "--k", q, "--v", q, "--out", path("o.npy")], "needs code inputs")
    let c = try write(NPYArray(shape: [1, 4, 1, 64], uint16: [UInt16](repeating: 0x3F80, count: 256)), "c.npy")
    try assertBadInput(["attention", "--algorithm", "fa3", "--q", c, "--k", c, "--v", c, "--input-format", "bf16",
                        "--out", path("o.npy"), "--fa3-set", "exp2=fast"], "mufu or ieee")
  }
}

/// `flashnum regress`: the shipped baseline passes, a scheme made worse on purpose fails.
final class RegressCLITests: CLITestCase {
  static let shipped = Repository.path("Reports/baselines/shipped-schemes.json")

  /// The shipped baseline, its scheme files made absolute (the copies are written elsewhere).
  func baseline() throws -> [String: Any] {
    var b = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shipped))) as? [String: Any])
    let folder = URL(fileURLWithPath: Self.shipped).deletingLastPathComponent()
    b["scheme_files"] = (b["scheme_files"] as? [String])?.map { folder.appendingPathComponent($0).standardized.path }
    return b
  }

  func write(_ object: [String: Any], _ name: String) throws -> String {
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path(name)))
    return path(name)
  }

  func testShippedSchemesPassTheirBaseline() throws {
    let r = try run(["regress", "--baseline", Self.shipped, "--threads", "2"])
    XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    XCTAssertTrue(r.stdout.contains("within their pinned values"), r.stdout)
    // From a folder outside the checkout: the default is the shipped baseline, its scheme files
    // found relative to it; the baseline's provenance names the tool that pinned it.
    let elsewhere = directory.appendingPathComponent("elsewhere")
    try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
    let away = try run(["regress", "--threads", "2", "--json"], in: elsewhere)
    XCTAssertEqual(away.status, 0, away.stdout + away.stderr)
    let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(away.stdout.utf8)) as? [String: Any])
    let used = try XCTUnwrap(report["baseline"] as? String)
    XCTAssertEqual(URL(fileURLWithPath: used).resolvingSymlinksInPath().path, URL(fileURLWithPath: Self.shipped).resolvingSymlinksInPath().path)
    XCTAssertEqual(report["passed"] as? Bool, true)
    let pinned = try XCTUnwrap(try baseline()["provenance"] as? [String: String])
    XCTAssertEqual(pinned["git_commit"]?.count, 40)
    XCTAssertEqual(pinned["git_dirty"], "false")
  }

  func testAWorseSchemeFailsWithATable() throws {
    // Replace a scheme by a worse one (e5m2 keeps one mantissa bit fewer) under the same pins.
    var b = try baseline()
    var entries = try XCTUnwrap(b["entries"] as? [[String: Any]])
    let index = try XCTUnwrap(entries.firstIndex { $0["scheme"] as? String == "fa3-fp8-per-head" })
    entries[index]["scheme"] = "fp8-e5m2-per-head"
    b["entries"] = [entries[index], entries[0]]
    let r = try run(["regress", "--baseline", try write(b, "worse.json")])
    XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
    XCTAssertTrue(r.stdout.contains("| fp8-e5m2-per-head | N=256 d=64 h=2 sparse-outliers seed 0 blocked-hopper-tiles | rmse |"), r.stdout)
    XCTAssertFalse(r.stdout.contains("| fp32 |"), r.stdout)
    // A pinned value 10 % too low (as if the scheme had been better) also fails; --update repairs it.
    b = try baseline()
    entries = try XCTUnwrap(b["entries"] as? [[String: Any]])
    var metrics = try XCTUnwrap(entries[0]["metrics"] as? [String: Double])
    let rmse = try XCTUnwrap(metrics["rmse"])
    metrics["rmse"] = rmse * 0.9
    entries[0]["metrics"] = metrics
    b["entries"] = [entries[0]]
    let file = try write(b, "low.json")
    XCTAssertEqual(try run(["regress", "--baseline", file]).status, 1)
    XCTAssertEqual(try run(["regress", "--baseline", file, "--update"]).status, 0)
    let updated = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
    let repaired = try XCTUnwrap(((updated["entries"] as? [[String: Any]])?[0]["metrics"] as? [String: Double])?["rmse"])
    XCTAssertEqual(repaired, rmse)
    XCTAssertEqual(try run(["regress", "--baseline", file]).status, 0)
  }

  func testBadBaselinesExitTwo() throws {
    var b = try baseline()
    var entries = try XCTUnwrap(b["entries"] as? [[String: Any]])
    entries[0]["scheme"] = "fp7"
    b["entries"] = [entries[0]]
    try assertBadInput(["regress", "--baseline", try write(b, "a.json")], "entries[0].scheme: unknown scheme 'fp7'")
    entries = try XCTUnwrap(try baseline()["entries"] as? [[String: Any]])
    entries[0]["seqlen"] = 5
    b["entries"] = [entries[0]]
    try assertBadInput(["regress", "--baseline", try write(b, "b.json")], "unknown key 'seqlen'")
    try assertBadInput(["regress", "--baseline", path("missing.json")], "cannot read")
    b = try baseline()
    b["entries"] = [] as [Any]
    try assertBadInput(["regress", "--baseline", try write(b, "empty.json")], "has no entries")
    // A baseline of the first format (camelCase keys) names the renamed keys.
    entries = try XCTUnwrap(try baseline()["entries"] as? [[String: Any]])
    entries[0]["seqLen"] = entries[0].removeValue(forKey: "seq_len")
    b = try baseline()
    b["absoluteTolerance"] = b.removeValue(forKey: "absolute_tolerance")
    b["entries"] = [entries[0]]
    try assertBadInput(["regress", "--baseline", try write(b, "old.json")], "rename absoluteTolerance → absolute_tolerance, seqLen → seq_len")
  }

  func testUsageErrorsAreWholeWithAllowedValuesAndSuggestions() throws {
    let c = try run(["convert", "--format", "e3m4", path("a.npy"), "--out", path("b.npy")])
    XCTAssertEqual(c.status, 2)
    for format in ["e4m3fn", "e5m2", "bf16", "fp16", "e2m1"] { XCTAssertTrue(c.stderr.contains(" \(format),") || c.stderr.hasSuffix(" \(format)\n"), c.stderr) }
    let a = try run(["attention", "--algoritm", "fa3"])
    XCTAssertEqual(a.status, 2)
    XCTAssertTrue(a.stderr.contains("Did you mean '--algorithm'?"), a.stderr)
    let u = try run(["attention", "--q", "q", "--k", "k", "--v", "v", "--out", "o", "--algorithm", "fa2"])
    XCTAssertEqual(u.status, 2)
    XCTAssertTrue(u.stderr.contains("unknown algorithm 'fa2' (allowed: naive, blocked, blocked-hopper-tiles, fa3"), u.stderr)
  }

  func testHugeNumbersRunBoundedOrExitTwo() throws {
    var rng = SplitMix64(seed: 5)
    func values(_ name: String, _ shape: [Int]) throws -> String {
      try write(NPYArray(shape: shape, float32: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -2...2, using: &rng) }), name)
    }
    let q = try values("q.npy", [1, 12, 2, 16]), k = try values("k.npy", [1, 20, 2, 16]), v = try values("v.npy", [1, 20, 2, 16])
    let io = ["attention", "--q", q, "--k", k, "--v", v, "--scheme", "bf16", "--algorithm", "blocked"]
    func output(_ extra: [String], _ name: String) throws -> [Float] {
      let r = try run(io + extra + ["--out", path(name)])
      XCTAssertEqual(r.status, 0, r.stderr)
      return try XCTUnwrap(NPYFile.read(path(name)).float32)
    }
    let max = "\(Int.max)"
    // An unbounded window is no window; blocks wider than the sequence are one block.
    XCTAssertEqual(try output(["--window-left", max, "--window-right", max], "w.npy"), try output([], "plain.npy"))
    XCTAssertEqual(try output(["--block-rows", max, "--block-columns", max], "b.npy"),
                   try output(["--block-rows", "12", "--block-columns", "20"], "one.npy"))
    let c = try write(NPYArray(shape: [1, 4, 1, 64], uint16: [UInt16](repeating: 0x3F80, count: 256)), "c.npy")
    let kernel = ["attention", "--algorithm", "fa3", "--q", c, "--k", c, "--v", c, "--input-format", "bf16", "--out", path("o.npy")]
    try assertBadInput(kernel + ["--fa3-set", "blockColumns=\(max)"], "kBlockN (blockColumns) must be in 1...65536")
    try assertBadInput(kernel + ["--fa3-set", "rowSumLanes=4611686018427387904"], "row-sum lanes (rowSumLanes) must be a power of two in 1...1024")
    for command in ["attention", "reference"] {
      let base = command == "attention" ? io : ["reference", "--q", q, "--k", k, "--v", v]
      try assertBadInput(base + ["--softmax-scale", "1e300", "--out", path("s.npy")], "softmax scale must be finite and positive")
    }
    try assertBadInput(["bench", "attention", "--only", "fa3", "--head-dim", "20", "--seq-len", "32", "--repeats", "1", "--no-peers"],
                       "head dim must be a multiple of 16")
    // Sizes from files whose product overflows or exceeds the tensor limit exit 2 before allocating.
    let cases = path("cases.json")
    try Data(#"[{"element":"bf16","head_dim":64,"seq_len_q":9223372036854775807}]"#.utf8).write(to: URL(fileURLWithPath: cases))
    try assertBadInput(["crosscheck", "--cases", cases, "--reference-bits", "0"], "more than the limit of 268435456 per tensor")
    var b = try baseline()
    var entries = try XCTUnwrap(b["entries"] as? [[String: Any]])
    entries[0]["seq_len"] = 100_000
    entries[0]["heads"] = 100_000
    b["entries"] = [entries[0]]
    try assertBadInput(["regress", "--baseline", try write(b, "huge.json")], "entries[0]: Q would hold")
    // --out and --lse-out may not be the same file.
    try assertBadInput(kernel + ["--lse-out", path("o.npy")], "two outputs are both")
  }

  func testThreadCountsAndOutputsOverInputsExitTwo() throws {
    let q = try write(NPYArray(shape: [1, 4, 1, 16], float32: [Float](repeating: 0.5, count: 64)), "q.npy")
    let io = ["--q", q, "--k", q, "--v", q]
    for t in ["0", "-3", "5000"] {
      try assertBadInput(["attention"] + io + ["--algorithm", "naive", "--out", path("o.npy"), "--threads=\(t)"], "--threads must be in 1...4096")
      try assertBadInput(["regress", "--threads=\(t)"], "--threads must be in 1...4096")
      try assertBadInput(["table", "paper-rmse", "--threads=\(t)"], "--threads must be in 1...4096")
    }
    // An output that is an input, by another spelling or through a symbolic link, is refused.
    try assertBadInput(["attention"] + io + ["--algorithm", "naive", "--out", directory.path + "/./q.npy"], "is also an input")
    try FileManager.default.createSymbolicLink(atPath: path("link.npy"), withDestinationPath: q)
    try assertBadInput(["convert", "--format", "e4m3fn", q, "--out", path("link.npy")], "is also an input")
    try assertBadInput(["reference"] + io + ["--out", path("link.npy")], "is also an input")
    XCTAssertEqual(try NPYFile.read(q).float32, [Float](repeating: 0.5, count: 64), "the input is untouched")
  }

  func testKernelScheduleRejectsDescalesThatAreNotPositive() throws {
    let q = try write(NPYArray(shape: [1, 8, 1, 16], uint8: [UInt8](repeating: 0x38, count: 128)), "q.npy")
    let dv = try write(NPYArray(shape: [1, 1], float32: [1]), "dv.npy")
    let ok = try run(["attention", "--q", q, "--k", q, "--v", q, "--input-format", "e4m3fn", "--algorithm", "fa3",
                      "--descale-q", dv, "--descale-v", dv, "--out", path("o.npy")])
    XCTAssertEqual(ok.status, 0, ok.stderr)
    for (i, bad) in [Float(0), -0.5, .nan, .infinity].enumerated() {
      let d = try write(NPYArray(shape: [1, 1], float32: [bad]), "bad\(i).npy")
      for option in ["--descale-q", "--descale-k", "--descale-v"] {
        try assertBadInput(["attention", "--q", q, "--k", q, "--v", q, "--input-format", "e4m3fn", "--algorithm", "fa3",
                            option, d, "--out", path("o.npy")], "descales must be finite and positive")
      }
    }
  }
}
