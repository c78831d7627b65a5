extension Unicode.Scalar {
  /// Whether a terminal, a shell or a line-based reader could take this scalar as a line break
  /// or a control: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
  public var isLineControl: Bool {
    value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
  }
}

extension String {
  /// The text with every ``Unicode/Scalar/isLineControl`` scalar except those in `kept` written
  /// as `\u{HEX}`: a message that quotes hostile input stays on one line.
  public func escapingLineControls(keeping kept: Set<Unicode.Scalar> = []) -> String {
    var out = String.UnicodeScalarView()
    for c in unicodeScalars {
      if c.isLineControl && !kept.contains(c) {
        out.append(contentsOf: "\\u{\(String(c.value, radix: 16, uppercase: true))}".unicodeScalars)
      } else {
        out.append(c)
      }
    }
    return String(out)
  }
}
