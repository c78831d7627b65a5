import LowPrecision

/// The output of one emulated run: O (batch, seqLenQ, heads, headDim) as `Double`s, each a value
/// of `format` (the plan's output format, or the FA3 kernel's bf16/fp16 output).
public struct EmulatedOutput: Sendable {
  public var o: AttentionTensor
  public var format: NumberFormat

  public init(o: AttentionTensor, format: NumberFormat) {
    self.o = o
    self.format = format
  }
}

extension AttentionScheme {
  /// The one run path from input values: rotated by the scheme's rotation (drawn with
  /// `rotationSeed` when random; its streams are independent of the input streams), quantized,
  /// run by `algorithm`, and the output rotated back when the rotation includes V.
  public func run(_ inputs: AttentionInputs, rotationSeed: UInt64, algorithm: AttentionAlgorithm,
                  options: AttentionOptions) throws(AttentionError) -> EmulatedOutput {
    var out = try run(try prepare(inputs, rotationSeed: rotationSeed), algorithm: algorithm, options: options)
    out.o = rotation.restore(out.o, seed: rotationSeed, format: out.format)
    return out
  }

  /// The run path from prepared operands (quantized values and their row scales): the blocked
  /// and naive engines on the scheme's plan, or the FA3 kernel schedule on the operands' codes
  /// and descales (the scheme must store bf16/fp16 casts or e4m3fn per tensor or per head).
  public func run(_ operands: AttentionOperands, algorithm: AttentionAlgorithm,
                  options: AttentionOptions) throws(AttentionError) -> EmulatedOutput {
    guard case .fa3Kernel(let schedule) = algorithm else {
      return EmulatedOutput(o: try EmulatedAttention.run(operands, plan: plan, algorithm: algorithm, options: options),
                            format: plan.outputFormat)
    }
    guard options.mask.windowLeft == nil && options.mask.windowRight == nil else {
      throw AttentionError("the fa3 kernel schedule supports no sliding window (the kernel's local variants use other tiles)")
    }
    guard options.bias == nil else { throw AttentionError("the fa3 kernel schedule takes no attention mask or bias") }
    let shape = try operands.shape()
    if options.mask.causal && options.mask.alignment == .topLeft && shape.seqLenQ != shape.seqLenK {
      throw AttentionError("the fa3 kernel aligns its causal mask bottom-right; top-left differs when seqlen_q ≠ seqlen_k")
    }
    let element = try FA3Inputs.Element(scheme: self)
    let inputs = try FA3Inputs(operands: operands, element: element, causal: options.mask.causal,
                               softmaxScale: options.softmaxScale)
    let out = try FA3Forward.run(inputs, schedule: schedule, threads: options.threads)
    let f = element.outputFormat
    let o = try AttentionTensor(batch: inputs.batch, seqLen: inputs.seqLenQ, heads: inputs.heads, headDim: inputs.headDim,
                                values: out.o.map { f.decode(UInt32($0)) })
    return EmulatedOutput(o: o, format: .rne(f))
  }
}
