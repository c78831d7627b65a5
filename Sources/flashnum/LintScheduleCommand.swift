import ArgumentParser
import Measurement
import Attention

/// `flashnum lint-schedule`: whether an FA3-style schedule can push P past its format's range.
struct LintScheduleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lint-schedule",
    abstract: "Check an FA3-style schedule (the kernel's, changed with --fa3-set) for P that its format cannot hold.",
    discussion: """
      P = 2^(s·sl2 − m·sl2 + offset) is at most 2^offset when the row maximum is current, and 2^(offset + threshold) \
      with a stale-maximum threshold (rescaleThreshold); above the largest value of P's format (e4m3fn 448, e5m2 \
      57344) the saturating cast clamps P while the FP32 row sum keeps it. Prints one line per problem and exits 1, \
      or prints the bound and exits 0.
      """)

  @Option(help: "Element type: bf16, fp16 or e4m3fn.") var element = "e4m3fn"
  @Option(name: .customLong("head-dim"), help: "Head dimension (picks the kernel's tiles).") var headDim = 128
  @Option(name: .customLong("fa3-set"), help: "Change one schedule parameter, NAME=VALUE (repeatable); names: \(FA3Schedule.parameterNames.joined(separator: ", ")).")
  var fa3Set: [String] = []
  @OptionGroup var output: JSONFlag

  func run() throws {
    guard let e = FA3Inputs.Element(rawValue: element) else { throw ValidationError("--element must be bf16, fp16 or e4m3fn, got '\(element)'") }
    try FA3Inputs.checkHeadDim(headDim, element: e)
    var schedule = FA3Schedule.fa3(element: e, headDim: headDim, causal: false, seqLenQ: 2)
    for setting in fa3Set {
      let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { throw InputError("--fa3-set: expected NAME=VALUE, got '\(setting)'") }
      try schedule.set(parts[0], to: parts[1])
    }
    let problems = schedule.lint(element: e)
    let (largest, limit) = schedule.probabilityRange(element: e)
    output.emit(problems.isEmpty ? "ok: P ≤ \(largest), within its format's largest \(limit) (\(schedule))" : problems.joined(separator: "\n"),
                json: .object([("ok", .bool(problems.isEmpty)), ("largest_p", .double(largest)), ("format_largest", .double(limit)),
                               ("schedule", .string("\(schedule)")), ("problems", .array(problems.map { .string($0) }))]))
    if !problems.isEmpty { throw ExitCode(1) }
  }
}
