#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MatrixMultiply

/// Attention on emulated arithmetic: naive or blocked, any ``PrecisionPlan``, masks, GQA.
///
/// Work is split into (batch, head, block of query rows) tasks over `options.threads` workers
/// (``RowTasks``); the result is bitwise the same for any thread count.
public enum EmulatedAttention {
  /// The output O (batch, seqLenQ, headsQ, headDim), each value rounded to the plan's output
  /// format (returned as `Double`s).
  public static func run(
    _ operands: AttentionOperands, plan: PrecisionPlan, algorithm: AttentionAlgorithm,
    options: AttentionOptions = AttentionOptions()
  ) throws(AttentionError) -> AttentionTensor {
    let shape = try operands.shape()
    try plan.validate()
    try options.validate(shape)
    guard options.threads >= 1 else { throw AttentionError("threads must be at least 1, got \(options.threads)") }
    let rowsPerTask: Int
    switch algorithm {
    case .naive: rowsPerTask = 32
    case .blocked(let s):
      try s.validate()
      rowsPerTask = min(s.blockRows, max(shape.seqLenQ, 1))  // rows only shape the work split
    case .fa3Kernel:
      throw AttentionError("the fa3 kernel schedule runs on the kernel's inputs (FA3Forward, or AttentionScheme.run)")
    }
    let scale = options.scale(headDim: shape.headDim)
    try AttentionOptions.checkSoftmaxScale(scale)
    let kernel = RowKernel(operands, shape, plan, algorithm, options.mask, scale, bias: options.bias)
    var out = AttentionTensor(zerosBatch: shape.batch, seqLen: shape.seqLenQ, heads: shape.headsQ, headDim: shape.headDim)
    out.values.withUnsafeMutableBufferPointer { buffer in
      nonisolated(unsafe) let o = buffer.baseAddress!
      RowTasks.run(batch: shape.batch, heads: shape.headsQ, seqLen: shape.seqLenQ, rowsPerTask: rowsPerTask,
                   threads: options.threads, scratch: { RowKernel.Scratch(kernel) }) { b, h, i, scratch in
        kernel.row(b, h, i, &scratch, o + ((b * shape.seqLenQ + i) * shape.headsQ + h) * shape.headDim)
      }
    }
    return out
  }
}
