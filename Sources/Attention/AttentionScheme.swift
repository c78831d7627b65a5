import LowPrecision

/// A named way of computing attention in low precision: how Q, K and V are quantized, how they
/// are rotated first (incoherent processing, ``Rotation``), and the precision plan.
public struct AttentionScheme: Hashable, Sendable {
  public var name: String
  /// One line saying what the scheme is.
  public var summary: String
  /// "fp32", "fp16", "bf16" or "fp8": the storage precision of the inputs.
  public var precision: String
  public var q: QuantizationScheme
  public var k: QuantizationScheme
  public var v: QuantizationScheme
  /// The rotation applied before quantization (``Rotation/none`` for none).
  public var rotation: Rotation
  public var plan: PrecisionPlan

  public init(name: String, summary: String, precision: String, q: QuantizationScheme, k: QuantizationScheme,
              v: QuantizationScheme, rotation: Rotation = .none, plan: PrecisionPlan) {
    self.name = name
    self.summary = summary
    self.precision = precision
    self.q = q
    self.k = k
    self.v = v
    self.rotation = rotation
    self.plan = plan
  }

  /// Whether the scheme rotates its inputs (incoherent processing).
  public var incoherentProcessing: Bool { !rotation.isIdentity }

  /// Whether the scheme scales Q, K and V per block of rows.
  public var blockQuantization: Bool {
    if case .perBlock = q.granularity { return true }
    return false
  }

  /// Checks that the scheme can take tensors of head dim `headDim` (each tensor's scaling and the
  /// rotation's block).
  public func validate(headDim: Int) throws(AttentionError) {
    for t in [q, k, v] { try t.validate(headDim: headDim) }
    try rotation.validate(headDim: headDim)
  }

  /// Rotates `inputs` (by the scheme's rotation, drawn with `rotationSeed` when it is random) and
  /// quantizes them.
  public func prepare(_ inputs: AttentionInputs, rotationSeed: UInt64) throws(AttentionError) -> AttentionOperands {
    _ = try inputs.shape()
    try rotation.validate(headDim: inputs.q.headDim)
    if rotation.target == .qkv { try rotation.validate(headDim: inputs.v.headDim) }
    let x = rotation.apply(inputs, seed: rotationSeed)
    // Stochastic rounding: Q, K and V draw from streams of their own (tags 1, 2, 3) of their seed.
    return AttentionOperands(q: try q.quantize(x.q, stream: 1), k: try k.quantize(x.k, stream: 2), v: try v.quantize(x.v, stream: 3))
  }

  /// The same scheme with the random Hadamard rotation of Q and K (name suffixed `-hadamard`),
  /// or with no rotation (the suffix dropped).
  public func withIncoherentProcessing(_ on: Bool) -> AttentionScheme {
    var s = self
    s.rotation = on ? Rotation(.randomHadamard) : .none
    let base = name.hasSuffix("-hadamard") ? String(name.dropLast(9)) : name
    s.name = on ? base + "-hadamard" : base
    s.summary = on ? summary + "; " + s.rotation.summary + " first" : summary
    return s
  }

  // MARK: Shipped schemes

  static func cast(_ f: NumberFormat) -> QuantizationScheme { QuantizationScheme(format: f) }

  /// Standard (non-fused) attention in a 16-bit format as frameworks run it: S rounded to the
  /// format after scaling, softmax in FP32, normalized P rounded to the format, FP32 accumulation.
  public static func standardPlan(_ f: FloatFormat) -> PrecisionPlan {
    var p = PrecisionPlan.flash16(f)
    p.scoreFormat = .rne(f)
    p.softmaxScaling = .appliedToScores
    p.normalization = .divide
    return p
  }

  /// The FA3 paper's "baseline FP8": per-tensor FP8 scaling, FP32 matmul accumulation,
  /// softmax intermediates (S, the softmax arithmetic) in FP16, normalized P in e4m3fn, output fp16.
  public static var baselineFP8Plan: PrecisionPlan {
    var p = PrecisionPlan()
    p.scoreFormat = .rne(.fp16)
    p.softmaxArithmetic = .rne(.fp16)
    p.softmaxScaling = .appliedToScores
    p.probabilityFormat = .rne(.e4m3fn, overflow: .saturate)
    p.normalization = .divide
    p.outputFormat = .rne(.fp16)
    return p
  }

  static func fp8(_ f: FloatFormat, _ g: ScaleGranularity) -> QuantizationScheme {
    QuantizationScheme(format: .rne(f, overflow: .saturate), granularity: g)
  }

  /// The schemes that ship with the tool (each also exists as `NAME-hadamard` where it makes sense).
  public static let shipped: [AttentionScheme] = {
    var list: [AttentionScheme] = [
      AttentionScheme(name: "fp32", summary: "FP32 inputs, FP32 everywhere", precision: "fp32",
                      q: cast(.fp32), k: cast(.fp32), v: cast(.fp32), plan: .fp32),
      AttentionScheme(name: "fp64", summary: "no rounding beyond Double (the emulator's exact pipeline)", precision: "fp64",
                      q: .exact, k: .exact, v: .exact, plan: .fp64),
    ]
    for f in [FloatFormat.fp16, .bf16] {
      list.append(AttentionScheme(
        name: f.name, summary: "\(f.name) inputs (RNE cast), FlashAttention numerics: FP32 accumulation and softmax, P and O in \(f.name)",
        precision: f.name, q: cast(.rne(f)), k: cast(.rne(f)), v: cast(.rne(f)), plan: .flash16(f)))
      list.append(AttentionScheme(
        name: "\(f.name)-standard", summary: "\(f.name) inputs, standard attention numerics: S and normalized P rounded to \(f.name), FP32 softmax and accumulation",
        precision: f.name, q: cast(.rne(f)), k: cast(.rne(f)), v: cast(.rne(f)), plan: standardPlan(f)))
    }
    let baseline = AttentionScheme(
      name: "fp8-per-tensor", summary: "FA3 paper's baseline FP8: e4m3fn with one scale per tensor, S and softmax in FP16, normalized P in e4m3fn",
      precision: "fp8", q: fp8(.e4m3fn, .perTensor), k: fp8(.e4m3fn, .perTensor), v: fp8(.e4m3fn, .perTensor),
      plan: baselineFP8Plan)
    list.append(baseline)
    list.append(baseline.withIncoherentProcessing(true))
    let fa3: [(String, String, FloatFormat, ScaleGranularity)] = [
      ("fa3-fp8-per-head", "e4m3fn, one scale per (batch, head) as FA3's descales", .e4m3fn, .perHead),
      ("fa3-fp8-per-block", "e4m3fn, one scale per block of 128 rows (FA3 paper's block quantization)", .e4m3fn, .perBlock(rows: 128)),
      ("mx-e4m3", "e4m3fn with OCP MX e8m0 scales per 32 head-dim elements (rceil rule)", .e4m3fn, .mx(blockSize: 32, rule: .rceil)),
      ("fp8-e5m2-per-head", "e5m2, one scale per (batch, head)", .e5m2, .perHead),
      ("fp8-e5m2-per-block", "e5m2, one scale per block of 128 rows", .e5m2, .perBlock(rows: 128)),
    ]
    for (name, text, f, g) in fa3 {
      let s = AttentionScheme(name: name, summary: text + "; FA3 FP8 plan: P·2^8 in e4m3fn (saturating), FP32 accumulation, output bf16",
                              precision: "fp8", q: fp8(f, g), k: fp8(f, g), v: fp8(f, g), plan: .flashFP8)
      list.append(s)
      list.append(s.withIncoherentProcessing(true))
    }
    return list
  }()

  /// The shipped scheme called `name`.
  public static func named(_ name: String) -> AttentionScheme? { shipped.first { $0.name == name } }
}
