import Attention
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One measured point: inputs, a scheme, an algorithm and the reference they are compared with.
/// Sweeps, the FA3 table and the regression gate are lists of these, run by one path: the same
/// point gives the same output bits and the same metrics from every command.
public struct MeasuredPoint: Hashable, Sendable {
  public var inputs: InputSpec
  public var scheme: AttentionScheme
  public var algorithm: AlgorithmChoice
  public var reference: ReferenceSpec

  public init(inputs: InputSpec, scheme: AttentionScheme, algorithm: AlgorithmChoice, reference: ReferenceSpec) {
    self.inputs = inputs
    self.scheme = scheme
    self.algorithm = algorithm
    self.reference = reference
  }

  /// What the reference depends on: the inputs and the reference kind.
  public var inputKey: String { "\(inputs) ref=\(reference.name)" }

  /// What identifies the point's result: the scheme's name and definition fingerprint
  /// (``AttentionScheme/definitionFingerprint``), the algorithm, the inputs and the reference,
  /// e.g. `fa3-fp8-per-head#3f2a… blocked-fa3 N=256 d=64 … ref=mpfr-64`. Everything that changes
  /// the point's numbers is in it, and nothing else (not the rest of the grid).
  public var key: String { "\(scheme.name)#\(scheme.definitionFingerprint) \(algorithm) \(inputKey)" }

  /// The emulated output on `values` (the point's inputs, as ``InputSpec/generate()`` draws them).
  public func output(_ values: AttentionInputs, threads: Int) throws(AttentionError) -> EmulatedOutput {
    let algorithm = try self.algorithm.resolve(for: scheme, headDim: inputs.headDim, causal: inputs.causal,
                                               seqLenQ: inputs.seqLen)
    return try scheme.run(values, seed: inputs.seed, algorithm: algorithm, options: inputs.options(threads: threads))
  }

  /// The point's output measured against `reference` (this point's reference of `values`):
  /// its metrics (ULPs in the output's format) and the seconds the emulation and metrics took.
  public func measure(_ values: AttentionInputs, reference: AttentionTensor,
                      threads: Int) throws(AttentionError) -> (metrics: ErrorMetrics, seconds: Double) {
    let start = monotonicSeconds()
    let out = try output(values, threads: threads)
    let metrics = ErrorMetrics(output: out.o.values, reference: reference.values, format: out.format)
    return (metrics, monotonicSeconds() - start)
  }
}

/// Inputs and references of the points last measured, so that points sharing inputs (adjacent in
/// every driver's order) draw the inputs and compute the reference once.
public final class ReferenceCache {
  private var entries: [String: (inputs: AttentionInputs, reference: AttentionTensor)] = [:]
  /// How many input configurations are kept (the oldest is dropped first).
  public let capacity: Int
  private var order: [String] = []

  public init(capacity: Int = 4) { self.capacity = max(1, capacity) }

  /// The inputs and reference of `point`, computed on `threads` workers when not cached.
  public func entry(for point: MeasuredPoint, threads: Int) throws(AttentionError) -> (inputs: AttentionInputs, reference: AttentionTensor) {
    if let e = entries[point.inputKey] { return e }
    let values = try point.inputs.generate()
    let e = (values, try point.reference.compute(values, options: point.inputs.options(threads: threads)))
    entries[point.inputKey] = e
    order.append(point.inputKey)
    if order.count > capacity { entries[order.removeFirst()] = nil }
    return e
  }
}
