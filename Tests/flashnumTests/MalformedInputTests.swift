import Foundation
import LowPrecision
import NPY
import XCTest

/// Malformed and hostile inputs over every subcommand: each must end within seconds, under a
/// 1 GiB address-space limit, with the documented exit status and, for a bad input (exit 2),
/// exactly one line on stderr that names the problem — never a trap, a backtrace or a hang.
final class MalformedInputTests: CLITestCase {
  struct Case {
    var arguments: [String]
    var environment: [String: String] = [:]
    var status: Int32
    /// Text the one error line must contain (exit 2), or nothing.
    var says: String
    var line: UInt
  }

  var cases: [Case] = []

  /// A bad input: exit 2 with one line containing `says`.
  func bad(_ arguments: [String], _ says: String, line: UInt = #line) { cases.append(Case(arguments: arguments, status: 2, says: says, line: line)) }
  /// A hostile but valid input: exit 0.
  func good(_ arguments: [String], line: UInt = #line) { cases.append(Case(arguments: arguments, status: 0, says: "", line: line)) }

  /// Runs `arguments` under `ulimit -v` 1 GiB, killed after `seconds`; `environment` is added to
  /// this process's.
  func runLimited(_ arguments: [String], environment: [String: String], seconds: Double = 30) throws -> (Result, timedOut: Bool) {
    let p = Process()
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    // Under AddressSanitizer (Scripts/asan.sh sets FLASHNUM_SANITIZED) the address space is the
    // sanitizer's, so the memory limit is left out there.
    let limit = ProcessInfo.processInfo.environment["FLASHNUM_SANITIZED"] == nil ? "ulimit -v 1048576; " : ""
    p.arguments = ["-c", limit + "exec \"$0\" \"$@\"", Self.binary.path] + arguments
    p.currentDirectoryURL = directory
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
    let e = err.fileHandleForReading.readDataToEndOfFile()
    _ = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let timedOut = !killer.isCancelled && p.terminationReason == .uncaughtSignal
    killer.cancel()
    return (Result(status: p.terminationStatus, stdout: "", stderr: String(decoding: e, as: UTF8.self)), timedOut)
  }

  func text(_ s: String, _ name: String) throws -> String {
    try s.write(toFile: path(name), atomically: true, encoding: .utf8)
    return path(name)
  }

  func bytes(_ b: [UInt8], _ name: String) -> String {
    FileManager.default.createFile(atPath: path(name), contents: Data(b))
    return path(name)
  }

  /// A `.npy` header (v1) for `descr` and `shape` text followed by `data`.
  func npy(_ name: String, descr: String, shape: String, fortran: Bool = false, data: [UInt8] = []) -> String {
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    let n = header.utf8.count
    return bytes([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + data, name)
  }

  func testMalformedInputsOverEverySubcommand() throws {
    // Valid inputs to mutate one thing at a time.
    var rng = SplitMix64(seed: 5)
    let values = (0..<(32 * 2 * 16)).map { _ in Float.random(in: -2...2, using: &rng) }
    let q = try write(NPYArray(shape: [1, 32, 2, 16], float32: values), "q.npy")
    let k = try write(NPYArray(shape: [1, 32, 2, 16], float32: values.reversed()), "k.npy")
    let v = try write(NPYArray(shape: [1, 32, 2, 16], float32: values.map { $0 / 2 }), "v.npy")
    let codes = values.map { UInt8(FloatFormat.e4m3fn.encode(Double($0) * 100, Rounding(.nearestEven, overflow: .saturate))) }
    let qc = try write(NPYArray(shape: [1, 32, 2, 16], uint8: codes), "qc.npy")
    let descale = try write(NPYArray(shape: [1, 2], float32: [0.01, 0.02]), "d.npy")
    let x = try write(NPYArray(shape: [4], float32: [1, 2, 3, 4]), "x.npy")
    let out = path("o.npy")
    let qkv = ["--q", q, "--k", k, "--v", v]

    // --- .npy files, through convert and attention ---
    let npys: [(String, String)] = [
      (try text("not numpy", "text.npy"), "not a .npy file"),
      (bytes([], "empty.npy"), "empty.npy"),
      (bytes([0x93] + Array("NUMPY".utf8), "magic.npy"), "magic.npy"),
      (bytes([0x93] + Array("NUMPY".utf8) + [9, 0, 10, 0], "version.npy"), "version.npy"),
      (bytes([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF] + Array("{}".utf8), "headerlength.npy"), "headerlength.npy"),
      (npy("descr.npy", descr: "<c16", shape: "(4,)", data: Array(repeating: 0, count: 64)), "descr.npy"),
      (npy("negative.npy", descr: "<f4", shape: "(-4,)"), "negative.npy"),
      (npy("overflow.npy", descr: "<f4", shape: "(4294967296, 4294967296, 4294967296)"), "overflow.npy"),
      (npy("huge.npy", descr: "<f4", shape: "(1099511627776,)"), "huge.npy"),
      (npy("short.npy", descr: "<f4", shape: "(4,)", data: [0, 0, 0]), "short.npy"),
      (npy("shapetext.npy", descr: "<f4", shape: "(4, x)"), "shapetext.npy"),
      (npy("objects.npy", descr: "|O", shape: "(1,)", data: Array(repeating: 0, count: 8)), "objects.npy"),
      (bytes([0x93] + Array("NUMPY".utf8) + [1, 0, 4, 0] + [0xFF, 0xFE, 0x00, 0x0A], "binaryheader.npy"), "binaryheader.npy"),
    ]
    for (file, says) in npys {
      bad(["convert", "--format", "e4m3fn", file, "--out", out], says)
      bad(["attention", "--q", file, "--k", k, "--v", v, "--algorithm", "naive", "--out", out], says)
    }
    bad(["convert", "--format", "e4m3fn", path("missing.npy"), "--out", out], "missing.npy")
    // Big-endian and Fortran-order arrays are read (converted to little-endian C order).
    good(["convert", "--format", "e4m3fn", npy("bigendian.npy", descr: ">f4", shape: "(4,)", data: Array(repeating: 0x3F, count: 16)), "--out", out])
    good(["convert", "--format", "e4m3fn", npy("fortran.npy", descr: "<f4", shape: "(2, 2)", fortran: true, data: Array(repeating: 0, count: 16)), "--out", out])

    // --- convert ---
    bad(["convert", "--format", "e9m9", x, "--out", out], "e9m9")
    bad(["convert", "--format", "", x, "--out", out], "format")
    bad(["convert", "--format", "e4m3fn", x], "--out")
    bad(["convert", "--format", "e4m3fn", x, out], "the output file goes after --out")
    bad(["convert", "--format", "e4m3fn", x, "--out", x], "also an input")
    bad(["convert", "--format", "e4m3fn", x, "--out", directory.path], "is a folder")
    bad(["convert", "--format", "e4m3fn", x, "--out", "/nonexistent/o.npy"], "/nonexistent")
    bad(["convert", "--format", "e4m3fn", "--rounding", "sideways", x, "--out", out], "sideways")
    bad(["convert", "--format", "e4m3fn", "--rounding", "stochastic", "--seed", "-1", "--random-bits", "8", x, "--out", out], "-1")
    bad(["convert", "--format", "e4m3fn", "--rounding", "stochastic", "--seed", "1", "--random-bits", "0", x, "--out", out], "1...32")
    bad(["convert", "--format", "e4m3fn", "--rounding", "stochastic", "--seed", "1", "--random-bits", "99999999999999999999", x, "--out", out], "random-bits")
    bad(["convert", "--format", "e4m3fn", "--overflow", "wrap", x, "--out", out], "wrap")
    bad(["convert", "--decode", "--format", "e4m3fn", x, "--out", out], "must be uint8")
    bad(["convert", "--decode", "--format", "e2m1", try write(NPYArray(shape: [2], uint8: [0x0F, 0x10]), "wide.npy"), "--out", out], "4 bits")
    try FileManager.default.createSymbolicLink(atPath: path("link.npy"), withDestinationPath: q)
    bad(["convert", "--format", "e4m3fn", x, "--out", path("link.npy")], "symbolic link")

    // --- mma ---
    let a8 = try write(NPYArray(shape: [1, 64, 32], uint8: Array(repeating: 0x38, count: 64 * 32)), "a8.npy")
    let b8 = try write(NPYArray(shape: [1, 8, 32], uint8: Array(repeating: 0x38, count: 8 * 32)), "b8.npy")
    let c32 = try write(NPYArray(shape: [1, 64, 8], uint32: Array(repeating: 0, count: 64 * 8)), "c32.npy")
    let mma = { (inst: String, a: String, b: String, c: String) in ["mma", "--instruction", inst, "--a", a, "--b", b, "--c", c, "--out", out] }
    good(mma("wgmma-e4m3-e4m3-k32", a8, b8, c32))
    bad(mma("tf32", a8, b8, c32), "tf32")
    bad(mma("wgmma-bf16-k16", a8, b8, c32), "uint16")
    bad(mma("wgmma-e4m3-e4m3-k32", a8, a8, c32), "shapes do not match")
    bad(mma("wgmma-e4m3-e4m3-k32", a8, b8, a8), "uint32")
    bad(mma("wgmma-e4m3-e4m3-k32", x, b8, c32), "x.npy")
    bad(mma("wgmma-e4m3-e4m3-k32", try write(NPYArray(shape: [1, 64, 16], uint8: Array(repeating: 0, count: 1024)), "a16.npy"),
            try write(NPYArray(shape: [1, 8, 16], uint8: Array(repeating: 0, count: 128)), "b16.npy"), c32), "multiple")
    bad(mma("wgmma-e4m3-e4m3-k32", a8, b8, c32).dropLast(2) + ["--out", a8], "also an input")
    good(mma("wgmma-e4m3-e4m3-k32", npy("ae.npy", descr: "|u1", shape: "(1099511627776, 0, 32)"),
             npy("be.npy", descr: "|u1", shape: "(1099511627776, 0, 32)"), npy("ce.npy", descr: "<u4", shape: "(1099511627776, 0, 0)")))

    // --- mufu ---
    bad(["mufu", "--check", path("missing.bin")], "missing.bin")
    bad(["mufu", "--check", x], "98304 bytes")
    bad(["mufu", "--hashes", "/nonexistent/h.bin"], "/nonexistent")
    bad(["mufu", "--hashes", directory.path], "is a folder")
    bad(["mufu"], "--function")
    bad(["mufu", "--function", "sin", x, "--out", out], "sin")
    bad(["mufu", "--function", "ex2", x], "--out FILE")
    bad(["mufu", "--function", "ex2", x, out], "the output file goes after --out")
    bad(["mufu", "--function", "ex2", qc, "--out", out], "float32")
    bad(["mufu", "--threads", "0", "--function", "ex2", x, out], "--threads")

    // --- attention: options ---
    let att = ["attention"] + qkv + ["--algorithm", "naive"]
    for threads in ["0", "-1", "4097", "99999999999999999999", "two"] { bad(att + ["--threads", threads, "--out", out], "threads") }
    for scale in ["0", "-1", "nan", "inf", "1e300", "-inf"] { bad(att + ["--softmax-scale", scale, "--out", out], "softmax") }
    for w in ["-1", "-9223372036854775808", "x"] { bad(att + ["--window-left", w, "--out", out], "window") }
    good(att + ["--window-right", "9223372036854775807", "--window-left", "9223372036854775807", "--out", out])
    for n in ["0", "-1"] {
      bad(["attention"] + qkv + ["--algorithm", "blocked", "--block-rows", n, "--out", out], "block")
      bad(["attention"] + qkv + ["--algorithm", "blocked", "--block-columns", n, "--out", out], "block")
    }
    // Blocks larger than the sequence are one block.
    good(["attention"] + qkv + ["--algorithm", "blocked", "--block-rows", "9223372036854775807", "--block-columns", "4294967296", "--out", out])
    for set in ["blockColumns=0", "blockColumns=-5", "blockColumns=9223372036854775807", "blockColumns=100000000", "rowSumLanes=0",
                "rowSumLanes=9223372036854775807", "rowSumLanes=100000", "noSuchThing=1", "blockColumns", "exp2=maybe", "=", "tensorCore=tf32"] {
      let name = set.split(separator: "=").first.map(String.init) ?? "fa3-set"
      bad(["attention", "--q", qc, "--k", qc, "--v", qc, "--input-format", "e4m3fn", "--algorithm", "fa3", "--fa3-set", set, "--out", out],
          name == "blockColumns" && !set.contains("=") ? "fa3-set" : name)
    }
    for algorithm in ["fast", "blocked(64x)", "blocked(99999999999999999999x64)", "blocked(64x64,forward)", ""] {
      bad(["attention"] + qkv + ["--algorithm", algorithm, "--out", out], "algorithm")
    }
    for algorithm in ["blocked(0x0)", "blocked(-64x64)"] { bad(["attention"] + qkv + ["--algorithm", algorithm, "--out", out], "block sizes") }
    bad(att + ["--scheme", "fp7", "--out", out], "fp7")
    bad(att + ["--out", q], "also an input")
    bad(att + ["--out", "/nonexistent/o.npy"], "/nonexistent")
    let naive = ["--algorithm", "naive", "--out", out]
    bad(["attention", "--q", q, "--k", x, "--v", v] + naive, "x.npy")
    bad(["attention", "--q", q, "--k", k, "--v", try write(NPYArray(shape: [1, 31, 2, 16], float32: Array(values.prefix(31 * 32))), "v31.npy")] + naive, "V")
    bad(["attention", "--q", try write(NPYArray(shape: [1, 32, 3, 16], float32: Array(repeating: 0, count: 32 * 48)), "q3.npy"), "--k", k, "--v", v] + naive, "heads")
    bad(["attention", "--q", qc, "--k", k, "--v", v] + naive, "input-format")
    bad(["attention", "--q", qc, "--k", qc, "--v", qc, "--input-format", "e2m1"] + naive, "bits")
    bad(["attention", "--q", qc, "--k", qc, "--v", qc, "--input-format", "e4m3fn", "--descale-q", x] + naive, "descale")
    for d in [[0, 1], [-1, 1], [Float.nan, 1], [Float.infinity, 1]] {
      let file = try write(NPYArray(shape: [1, 2], float32: d), "bad-descale.npy")
      bad(["attention", "--q", qc, "--k", qc, "--v", qc, "--input-format", "e4m3fn", "--algorithm", "fa3", "--descale-q", file, "--out", out], "descale")
    }
    bad(["attention"] + qkv + ["--algorithm", "fa3", "--out", out], "fa3")
    // Kernel launch options: splits, caches, varlen.
    let kernel = ["attention", "--q", qc, "--k", qc, "--v", qc, "--input-format", "e4m3fn", "--algorithm", "fa3"]
    for n in ["-1", "257", "x"] { bad(kernel + ["--num-splits", n, "--out", out], "num") }
    good(kernel + ["--num-splits", "0", "--out", out])
    for c in ["-1", "nan", "inf", "-inf", "x"] { bad(kernel + ["--softcap", c, "--out", out], "softcap") }
    bad(kernel + ["--cache-batch-idx", try write(NPYArray(shape: [1], int32: [1]), "idx1.npy"), "--out", out], "cache_batch_idx must be in 0...0")
    bad(kernel + ["--cache-batch-idx", try write(NPYArray(shape: [2], int32: [0, 0]), "idx2.npy"), "--out", out], "shape (batch,)")
    good(kernel + ["--cache-batch-idx", try write(NPYArray(shape: [1], int32: [0]), "idx0.npy"), "--out", out])
    good(kernel + ["--softcap", "0", "--out", out])
    // Finite as a double but infinite as the float32 the kernel keeps: every score would be NaN.
    for c in ["1e300", "3.5e38"] { bad(kernel + ["--softcap", c, "--out", out], "also as float32") }
    good(kernel + ["--softcap", "3.4e38", "--out", out])
    bad(att + ["--softcap", "30", "--out", out], "apply to --algorithm fa3 only")
    bad(att + ["--num-splits", "2", "--out", out], "apply to --algorithm fa3 only")
    bad(["attention"] + qkv + ["--algorithm", "fa3", "--scheme", "bf16", "--num-splits", "2", "--out", out], "need code inputs")
    let long = try write(NPYArray(shape: [1], int32: [33]), "lens33.npy"), twoLens = try write(NPYArray(shape: [2], int32: [3, 4]), "lens2.npy")
    bad(kernel + ["--cache-seqlens", long, "--out", out], "cache_seqlens must be in 0...32")
    bad(kernel + ["--cache-seqlens", twoLens, "--out", out], "shape (batch,)")
    bad(kernel + ["--cache-seqlens", x, "--out", out], "cache_seqlens")
    good(kernel + ["--cache-seqlens", try write(NPYArray(shape: [1], int32: [0]), "lens0.npy"), "--out", out])
    let packed = try write(NPYArray(shape: [32, 2, 16], uint8: codes), "packed.npy")
    let varlen = ["attention", "--q", packed, "--k", packed, "--v", packed, "--input-format", "e4m3fn", "--algorithm", "fa3"]
    let cu = try write(NPYArray(shape: [3], int32: [0, 20, 32]), "cu.npy")
    good(varlen + ["--cu-seqlens-q", cu, "--cu-seqlens-k", cu, "--out", out])
    bad(varlen + ["--cu-seqlens-q", cu, "--out", out], "go together")
    bad(varlen + ["--cu-seqlens-q", try write(NPYArray(shape: [3], int32: [0, 33, 32]), "cu-down.npy"), "--cu-seqlens-k", cu, "--out", out],
        "must not decrease")
    bad(varlen + ["--cu-seqlens-q", try write(NPYArray(shape: [3], int32: [0, 10, 31]), "cu-short.npy"), "--cu-seqlens-k", cu, "--out", out],
        "cu_seqlens_q and cu_seqlens_k end at")
    bad(varlen + ["--cu-seqlens-q", try write(NPYArray(shape: [2], int32: [0, 32]), "cu-one.npy"), "--cu-seqlens-k", cu, "--out", out],
        "same length")
    bad(varlen + ["--cu-seqlens-q", cu, "--cu-seqlens-k", cu, "--max-seqlen-q", "5", "--out", out], "max_seqlen_q")
    bad(kernel + ["--cu-seqlens-q", cu, "--cu-seqlens-k", cu, "--out", out], "3 dimensions")
    bad(["lint-schedule", "--element", "e9m9"], "element")
    bad(["lint-schedule", "--fa3-set", "rescaleThreshold=x"], "rescaleThreshold")
    bad(["lint-schedule", "--fa3-set", "fp8ProbabilityFormat=e3m4"], "fp8ProbabilityFormat")
    bad(["lint-schedule", "--head-dim", "20"], "head dim")
    for list in ["", "0", "x", "1,,2"] { bad(["table", "p-overflow", "--seq-lens", list], "--seq-lens") }
    bad(["table", "p-overflow", "--logit-stds", "-1"], "--logit-stds")
    bad(["table", "p-overflow", "--head-dim", "24"], "--head-dim")
    bad(att + ["--lse-out", out, "--out", out], "outputs")
    bad(["attention"] + qkv + ["--algoritm", "naive", "--out", out], "Did you mean '--algorithm'")

    // --- reference ---
    let ref = ["reference"] + qkv
    for bits in ["0", "23", "-5", "100000000", "x"] { bad(ref + ["--precision-bits", bits, "--out", out], "precision") }
    for scale in ["0", "1e300", "nan"] { bad(ref + ["--softmax-scale", scale, "--out", out], "softmax") }
    bad(ref + ["--certify", "maybe", "--out", out], "maybe")
    bad(ref + ["--out", k], "also an input")
    bad(ref + ["--threads", "-3", "--out", out], "threads")

    // --- table ---
    for (option, value) in [("--seq-len", "0"), ("--seq-len", "-1"), ("--head-dim", "0"), ("--batch", "0"), ("--heads", "-2"),
                            ("--seq-len", "9223372036854775807"), ("--heads", "100000000"), ("--reference-bits", "1"), ("--threads", "0"),
                            ("--format", "xml")] {
      bad(["table", "paper-rmse", option, value], String(option.dropFirst(2)))
    }
    bad(["table", "paper-rmse", "--seq-len", "16", "--head-dim", "16", "--fp64-reference", "--out-dir", x + "/sub"], "x.npy")
    bad(["table", "fa4"], "fa4")

    // --- experiment files (sweep) ---
    let experiment = """
      name: e
      schemes: [fp16]
      seq_len: [16]
      head_dim: 16
      distributions: [{kind: gaussian}]
      seeds: 0
      reference: {kind: mpfr, bits: 64}
      """
    func variant(_ from: String, _ to: String) -> String { experiment.replacingOccurrences(of: from, with: to) }
    let experiments: [(String, String)] = [
      ("name: e\nschemes: [fp16", "e.yaml"),
      ("name: e\nschemes: [fp16]", "missing key"),
      (variant("name: e", "name: ../../escape"), "escape"),
      (variant("name: e", "name: ''"), "name"),
      (variant("schemes: [fp16]", "schemes: [fp17]"), "fp17"),
      (variant("schemes: [fp16]", "schemes: []"), "schemes"),
      (variant("seq_len: [16]", "seq_len: [0]"), "seq_len"),
      (variant("seq_len: [16]", "seq_len: [-16]"), "seq_len"),
      (variant("seq_len: [16]", "seq_len: [9223372036854775807]"), "seq_len"),
      (variant("seq_len: [16]", "seq_len: [99999999999999999999]"), "seq_len"),
      (variant("seq_len: [16]", "seq_len: [1.5]"), "seq_len"),
      (variant("seq_len: [16]", "seq_len: [[16]]"), "seq_len"),
      (variant("head_dim: 16", "head_dim: 0"), "head_dim"),
      (variant("head_dim: 16", "head_dim: 4096\nheads: 4096").replacingOccurrences(of: "seq_len: [16]", with: "seq_len: [32]"), "sizes"),
      (variant("head_dim: 16", "head_dim: 16\nbatch: 100000000"), "batch"),
      (variant("head_dim: 16", "head_dim: 16\nmask: sideways"), "mask"),
      (variant("{kind: gaussian}", "{kind: lognormal}"), "lognormal"),
      (variant("{kind: gaussian}", "{kind: gaussian, std: -1}"), "std"),
      (variant("{kind: gaussian}", "{kind: gaussian, std: .nan}"), "std"),
      (variant("{kind: gaussian}", "{kind: sparse-outliers, probability: 2}"), "probability"),
      (variant("{kind: gaussian}", "{kind: channel-outliers, channels: -1}"), "channels"),
      (variant("{kind: gaussian}", "{kind: attention-sinks, keys: -1}"), "keys"),
      (variant("seeds: 0", "seeds: -1"), "seeds"),
      (variant("seeds: 0", "seeds: [0, 0]"), "listed twice"),
      (variant("schemes: [fp16]", "schemes: [fp16, fp16]"), "listed twice"),
      (variant("{kind: gaussian}", "{kind: gaussian}, {kind: gaussian, std: 1}"), "listed twice"),
      (variant("{kind: mpfr, bits: 64}", "{kind: mpfr, bits: 1}"), "bits"),
      (variant("{kind: mpfr, bits: 64}", "{kind: mpfr, bits: 99999999}"), "bits"),
      (variant("{kind: mpfr, bits: 64}", "{kind: oracle}"), "oracle"),
      (variant("name: e", "name: e\nunknown_key: 1"), "unknown_key"),
      (variant("name: e", "name: e\nalgorithms: [fast]"), "fast"),
      (variant("name: e", "name: e\nalgorithms: [fa3]").replacingOccurrences(of: "[fp16]", with: "[fp32]"), "fa3"),
      (variant("name: e", "name: e\nmetrics: [accuracy]"), "accuracy"),
      (variant("name: e", "name: e\ndefine_schemes: [{name: fp16, base: fp32}]"), "fp16"),
      (variant("name: e", "name: e\ndefine_schemes: [{name: x, base: nothing}]"), "nothing"),
      (variant("name: e", "name: e\ndefine_schemes: [{name: x, base: fp32, format: e9m9}]"), "e9m9"),
      ("name: [unclosed", "e.yaml"),
      ("\t- :\n  - : : :", "e.yaml"),
      ("", "e.yaml"),
      ("[1, 2, 3]", "e.yaml"),
      (variant("seq_len: [16]", "seq_len: [" + (16..<1016).map(String.init).joined(separator: ", ") + "]").replacingOccurrences(of: "seeds: 0", with: "seeds: [" + (0..<2000).map(String.init).joined(separator: ", ") + "]"), "limit"),
      (variant("seq_len: [16]", "seq_len: &a [16, 16]\nmetrics: [*a, *a, *a]"), "metrics"),
    ]
    for (i, (body, says)) in experiments.enumerated() {
      let file = try text(body, "e\(i).yaml")
      bad(["sweep", file, "--out-dir", path("sweeps-\(i)")], says == "e.yaml" ? "e\(i).yaml" : says)
    }
    let good1 = try text(experiment, "good.yaml")
    bad(["sweep", good1, "--out-dir", path("sweeps"), "--shard", "3/2"], "shard")
    bad(["sweep", good1, "--out-dir", path("sweeps"), "--shard", "0/0"], "shard")
    bad(["sweep", good1, "--out-dir", path("sweeps"), "--shard", "1/9223372036854775808"], "shard")
    bad(["sweep", good1, "--out-dir", path("sweeps"), "--threads", "-1"], "threads")
    bad(["sweep", good1, "--out-dir", x], "x.npy")
    bad(["sweep", path("missing.yaml")], "missing.yaml")

    // --- results files (merge, report) ---
    let csv = """
      # experiment_name: e
      # experiment_fingerprint: 0123456789abcdef
      # grid_points: 1
      index,key,scheme,algorithm,precision,incoherent_processing,block_quantization,batch,heads,seq_len,head_dim,mask,distribution,distribution_kind,outlier_magnitude,seed,reference,rmse,seconds
      0,k0,fp16,blocked,fp16,false,false,1,1,16,16,none,gaussian,gaussian,0.0,0,mpfr-64,0.001,0.5

      """
    let rows: [(String, String)] = [
      (csv.replacingOccurrences(of: "index,key,scheme", with: "index,key,scheme,scheme"), "appears twice"),
      (csv.replacingOccurrences(of: ",16,16,none", with: ",-16,16,none"), "seq_len"),
      (csv.replacingOccurrences(of: ",16,16,none", with: ",0,16,none"), "seq_len"),
      (csv.replacingOccurrences(of: ",16,16,none", with: ",16,9223372036854775807,none"), "head_dim"),
      (csv.replacingOccurrences(of: ",none,", with: ",sideways,"), "mask"),
      (csv.replacingOccurrences(of: ",0.0,0,mpfr", with: ",-1.0,0,mpfr"), "outlier_magnitude"),
      (csv.replacingOccurrences(of: ",0.0,0,mpfr", with: ",0.0,-1,mpfr"), "seed"),
      (csv.replacingOccurrences(of: ",0.001,0.5", with: ",0.001,nan"), "seconds"),
      (csv.replacingOccurrences(of: ",0.001,0.5", with: ",abc,0.5"), "rmse"),
      (csv.replacingOccurrences(of: ",false,false,", with: ",maybe,false,"), "incoherent_processing"),
      (csv.replacingOccurrences(of: "0,k0,", with: "0,\"k0,"), "quoted"),
      (csv.replacingOccurrences(of: "# experiment_name: e", with: "# experiment_name: ../../x"), "cannot name result files"),
      ("no header here\n", "header"),
      ("", "header"),
      (csv.replacingOccurrences(of: ",0.5\n", with: ",0.5,extra\n"), "fields"),
    ]
    for (i, (body, says)) in rows.enumerated() {
      let file = try text(body, "r\(i).csv")
      bad(["report", file, "--out-dir", path("reports")], says)
      bad(["merge", file, "--out-dir", path("merged")], says)
    }
    let goodCSV = try text(csv, "good.csv")
    for (value, name) in [("1e308", "big"), ("-1e308", "negative"), ("1.0000000000000002", "ulp"), ("inf", "inf"), ("nan", "nan"), ("5e-324", "tiny")] {
      let second = csv.replacingOccurrences(of: "0,k0,", with: "1,k1,").replacingOccurrences(of: ",0.001,", with: ",\(value),")
      let file = try text(csv + second.split(separator: "\n").last! + "\n", "\(name).csv")
      good(["report", file, "--out-dir", path("reports-\(name)")])
    }
    bad(["report", goodCSV, "--out-dir", x], "is a file")
    bad(["report", goodCSV, "--out-dir", path("reports"), "--name", "../up"], "--name")
    bad(["merge", goodCSV, "--out-dir", path("merged"), "--name", ".hidden"], "--name")
    for json in ["{", "[]", "{\"format\": \"other/1\", \"provenance\": {}, \"columns\": [], \"rows\": []}",
                 "{\"format\": \"flashnumerics-sweep/1\", \"provenance\": {\"experiment_name\": [1]}, \"columns\": [], \"rows\": []}",
                 "{\"format\": \"flashnumerics-sweep/1\", \"provenance\": {}, \"columns\": [], \"rows\": [null]}",
                 String(repeating: "[", count: 100_000)] {
      bad(["report", try text(json, "bad.json"), "--out-dir", path("reports")], "bad.json")
    }

    // --- baselines (regress) ---
    let entry = """
      {"scheme": "fp16", "algorithm": "blocked", "seq_len": 16, "head_dim": 16, "heads": 1, "causal": false, "distribution": "gaussian", "seed": 0, "metrics": {"rmse": 0.001}}
      """
    let baselines: [(String, String)] = [
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": []}", "entries"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "\"seq_len\": 16", with: "\"seq_len\": 0"))]}", "seq_len"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "\"seq_len\": 16", with: "\"seq_len\": 9223372036854775807"))]}", "entries[0]"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "\"heads\": 1", with: "\"heads\": 100000000"))]}", "entries[0]"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "fp16", with: "fp17"))]}", "fp17"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "\"blocked\"", with: "\"fast\""))]}", "fast"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "\"rmse\"", with: "\"accuracy\""))]}", "accuracy"),
      ("{\"description\": \"\", \"tolerance\": -1, \"absolute_tolerance\": 0, \"entries\": [\(entry)]}", "tolerance"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry.replacingOccurrences(of: "\"seq_len\"", with: "\"seqLen\""))]}", "seqLen"),
      ("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"extra\": 1, \"entries\": [\(entry)]}", "extra"),
      ("not json", "b"),
      ("[]", "b"),
    ]
    for (i, (body, says)) in baselines.enumerated() {
      bad(["regress", "--baseline", try text(body, "b\(i).json")], says == "b" ? "b\(i).json" : says)
    }
    bad(["regress", "--baseline", path("missing.json")], "missing.json")
    bad(["regress", "--baseline", try text("{\"description\": \"\", \"tolerance\": 0.01, \"absolute_tolerance\": 0, \"entries\": [\(entry)]}", "ok.json"), "--reference-bits", "0"], "reference-bits")

    // --- crosscheck cases and case directories (no GPU needed to refuse them) ---
    let fa3Case = "{\"element\": \"bf16\", \"head_dim\": 64, \"seq_len_q\": 16}"
    let caseLists: [(String, String)] = [
      ("[\(fa3Case.replacingOccurrences(of: "\"seq_len_q\": 16", with: "\"seq_len_q\": 1000000000"))]", "limit"),
      ("[\(fa3Case.replacingOccurrences(of: "\"seq_len_q\": 16", with: "\"seq_len_q\": 9223372036854775807, \"heads\": 4"))]", "limit"),
      ("[\(fa3Case.replacingOccurrences(of: "\"seq_len_q\": 16", with: "\"seq_len_q\": -1"))]", "sequence lengths"),
      ("[\(fa3Case.replacingOccurrences(of: "64", with: "20"))]", "head dim"),
      ("[\(fa3Case.replacingOccurrences(of: "bf16", with: "e5m2"))]", "e5m2"),
      ("[\(fa3Case.replacingOccurrences(of: "\"seq_len_q\": 16", with: "\"seq_len_q\": 16, \"heads\": 3, \"kv_heads\": 2"))]", "multiple"),
      ("[\(fa3Case.replacingOccurrences(of: "\"seq_len_q\": 16", with: "\"seq_len_q\": 16, \"distribution\": \"cauchy\""))]", "cauchy"),
      ("[\(fa3Case.replacingOccurrences(of: "\"seq_len_q\": 16", with: "\"seq_len_q\": 16, \"colour\": 1"))]", "colour"),
      ("{}", "c"),
      ("[null]", "c"),
    ]
    for (i, (body, says)) in caseLists.enumerated() {
      bad(["crosscheck", "--cases", try text(body, "c\(i).json")], says == "c" ? "c\(i).json" : says)
    }
    bad(["crosscheck", "--case-dir", path("missing-case")], "missing-case")
    bad(["crosscheck", "--case-limit", "0"], "case-limit")
    bad(["crosscheck", "--random", "-1"], "random")
    bad(["crosscheck", "--random", "2", "--cases", path("c0.json")], "random")

    // --- bench ---
    bad(["bench", "convert", "--count", "1000000000000"], "--count")
    bad(["bench", "convert", "--count", "0"], "--count")
    bad(["bench", "convert", "--repeats", "-1"], "--repeats")
    bad(["bench", "mma", "--rows", "1"], "--rows")
    bad(["bench", "mma", "--rows", "9223372036854775807"], "--rows")
    bad(["bench", "attention", "--seq-len", "1000000000"], "--seq-len")
    bad(["bench", "attention", "--head-dim", "0"], "head dim")
    bad(["bench", "attention", "--only", "fa3", "--head-dim", "20", "--seq-len", "64", "--repeats", "1"], "head dim")
    bad(["bench", "attention", "--mpmath-rows", "0"], "--mpmath-rows")
    bad(["bench", "scaling", "--seq-lens", "0"], "--seq-lens")
    bad(["bench", "scaling", "--seq-lens", "9223372036854775807"], "--seq-lens")
    bad(["bench", "scaling", "--head-dims", "20"], "--head-dims")
    bad(["bench", "scaling", "--seq-lens", "64,64"], "twice")
    bad(["bench", "scaling", "--seq-lens", "64", "128"], "--seq-lens takes one comma-separated list: --seq-lens 64,128")
    bad(["bench", "scaling", "--threads", "0"], "threads")
    bad(["bench", "scaling", "--point", "fa3:64"], "--point")
    bad(["bench", "scaling", "--point", "fa3:-1:64:run"], "--point")

    // --- the environment's limits ---
    for value in ["abc", "0", "-5", "99999999999999999999"] {
      cases.append(Case(arguments: ["formats"], environment: ["FLASHNUM_MAX_GRID_POINTS": value], status: 2, says: "FLASHNUM_MAX_GRID_POINTS", line: #line))
    }
    cases.append(Case(arguments: ["sweep", good1, "--out-dir", path("sweeps")], environment: ["FLASHNUM_MAX_TENSOR_ELEMENTS": "100"],
                      status: 2, says: "FLASHNUM_MAX_TENSOR_ELEMENTS", line: #line))
    cases.append(Case(arguments: ["sweep", good1, "--out-dir", path("sweeps-limit"), "--quiet"], environment: ["FLASHNUM_MAX_GRID_POINTS": "1"],
                      status: 0, says: "", line: #line))

    XCTAssertGreaterThanOrEqual(cases.count, 150)
    print("malformed-input suite: \(cases.count) cases")
    for c in cases {
      let (r, timedOut) = try runLimited(c.arguments, environment: c.environment)
      let where_ = "flashnum \(c.arguments.map { $0.count > 60 ? String($0.prefix(60)) + "…" : $0 }.joined(separator: " "))"
      XCTAssertFalse(timedOut, "\(where_): did not end", line: c.line)
      XCTAssertEqual(r.status, c.status, "\(where_): \(r.stderr)", line: c.line)
      XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Backtrac"), "\(where_): \(r.stderr)", line: c.line)
      if c.status == 2 {
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(where_): \(r.stderr)", line: c.line)
        XCTAssertTrue(r.stderr.contains(c.says), "\(where_): '\(r.stderr)' lacks '\(c.says)'", line: c.line)
      }
    }
  }
}
