import ArgumentParser
import Attention
import Foundation
import Measurement

/// `flashnum invariance`: does one request's output depend on the rest of the batch or on the
/// KV cache's length under the FA3 kernel? (``FA3Invariance``)
struct InvarianceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "invariance",
    abstract: "Batch invariance of the FA3 kernel: the split counts it picks and whether one request's bits change with the batch or the cache length.",
    discussion: """
      A probe request (seeded N(0,1) queries, keys and values) is placed as entry 0 of batches of each \
      --batch-sizes and KV caches of each --cache-lengths (other entries: seeded key counts); the table \
      gives the split count the kernel launches with, the probe's own count, and how many of its O and \
      LSE bits equal the first run's, with the worst O difference in bf16 codes and in output units. No GPU is needed: the \
      kernel's split heuristics and arithmetic are emulated bit for bit. Exit 0 either way.
      """)

  @Option(help: "Element type: bf16 or e4m3fn.") var element = "bf16"
  @Option(name: .customLong("head-dim"), help: "Head dimension.") var headDim = 128
  @Option(help: "Query heads.") var heads = 8
  @Option(name: .customLong("kv-heads"), help: "KV heads.") var kvHeads = 2
  @Option(name: .customLong("seqlen-q"), help: "Query rows per request (1: decode).") var seqLenQ = 1
  @Option(help: "The probe's keys (its cache_seqlens entry).") var keys = 2048
  @Option(name: .customLong("batch-sizes"), help: "Comma-separated batch sizes (1...992).") var batchSizes = "1,2,4,8,16,32"
  @Option(name: .customLong("cache-lengths"), help: "Comma-separated KV cache lengths, each at least --keys (default: --keys).")
  var cacheLengths: String?
  @Flag(name: .customLong("no-kvcache"), help: "Call flash_attn_func (no cache; the probe's keys are all of K and V).") var noKVCache = false
  @Option(name: .customLong("num-splits"), help: "The kernel's num_splits (0: its heuristic).") var numSplits = 0
  @Flag(help: "Causal mask (bottom-right aligned).") var causal = false
  @Option(help: "Seed of the probe and of the other entries' key counts.") var seed: UInt64 = 0
  @Option(name: .customLong("sm-count"), help: "The GPU's SM count (H100 SXM, H200: 132).") var smCount = FA3Splits.hopperSMCount
  @Option(help: "Worker threads (results do not depend on it).") var threads = ProcessInfo.processInfo.activeProcessorCount
  @Flag(help: "Print JSON instead of Markdown.") var json = false

  func list(_ text: String, _ option: String) throws -> [Int] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else { throw ValidationError("\(option): expected comma-separated integers, got '\(text)'") }
    let values = items.map { $0! }
    guard Set(values).count == values.count else { throw ValidationError("\(option): a value is given twice in '\(text)'") }
    return values
  }

  func configuration() throws -> FA3Invariance.Configuration {
    var c = FA3Invariance.Configuration()
    guard let e = FA3Inputs.Element(rawValue: element), e != .fp16 else { throw ValidationError("--element must be bf16 or e4m3fn, got '\(element)'") }
    c.element = e
    try checkCount(headDim, 1...256, "--head-dim")
    try checkCount(heads, 1...1024, "--heads")
    try checkCount(kvHeads, 1...1024, "--kv-heads")
    guard heads % kvHeads == 0 else { throw ValidationError("--heads (\(heads)) must be a multiple of --kv-heads (\(kvHeads))") }
    try checkCount(seqLenQ, 1...65_536, "--seqlen-q")
    try checkCount(keys, 1...(1 << 24), "--keys")
    try checkCount(numSplits, 0...FA3Splits.largest, "--num-splits")
    try checkCount(smCount, 1...4096, "--sm-count")
    try checkThreads(threads)
    (c.headDim, c.heads, c.kvHeads, c.seqLenQ, c.keys) = (headDim, heads, kvHeads, seqLenQ, keys)
    c.batchSizes = try list(batchSizes, "--batch-sizes")
    guard c.batchSizes.allSatisfy({ (1...992).contains($0) }) else { throw ValidationError("--batch-sizes must be in 1...992") }
    c.cacheLengths = try cacheLengths.map { try list($0, "--cache-lengths") } ?? [keys]
    guard c.cacheLengths.allSatisfy({ $0 >= keys && $0 <= 1 << 24 }) else {
      throw ValidationError("--cache-lengths must be in \(keys)...\(1 << 24) (at least --keys)")
    }
    if noKVCache && c.cacheLengths != [keys] { throw ValidationError("--cache-lengths needs a KV cache (drop --no-kvcache)") }
    c.kvcache = !noKVCache
    (c.numSplits, c.causal, c.seed, c.smCount) = (numSplits, causal, seed, smCount)
    return c
  }

  func validate() throws { _ = try configuration() }

  func run() throws {
    let result = try FA3Invariance.run(try configuration(), threads: threads)
    if json {
      let rows = result.rows.map { r in
        JSONText.object([("batch", .int(r.batch)), ("cache_length", .int(r.cacheLength)), ("launched_splits", .int(r.launchedSplits)),
                         ("probe_splits", .int(r.probeSplits)), ("o_bits_equal", .double(r.oBitsEqual)),
                         ("lse_bits_equal", .double(r.lseBitsEqual)), ("max_ulp", .int(r.maxULP)), ("max_abs", .double(r.maxAbs))])
      }
      print(JSONText.object([("invariant", .bool(result.invariant)), ("rows", .array(rows))]).document, terminator: "")
      return
    }
    var s = "| batch | cache length | launched splits | probe splits | O bits equal | LSE bits equal | max ulp | max abs diff |\n"
    s += "|---|---|---|---|---|---|---|---|\n"
    for r in result.rows {
      s += String(format: "| %d | %d | %d | %d | %.2f %% | %.2f %% | %d | %.3g |\n", r.batch, r.cacheLength, r.launchedSplits, r.probeSplits,
                  100 * r.oBitsEqual, 100 * r.lseBitsEqual, r.maxULP, r.maxAbs)
    }
    s += "\n" + (result.invariant ? "The probe's bits are the same in every run." : "The probe's bits depend on the batch or the cache length.") + "\n"
    print(s, terminator: "")
  }
}
