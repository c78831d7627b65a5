import Foundation
import NPY
import XCTest

/// Captured model calls (`flashnumerics.torch.capture` files) through `flashnum attention
/// --capture`, `flashnum reference --capture` and experiment files with `captured`, against a
/// textbook attention with PyTorch's semantics written here (top-left causal, boolean and
/// additive masks, GQA).
final class CapturedCLITests: CLITestCase {
  let (b, hq, hkv, nq, nk, d) = (1, 2, 1, 5, 7, 8)

  func values(_ count: Int, _ seed: Double) -> [Double] { (0..<count).map { sin(Double($0) * 0.77 + seed) * 1.5 } }
  var q: [Double] { values(b * hq * nq * d, 0.1) }      // (b, hq, nq, d)
  var k: [Double] { values(b * hkv * nk * d, 1.3) }     // (b, hkv, nk, d)
  var v: [Double] { values(b * hkv * nk * d, 2.9) }
  var boolMask: [UInt8] { (0..<(nq * nk)).map { ($0 * 7 + 3) % 5 == 0 ? 0 : 1 } }   // (nq, nk), 1 attends
  var additive: [Double] { (0..<(nq * nk)).map { cos(Double($0)) * 2 } }            // (1, 1, nq, nk)

  /// O (b, hq, nq, d) of SDPA with `bias(i, j)` (nil drops the key) and the default scale.
  func textbook(_ bias: (Int, Int) -> Double?) -> [Double] {
    var out = [Double](repeating: 0, count: b * hq * nq * d)
    let scale = 1 / Double(d).squareRoot()
    for h in 0..<hq { for i in 0..<nq {
      let hk = h / (hq / hkv)
      var s: [(Int, Double)] = []
      for j in 0..<nk {
        guard let extra = bias(i, j) else { continue }
        var dot = 0.0
        for c in 0..<d { dot += q[(h * nq + i) * d + c] * k[(hk * nk + j) * d + c] }
        s.append((j, dot * scale + extra))
      }
      guard let m = s.map(\.1).max() else { continue }
      let w = s.map { ($0.0, exp($0.1 - m)) }, l = w.reduce(0) { $0 + $1.1 }
      for c in 0..<d { out[(h * nq + i) * d + c] = w.reduce(0) { $0 + $1.1 * v[(hk * nk + $1.0) * d + c] } / l }
    } }
    return out
  }

  /// A capture file as flashnumerics.torch.capture writes it: call0 causal, call1 a boolean
  /// mask, call2 an additive one (GQA in all three).
  func captureFile(_ name: String = "cap.safetensors", extraEntry: String = "", bf16Mask: Bool = false) -> String {
    var header: [String] = []
    var data: [UInt8] = []
    func add(_ tensor: String, _ dtype: String, _ shape: [Int], _ bytes: [UInt8]) {
      header.append("\"\(tensor)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": [\(data.count), \(data.count + bytes.count)]}")
      data += bytes
    }
    func f64(_ x: [Double]) -> [UInt8] { x.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }
    for call in 0..<3 {
      add("call\(call).q", "F64", [b, hq, nq, d], f64(q))
      add("call\(call).k", "F64", [b, hkv, nk, d], f64(k))
      add("call\(call).v", "F64", [b, hkv, nk, d], f64(v))
      add("call\(call).out", "F64", [b, hq, nq, d], f64(Array(repeating: 0, count: b * hq * nq * d)))
    }
    add("call1.mask", "BOOL", [nq, nk], boolMask)
    if bf16Mask {
      add("call2.mask", "BF16", [1, 1, nq, nk], additive.flatMap { v -> [UInt8] in
        let b = UInt16(truncatingIfNeeded: Float(v).bitPattern >> 16)
        return [UInt8(b & 0xFF), UInt8(b >> 8)]
      })
    } else {
      add("call2.mask", "F64", [1, 1, nq, nk], f64(additive))
    }
    func entry(_ call: Int, causal: Bool, mask: Bool) -> String {
      "{\"name\": \"call\(call)\", \"call\": \(call), \"layer\": \(call), \"forward\": 0, \"is_causal\": \(causal), \"scale\": null, \"enable_gqa\": true, \"heads\": null, \"mask\": \(mask)}"
    }
    let entries = [entry(0, causal: true, mask: false), entry(1, causal: false, mask: true), entry(2, causal: false, mask: true)] + (extraEntry.isEmpty ? [] : [extraEntry])
    let meta = "{\"format\": \"flashnumerics-capture-1\", \"status\": \"complete\", \"entries\": [\(entries.joined(separator: ", "))]}"
    let escaped = meta.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    header.append("\"__metadata__\": {\"flashnumerics\": \"\(escaped)\"}")
    return safetensors(header: "{" + header.joined(separator: ", ") + "}", data: data, name)
  }

  func output(_ arguments: [String]) throws -> [Double] {
    let r = try run(arguments + ["--out", path("o.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    let a = try NPYFile.read(path("o.npy"))
    XCTAssertEqual(a.shape, [b, hq, nq, d])
    return a.values ?? []
  }

  func testAttentionAndReferenceReadCapturedCalls() throws {
    let file = captureFile()
    let cases: [(String, (Int, Int) -> Double?)] = [
      ("call0", { i, j in j <= i ? 0 : nil }),                                   // top-left, although nq < nk
      ("call1", { i, j in self.boolMask[i * self.nk + j] != 0 ? 0 : nil }),
      ("call2", { i, j in self.additive[i * self.nk + j] }),
    ]
    for (entry, bias) in cases {
      let expected = textbook(bias)
      for algorithm in ["naive", "blocked"] {
        let o = try output(["attention", "--capture", "\(file):\(entry)", "--scheme", "fp64", "--algorithm", algorithm])
        // O is written as float32 (the fp64 scheme's values rounded once).
        XCTAssertLessThan(zip(o, expected).map { abs($0 - $1) }.max()!, 2e-7, "\(entry) \(algorithm)")
      }
      if entry != "call2" {
        let r = try output(["reference", "--capture", "\(file):\(entry)"])
        XCTAssertLessThan(zip(r, expected).map { abs($0 - $1) }.max()!, 1e-13, entry)
      }
    }
    try assertBadInput(["reference", "--capture", "\(file):call2", "--out", path("r.npy")], "boolean masks only")
  }

  func testExperimentsSweepCapturedCalls() throws {
    _ = captureFile()
    let experiment = path("e.yaml")
    try """
    name: captured
    schemes: [fp32, fa3-fp8-per-head]
    algorithms: [naive, blocked]
    captured: {file: cap.safetensors, entries: [call0, call1]}
    reference: {kind: double-word}
    """.write(toFile: experiment, atomically: true, encoding: .utf8)
    let r = try run(["sweep", experiment, "--out-dir", path("results"), "--quiet"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let rows = try String(contentsOfFile: path("results/captured.csv"), encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
    XCTAssertEqual(rows.count, 1 + 8)
    let columns = rows[0].split(separator: ",").map(String.init)
    let (scheme, distribution, rmse) = (columns.firstIndex(of: "scheme")!, columns.firstIndex(of: "distribution")!, columns.firstIndex(of: "rmse")!)
    let mask = columns.firstIndex(of: "mask")!
    var entries = Set<String>()
    for row in rows.dropFirst() {
      let cells = row.split(separator: ",").map(String.init)
      entries.insert(cells[distribution])
      // The mask column says what the call had: call0 PyTorch's top-left causal mask (nq < nk, so
      // not the bottom-right one), call1 a boolean mask.
      XCTAssertEqual(cells[mask], cells[distribution].hasSuffix("call0") ? "causal+top-left" : "bias", row.description)
      let error = Double(cells[rmse])!
      if cells[scheme] == "fp32" { XCTAssertLessThan(error, 1e-6) } else { XCTAssertGreaterThan(error, 1e-4) }
    }
    XCTAssertEqual(entries, ["captured:cap.safetensors:call0", "captured:cap.safetensors:call1"])
    // The results read back (the mask names parse): a report and a resumed sweep accept them.
    let report = try run(["report", path("results/captured.csv"), "--out-dir", path("report")])
    XCTAssertEqual(report.status, 0, report.stderr)
    let again = try run(["sweep", experiment, "--out-dir", path("results"), "--quiet"])
    XCTAssertEqual(again.status, 0, again.stderr)
    // A mask name outside the vocabulary is refused with the line and what is allowed.
    let text = try String(contentsOfFile: path("results/captured.csv"), encoding: .utf8)
    try text.replacingOccurrences(of: ",causal+top-left,", with: ",causal+sideways,").write(toFile: path("bad.csv"), atomically: true, encoding: .utf8)
    try assertBadInput(["report", path("bad.csv"), "--out-dir", path("report2")], "mask: expected none, causal, or causal/top-left/window(L,R)/bias joined by '+', got 'causal+sideways'")
  }

  /// A bf16 additive mask (torch's usual dtype for a bf16 model) is read exactly.
  func testBF16MaskIsDecoded() throws {
    let file = captureFile("bf16.safetensors", bf16Mask: true)
    let truncated = additive.map { Double(Float(bitPattern: Float($0).bitPattern & 0xFFFF_0000)) }
    let expected = textbook { i, j in truncated[i * self.nk + j] }
    let o = try output(["attention", "--capture", "\(file):call2", "--scheme", "fp64", "--algorithm", "naive"])
    XCTAssertLessThan(zip(o, expected).map { abs($0 - $1) }.max()!, 2e-7)
  }

  func testBadCapturesAreOneLineErrors() throws {
    let file = captureFile()
    try assertBadInput(["attention", "--capture", "\(file):call9", "--algorithm", "blocked", "--out", path("o.npy")], "no entry 'call9'")
    try assertBadInput(["attention", "--capture", "\(file):call0", "--q", file, "--algorithm", "blocked", "--out", path("o.npy")], "drop --q")
    try assertBadInput(["attention", "--capture", "\(file):call0", "--algorithm", "fa3", "--out", path("o.npy")], "fa3 kernel takes no mask")
    try assertBadInput(["attention", "--capture", path("missing.safetensors") + ":call0", "--algorithm", "blocked", "--out", path("o.npy")], "cannot read")
    let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path("cut.safetensors")))
    try assertBadInput(["attention", "--capture", path("cut.safetensors") + ":call0", "--algorithm", "blocked", "--out", path("o.npy")], "cut.safetensors")
    let twice = captureFile("twice.safetensors", extraEntry: "{\"name\": \"call0\", \"call\": 0, \"layer\": 0, \"is_causal\": true, \"mask\": false}")
    try assertBadInput(["attention", "--capture", "\(twice):call0", "--algorithm", "blocked", "--out", path("o.npy")], "listed twice")
    let experiment = path("bad.yaml")
    try "name: x\nschemes: [fp32]\ncaptured: {file: cap.safetensors}\nseq_len: [64]\n".write(toFile: experiment, atomically: true, encoding: .utf8)
    try assertBadInput(["sweep", experiment, "--out-dir", path("r")], "'seq_len' does not apply with 'captured'")
    try "name: x\nschemes: [fp32]\ncaptured: {file: cap.safetensors, entries: [call2]}\n".write(toFile: experiment, atomically: true, encoding: .utf8)
    try assertBadInput(["sweep", experiment, "--out-dir", path("r")], "has an additive (float) mask")
  }
}
