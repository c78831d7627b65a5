import Diagnostics

/// An experiment, scheme, configuration or JSON input file that cannot be used: its text, a key,
/// a value. `description` is one line naming the file or key and the problem.
public struct ExperimentFileError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A tensor file that cannot be read as attention inputs: a `.npy` or `.safetensors` file, a
/// capture of a PyTorch model, or an entry in one.
public struct TensorFileError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A results file or folder that cannot be written, resumed or merged: CSV rows, provenance,
/// the lock that keeps two writers apart.
public struct ResultsError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A regression-gate baseline that cannot be read, or that does not match what the gate runs.
public struct BaselineError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// The FA3 kernel's Python bridge (or another subprocess) failed, or left outputs that are not
/// what the case asks for.
public struct KernelBridgeError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A value that cannot go into a Slurm batch script (a control character, a separator sbatch
/// would split at, a `%` pattern).
public struct SlurmScriptError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
