import LowPrecision

/// H100 (sm_90) MMA instructions with FP32 accumulation, each modelled bit for bit
/// (docs/hopper-arithmetic.md; every model reproduces the H100 outputs in
/// `Tests/HopperTests/Fixtures/h100-mma`).
public enum HopperInstruction: String, CaseIterable, Sendable {
  /// `wgmma …k32.f32.e4m3.e4m3` (and the e5m2 mixes): blocks of 32 products, F = 13, the result
  /// truncated to e8m13 — so a chain over K re-truncates the accumulator at every k32 step.
  case wgmmaE4M3E4M3K32 = "wgmma-e4m3-e4m3-k32"
  case wgmmaE5M2E5M2K32 = "wgmma-e5m2-e5m2-k32"
  case wgmmaE4M3E5M2K32 = "wgmma-e4m3-e5m2-k32"
  case wgmmaE5M2E4M3K32 = "wgmma-e5m2-e4m3-k32"
  /// `wgmma …k16.f32.bf16.bf16` / `.f16.f16`: blocks of 16, F = 25, RZ to FP32.
  case wgmmaBF16K16 = "wgmma-bf16-k16"
  case wgmmaF16K16 = "wgmma-f16-k16"
  /// `mma.sync.m16n8k16` BF16/FP16: the same arithmetic as the wgmma forms.
  case mmaBF16K16 = "mma-bf16-k16"
  case mmaF16K16 = "mma-f16-k16"
  /// `mma.sync.m16n8k32.f32.e4m3.e4m3` on sm_90 (nvcc 13.0): not an FP8 tensor-core op. ptxas
  /// converts the FP8 inputs to FP16 exactly and issues two FP16 HMMAs (k mod 4 ∈ {0,1} with
  /// C = +0, then k mod 4 ∈ {2,3} accumulating), then adds C with one IEEE FP32 FADD (RNE).
  case mmaE4M3K32 = "mma-e4m3-k32"
  case mmaE5M2K32 = "mma-e5m2-k32"
  /// `mma.sync.m16n8k16.f32.e4m3.e4m3` (and e5m2) on sm_90: the same compiler emulation with
  /// K = 16 — two FP16 HMMAs of 8 products each (k mod 4 ∈ {0,1}, then {2,3}), then the FADD of C.
  case mmaE4M3K16 = "mma-e4m3-k16"
  case mmaE5M2K16 = "mma-e5m2-k16"

  /// Products per instruction along K.
  public var k: Int { isFP8 && self != .mmaE4M3K16 && self != .mmaE5M2K16 ? 32 : 16 }

  /// Fraction bits kept after alignment (F) by the FP8 tensor-core forms, and their e8m13 result.
  public static let fp8FractionBits = (aligned: 13, output: 13)
  /// Fraction bits kept after alignment by the BF16/FP16 forms (F = 25), and their FP32 result.
  public static let halfFractionBits = (aligned: 25, output: 23)

  /// The tensor-core block of one step: F and the result's fraction bits by input kind. The
  /// `mma.sync` FP8 forms are not one block (see ``mmaE4M3K32``): they run the FP16 block twice.
  public var block: TensorCoreBlock {
    let (fa, fb) = isFP8MMASync ? (FloatFormat.fp16, FloatFormat.fp16) : inputFormats
    let bits = isFP8 && !isFP8MMASync ? Self.fp8FractionBits : Self.halfFractionBits
    return TensorCoreBlock(aFormat: fa, bFormat: fb, alignedFractionBits: bits.aligned, outputFractionBits: bits.output)
  }

  var isFP8MMASync: Bool {
    switch self {
    case .mmaE4M3K32, .mmaE5M2K32, .mmaE4M3K16, .mmaE5M2K16: true
    default: false
    }
  }

  var isFP8: Bool {
    switch self {
    case .wgmmaBF16K16, .wgmmaF16K16, .mmaBF16K16, .mmaF16K16: false
    default: true
    }
  }

  /// The formats of the A and B input codes.
  public var inputFormats: (a: FloatFormat, b: FloatFormat) {
    switch self {
    case .wgmmaE4M3E4M3K32, .mmaE4M3K32, .mmaE4M3K16: (.e4m3fn, .e4m3fn)
    case .wgmmaE5M2E5M2K32, .mmaE5M2K32, .mmaE5M2K16: (.e5m2, .e5m2)
    case .wgmmaE4M3E5M2K32: (.e4m3fn, .e5m2)
    case .wgmmaE5M2E4M3K32: (.e5m2, .e4m3fn)
    case .wgmmaBF16K16, .mmaBF16K16: (.bf16, .bf16)
    case .wgmmaF16K16, .mmaF16K16: (.fp16, .fp16)
    }
  }

  /// `Σ_k a[k]·b[k] + c` for one output element, chaining the instruction along K
  /// (`a.count` a multiple of `k`): `D_{j+1} = instruction(A_j, B_j, D_j)`, `D_0 = c`.
  public func dot(_ a: [UInt32], _ b: [UInt32], c: UInt32) -> UInt32 {
    precondition(a.count == b.count && a.count % k == 0, "K must be a multiple of \(k)")
    var d = c
    for start in stride(from: 0, to: a.count, by: k) {
      d = step(a[start..<start + k], b[start..<start + k], c: d)
    }
    return d
  }

  /// One emulated MMA per tile: `D[t,i,j] = dot(A[t,i,:], B[t,j,:], c: C[t,i,j])` for A (T,M,K),
  /// B (T,N,K), C and D (T,M,N), all flat in C order.
  public func tiles(a: [UInt32], b: [UInt32], c: [UInt32], tiles: Int, m: Int, n: Int, k: Int) -> [UInt32] {
    precondition(a.count == tiles * m * k && b.count == tiles * n * k && c.count == tiles * m * n, "shapes")
    var d = [UInt32](repeating: 0, count: tiles * m * n)
    for t in 0..<tiles {
      for i in 0..<m {
        let row = Array(a[(t * m + i) * k..<(t * m + i + 1) * k])
        for j in 0..<n {
          let index = (t * m + i) * n + j
          d[index] = dot(row, Array(b[(t * n + j) * k..<(t * n + j + 1) * k]), c: c[index])
        }
      }
    }
    return d
  }

  /// One instruction step over exactly `k` products.
  public func step(_ a: ArraySlice<UInt32>, _ b: ArraySlice<UInt32>, c: UInt32) -> UInt32 {
    let (fa, fb) = inputFormats
    switch self {
    case .mmaE4M3K32, .mmaE5M2K32, .mmaE4M3K16, .mmaE5M2K16:
      // FP8 → FP16 is exact (every e4m3fn/e5m2 value and NaN has an FP16 image).
      let toFP16 = { (code: UInt32, f: FloatFormat) in
        FloatFormat.fp16.encode(f.decode(code), Rounding(.nearestEven, overflow: .infinity))
      }
      let ha = a.map { toFP16($0, fa) }, hb = b.map { toFP16($0, fb) }
      let lo = ha.indices.filter { ($0 - ha.startIndex) % 4 < 2 }, hi = ha.indices.filter { ($0 - ha.startIndex) % 4 >= 2 }
      let hmma = block
      let p1 = hmma(lo.map { ha[$0] }, lo.map { hb[$0] }, c: 0)
      let p2 = hmma(hi.map { ha[$0] }, hi.map { hb[$0] }, c: p1)
      let sum = Float(bitPattern: c) + Float(bitPattern: p2)  // FADD, RNE, subnormals kept
      return sum.isNaN ? TensorCoreBlock.nan : sum.bitPattern
    default:
      return block(a, b, c: c)
    }
  }
}
