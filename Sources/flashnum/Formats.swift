import ArgumentParser
import LowPrecision

/// `flashnum formats`: the table of named formats.
struct Formats: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the table of named formats.",
    discussion: "Every format may also be named by its ml_dtypes dtype's name (float8_e4m3fn, bfloat16, float16, ...).")

  @Flag(help: "Print the formats as one JSON list on stdout instead of the table.") var json = false

  func run() {
    if json { print(FloatFormat.presetsJSON); return }
    print("| format | ml_dtypes | bits (s.e.m) | bias | max finite | min normal | min subnormal | infinity | NaN |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in FloatFormat.presets {
      let hex = { (c: UInt32) in "0x" + String(c, radix: 16, uppercase: true) }
      let inf = f.infinityCode(negative: false).map { "±inf \(hex($0))/\(hex($0 | f.signMask))" } ?? "none"
      let nan: String
      switch f.specials {
      case .ieee: nan = "exp all ones, fraction ≠ 0 (canonical \(hex(f.nanCode()!)))"
      case .finiteAllOnesNaN: nan = "\(hex(f.nanCode()!)), \(hex(f.nanCode(negative: true)!))"
      case .finiteNegativeZeroNaN: nan = "\(hex(f.nanCode()!)) (no -0)"
      case .unsignedAllOnesNaN: nan = "\(hex(f.nanCode()!)) (no zero, no sign)"
      case .none: nan = "none"
      }
      let sub = f.hasSubnormals ? "\(f.minPositive)" : "none"
      print("| \(f.name) | \(f.mlDtypesName ?? "—") | \(f.isSigned ? 1 : 0).\(f.exponentBits).\(f.fractionBits) | \(f.bias) | \(f.maxFinite) | \(f.minNormal) | \(sub) | \(inf) | \(nan) |")
    }
  }
}
