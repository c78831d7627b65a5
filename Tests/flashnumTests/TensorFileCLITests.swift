import Foundation
import LowPrecision
import NPY
import XCTest
import ZIPFoundation

/// The same tensors from `.npy` (values, float16, uint codes, ml_dtypes codes), `.npz` (stored
/// and deflated) and `.safetensors` files give identical output bytes; `--json` reports.
final class TensorFileCLITests: CLITestCase {
  /// A safetensors file of `tensors` (name, dtype, shape, bytes), laid out one after another;
  /// `edit` changes the header text.
  func safetensors(_ tensors: [(String, String, [Int], [UInt8])], _ name: String, header edit: (String) -> String = { $0 }) throws -> String {
    var entries: [String] = []
    var data: [UInt8] = []
    for (key, dtype, shape, bytes) in tensors {
      entries.append("\"\(key)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": [\(data.count), \(data.count + bytes.count)]}")
      data += bytes
    }
    return safetensors(header: edit("{" + entries.joined(separator: ", ") + "}"), data: data, name)
  }

  /// Tensors in SDPA's (batch, heads, seqlen, headdim) order with `--layout bhsd` give the same
  /// output bits as the same tensors in (batch, seqlen, heads, headdim), in the same order as they
  /// came; without the flag such a tensor is read as (batch, seqlen, heads, headdim).
  func testBHSDLayoutGivesTheSameBits() throws {
    var rng = SplitMix64(seed: 9)
    let (b, n, m, h, hk, d) = (2, 7, 11, 4, 2, 16)
    func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float(Double.random(in: -2...2, using: &rng)) } }
    let q = random(b * n * h * d), k = random(b * m * hk * d), v = random(b * m * hk * d)
    // (b, s, h, d) → (b, h, s, d) by explicit indices (not the code under test).
    func toBHSD(_ x: [Float], _ s: Int, _ heads: Int) -> [Float] {
      var out = [Float](repeating: 0, count: x.count)
      for i in 0..<b { for t in 0..<s { for j in 0..<heads { for e in 0..<d {
        out[((i * heads + j) * s + t) * d + e] = x[((i * s + t) * heads + j) * d + e]
      } } } }
      return out
    }
    let bshd = try [(q, [b, n, h, d]), (k, [b, m, hk, d]), (v, [b, m, hk, d])].enumerated().map { i, t in
      try write(NPYArray(shape: t.1, float32: t.0), "s\(i).npy")
    }
    let bhsd = try [(toBHSD(q, n, h), [b, h, n, d]), (toBHSD(k, m, hk), [b, hk, m, d]), (toBHSD(v, m, hk), [b, hk, m, d])].enumerated().map { i, t in
      try write(NPYArray(shape: t.1, float32: t.0), "h\(i).npy")
    }
    for (scheme, algorithm) in [("fa3-fp8-per-head", "blocked"), ("bf16", "naive")] {
      let a = try run(["attention", "--q", bshd[0], "--k", bshd[1], "--v", bshd[2], "--scheme", scheme, "--algorithm", algorithm, "--causal",
                       "--out", path("a.npy")])
      XCTAssertEqual(a.status, 0, a.stderr)
      let c = try run(["attention", "--q", bhsd[0], "--k", bhsd[1], "--v", bhsd[2], "--scheme", scheme, "--algorithm", algorithm, "--causal",
                       "--layout", "bhsd", "--out", path("c.npy")])
      XCTAssertEqual(c.status, 0, c.stderr)
      let o = try NPYFile.read(path("a.npy")), oh = try NPYFile.read(path("c.npy"))
      XCTAssertEqual(oh.shape, [b, h, n, d])
      XCTAssertEqual(oh.float32!, toBHSD(o.float32!, n, h), "\(scheme): the same bits, in SDPA's order")
    }
    let r = try run(["reference", "--q", bhsd[0], "--k", bhsd[1], "--v", bhsd[2], "--layout", "bhsd", "--out", path("r.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(try NPYFile.read(path("r.npy")).shape, [b, h, n, d])
    try assertBadInput(["attention", "--q", bhsd[0], "--k", bhsd[1], "--v", bhsd[2], "--algorithm", "naive", "--layout", "sbhd", "--out", path("x.npy")], "sbhd")
    let flat = try write(NPYArray(shape: [n, h, d], float32: random(n * h * d)), "flat.npy")
    try assertBadInput(["attention", "--q", flat, "--k", flat, "--v", flat, "--algorithm", "naive", "--layout", "bhsd", "--out", path("x.npy")],
                       "(batch, heads, seqlen, headdim)")
  }

  func testEveryFileKindGivesTheSameBits() throws {
    var rng = SplitMix64(seed: 4)
    let shapes = [("q", [1, 40, 2, 64]), ("k", [1, 56, 1, 64]), ("v", [1, 56, 1, 64])]
    let values = shapes.map { (_, s) in (0..<s.reduce(1, *)).map { _ in Float(Double.random(in: -3...3, using: &rng)) } }
    // bf16 codes of the values, as uint16 arrays and as ml_dtypes' '<V2' arrays.
    let codes = values.map { v in v.map { UInt16(FloatFormat.bf16.encode($0, Rounding(.nearestEven, overflow: .infinity))) } }
    func bytes(_ c: [UInt16]) -> [UInt8] { c.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }
    var runs: [[String]] = []
    runs.append(try shapes.indices.map { try write(NPYArray(shape: shapes[$0].1, uint16: codes[$0]), "\(shapes[$0].0).u16.npy") } + ["--input-format", "bf16"])
    runs.append(try shapes.indices.map { try write(NPYArray(shape: shapes[$0].1, dtype: .raw16, bytes: bytes(codes[$0])), "\(shapes[$0].0).v2.npy") }
                + ["--input-format", "bf16"])
    for method in [CompressionMethod.none, .deflate] {
      let file = try npz(shapes.indices.map { (shapes[$0].0, NPYArray(shape: shapes[$0].1, uint16: codes[$0])) }, "t-\(method).npz", compression: method)
      runs.append(shapes.map { "\(file):\($0.0)" } + ["--input-format", "bf16"])
    }
    let st = try safetensors(shapes.indices.map { (shapes[$0].0, "BF16", shapes[$0].1, bytes(codes[$0])) }, "t.safetensors")
    runs.append(shapes.map { "\(st):\($0.0)" })  // the format comes from the file
    var outputs: [Data] = []
    for (i, files) in runs.enumerated() {
      let r = try run(["attention", "--q", files[0], "--k", files[1], "--v", files[2]] + files.dropFirst(3)
                      + ["--algorithm", "fa3", "--out-bits", "--out", path("o\(i).npy")])
      XCTAssertEqual(r.status, 0, "\(files): \(r.stderr)")
      outputs.append(try Data(contentsOf: URL(fileURLWithPath: path("o\(i).npy"))))
    }
    XCTAssertEqual(Set(outputs).count, 1, "every file kind gives the same output bytes")
    // float16 values equal their float32 copies.
    let halves = values[0].map { Float(Float16($0)) }
    let f16 = try write(NPYArray(shape: shapes[0].1, dtype: .float16, bytes: halves.flatMap { h in withUnsafeBytes(of: Float16(h).bitPattern.littleEndian) { Array($0) } }), "q16.npy")
    let f32 = try write(NPYArray(shape: shapes[0].1, float32: halves), "q32.npy")
    let k = try write(NPYArray(shape: shapes[1].1, float32: values[1]), "k.npy"), v = try write(NPYArray(shape: shapes[2].1, float32: values[2]), "v.npy")
    for (q, o) in [(f16, "h.npy"), (f32, "s.npy")] {
      XCTAssertEqual(try run(["attention", "--q", q, "--k", k, "--v", v, "--algorithm", "blocked", "--out", path(o)]).status, 0)
    }
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("h.npy"))), try Data(contentsOf: URL(fileURLWithPath: path("s.npy"))))
  }

  /// A safetensors BF16 tensor names its format: `convert` decodes it to FP8 without
  /// --input-format, and refuses a different one.
  func testConvertTakesTheFormatTheFileNames() throws {
    let codes: [UInt16] = [0x3F80, 0x4000, 0xC040, 0x0000, 0x4380]  // 1, 2, -3, 0, 256
    let st = try safetensors([("x", "BF16", [5], codes.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })], "x.safetensors")
    let r = try run(["convert", "--format", "e4m3fn", st + ":x", "--out", path("o.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(try NPYFile.read(path("o.npy")).uint8, [0x38, 0x40, 0xC4, 0x00, 0x78])  // ml_dtypes gives the same bytes
    try assertBadInput(["convert", "--format", "e4m3fn", "--input-format", "fp16", st + ":x", "--out", path("p.npy")], "holds bf16 codes, not fp16")
  }

  func testBadTensorFilesExitTwo() throws {
    let a = NPYArray(shape: [1, 4, 1, 16], float32: [Float](repeating: 1, count: 64))
    let two = try npz([("q", a), ("k", a)], "two.npz", compression: .none)
    let q = try write(a, "q.npy")
    let args = { (spec: String) in ["attention", "--q", spec, "--k", q, "--v", q, "--algorithm", "naive", "--out", self.path("o.npy")] }
    try assertBadInput(args(two), "holds 2 arrays (k, q); name one as")
    try assertBadInput(args(two + ":x"), "no array 'x' (holds: k, q)")
    try assertBadInput(args(path("missing.npz") + ":q"), "no such file")
    try "not a zip".write(toFile: path("bad.npz"), atomically: true, encoding: .utf8)
    try assertBadInput(args(path("bad.npz") + ":q"), "not a zip file")
    let ones = [UInt8](repeating: 0, count: 256)
    try assertBadInput(args(try safetensors([("q", "F32", [1, 4, 1, 16], ones)], "a.safetensors") + ":z"), "no tensor 'z'")
    try assertBadInput(args(try safetensors([("q", "F32", [1, 4, 1, 17], ones)], "b.safetensors") + ":q"), "data_offsets")
    try assertBadInput(args(try safetensors([("q", "C64", [1, 4, 1, 16], ones)], "c.safetensors") + ":q"), "unsupported dtype C64")
    try assertBadInput(args(try safetensors([("q", "F32", [1, 4, 1, 16], ones)], "d.safetensors") { _ in "[1, 2]" } + ":q"), "not a JSON object")
    try assertBadInput(args(try safetensors([("q", "F32", [-1, 4, 1, 16], ones)], "e.safetensors") + ":q"), "negative or above the tensor limit")
    try assertBadInput(args(try safetensors([("q", "F32", [1 << 20, 1 << 20, 1, 16], ones)], "f.safetensors") + ":q"), "above the tensor limit")
    FileManager.default.createFile(atPath: path("g.safetensors"), contents: Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B]))
    try assertBadInput(args(path("g.safetensors") + ":q"), "does not fit the file")
    let bf = try safetensors([("q", "BF16", [1, 4, 1, 16], [UInt8](repeating: 0, count: 128))], "h.safetensors")
    try assertBadInput(["attention", "--q", bf, "--k", bf, "--v", bf, "--input-format", "e4m3fn", "--algorithm", "fa3", "--out", path("o.npy")],
                       "holds bf16 codes, not e4m3fn")
  }

  func testJSONReports() throws {
    var rng = SplitMix64(seed: 6)
    let t = { (n: String) in try self.write(NPYArray(shape: [1, 24, 1, 32], float32: (0..<768).map { _ in Float.random(in: -2...2, using: &rng) }), n) }
    let q = try t("q.npy"), k = try t("k.npy"), v = try t("v.npy")
    let a = try run(["attention", "--q", q, "--k", k, "--v", v, "--scheme", "fa3-fp8-per-head", "--algorithm", "blocked", "--attribute", "--json",
                     "--out", path("o.npy")])
    XCTAssertEqual(a.status, 0, a.stderr)
    let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(report["scheme"] as? String, "fa3-fp8-per-head")
    let metrics = try XCTUnwrap(report["metrics"] as? [String: Any])
    let rmse = try XCTUnwrap(Double((metrics["rmse"] as? NSNumber)?.description ?? ""))
    // Against the reference command's output (same 128-bit MPFR values), computed here.
    let r = try run(["reference", "--q", q, "--k", k, "--v", v, "--certify", "bound", "--json", "--out", path("r.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    let ref = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    XCTAssertGreaterThanOrEqual(ref["certified_bits"] as? Int ?? 0, 53)
    let o = try NPYFile.read(path("o.npy")).values!, e = try NPYFile.read(path("r.npy")).values!
    let mine = (zip(o, e).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(o.count)).squareRoot()
    XCTAssertEqual(rmse, mine, accuracy: mine * 1e-12)
    XCTAssertGreaterThan(rmse, 1e-4, "FP8 makes a visible error")
  }
}
