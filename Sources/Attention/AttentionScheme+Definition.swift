import LowPrecision

/// A scheme's canonical definition: every choice that changes its numbers, as one line of text,
/// and a fingerprint of it. Two schemes with the same definition give the same output bits on the
/// same inputs and algorithm, whatever their names; a scheme file that changes any choice changes
/// the fingerprint (so results of the old definition are never taken for the new one).
extension AttentionScheme {
  /// E.g. `q=e4m3fn:nearest-even:saturate/per-head/amax k=… v=… rotation=none plan=S fp32-sequential→fp32 …`
  /// (the rotation as ``Rotation/definition``).
  public var definition: String {
    "q=\(q.definition) k=\(k.definition) v=\(v.definition) rotation=\(rotation.definition) plan=\(plan.definition)"
  }

  /// FNV-1a (64-bit) of ``definition``, as 16 hex digits.
  public var definitionFingerprint: String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in definition.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
    return String(h, radix: 16).leftPadded(to: 16)
  }
}

extension QuantizationScheme {
  /// `FORMAT/GRANULARITY/RULE`, with the format's rounding mode and overflow policy.
  public var definition: String { "\(format.definition)/\(granularity.name)/\(scaleRule.rawValue)" }
}

extension NumberFormat {
  /// `fp64`, `fp32`, or `NAME:MODE[BITS]:OVERFLOW` (e.g. `e4m3fn:nearest-even:saturate`).
  public var definition: String {
    switch self {
    case .fp64: "fp64"
    case .fp32: "fp32"
    case .low(let f, let r):
      if case .stochastic(let bits) = r.mode { "\(f.name):stochastic\(bits):\(r.overflow.rawValue)" }
      else { "\(f.name):\(r.mode.name):\(r.overflow.rawValue)" }
    }
  }
}

extension PrecisionPlan {
  /// Every stage's choice, in stage order.
  public var definition: String {
    "S \(scoreAccumulation.rawValue)→\(scoreFormat.definition), softmax \(softmaxArithmetic.definition) (\(softmaxScaling.rawValue)), "
      + "P \(probabilityFormat.definition)·2^\(probabilityOffset)\(rowSumOfRoundedP ? " rounded-row-sum" : ""), "
      + "PV \(valueAccumulation.rawValue), \(normalization.rawValue), out \(outputFormat.definition)"
      + (stochasticProbabilities ? ", P seed \(stochasticSeed)" : "")
  }
}

extension String {
  func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
