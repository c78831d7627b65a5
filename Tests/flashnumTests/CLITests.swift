import Foundation
import NPY
import LowPrecision
import TestSupport
import XCTest
import ZIPFoundation

/// Runs the `flashnum` executable as a user would: exit status, stderr, output files.
class CLITestCase: XCTestCase {
  struct Result { var status: Int32; var stdout: String; var stderr: String }

  static var binary: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("flashnum")
  }

  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("flashnum-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binary.path), "flashnum not built next to the tests")
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func run(_ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:]) throws -> Result {
    let p = Process()
    p.executableURL = Self.binary
    if let folder { p.currentDirectoryURL = folder }
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // stderr is drained on its own thread: a command that writes much to it (progress lines)
    // must not block on a full pipe while stdout is read.
    nonisolated(unsafe) var e = Data()
    let drained = DispatchSemaphore(value: 0)
    DispatchQueue.global().async { e = err.fileHandleForReading.readDataToEndOfFile(); drained.signal() }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
  }

  func write(_ array: NPYArray, _ name: String) throws -> String {
    try NPYFile.write(array, to: path(name))
    return path(name)
  }

  /// A NumPy `.npz` archive of `members` (each saved as NAME.npy), stored or deflated; a name may
  /// repeat (the archive then holds it twice).
  func npz(_ members: [(String, NPYArray)], _ name: String, compression: CompressionMethod = .none) throws -> String {
    let archive = try Archive(url: URL(fileURLWithPath: path(name)), accessMode: .create)
    for (key, array) in members {
      let bytes = Data(NPYFile.serialize(array))
      try archive.addEntry(with: key + ".npy", type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: compression) { position, size in
        bytes.subdata(in: Int(position)..<Int(position) + size)
      }
    }
    return path(name)
  }

  /// A safetensors file of a given header text: its 8-byte little-endian size, the header, `data`.
  func safetensors(header: String, data: [UInt8], _ name: String) -> String {
    let h = Array(header.utf8)
    var file = withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) }
    file += h + data
    _ = FileManager.default.createFile(atPath: path(name), contents: Data(file))
    return path(name)
  }

  /// Exit 2 with exactly one line on stderr that contains `fragment`.
  func assertBadInput(_ arguments: [String], _ fragment: String, environment: [String: String] = [:], file: StaticString = #filePath,
                      line: UInt = #line) throws {
    let r = try run(arguments, environment: environment)
    XCTAssertEqual(r.status, 2, r.stderr, file: file, line: line)
    XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
    XCTAssertTrue(r.stderr.contains(fragment), "\(r.stderr) lacks \(fragment)", file: file, line: line)
    XCTAssertFalse(r.stderr.contains("Fatal error"), file: file, line: line)
  }

}

/// The number-format commands.
final class CLITests: CLITestCase {
  func testEncodeAndDecodeRoundTrip() throws {
    var rng = SystemRandomNumberGenerator()
    let values = (0..<5000).map { _ in Float.random(in: -600...600, using: &rng) } + [0, -0.0, 1e-5, 464, 465]
    let input = try write(NPYArray(shape: [values.count], float32: values), "x.npy")
    for format in [FloatFormat.e4m3fn, .e5m2, .bf16, .fp16, .e4m3fnuz, .e8m0] {
      let r = try run(["convert", "--format", format.name, input, "--out", path("codes.npy")])
      XCTAssertEqual(r.status, 0, r.stderr)
      let codes = try NPYFile.read(path("codes.npy"))
      let rounding = Rounding(.nearestEven, overflow: format.naturalOverflow)
      let expected = values.map { format.encode($0, rounding) }
      let got = format.bitWidth <= 8 ? codes.uint8!.map(UInt32.init) : codes.uint16!.map(UInt32.init)
      XCTAssertEqual(got, expected, format.name)
      XCTAssertEqual(try run(["convert", "--decode", "--format", format.name, path("codes.npy"), "--out", path("back.npy")]).status, 0)
      let back = try NPYFile.read(path("back.npy")).float32!
      for (c, v) in zip(expected, back) {
        let want = Float(format.decode(c))
        XCTAssert(v.bitPattern == want.bitPattern || (v.isNaN && want.isNaN), "\(format) code \(c)")
      }
    }
  }

  func testFloat64InputIsRoundedOnce() throws {
    let input = try write(NPYArray(shape: [2], float64: [1.0625, 1.0625 + 0x1p-40]), "d.npy")
    XCTAssertEqual(try run(["convert", "--format", "e4m3fn", input, "--out", path("o.npy")]).status, 0)
    XCTAssertEqual(try NPYFile.read(path("o.npy")).uint8, [0x38, 0x39])
  }

  func testRoundingOptions() throws {
    let input = try write(NPYArray(shape: [3], float32: [1.03, -1.03, 500]), "x.npy")
    XCTAssertEqual(try run(["convert", "--format", "e4m3fn", "--rounding", "up", "--overflow", "saturate", input, "--out", path("o.npy")]).status, 0)
    XCTAssertEqual(try NPYFile.read(path("o.npy")).uint8, [0x39, 0xB8, 0x7E])
    let values = (0..<10_000).map { _ in Float(1.03) }
    let many = try write(NPYArray(shape: [100, 100], float32: values), "many.npy")
    let args = ["convert", "--format", "e4m3fn", "--rounding", "stochastic", "--seed", "7", "--random-bits", "8", many, "--out"]
    XCTAssertEqual(try run(args + [path("s1.npy")]).status, 0)
    XCTAssertEqual(try run(args + [path("s2.npy")]).status, 0)
    let s1 = try NPYFile.read(path("s1.npy")), s2 = try NPYFile.read(path("s2.npy"))
    XCTAssertEqual(s1, s2, "same seed, same bits")
    XCTAssertEqual(s1.shape, [100, 100])
    let ups = s1.uint8!.filter { $0 == 0x39 }.count  // 1.03 is 0.24 of the way from 1.0 to 1.125
    XCTAssertEqual(Double(ups) / 10_000, 0.2421875, accuracy: 0.02)  // ⌊0.24·256⌋/256
  }

  func testNaNAndInfinityInputsAreEncodedAndCounted() throws {
    let input = try write(NPYArray(shape: [3], float32: [.nan, .infinity, 1]), "x.npy")
    let r = try run(["convert", "--format", "e4m3fn", input, "--out", path("o.npy")])
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("1 NaN and 1 infinite"), r.stderr)
    XCTAssertEqual(try NPYFile.read(path("o.npy")).uint8, [0x7F, 0x7F, 0x38])
    XCTAssertEqual(try run(["convert", "--format", "e4m3fn", "--overflow", "saturate", input, "--out", path("o.npy")]).status, 0)
    XCTAssertEqual(try NPYFile.read(path("o.npy")).uint8, [0x7F, 0x7E, 0x38])
    try assertBadInput(["convert", "--format", "e2m1", "--overflow", "saturate", input, "--out", path("o.npy")], "has no NaN")
  }

  func testEmptyArrayGivesEmptyOutput() throws {
    let input = try write(NPYArray(shape: [0, 4], float32: []), "e.npy")
    XCTAssertEqual(try run(["convert", "--format", "bf16", input, "--out", path("o.npy")]).status, 0)
    let out = try NPYFile.read(path("o.npy"))
    XCTAssertEqual(out.shape, [0, 4])
    XCTAssertEqual(out.dtype, .uint16)
  }

  /// Codes of one format convert straight to another (decoded exactly, rounded once), and the
  /// ml_dtypes names of formats are accepted wherever a format is named.
  func testConvertFromCodesAndMLDtypesNames() throws {
    var rng = SplitMix64(seed: 32)
    let bf16 = (0..<4096).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
    // ml_dtypes writes bfloat16 arrays as '<V2' (raw 16-bit codes).
    let raw = try write(NPYArray(shape: [64, 64], dtype: .raw16, bytes: bf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }), "bf16.npy")
    let r = try run(["convert", "--format", "float8_e4m3fn", "--input-format", "bfloat16", "--overflow", "saturate", raw, "--out", path("fp8.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    // Oracle: a bf16 code's value is its bits shifted into a float32's top half.
    let rounding = Rounding(.nearestEven, overflow: .saturate)
    let expected = bf16.map { UInt8(FloatFormat.e4m3fn.encode(Double(Float(bitPattern: UInt32($0) << 16)), rounding)) }
    XCTAssertEqual(try NPYFile.read(path("fp8.npy")).uint8, expected)
    XCTAssertEqual(try NPYFile.read(path("fp8.npy")).shape, [64, 64])
    // The canonical names give the same bytes.
    XCTAssertEqual(try run(["convert", "--format", "e4m3fn", "--input-format", "bf16", "--overflow", "saturate", raw, "--out", path("fp8b.npy")]).status, 0)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("fp8.npy"))), try Data(contentsOf: URL(fileURLWithPath: path("fp8b.npy"))))
    let values = try write(NPYArray(shape: [2], float32: [1, 2]), "v.npy")
    try assertBadInput(["convert", "--format", "e4m3fn", "--input-format", "bf16", values, "--out", path("o.npy")], "holds float32 values, not codes")
    try assertBadInput(["convert", "--format", "e4m3fn", raw, "--out", path("o.npy")], "name their format with --input-format")
    try assertBadInput(["convert", "--format", "float8_e9m9", values, "--out", path("o.npy")], "float8_e9m9")
    try assertBadInput(["convert", "--decode", "--format", "e4m3fn", "--input-format", "bf16", raw, "--out", path("o.npy")], "--input-format applies to encoding")
    // `formats --json`: every preset with its ml_dtypes name.
    let f = try run(["formats", "--json"])
    XCTAssertEqual(f.status, 0, f.stderr)
    let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(f.stdout.utf8)) as? [[String: Any]])
    XCTAssertEqual(list.map { $0["name"] as? String }, FloatFormat.presets.map(\.name))
    XCTAssertEqual(list.first { $0["name"] as? String == "bf16" }?["ml_dtypes"] as? String, "bfloat16")
    XCTAssertEqual(list.first { $0["name"] as? String == "e4m3fn" }?["max_finite"] as? Double, 448)
  }

  func testBadInputs() throws {
    let good = try write(NPYArray(shape: [2], float32: [1, 2]), "g.npy")
    let codes = try write(NPYArray(shape: [2], uint8: [1, 2]), "c.npy")
    try "not numpy".write(toFile: path("bad.npy"), atomically: true, encoding: .utf8)
    try assertBadInput(["convert", "--format", "e4m3fn", path("bad.npy"), "--out", path("o.npy")], "not a .npy file")
    try assertBadInput(["convert", "--format", "e4m3fn", path("missing.npy"), "--out", path("o.npy")], "cannot read")
    try assertBadInput(["convert", "--format", "e4m3fn", codes, "--out", path("o.npy")], "name their format with --input-format")
    try assertBadInput(["convert", "--decode", "--format", "bf16", codes, "--out", path("o.npy")], "must be uint16")
    try assertBadInput(["convert", "--decode", "--format", "e4m3fn", good, "--out", path("o.npy")], "must be uint8")
    let wide = try write(NPYArray(shape: [1], uint8: [0x1F]), "w.npy")
    try assertBadInput(["convert", "--decode", "--format", "e2m1", wide, "--out", path("o.npy")], "more than the 4 bits")
    let e9m9 = try run(["convert", "--format", "e9m9", good, "--out", path("o.npy")])
    XCTAssertEqual(e9m9.status, 2)
    XCTAssertTrue(e9m9.stderr.contains("'e9m9' is invalid") && e9m9.stderr.contains("Use one of: e4m3fn, e5m2"), e9m9.stderr)
    try assertBadInput(["convert", "--format", "e4m3fn", "--overflow", "infinity", good, "--out", path("o.npy")], "has no infinity")
    try assertBadInput(["convert", "--format", "e4m3fn", "--rounding", "stochastic", good, "--out", path("o.npy")], "--seed")
    try assertBadInput(["convert", "--format", "e4m3fn", "--seed", "3", good, "--out", path("o.npy")], "stochastic only")
    try assertBadInput(["convert", "--format", "e4m3fn", "--rounding", "stochastic", "--seed", "1", "--random-bits", "40", good, "--out", path("o.npy")], "1...32")
    try assertBadInput(["convert", "--format", "e4m3fn", good, "--out", "/nonexistent/dir/o.npy"], "cannot write")
    try assertBadInput(["nonsense"], "nonsense")
  }

  /// `flashnum mma` on the committed H100 random tiles reproduces the H100's D.
  func testMMAReproducesH100Tiles() throws {
    let fixtures = Repository.url("Tests/HopperTests/Fixtures/h100-mma")
    let f = { (name: String) in fixtures.appendingPathComponent("rand.rs_sd1.\(name).npy").path }
    let r = try run(["mma", "--instruction", "wgmma-e4m3-e4m3-k32", "--a", f("A"), "--b", f("B"), "--c", f("C"), "--out", path("d.npy")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(try NPYFile.read(path("d.npy")), try NPYFile.read(f("D")))
    try assertBadInput(["mma", "--instruction", "wgmma-e4m3-e4m3-k32", "--a", f("A"), "--b", f("A"), "--c", f("C"), "--out", path("d.npy")], "shapes do not match")
    try assertBadInput(["mma", "--instruction", "wgmma-bf16-k16", "--a", f("A"), "--b", f("B"), "--c", f("C"), "--out", path("d.npy")], "must be uint16")
    try assertBadInput(["mma", "--instruction", "tf32", "--a", f("A"), "--b", f("B"), "--c", f("C"), "--out", path("d.npy")], "unknown --instruction")
  }

  func testFormatsTable() throws {
    let r = try run(["formats"])
    XCTAssertEqual(r.status, 0)
    XCTAssertTrue(r.stdout.contains("| e4m3fn | float8_e4m3fn | 1.4.3 | 7 | 448.0 |"), r.stdout)
    XCTAssertTrue(r.stdout.contains("| e5m2 | float8_e5m2 | 1.5.2 | 15 | 57344.0 |"))
    XCTAssertEqual(r.stdout.split(separator: "\n").count, 2 + FloatFormat.presets.count)
  }
}
