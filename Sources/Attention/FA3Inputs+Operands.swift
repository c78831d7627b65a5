import LowPrecision

extension FA3Inputs.Element {
  /// The kernel element type that runs `scheme`'s quantized inputs: plain (unscaled) bf16 or fp16
  /// casts, or e4m3fn with one scale per tensor or per (batch, head) (the kernel's descales).
  /// The scheme's precision plan plays no part: the kernel's numerics are the schedule's.
  public init(scheme: AttentionScheme) throws(AttentionError) {
    let formats = [scheme.q, scheme.k, scheme.v]
    guard case .low(let f, let r) = scheme.q.format, formats.allSatisfy({ $0.format == scheme.q.format }),
          r.mode == .nearestEven else {
      throw AttentionError("the FA3 kernel takes Q, K and V in one of bf16, fp16, e4m3fn (round to nearest even)")
    }
    switch f.name {
    case "bf16", "fp16":
      guard formats.allSatisfy({ $0.granularity == .none }) else {
        throw AttentionError("the FA3 kernel takes \(f.name) inputs unscaled (no descales for 16-bit inputs)")
      }
      self = f.name == "bf16" ? .bf16 : .fp16
    case "e4m3fn":
      for q in formats {
        switch q.granularity {
        case .none, .perTensor, .perHead: continue
        default: throw AttentionError("the FA3 kernel's e4m3fn descales are per (batch, head); scaling \(q.granularity.name) does not fit")
        }
      }
      self = .e4m3fn
    default:
      throw AttentionError("the FA3 kernel takes bf16, fp16 or e4m3fn inputs, not \(f.name)")
    }
  }
}

extension FA3Inputs {
  /// The kernel's inputs for quantized operands (as ``AttentionScheme/prepare(_:rotationSeed:)`` makes
  /// them): codes of the stored values (exact: they are values of `element`'s format) and, for
  /// e4m3fn, the per-(batch, KV head) descales read off the row scales. Throws when a value is
  /// not a value of the format or the scales are not constant per head (Q heads sharing a KV
  /// head must share one scale, as the kernel indexes `q_descale` by KV head).
  public init(operands: AttentionOperands, element: Element, causal: Bool, softmaxScale: Double? = nil) throws(AttentionError) {
    let shape = try operands.shape()
    let format = element.format
    let exact = Rounding(.nearestEven, overflow: .infinity)
    func codes(_ t: AttentionTensor, _ name: String) throws(AttentionError) -> [UInt16] {
      var out = [UInt16](repeating: 0, count: t.values.count)
      for (i, x) in t.values.enumerated() {
        let c = format.encode(x, exact)
        guard format.decode(c) == x else { throw AttentionError("FA3 inputs: \(name) value \(x) is not a \(element.rawValue) value") }
        out[i] = UInt16(c)
      }
      return out
    }
    func descales(_ scales: [Double]?, _ t: AttentionTensor, _ name: String) throws(AttentionError) -> [Float]? {
      guard let scales else { return nil }
      guard element == .e4m3fn else { throw AttentionError("FA3 inputs: \(name) scales apply to e4m3fn only") }
      let group = t.heads / shape.headsKV
      var out = [Float](repeating: 0, count: shape.batch * shape.headsKV)
      for b in 0..<t.batch { for h in 0..<t.heads {
        let first = scales[(b * t.seqLen) * t.heads + h]
        let slot = b * shape.headsKV + h / group
        for i in 0..<t.seqLen where scales[(b * t.seqLen + i) * t.heads + h] != first {
          throw AttentionError("FA3 inputs: \(name) scales vary within head \(h) of batch \(b)")
        }
        guard Double(Float(first)) == first else { throw AttentionError("FA3 inputs: \(name) scale \(first) is not a float32") }
        if h % group != 0 && out[slot] != Float(first) {
          throw AttentionError("FA3 inputs: \(name) heads sharing KV head \(h / group) have different scales")
        }
        out[slot] = Float(first)
      } }
      return out
    }
    self.init(element: element, batch: shape.batch, seqLenQ: shape.seqLenQ, seqLenK: shape.seqLenK, heads: shape.headsQ,
              kvHeads: shape.headsKV, headDim: shape.headDim,
              q: try codes(operands.q, "Q"), k: try codes(operands.k, "K"), v: try codes(operands.v, "V"),
              qDescale: try descales(operands.qScales, operands.q, "Q"), kDescale: try descales(operands.kScales, operands.k, "K"),
              vDescale: try descales(operands.vScales, operands.v, "V"), causal: causal, softmaxScale: softmaxScale)
  }
}
