import Foundation

/// An error of FlashNumerics: a bad input (a value, a shape, a file, an option) found by one
/// layer, whose `description` names what is wrong and where.
///
/// Each module throws its own conforming type (`FormatError` in LowPrecision, `NPYError` in
/// NPY, `AttentionError` in Attention, `ReferenceError` in Reference, `MeasurementError` in
/// Measurement, the file and results errors of Experiments, `ReportError` in Reporting), so a
/// caller can tell the layers apart. A module passes a lower layer's error through unchanged,
/// except where it adds the place in a file of its own (an experiment file's key, a baseline
/// entry): then it throws its own type with the lower message after the place.
/// Every one reaches a person through ``oneLineMessage(for:)``: the command line prints it after
/// `flashnum: error:` and exits 2, the C ABI returns status 2 and keeps it for `fn_last_error`,
/// Python raises it as `ValueError`.
public protocol FlashNumericsError: Error, CustomStringConvertible, Sendable {}

/// The one-line text a person sees for `error`: a ``FlashNumericsError``'s description, a
/// file-system error's localized description, any other error's `String(describing:)`; line
/// breaks and control characters (from quoted input) written as `\u{HEX}`.
public func oneLineMessage(for error: any Error) -> String {
  let text: String
  if let e = error as? any FlashNumericsError {
    text = e.description
  } else if let e = error as? CocoaError {
    text = e.localizedDescription
  } else {
    text = String(describing: error)
  }
  return text.escapingLineControls()
}
