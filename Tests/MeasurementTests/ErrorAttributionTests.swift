import Attention
import Measurement
import Reference
import XCTest

/// Per-stage error attribution against the MPFR reference.
final class ErrorAttributionTests: XCTestCase {
  func testAttributionFindsTheStageThatRounds() throws {
    let x = AttentionInputs.generate(AttentionShape(seqLenQ: 64, headDim: 64), .paperOutliers, seed: 2)
    let reference = try ReferenceAttention.compute(x)
    // bf16 with everything else exact: only input quantization and the output cast matter.
    var s = AttentionScheme.named("bf16")!
    s.plan = .fp64
    s.plan.outputFormat = .rne(.bf16)
    let (total, entries) = try ErrorAttribution.run(x, scheme: s, algorithm: .naive, options: AttentionOptions(),
                                                    reference: reference, rotationSeed: 0)
    let by = Dictionary(uniqueKeysWithValues: entries.map { ($0.stage, $0) })
    XCTAssertGreaterThan(total.rmse, 1e-4)
    XCTAssertGreaterThan(by[.inputQuantization]!.contribution, 0.1 * total.rmse)
    XCTAssertGreaterThan(by[.output]!.contribution, 0.1 * total.rmse)
    for stage in [ErrorAttribution.Stage.scores, .softmax, .probabilities, .valueAccumulation] {
      XCTAssertLessThan(abs(by[stage]!.contribution), 1e-6 * total.rmse, stage.rawValue)
    }
    // The all-Double scheme has nothing to attribute.
    let (exact, _) = try ErrorAttribution.run(x, scheme: AttentionScheme.named("fp64")!, algorithm: .naive,
                                              options: AttentionOptions(), reference: reference, rotationSeed: 0)
    XCTAssertLessThan(exact.rmse, 1e-14)
  }
}
