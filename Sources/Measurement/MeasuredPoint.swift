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
  /// The seed of a random rotation (`nil`: the inputs' seed). Its stream is independent of the
  /// input streams, so varying it apart from the inputs' seed separates the spread due to the
  /// rotation from the spread due to the inputs.
  public var rotationSeed: UInt64?

  public init(inputs: InputSpec, scheme: AttentionScheme, algorithm: AlgorithmChoice, reference: ReferenceSpec,
              rotationSeed: UInt64? = nil) {
    self.inputs = inputs
    self.scheme = scheme
    self.algorithm = algorithm
    self.reference = reference
    self.rotationSeed = rotationSeed
  }

  /// The seed the scheme's rotation is drawn with.
  public var effectiveRotationSeed: UInt64 { rotationSeed ?? inputs.seed }

  /// What the reference depends on: the inputs and the reference kind.
  public var inputKey: String { "\(inputs) ref=\(reference.name)" }

  /// What identifies the point's result: the scheme's name and definition fingerprint
  /// (``AttentionScheme/definitionFingerprint``), the algorithm, the inputs and the reference,
  /// e.g. `fa3-fp8-per-head#3f2a… blocked-hopper-tiles N=256 d=64 … ref=mpfr-64`, and ` rotation-seed=S`
  /// when the scheme's rotation is random and its seed is given apart from the inputs'.
  /// Everything that changes the point's numbers is in it, and nothing else (not the rest of the grid).
  public var key: String {
    let rotation = scheme.rotation.isRandom ? rotationSeed.map { " rotation-seed=\($0)" } ?? "" : ""
    return "\(scheme.name)#\(scheme.definitionFingerprint) \(algorithm) \(inputKey)\(rotation)"
  }

  /// The emulated output on `values` (the point's inputs, as ``InputSpec/generate()`` draws them).
  public func output(_ values: AttentionInputs, threads: Int) throws -> EmulatedOutput {
    let algorithm = try self.algorithm.resolve(for: scheme, headDim: inputs.headDim, causal: inputs.causal,
                                               seqLenQ: inputs.seqLen)
    return try scheme.run(values, rotationSeed: effectiveRotationSeed, algorithm: algorithm, options: inputs.options(threads: threads))
  }

  /// The point's output measured against `reference` (this point's reference of `values`):
  /// its metrics (ULPs in the output's format) and the seconds the emulation and metrics took.
  public func measure(_ values: AttentionInputs, reference: AttentionTensor,
                      threads: Int) throws -> (metrics: ErrorMetrics, seconds: Double) {
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
  public func entry(for point: MeasuredPoint, threads: Int) throws -> (inputs: AttentionInputs, reference: AttentionTensor) {
    if let e = entries[point.inputKey] { return e }
    let values = try point.inputs.generate()
    let e = (values, try point.reference.compute(values, options: point.inputs.options(threads: threads)))
    entries[point.inputKey] = e
    order.append(point.inputKey)
    if order.count > capacity { entries[order.removeFirst()] = nil }
    return e
  }
}
