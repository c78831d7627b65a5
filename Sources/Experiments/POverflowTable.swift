import Attention
import Foundation
import LowPrecision
import Measurement

/// A kernel-design what-if on the emulator: FP8 attention whose P can exceed e4m3's range.
///
/// FlashAttention-4's FP8 forward computes P = 2^(s·sl2 − m·sl2 + offset) with offset 8 and keeps
/// a row's stale maximum m while a new block raises it by less than a threshold of 4 log2 units,
/// so P reaches 2^12; its saturating e4m3 cast clamps P at 448 while the FP32 row sum keeps the
/// unclamped value. This table runs the bit-exact FA3 schedule with those two constants
/// (``FA3Schedule/probabilityOffset``, ``FA3Schedule/rescaleThreshold``) and P in e4m3fn or e5m2
/// (``FA3Schedule/fp8ProbabilityFormat``), on e4m3fn Gaussian inputs whose logits have standard
/// deviation σ (softmax scale σ/√d), and reports the relative L2 error of O against the FP64
/// attention of the same (dequantized) inputs.
public struct POverflowTable: Sendable {
  /// One schedule variant: P's offset (log2) and the stale-maximum threshold (`nil`: FA3's).
  public struct Variant: Hashable, Sendable {
    public var name: String
    public var offset: Int
    public var threshold: Float?
  }

  public struct Configuration: Sendable {
    public var seqLens = [512, 1024, 2048, 4096]
    public var logitStds = [0.25, 0.5, 1.0, 2.0]
    public var headDim = 128
    public var heads = 2
    public var seeds: [UInt64] = [0, 1]
    public var threads = 1
    public var variants = [
      Variant(name: "FA4 constants (offset 8, threshold 4)", offset: 8, threshold: 4),
      Variant(name: "threshold 0.75 (offset 8)", offset: 8, threshold: 0.75),
      Variant(name: "offset 4 (threshold 4)", offset: 4, threshold: 4),
      Variant(name: "FA3 (offset 8, always rescale)", offset: 8, threshold: nil),
    ]
    public init() {}
  }

  /// Mean relative L2 error over the seeds, per variant, P format, sequence length and σ.
  public struct Row: Sendable {
    public var variant: Variant
    public var seqLen: Int
    public var logitStd: Double
    public var e4m3: Double, e5m2: Double
    /// e4m3's error over e5m2's: above 1 when the clamp costs more than e5m2's coarser P.
    public var ratio: Double { e4m3 / e5m2 }
  }

  public var configuration: Configuration
  public var rows: [Row]

  public static func run(_ c: Configuration, progress: ((String) -> Void)? = nil) throws(AttentionError) -> POverflowTable {
    var rows: [Row] = []
    for n in c.seqLens {
      for sigma in c.logitStds {
        var sums: [Variant: (Double, Double)] = [:]
        for seed in c.seeds {
          var inputs = try FA3Case(element: .e4m3fn, headDim: c.headDim, seqLenQ: n, heads: c.heads, distribution: "gaussian", seed: seed).inputs()
          inputs.softmaxScale = sigma / Double(c.headDim).squareRoot()
          let options = AttentionOptions(mask: AttentionMask(), softmaxScale: inputs.scale, threads: c.threads)
          let reference = try ReferenceSpec.fp64.compute(inputs.values(), options: options).values
          for v in c.variants {
            progress?("N \(n), σ \(sigma), seed \(seed): \(v.name)")
            var errors: [Double] = []
            for format in [FA3Schedule.FP8Probability.e4m3fn, .e5m2] {
              var s = FA3Schedule.fa3(for: inputs)
              s.probabilityOffset = v.offset
              s.rescaleThreshold = v.threshold
              s.fp8ProbabilityFormat = format
              let o = try FA3Forward.run(inputs, schedule: s, threads: c.threads).o.map { FloatFormat.bf16.decode(UInt32($0)) }
              errors.append(ErrorMetrics(output: o, reference: reference).relativeFrobenius)
            }
            let old = sums[v] ?? (0, 0)
            sums[v] = (old.0 + errors[0], old.1 + errors[1])
          }
        }
        let count = Double(c.seeds.count)
        for v in c.variants {
          let (a, b) = sums[v]!
          rows.append(Row(variant: v, seqLen: n, logitStd: sigma, e4m3: a / count, e5m2: b / count))
        }
      }
    }
    return POverflowTable(configuration: c, rows: rows)
  }

  /// A Markdown report: one table per variant (rows σ, columns N, cells e4m3 / e5m2 errors and
  /// their ratio), the lint of each variant, and the conclusion the numbers support.
  public func markdown(command: String) -> String {
    let c = configuration
    var s = "# FP8 P overflow: FlashAttention-4's constants on the emulator\n\n"
    s += "Made by `\(command)`.\n\n"
    s += "FP8 (e4m3fn) attention with the FA3 kernel's bit-exact schedule, changed in two constants as FlashAttention-4's FP8 "
    s += "forward sets them: P's offset (P = 2^(s·sl2 − m·sl2 + offset)) and a threshold below which a row keeps its stale "
    s += "maximum (no rescale while a new block raises it by less than that many log2 units). P is cast to e4m3fn (saturating at 448) "
    s += "or, as the alternative, to e5m2 (P·V then as e5m2 × e4m3 wgmma). Inputs: Gaussian Q, K, V quantized to e4m3fn per head "
    s += "(descale amax/448), d = \(c.headDim), \(c.heads) heads, not causal, softmax scale σ/√d so that the logits have standard "
    s += "deviation σ; seeds \(c.seeds.map(String.init).joined(separator: ", ")). Cells: relative L2 error of O (bf16) against FP64 "
    s += "attention of the same dequantized inputs, mean over seeds, e4m3 P / e5m2 P, and their ratio (> 1: e4m3 is worse).\n\n"
    for v in c.variants {
      var schedule = FA3Schedule.fa3(element: .e4m3fn, headDim: c.headDim, causal: false, seqLenQ: 2)
      schedule.probabilityOffset = v.offset
      schedule.rescaleThreshold = v.threshold
      let lint = schedule.lint(element: .e4m3fn)
      s += "## \(v.name)\n\n"
      s += lint.isEmpty ? "Lint: P stays within e4m3fn's range.\n\n" : "Lint: " + lint.joined(separator: " ") + "\n\n"
      s += "| σ \\ N | " + c.seqLens.map(String.init).joined(separator: " | ") + " |\n"
      s += "|---|" + String(repeating: "---|", count: c.seqLens.count) + "\n"
      for sigma in c.logitStds {
        s += "| \(sigma) |"
        for n in c.seqLens {
          let r = rows.first { $0.variant == v && $0.seqLen == n && $0.logitStd == sigma }!
          s += String(format: " %.2e / %.2e (%.2f) |", r.e4m3, r.e5m2, r.ratio)
        }
        s += "\n"
      }
      s += "\n"
    }
    s += "## What the numbers say\n\n"
    for v in c.variants {
      let mine = rows.filter { $0.variant == v }
      let worse = mine.filter { $0.ratio > 1 }.count
      let largest = mine.max { $0.ratio < $1.ratio }!
      s += "- \(v.name): e4m3 P is worse than e5m2 P in \(worse) of \(mine.count) cells; the largest ratio is "
      s += String(format: "%.2f (N %d, σ %g).\n", largest.ratio, largest.seqLen, largest.logitStd)
    }
    return s
  }
}
