import Foundation
import LowPrecision
import NPY
import XCTest
import ZIPFoundation

/// Hostile containers, limits at their extremes, results files with forged provenance and
/// values that try to escape a generated script: each is one line and exit 2, never a trap.
final class HostileInputTests: CLITestCase {
  let array = NPYArray(shape: [1, 4, 1, 16], float32: (0..<64).map { Float($0) / 8 })

  func attention(_ spec: String) -> [String] {
    ["attention", "--q", spec, "--k", spec, "--v", spec, "--algorithm", "naive", "--out", path("o-\(UUID().uuidString).npy")]
  }

  /// Every reader, with the tensor limit at 1, at ordinary sizes and at the largest values its
  /// variable takes (where elements × 8 bytes overflows): exit 0 or a one-line exit 2, never a
  /// signal; and the limit, when it refuses, is named.
  func testLimitExtremesOverEveryReader() throws {
    let npy = try write(array, "q.npy")
    let stored = try npz([("q", array)], "s.npz"), deflated = try npz([("q", array)], "d.npz", compression: .deflate)
    let bytes = array.bytes
    let st = safetensors(header: "{\"q\": {\"dtype\": \"F32\", \"shape\": [1, 4, 1, 16], \"data_offsets\": [0, \(bytes.count)]}}", data: bytes, "t.safetensors")
    let specs = [npy, stored + ":q", deflated + ":q", st + ":q"]
    let largest = String(Int.max)
    for limit in ["1", "63", "64", "4611686018427387904", String(Int.max - 1), largest] {
      for spec in specs {
        let mufu = spec == npy ? [["mufu", "--function", "ex2", spec, "--out", path("m.npy")]] : []
        for arguments in [attention(spec), ["convert", "--format", "e4m3fn", spec, "--out", path("c.npy")]] + mufu {
          let r = try run(arguments, environment: ["FLASHNUM_MAX_TENSOR_ELEMENTS": limit])
          XCTAssertTrue(r.status == 0 || r.status == 2, "\(limit) \(arguments): status \(r.status) \(r.stderr)")
          XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
          if Int(limit)! < 64 {
            XCTAssertEqual(r.status, 2, "\(limit) \(arguments)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("FLASHNUM_MAX_TENSOR_ELEMENTS"), r.stderr)
          } else {
            XCTAssertEqual(r.status, 0, "\(limit) \(arguments): \(r.stderr)")
          }
        }
      }
    }
    for bad in ["0", "-1", "abc", "9223372036854775808", "1e9", ""] where !bad.isEmpty {
      try assertBadInput(attention(npy), "FLASHNUM_MAX_TENSOR_ELEMENTS='\(bad)'", environment: ["FLASHNUM_MAX_TENSOR_ELEMENTS": bad])
    }
  }

  /// A `.npy` header that promises more elements than the limit is refused before its data is
  /// read (the data here is absent): by every command that reads tensors.
  func testNPYHeaderOverTheLimitIsRefusedFirst() throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }"
    header += String(repeating: " ", count: 63 - (10 + header.utf8.count) % 64) + "\n"
    let file = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    _ = FileManager.default.createFile(atPath: path("huge.npy"), contents: Data(file))
    try assertBadInput(["convert", "--format", "e4m3fn", path("huge.npy"), "--out", path("c.npy")], "more than the limit of")
    try assertBadInput(attention(path("huge.npy")), "more than the limit of")
    try assertBadInput(["mufu", "--function", "ex2", path("huge.npy"), "--out", path("m.npy")], "more than the limit of")
  }

  func testCorruptedAndAmbiguousContainers() throws {
    // A stored member whose data no longer matches its CRC-32.
    let file = try npz([("q", array)], "crc.npz")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    let magic = [0x93] + Array("NUMPY".utf8)
    let start = (0...(bytes.count - magic.count)).first { Array(bytes[$0..<$0 + magic.count]) == magic }!
    bytes[start + 128 + 100] ^= 0x40
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    try assertBadInput(attention(file + ":q"), "CRC-32")
    try assertBadInput(["convert", "--format", "bf16", file + ":q", "--out", path("c.npy")], "CRC-32")
    // The same member twice.
    let twice = try npz([("q", array), ("q", array)], "twice.npz")
    try assertBadInput(attention(twice + ":q"), "holds the member 'q.npy' more than once")
    // Names with line breaks stay inside one line of message.
    let crlf = try npz([("a\r\nb", array), ("a\r\nb", array)], "crlf.npz")
    try assertBadInput(attention(crlf + ":q"), "more than once")
    try assertBadInput(attention(try npz([("x\u{2028}y", array), ("z", array)], "ls.npz") + ":q"), "no array 'q'")
    // A header longer than any .npy writes is refused before it is read.
    var long = [0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0, 0x40, 0]  // version 2, 4 MiB header
    long += [UInt8](repeating: 0x20, count: 64)
    _ = FileManager.default.createFile(atPath: path("long.npy"), contents: Data(long))
    try assertBadInput(attention(path("long.npy")), "header of 4194304 bytes is longer than")
    // A safetensors header naming one tensor twice, also through an escape.
    let data = array.bytes
    let entry = "{\"dtype\": \"F32\", \"shape\": [1, 4, 1, 16], \"data_offsets\": [0, \(data.count)]}"
    try assertBadInput(attention(safetensors(header: "{\"q\": \(entry), \"q\": \(entry)}", data: data, "a.safetensors") + ":q"), "names 'q' more than once")
    try assertBadInput(attention(safetensors(header: "{\"q\": \(entry), \"\\u0071\": \(entry)}", data: data, "b.safetensors") + ":q"),
                       "names 'q' more than once")
    try assertBadInput(attention(safetensors(header: "{\"q\": {\"dtype\": \"F32\", \"dtype\": \"F64\", \"shape\": [1, 4, 1, 16], \"data_offsets\": [0, \(data.count)]}}",
                                             data: data, "c.safetensors") + ":q"), "names 'dtype' more than once")
  }

  /// Results files whose provenance or keys were forged: merge refuses them.
  func testMergeValidatesProvenanceAndKeys() throws {
    let experiment = """
      name: forged
      schemes: [fp16]
      seq_len: [16, 32]
      head_dim: 16
      distributions: [{kind: gaussian}]
      seeds: 0
      reference: {kind: mpfr, bits: 64}
      """
    try experiment.write(toFile: path("e.yaml"), atomically: true, encoding: .utf8)
    for i in 1...2 { XCTAssertEqual(try run(["sweep", path("e.yaml"), "--out-dir", path("r"), "--shard", "\(i)/2", "--quiet"]).status, 0) }
    let csv = try String(contentsOfFile: path("r/forged.shard-1-of-2.csv"), encoding: .utf8)
    let json = try String(contentsOfFile: path("r/forged.shard-2-of-2.json"), encoding: .utf8)
    XCTAssertEqual(try run(["merge", path("r/forged.shard-1-of-2.csv"), path("r/forged.shard-2-of-2.json"), "--out-dir", path("ok")]).status, 0)
    // What the tool writes, it reads: a merged file merged again and reported, and shards of a
    // split finer than the grid (5/8 of 2 points).
    let again = try run(["merge", path("ok/forged.csv"), path("r/forged.shard-2-of-2.csv"), "--out-dir", path("ok2")])
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertEqual(try run(["report", path("ok2/forged.csv"), "--out-dir", path("ok2/report")]).status, 0)
    XCTAssertEqual(try run(["sweep", path("e.yaml"), "--out-dir", path("fine"), "--shard", "5/8", "--quiet"]).status, 0)
    let fine = try run(["merge", path("fine/forged.shard-5-of-8.csv"), path("ok/forged.csv"), "--out-dir", path("fine-merged")])
    XCTAssertEqual(fine.status, 0, fine.stderr)
    func forged(_ text: String, _ name: String) throws -> String {
      try text.write(toFile: path(name), atomically: true, encoding: .utf8)
      return path(name)
    }
    for (from, to, says) in [("# shard: 1/2", "# shard: 3/2", "shard '3/2'"), ("# shard: 1/2", "# shard: 0/2", "shard '0/2'"),
                             ("# shard: 1/2", "# shard: 1/x", "shard '1/x'"), ("# shard: 1/2", "# shard: 1/-2", "shard '1/-2'"),
                             ("# grid_points: 2", "# grid_points: 18446744073709551617", "grid_points '18446744073709551617'"),
                             ("# grid_points: 2", "# grid_points: -2", "grid_points '-2'"),
                             ("# shard_points: 1", "# shard_points: 9", "shard_points 9 is more than grid_points 2")] {
      XCTAssertTrue(csv.contains(from), "\(from) not in\n\(csv)")
      let bad = try forged(csv.replacingOccurrences(of: from, with: to), "bad-\(UUID().uuidString).csv")
      try assertBadInput(["merge", bad, path("r/forged.shard-2-of-2.json"), "--out-dir", path("m")], says)
    }
    let twice = try forged(csv.replacingOccurrences(of: "# shard: 1/2", with: "# shard: 1/2\n# shard: 2/2"), "twice.csv")
    try assertBadInput(["merge", twice, "--out-dir", path("m")], "provenance 'shard' appears twice")
    // A JSON row naming a column twice (JSON parsers keep one of them without a word).
    let row = try XCTUnwrap(json.range(of: "\"key\": "))
    let duplicated = json.replacingCharacters(in: row, with: "\"index\": 0, \"key\": ")
    XCTAssertNotEqual(duplicated, json)
    try assertBadInput(["merge", try forged(duplicated, "dup.json"), "--out-dir", path("m")], "appears twice in one object")
  }

  /// Values that would start a line of their own in a batch script are refused before anything
  /// is written, whichever option carries them.
  func testSlurmRefusesScriptInjection() throws {
    let experiment = "name: s\nschemes: [fp16]\nseq_len: [16, 32]\nhead_dim: 16\ndistributions: [{kind: gaussian}]\nseeds: 0\nreference: {kind: fp64}\n"
    try experiment.write(toFile: path("s.yaml"), atomically: true, encoding: .utf8)
    let base = ["slurm", path("s.yaml"), "--tasks", "2"]
    for (option, value) in [("--partition", "a\nrm -rf ~"), ("--time", "1:00\r\necho x"), ("--mem", "2G\u{2028}x"), ("--partition", "a b"),
                            ("--out-dir", path("x\ntouch pwned")), ("--flashnum", "/bin/flashnum\n id"), ("--sbatch-line", "--account=lab\nid"),
                            ("--sbatch-line", "--x=$(id)\u{7F}")] {
      let r = try run(base + (option == "--out-dir" ? [] : ["--out-dir", path("res")]) + [option, value])
      XCTAssertEqual(r.status, 2, "\(option) \(value.debugDescription): \(r.stderr)")
      XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
      XCTAssertTrue(r.stderr.contains(option), "\(option): \(r.stderr)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("x\ntouch pwned")), "a refused --out-dir is not created")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("res/s.array.sbatch")))
  }
}
