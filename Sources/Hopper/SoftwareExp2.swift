/// 2^x on the FP32 CUDA cores instead of MUFU.EX2, as FlashAttention-4's forward computes it for
/// part of P (to offload the special-function unit): split x into its floor n and fraction f,
/// approximate 2^f by a polynomial, and add n to the result's exponent field.
///
/// ```
/// xc = fmaxf(x, −127)
/// r  = add.rm.ftz(xc, 1.5·2^23)        // round down: the low bits of r hold n = ⌊xc⌋
/// f  = xc ⊖ (r ⊖ 1.5·2^23)             // RNE, .ftz; f ∈ [0, 1]
/// p  = c_d;  p = fma(p, f, c_i) for i = d−1 … 0   // Horner, .ftz
/// result bits = (bits(r) << 23) + bits(p)  (32-bit wrapping integer add)
/// ```
///
/// The coefficients are the minimax fits FlashAttention-4 publishes for degrees 0–5 (c_0 = 1).
/// Valid for x ≤ 127 (larger x overflows the exponent field, as in the kernel); below −127, and
/// for NaN, the result is that of −127: +0. Integer x gives 2^x exactly.
public enum SoftwareExp2 {
  /// c_0 … c_d of 2^f on [0, 1), by degree d.
  public static let coefficients: [Int: [Float]] = [
    0: [1.0],
    1: [1.0, 0.922497093677520751953125],
    2: [1.0, 0.6657850742340087890625, 0.330107033252716064453125],
    3: [1.0, 0.695146143436431884765625, 0.227564394474029541015625, 0.077119089663028717041015625],
    4: [1.0, 0.693042695522308349609375, 0.2412912547588348388671875, 5.2225358784198760986328125e-2,
        1.3434938155114650726318359375e-2],
    5: [1.0, 0.693151414394378662109375, 0.24016360938549041748046875, 5.5802188813686370849609375e-2,
        9.01452265679836273193359375e-3, 1.86810153536498546600341796875e-3],
  ]

  /// The degrees with coefficients.
  public static let degrees = 0...5

  /// 2^x with the degree-`degree` polynomial (`degree` in ``degrees``).
  public static func ex2(_ x: Float, degree: Int) -> Float {
    let c = coefficients[degree]!
    let shift: Float = 12_582_912  // 1.5·2^23
    let xc = x.isNaN ? -127 : Swift.max(MUFU.flushed(x), -127)  // fmaxf: a NaN operand is ignored
    // add.rm.ftz: the exact sum (a Double holds it) rounded toward −∞.
    let exact = Double(xc) + Double(shift)
    var r = Float(exact)
    if Double(r) > exact { r = r.nextDown }
    let f = FlushToZero.add(xc, -FlushToZero.add(r, -shift))
    var p = c[degree]
    for i in stride(from: degree - 1, through: 0, by: -1) { p = FlushToZero.fma(p, f, c[i]) }
    return Float(bitPattern: (r.bitPattern << 23) &+ p.bitPattern)
  }
}
