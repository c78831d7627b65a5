// Named formats. Values listed here are checked by the tests against closed forms
// and, for the formats ml_dtypes has, against ml_dtypes' tables.

extension FloatFormat {
  /// OCP FP8 E4M3 "fn": 1 sign, 4 exponent, 3 fraction bits, bias 7.
  /// Max finite 448 (`0x7E`), min normal 2^-6, min subnormal 2^-9.
  /// No infinity; NaN is `S.1111.111` (`0x7F`, `0xFF`); has -0.
  public static let e4m3fn = FloatFormat(
    name: "e4m3fn", exponentBits: 4, fractionBits: 3, bias: 7, specials: .finiteAllOnesNaN)

  /// OCP FP8 E5M2: 1 sign, 5 exponent, 2 fraction bits, bias 15, IEEE specials.
  /// Max finite 57344 (`0x7B`), min normal 2^-14, min subnormal 2^-16.
  /// ±infinity `0x7C`/`0xFC`; NaN `S.11111.xx` with xx ≠ 0 (canonical `0x7E`).
  public static let e5m2 = FloatFormat(
    name: "e5m2", exponentBits: 5, fractionBits: 2, bias: 15, specials: .ieee)

  /// E4M3 "fnuz" (Graphcore/AMD): bias 8, no infinity, no -0; NaN is `0x80`.
  /// Max finite 240 (`0x7F`), min normal 2^-7, min subnormal 2^-10.
  public static let e4m3fnuz = FloatFormat(
    name: "e4m3fnuz", exponentBits: 4, fractionBits: 3, bias: 8, specials: .finiteNegativeZeroNaN)

  /// E5M2 "fnuz": bias 16, no infinity, no -0; NaN is `0x80`.
  /// Max finite 57344 (`0x7F`), min normal 2^-15, min subnormal 2^-17.
  public static let e5m2fnuz = FloatFormat(
    name: "e5m2fnuz", exponentBits: 5, fractionBits: 2, bias: 16, specials: .finiteNegativeZeroNaN)

  /// IEEE-style E4M3: bias 7 with the all-ones exponent reserved for ±infinity and NaN.
  /// Max finite 240 (`0x77`), min normal 2^-6, min subnormal 2^-9;
  /// ±infinity `0x78`/`0xF8`; canonical NaN `0x7C`.
  public static let e4m3 = FloatFormat(
    name: "e4m3", exponentBits: 4, fractionBits: 3, bias: 7, specials: .ieee)

  /// IEEE 754 binary16: bias 15. Max finite 65504 (`0x7BFF`), min normal 2^-14,
  /// min subnormal 2^-24; ±infinity `0x7C00`/`0xFC00`; canonical NaN `0x7E00`.
  public static let fp16 = FloatFormat(
    name: "fp16", exponentBits: 5, fractionBits: 10, bias: 15, specials: .ieee)

  /// bfloat16: the top half of binary32, bias 127. Max finite ≈ 3.3895e38 (`0x7F7F`),
  /// min normal 2^-126, min subnormal 2^-133; ±infinity `0x7F80`/`0xFF80`; canonical NaN `0x7FC0`.
  public static let bf16 = FloatFormat(
    name: "bf16", exponentBits: 8, fractionBits: 7, bias: 127, specials: .ieee)

  /// OCP MX E8M0 scale: 8 unsigned exponent bits, no fraction, bias 127, value `2^(E-127)`.
  /// Range 2^-127 (`0x00`) ... 2^127 (`0xFE`); NaN `0xFF`; no zero, no sign, no infinity.
  /// Encoding: zero, negative values and NaN give NaN; values below 2^-127 round up to 2^-127.
  public static let e8m0 = FloatFormat(
    name: "e8m0", exponentBits: 8, fractionBits: 0, bias: 127,
    isSigned: false, hasSubnormals: false, specials: .unsignedAllOnesNaN)

  /// OCP MX FP4 E2M1: 1 sign, 2 exponent, 1 fraction bit, bias 1.
  /// Values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}; max 6 (`0x7`), min normal 1, min subnormal 0.5.
  /// No NaN and no infinity: only the `saturate` overflow policy applies.
  public static let e2m1 = FloatFormat(
    name: "e2m1", exponentBits: 2, fractionBits: 1, bias: 1, specials: .none)

  /// All named presets, in the order `flashnum formats` prints them.
  public static let presets: [FloatFormat] = [
    .e4m3fn, .e5m2, .e4m3fnuz, .e5m2fnuz, .e4m3, .fp16, .bf16, .e8m0, .e2m1,
  ]

  /// The name ml_dtypes (and NumPy, for fp16) gives this format's dtype, or `nil` where it has
  /// none: accepted wherever a format is named.
  public var mlDtypesName: String? {
    switch name {
    case "e4m3fn": "float8_e4m3fn"
    case "e5m2": "float8_e5m2"
    case "e4m3fnuz": "float8_e4m3fnuz"
    case "e5m2fnuz": "float8_e5m2fnuz"
    case "e4m3": "float8_e4m3"
    case "fp16": "float16"
    case "bf16": "bfloat16"
    case "e8m0": "float8_e8m0fnu"
    case "e2m1": "float4_e2m1fn"
    default: nil
    }
  }

  /// The preset with this name, or with this ml_dtypes name (`float8_e4m3fn`, `bfloat16`, …);
  /// `nil` if none.
  public static func named(_ name: String) -> FloatFormat? {
    presets.first { $0.name == name || $0.mlDtypesName == name }
  }

  /// The presets as a JSON list of objects: name, ml_dtypes (the ml_dtypes dtype's name, also
  /// accepted as the format's name, or null), bits, exponent_bits, fraction_bits, bias, signed,
  /// subnormals, infinity, nan, max_finite, min_normal (numbers in shortest round-trip form).
  public static var presetsJSON: String {
    let items = presets.map { f in
      "{\"name\": \"\(f.name)\", \"ml_dtypes\": \(f.mlDtypesName.map { "\"\($0)\"" } ?? "null"), \"bits\": \(f.bitWidth), "
        + "\"exponent_bits\": \(f.exponentBits), \"fraction_bits\": \(f.fractionBits), \"bias\": \(f.bias), \"signed\": \(f.isSigned), "
        + "\"subnormals\": \(f.hasSubnormals), \"infinity\": \(f.hasInfinity), \"nan\": \(f.hasNaN), \"max_finite\": \(f.maxFinite), "
        + "\"min_normal\": \(f.minNormal)}"
    }
    return "[" + items.joined(separator: ", ") + "]"
  }
}
