import Attention
import Foundation
import LowPrecision
import Measurement

/// One point of an experiment's grid: its position in the grid and the measured point.
/// Fields of ``MeasuredPoint`` and its ``InputSpec`` read through (`p.scheme`, `p.seqLen`).
@dynamicMemberLookup
public struct ExperimentPoint: Sendable {
  /// Position in the whole grid (``Experiment/points``).
  public var index: Int
  public var point: MeasuredPoint

  public init(index: Int, point: MeasuredPoint) {
    self.index = index
    self.point = point
  }

  public subscript<T>(dynamicMember path: KeyPath<MeasuredPoint, T>) -> T { point[keyPath: path] }
  public subscript<T>(dynamicMember path: KeyPath<InputSpec, T>) -> T { point.inputs[keyPath: path] }

  /// Runs the point against a reference output and returns its result row with the metrics
  /// named in `names`.
  public func measure(_ inputs: AttentionInputs, reference: AttentionTensor, metrics names: [String],
                      threads: Int) throws -> SweepRow {
    let (m, seconds) = try point.measure(inputs, reference: reference, threads: threads)
    var metrics: [String: Double] = [:]
    for n in names { if let v = m[n] { metrics[n] = v } }
    return SweepRow(point: self, metrics: metrics, seconds: seconds)
  }
}

extension InputDistribution {
  /// The distribution's kind: `gaussian`, `sparse-outliers`, `channel-outliers`, `attention-sinks`.
  public var kind: String {
    switch self {
    case .gaussian: "gaussian"
    case .sparseOutliers: "sparse-outliers"
    case .channelOutliers: "channel-outliers"
    case .attentionSinks: "attention-sinks"
    }
  }

  /// The size of the distribution's outliers, in input units: the outliers' standard deviation
  /// (sparse-outliers), the channel factor (channel-outliers, dimensionless), the sinks' added score
  /// (attention-sinks, in units of the scaled score), 0 for gaussian.
  public var outlierMagnitude: Double {
    switch self {
    case .gaussian: 0
    case .sparseOutliers(_, let s): s
    case .channelOutliers(_, let f): f
    case .attentionSinks(_, let s): s
    }
  }
}
