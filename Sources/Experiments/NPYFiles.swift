import Attention
import NPY

/// `.npy` reads and writes of the experiment layer: the `NPY` module's message (file and
/// problem, one line) carried unchanged in this layer's error type.
enum NPYFiles {
  static func read(_ path: String) throws(AttentionError) -> NPYArray {
    do { return try NPYFile.read(path) } catch { throw AttentionError(error.description) }
  }

  static func write(_ array: NPYArray, to path: String) throws(AttentionError) {
    do { try NPYFile.write(array, to: path) } catch { throw AttentionError(error.description) }
  }
}
