import Foundation
import LowPrecision

/// A seeded mutation fuzzer: from valid seed inputs, inputs with a few random edits — bit flips,
/// bytes that matter to the formats (quotes, separators, brackets, digits), deleted, repeated or
/// truncated spans, and numbers swapped for hostile ones (`-1`, `0`, `2^63−1`, `1e308`, `nan`,
/// twenty nines). Case `i` of a run depends only on `(seed, i)`, so a failure is replayed by
/// its number.
///
/// Every run is bounded by a case count and a wall-clock budget (whichever ends first):
/// `FLASHNUM_FUZZ_CASES` (default 3000 per parser) and `FLASHNUM_FUZZ_SECONDS` (default 20);
/// `FLASHNUM_FUZZ_SEED` (default 1) picks another sequence of cases for longer campaigns.
/// Before each case its input is written to `FLASHNUM_FUZZ_DIR` (default the temporary folder)
/// as `fuzz-NAME.last`, so that the input of a crash is on disk.
struct Mutator {
  let seeds: [[UInt8]]
  /// Words spliced into text inputs (the format's keys and values).
  let dictionary: [String]

  static let hostileNumbers = ["-1", "0", "-0", "1.5", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                               "1e308", "1e400", "-1e308", "5e-324", "nan", "inf", "99999999999999999999", "4294967296", "268435457"]
  static let interestingBytes: [UInt8] = Array("\"',:;[]{}()\n\r\t #-.&*!|>0919".utf8) + [0, 0x7F, 0x80, 0xC3, 0xFF]

  /// Case `i` of the run seeded with `seed`.
  func input(_ i: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
    var x = seeds[Int(rng.next() % UInt64(seeds.count))]
    for _ in 0...(rng.next() % 4) { x = mutate(x, &rng) }
    return x
  }

  func mutate(_ x: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var x = x
    guard !x.isEmpty else { return Array(Self.hostileNumbers[Int(rng.next() % UInt64(Self.hostileNumbers.count))].utf8) }
    let at = Int(rng.next() % UInt64(x.count))
    switch rng.next() % 7 {
    case 0: x[at] ^= 1 << (rng.next() % 8)
    case 1: x[at] = Self.interestingBytes[Int(rng.next() % UInt64(Self.interestingBytes.count))]
    case 2: x.removeSubrange(at..<min(x.count, at + 1 + Int(rng.next() % 16)))
    case 3:
      let span = x[at..<min(x.count, at + 1 + Int(rng.next() % 64))]
      x.insert(contentsOf: Array(repeating: span, count: 1 + Int(rng.next() % 8)).joined(), at: at)
    case 4: x.removeSubrange(at...)
    case 5:  // a number (a run of digits, '.', '-', 'e') replaced by a hostile one
      let isNumber = { (b: UInt8) in (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x65 }
      guard let start = x[at...].firstIndex(where: { $0 >= 0x30 && $0 <= 0x39 }) else { break }
      var lo = start, hi = start
      while lo > 0 && isNumber(x[lo - 1]) { lo -= 1 }
      while hi < x.count && isNumber(x[hi]) { hi += 1 }
      x.replaceSubrange(lo..<hi, with: Array(Self.hostileNumbers[Int(rng.next() % UInt64(Self.hostileNumbers.count))].utf8))
    default:
      guard !dictionary.isEmpty else { break }
      x.insert(contentsOf: Array(dictionary[Int(rng.next() % UInt64(dictionary.count))].utf8), at: at)
    }
    return x
  }

  /// Runs `body` on case after case until the budget is spent; returns how many cases ran.
  /// `body` must return normally or throw the parser's own error: a trap ends the test process
  /// (and so fails the test), an assertion inside `body` fails it with the case number.
  @discardableResult
  func run(_ name: String, _ body: (_ input: [UInt8], _ caseNumber: Int) throws -> Void) rethrows -> Int {
    let env = ProcessInfo.processInfo.environment
    let cases = env["FLASHNUM_FUZZ_CASES"].flatMap(Int.init) ?? 3000
    let seconds = env["FLASHNUM_FUZZ_SECONDS"].flatMap(Double.init) ?? 20
    let seed = env["FLASHNUM_FUZZ_SEED"].flatMap(UInt64.init) ?? 1
    let folder = env["FLASHNUM_FUZZ_DIR"] ?? NSTemporaryDirectory()
    let last = URL(fileURLWithPath: folder).appendingPathComponent("fuzz-\(name).last")
    let start = Date()
    var i = 0
    while i < cases && Date().timeIntervalSince(start) < seconds {
      let x = input(i, seed: seed)
      try? Data(x).write(to: last)
      try body(x, i)
      i += 1
    }
    try? FileManager.default.removeItem(at: last)
    return i
  }
}
