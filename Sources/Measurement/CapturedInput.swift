import Attention

/// The inputs of one attention call recorded from a model (`flashnumerics.torch.capture`): Q, K,
/// V as exact values, the call's mask (top-left causal, or a boolean/additive mask as a bias)
/// and softmax scale. Two captured inputs are the same when they name the same file and entry
/// and their tensors have the same fingerprint; the values travel with them.
public struct CapturedInput: Hashable, Sendable {
  /// The capture file as the experiment names it, and the entry (`call3`).
  public var file: String
  public var entry: String
  /// The call's index within one forward of the model (its layer), as the file records it.
  public var layer: Int
  /// FNV-1a (64-bit, hex) of the entry's tensors as stored.
  public var fingerprint: String
  public var inputs: AttentionInputs
  public var shape: AttentionShape
  /// Mask (top-left causal), bias and scale; `threads` is set per run.
  public var options: AttentionOptions

  public init(file: String, entry: String, layer: Int, fingerprint: String, inputs: AttentionInputs,
              options: AttentionOptions) throws {
    self.file = file
    self.entry = entry
    self.layer = layer
    self.fingerprint = fingerprint
    self.inputs = inputs
    self.shape = try inputs.shape()
    self.options = options
    try options.validate(shape)
  }

  public static func == (a: CapturedInput, b: CapturedInput) -> Bool {
    a.file == b.file && a.entry == b.entry && a.fingerprint == b.fingerprint
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(file)
    hasher.combine(entry)
    hasher.combine(fingerprint)
  }

  /// E.g. `capture.safetensors:call3`.
  public var name: String { "\(file):\(entry)" }
}
