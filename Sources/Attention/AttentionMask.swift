/// Which keys a query may attend to. Masks are bottom-right aligned by default, as in
/// FlashAttention: with `o = seqLenK − seqLenQ`, query `i` sits at key position `i + o`.
/// Top-left alignment (PyTorch SDPA's `is_causal`) puts query `i` at key position `i` (`o = 0`);
/// the two agree when seqLenQ = seqLenK.
///
/// - causal: key `j` is allowed when `j ≤ i + o`;
/// - window (`left`, `right`): allowed when `i + o − left ≤ j ≤ i + o + right` (a `nil` side is
///   unbounded); combined with causal, `right` is at most 0.
///
/// The allowed keys of a row are always one contiguous range; a row with none gets output 0.
public struct AttentionMask: Hashable, Sendable {
  /// Where query 0 sits among the keys.
  public enum Alignment: String, Hashable, Sendable, CaseIterable {
    /// Query `i` at key `i + seqLenK − seqLenQ` (FlashAttention).
    case bottomRight = "bottom-right"
    /// Query `i` at key `i` (PyTorch's `scaled_dot_product_attention(is_causal=True)`).
    case topLeft = "top-left"
  }

  public var causal: Bool
  public var windowLeft: Int?
  public var windowRight: Int?
  public var alignment: Alignment

  public init(causal: Bool = false, windowLeft: Int? = nil, windowRight: Int? = nil, alignment: Alignment = .bottomRight) {
    self.causal = causal
    self.windowLeft = windowLeft
    self.windowRight = windowRight
    self.alignment = alignment
  }

  /// Whether the mask bounds any key (causal or a window side).
  public var bounds: Bool { causal || windowLeft != nil || windowRight != nil }

  public static let none = AttentionMask()

  public func validate() throws(AttentionError) {
    if let l = windowLeft, l < 0 { throw AttentionError("window left size must be ≥ 0, got \(l)") }
    if let r = windowRight, r < 0 { throw AttentionError("window right size must be ≥ 0, got \(r)") }
  }

  /// The allowed keys of query `i` (possibly empty).
  @inlinable
  public func keys(query i: Int, seqLenQ: Int, seqLenK: Int) -> Range<Int> {
    let center = alignment == .topLeft ? i : i + seqLenK - seqLenQ
    var lo = 0, hi = seqLenK
    if causal { hi = min(hi, center + 1) }
    // Sides wider than the sequence bound nothing (and never overflow, up to Int.max).
    if let l = windowLeft, l < center { lo = max(lo, center - l) }
    if let r = windowRight, r < seqLenK - center { hi = min(hi, center + r + 1) }
    return lo < hi ? lo..<hi : 0..<0
  }

  public var name: String {
    var parts: [String] = []
    if causal { parts.append("causal") }
    if windowLeft != nil || windowRight != nil {
      parts.append("window(\(windowLeft.map(String.init) ?? "∞"),\(windowRight.map(String.init) ?? "∞"))")
    }
    if !parts.isEmpty && alignment == .topLeft { parts.append("top-left") }
    return parts.isEmpty ? "none" : parts.joined(separator: "+")
  }
}
