import Attention
import Foundation
import LowPrecision
import Measurement
import ToolIdentity

/// A kernel-design what-if on the emulator: FP8 attention whose P can exceed e4m3's range.
///
/// A kernel that computes P = 2^(s·sl2 − m·sl2 + offset) and keeps a row's stale maximum m while
/// a new block raises it by less than a threshold (in log2 units) lets P reach
/// 2^(offset + threshold); a saturating e4m3 cast clamps P at 448 while the FP32 row sum keeps the
/// unclamped value. FlashAttention-4 has both constants and keeps offset + threshold below
/// log2 of the format's largest value (docs/fp8-p-overflow.md gives its source); the variants here
/// are what-ifs around them. The table runs the bit-exact FA3 schedule with the two constants
/// (``FA3Schedule/probabilityOffset``, ``FA3Schedule/rescaleThreshold``) and P in e4m3fn or e5m2
/// (``FA3Schedule/fp8ProbabilityFormat``) on e4m3fn inputs whose logits have standard deviation σ
/// (softmax scale σ/√d), and reports the relative L2 error of O against the FP64 attention of the
/// same (dequantized) inputs, per seed: over σ and N; over N mod the key block (the first block
/// the reverse order visits holds N mod Bc keys and sets the first maximum); and on causal and
/// outlier inputs.
public struct POverflowTable: Sendable {
  /// One schedule variant: P's offset (log2) and the stale-maximum threshold (`nil`: rescale
  /// whenever the maximum grows).
  public struct Variant: Hashable, Sendable {
    public var name: String
    public var offset: Int
    public var threshold: Float?
  }

  public struct Configuration: Sendable {
    public var seqLens = [1024, 4096]
    public var logitStds = [0.5, 1.0, 2.0]
    public var headDim = 128
    public var heads = 2
    public var seeds: [UInt64] = Array(0..<8)
    /// Keys in the first key block the kernel visits (N mod Bc, 0 for a full block), each run at
    /// N = ``residueBase`` + r (rounded down to a multiple of Bc first) and σ = 1.
    public var residues = [0, 1, 64, 128, 192]
    public var residueBase = 1024
    public var threads = 1
    public var variants = [
      Variant(name: "offset 8, threshold 4 (P up to 2^12)", offset: 8, threshold: 4),
      Variant(name: "offset 8, threshold 0.75", offset: 8, threshold: 0.75),
      Variant(name: "offset 4, threshold 4", offset: 4, threshold: 4),
      Variant(name: "offset 8, always rescale (FA3; FA4's FP8 setting)", offset: 8, threshold: nil),
    ]
    public init() {}
  }

  /// One configuration of inputs: a section of the report, N, σ, mask and distribution.
  public struct Cell: Hashable, Sendable {
    public enum Section: String, Sendable { case sizes, residue, inputs }
    public var section: Section
    public var seqLen: Int
    public var logitStd: Double
    public var causal = false
    /// `gaussian` or `sparse-outliers` (the FA3 paper's outliers).
    public var distribution = "gaussian"
    public var label: String {
      section == .inputs ? (causal ? "causal, Gaussian" : "sparse outliers (FA3 paper) N(0,1) + N(0,100)·Bernoulli(0.001)") : "N \(seqLen), σ \(logitStd)"
    }
  }

  /// Per seed, the relative L2 errors of one variant on one cell.
  public struct Row: Sendable {
    public var variant: Variant
    public var cell: Cell
    public var e4m3: [Double], e5m2: [Double]
    /// e4m3's error over e5m2's per seed: above 1 when the clamp costs more than e5m2's coarser P.
    public var ratios: [Double] { zip(e4m3, e5m2).map { $0 / $1 } }
  }

  public var configuration: Configuration
  /// Keys per block of the schedule (Bc).
  public var blockColumns: Int
  public var rows: [Row]

  /// The cells of a configuration, in report order.
  public static func cells(_ c: Configuration, blockColumns: Int) -> [Cell] {
    var out: [Cell] = []
    for n in c.seqLens { for sigma in c.logitStds { out.append(Cell(section: .sizes, seqLen: n, logitStd: sigma)) } }
    let base = max(blockColumns, c.residueBase / blockColumns * blockColumns)
    for r in c.residues { out.append(Cell(section: .residue, seqLen: base + r % blockColumns, logitStd: 1)) }
    out.append(Cell(section: .inputs, seqLen: base, logitStd: 1, causal: true))
    out.append(Cell(section: .inputs, seqLen: base, logitStd: 1, distribution: "sparse-outliers"))
    return out
  }

  public static func run(_ c: Configuration, progress: ((String) -> Void)? = nil) throws -> POverflowTable {
    let blockColumns = FA3Schedule.fa3(element: .e4m3fn, headDim: c.headDim, causal: false, seqLenQ: 2).blocks.blockColumns
    var rows: [Row] = []
    for cell in cells(c, blockColumns: blockColumns) {
      var errors: [Variant: ([Double], [Double])] = [:]
      for seed in c.seeds {
        var inputs = try FA3Case(element: .e4m3fn, headDim: c.headDim, seqLenQ: cell.seqLen, heads: c.heads, causal: cell.causal,
                                 distribution: cell.distribution, seed: seed).inputs()
        inputs.softmaxScale = cell.logitStd / Double(c.headDim).squareRoot()
        let options = AttentionOptions(mask: AttentionMask(causal: cell.causal), softmaxScale: inputs.scale, threads: c.threads)
        let reference = try ReferenceSpec.fp64.compute(inputs.values(), options: options).values
        for v in c.variants {
          progress?("\(cell.label)\(cell.section == .inputs ? "" : cell.causal ? ", causal" : ""), seed \(seed): \(v.name)")
          var pair: [Double] = []
          for format in [FA3Schedule.FP8Probability.e4m3fn, .e5m2] {
            var s = FA3Schedule.fa3(for: inputs)
            s.probabilityOffset = v.offset
            s.rescaleThreshold = v.threshold
            s.fp8ProbabilityFormat = format
            let o = try FA3Forward.run(inputs, schedule: s, threads: c.threads).o.map { FloatFormat.bf16.decode(UInt32($0)) }
            pair.append(ErrorMetrics(output: o, reference: reference).relativeFrobenius)
          }
          errors[v, default: ([], [])].0.append(pair[0])
          errors[v, default: ([], [])].1.append(pair[1])
        }
      }
      for v in c.variants { rows.append(Row(variant: v, cell: cell, e4m3: errors[v]!.0, e5m2: errors[v]!.1)) }
    }
    return POverflowTable(configuration: c, blockColumns: blockColumns, rows: rows)
  }

  /// `median [min, max]` of the ratios.
  static func spread(_ v: [Double]) -> String {
    String(format: "%.2f [%.2f, %.2f]", v.median, v.min() ?? .nan, v.max() ?? .nan)
  }

  /// A Markdown report: the setup and where its constants come from, then per variant its lint
  /// and one table per section (cells: the median e4m3 and e5m2 errors and the ratio's median and
  /// range over seeds), and the conclusion the numbers support.
  public func markdown(command: String) -> String {
    let c = configuration
    var s = "# FP8 P overflow: a stale maximum and P's offset on the emulator\n\n"
    s += "Made by `\(command)` (\(ToolIdentity.description)).\n\n"
    s += "FP8 (e4m3fn) attention with the FA3 kernel's bit-exact schedule, changed in two constants: P's offset "
    s += "(P = 2^(s·sl2 − m·sl2 + offset)) and a threshold below which a row keeps its stale maximum (no rescale while a new block "
    s += "raises it by less than that many log2 units), so that P can reach 2^(offset + threshold). FlashAttention-4's Blackwell "
    s += "forward uses offset 8 for FP8 inputs and a threshold of 8 for 16-bit inputs only, and keeps offset + threshold below "
    s += "log2 of the format's largest value; its Hopper forward uses neither ([docs/fp8-p-overflow.md](../docs/fp8-p-overflow.md) "
    s += "gives the source lines). The variants are what-ifs around those constants. P is cast to e4m3fn (saturating at 448) or, "
    s += "as the alternative, to e5m2 (P·V then as e5m2 × e4m3 wgmma). Inputs: Q, K, V quantized to e4m3fn per head (descale "
    s += "amax/448), d = \(c.headDim), \(c.heads) heads, softmax scale σ/√d so that Gaussian logits have standard deviation σ; "
    s += "\(c.seeds.count) seeds (\(c.seeds.map(String.init).joined(separator: ", "))); the schedule's key block Bc = \(blockColumns). "
    s += "Cells: the median relative L2 error of O (bf16) against FP64 attention of the same dequantized inputs, e4m3 P / e5m2 P, "
    s += "and the ratio e4m3 / e5m2 per seed, median [smallest, largest] (> 1: e4m3 is worse).\n\n"
    for v in c.variants {
      var schedule = FA3Schedule.fa3(element: .e4m3fn, headDim: c.headDim, causal: false, seqLenQ: 2)
      schedule.probabilityOffset = v.offset
      schedule.rescaleThreshold = v.threshold
      let lint = schedule.lint(element: .e4m3fn)
      s += "## \(v.name)\n\n"
      s += lint.isEmpty ? "Lint: P stays within e4m3fn's range.\n\n" : "Lint: " + lint.joined(separator: " ") + "\n\n"
      func cell(_ r: Row) -> String { String(format: "%.2e / %.2e, ", r.e4m3.median, r.e5m2.median) + Self.spread(r.ratios) }
      let mine = rows.filter { $0.variant == v }
      s += "Over σ and N (Gaussian, not causal):\n\n| σ \\ N | " + c.seqLens.map(String.init).joined(separator: " | ") + " |\n"
      s += "|---|" + String(repeating: "---|", count: c.seqLens.count) + "\n"
      for sigma in c.logitStds {
        s += "| \(sigma) |"
        for n in c.seqLens { s += " " + cell(mine.first { $0.cell.section == .sizes && $0.cell.seqLen == n && $0.cell.logitStd == sigma }!) + " |" }
        s += "\n"
      }
      s += "\nOver N mod Bc (keys in the first block visited; σ = 1, Gaussian, not causal):\n\n| N | N mod \(blockColumns) | cell |\n|---|---|---|\n"
      for r in mine where r.cell.section == .residue { s += "| \(r.cell.seqLen) | \(r.cell.seqLen % blockColumns) | \(cell(r)) |\n" }
      s += "\nOther inputs (σ = 1 for the Gaussian part, N = \(mine.first { $0.cell.section == .inputs }?.cell.seqLen ?? 0)):\n\n| inputs | cell |\n|---|---|\n"
      for r in mine where r.cell.section == .inputs { s += "| \(r.cell.label) | \(cell(r)) |\n" }
      s += "\n"
    }
    s += "## What the numbers say\n\n"
    for v in c.variants {
      let mine = rows.filter { $0.variant == v }
      let worse = mine.filter { $0.ratios.median > 1 }.count
      let largest = mine.max { $0.ratios.median < $1.ratios.median }!
      s += "- \(v.name): e4m3 P is worse than e5m2 P (median over seeds) in \(worse) of \(mine.count) cells; the largest median ratio is "
      s += "\(Self.spread(largest.ratios)) (\(largest.cell.label)\(largest.cell.section == .residue ? ", N mod Bc = \(largest.cell.seqLen % blockColumns)" : "")).\n"
    }
    let residue = rows.filter { $0.cell.section == .residue && $0.variant == c.variants[0] }
    if residue.count > 1 {
      s += "\nAt σ = 1 with \(c.variants[0].name), the median ratio over N mod Bc runs from "
      s += String(format: "%.2f to %.2f", residue.map { $0.ratios.median }.min()!, residue.map { $0.ratios.median }.max()!)
      s += ": the first key block visited sets the first maximum, and how many keys it holds decides how far later blocks can "
      s += "raise the maximum without a rescale.\n"
    }
    return s
  }
}
