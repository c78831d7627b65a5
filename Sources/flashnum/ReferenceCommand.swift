import Measurement
import Experiments
import ArgumentParser
import Attention
import Foundation
import NPY
import Reference

/// `flashnum reference`: the certified MPFR reference.
struct ReferenceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reference",
    abstract: "Attention of the exact input values in MPFR, certified; float64 output.",
    discussion: """
      The inputs are the exact values of the given tensors (codes times their descales). With \
      --certify rerun (default) the reference is computed at --precision-bits and again at twice \
      that; the outputs (float64, nearest to the higher-precision result) are written, and the number \
      of leading bits on which the two runs agree for every output is printed on stderr. With \
      --certify bound one run at --precision-bits also propagates a rigorous error bound (about a \
      third of the cost); the guaranteed bits are printed. --certify double-word computes in \
      double-word arithmetic with its own rigorous bound (about 10× faster than bound; MPFR at 128 bits \
      only for the final quotients and for rows the bound does not certify to 53 bits; --precision-bits \
      does not apply). Exit 1 when they are below 53 (the \
      float64 outputs are then not certified).
      """)

  @OptionGroup var inputs: AttentionInputOptions
  @Option(name: .customLong("precision-bits"), help: "MPFR working precision in bits (≥ 24).") var precisionBits = 128
  @Flag(name: .customLong("no-certify"), help: "No certificate: one run, no bound.") var noCertify = false
  @Option(name: .customLong("progress-seconds"), help: "Seconds between progress lines on stderr while it runs (default 4; none before the first).")
  var progressSeconds: Double?
  enum Method: String, ExpressibleByArgument, CaseIterable { case rerun, bound, doubleWord = "double-word" }
  @Option(help: "How to certify: rerun (at twice the precision), bound (a-priori error bound, one run) or double-word (double-word arithmetic with its bound).")
  var certify: Method = .rerun
  @Option(help: "Output .npy file (float64).") var out: String
  @Flag(help: "Print a JSON object on stdout (precision, certification and its bits, output).") var json = false

  func validate() throws {
    try checkOutputs([out], notAmong: inputs.paths)
    try checkCount(precisionBits, ReferenceAttention.precisions, "--precision-bits")
    let most = ReferenceAttention.precisions.upperBound / 2
    if !noCertify && certify == .rerun && precisionBits > most {
      throw ValidationError("--precision-bits \(precisionBits): --certify rerun runs again at twice the precision, so at most \(most) (or --certify bound)")
    }
    if let progressSeconds { try checkProgressSeconds(progressSeconds) }
  }

  func run() throws {
    let exact = try inputs.load().operands().dequantized()
    // Progress on stderr for runs longer than a few seconds (nothing for quick ones).
    let ticker = ProgressTicker("reference", interval: progressSeconds ?? 4, announce: false)
    defer { ticker.stop() }
    let method = noCertify ? "MPFR at \(precisionBits) bits" : certify == .doubleWord ? "double-word reference"
      : certify == .bound ? "MPFR at \(precisionBits) bits with its error bound" : "MPFR at \(precisionBits) and \(2 * precisionBits) bits"
    ticker.stage("\(method), \(exact.q.batch * exact.q.heads * exact.q.seqLen) query rows")
    let output: AttentionTensor
    var certificate: Certificate? = nil
    var bound: ErrorBound? = nil
    var redone: Int? = nil
    do {
      if noCertify {
        output = try ReferenceAttention.compute(exact, options: try inputs.options(), precision: precisionBits, threads: max(1, inputs.threads))
      } else if certify == .doubleWord {
        let r = try ReferenceAttention.doubleWord(exact, options: try inputs.options(), threads: max(1, inputs.threads))
        (output, bound, redone) = (r.output, r.bound, r.fallbackRows)
      } else if certify == .bound {
        (output, bound) = try ReferenceAttention.bounded(exact, options: try inputs.options(), precision: precisionBits,
                                                         threads: max(1, inputs.threads))
      } else {
        (output, certificate) = try ReferenceAttention.certified(exact, options: try inputs.options(), precision: precisionBits,
                                                                 threads: max(1, inputs.threads))
      }
    }
    try writeNPY(inputs.axes.outward(NPYArray(shape: output.shape, float64: output.values)), out)
    if json {
      var report: [(String, JSONText)] = [("precision_bits", .int(bound?.precision ?? precisionBits)), ("shape", .array(inputs.axes.outward(output.shape).map { .int($0) })),
                                          ("output", .string(out))]
      if let b = bound { report += [("certify", .string(certify.rawValue)), ("certified_bits", .int(b.certifiedBits)), ("worst_output", .int(b.worstOutput))] }
      if let c = certificate { report += [("certify", .string("rerun")), ("certified_bits", .int(c.agreedBits)), ("worst_output", .int(c.worstOutput))] }
      if noCertify { report.append(("certify", .string("none"))) }
      if let redone { report.append(("rows_redone_in_mpfr", .int(redone))) }
      print(JSONText.object(report).document, terminator: "")
    }
    if let b = bound {
      note("error bound: at least \(b.certifiedBits) correct bits in every output at \(b.precision) bits (worst output at flat index \(b.worstOutput))"
           + (redone.map { "; \($0) rows redone in MPFR at \(ReferenceAttention.fallbackPrecision) bits" } ?? ""))
      if b.certifiedBits < 53 {
        note("the reference is not certified to float64 precision; raise --precision-bits")
        throw ExitCode(1)
      }
    }
    if let c = certificate {
      note("certificate: \(c.agreedBits) bits agree between \(c.precision)- and \(2 * c.precision)-bit runs (worst output at flat index \(c.worstOutput))")
      if !c.certifiesDouble {
        note("the reference is not certified to float64 precision; raise --precision-bits")
        throw ExitCode(1)
      }
    }
  }
}
