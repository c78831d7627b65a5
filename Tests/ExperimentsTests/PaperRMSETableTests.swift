import Measurement
import Experiments
import Attention
import Foundation
import Reference
import XCTest

final class PaperRMSETableTests: XCTestCase {
  func testTableHasThePaperRowsAndItsShape() throws {
    var c = PaperRMSETable.Configuration()
    c.seqLen = 512; c.heads = 1; c.headDim = 128; c.seeds = [1, 2]; c.rotationSeeds = [7, 8, 9]; c.threads = 2; c.fp64Reference = true
    let t = try PaperRMSETable.run(c)
    XCTAssertEqual(t.rows.map(\.method), PaperRMSETable.methods.map(\.method))
    let rmse = Dictionary(uniqueKeysWithValues: t.rows.map { ($0.method, $0.rmse) })
    // FP16 methods are far more accurate than FP8 ones; rotation helps FP8 on outliers.
    XCTAssertLessThan(rmse["FlashAttention-2 FP16"]! * 20, rmse["FlashAttention-3 FP8"]!)
    XCTAssertLessThan(rmse["FlashAttention-3 FP8"]! * 1.3, rmse["FA3 FP8, no incoherent processing"]!)
    XCTAssertLessThan(rmse["FlashAttention-3 FP8"]!, rmse["Baseline FP8"]!)
    // JSON rows carry the documented keys and types.
    let json = try JSONSerialization.jsonObject(with: Data(t.json().utf8)) as! [[String: Any]]
    XCTAssertEqual(json.count, 7)
    for row in json {
      XCTAssertNotNil(row["method"] as? String)
      XCTAssertTrue(["fp16", "bf16", "fp8"].contains(row["precision"] as? String))
      XCTAssertTrue(["naive", "blocked", "blocked-hopper-tiles"].contains(row["algorithm"] as? String))
      XCTAssertNotNil(row["block_quantization"] as? Bool)
      XCTAssertNotNil(row["incoherent_processing"] as? Bool)
      XCTAssertNotNil(row["rmse"] as? Double)
      XCTAssertTrue(row["paper_rmse"] is Double || row["paper_rmse"] is NSNull)
    }
    XCTAssertTrue(t.markdown().contains("| 5 | FlashAttention-3 FP8 | fp8 | blocked-hopper-tiles | yes | random Hadamard |"))
    // One CSV line per sample: 5 methods × 2 input seeds, 2 rotating methods × 2 × 3 rotation seeds.
    XCTAssertEqual(t.csv().split(separator: "\n").count, 1 + 10 + 12)
    // Summaries from the samples: the median of each row lies in its range, the rotation seed
    // moves the rotating rows' RMSE and nothing else, and the paired ratio of the compared row is 1.
    for r in t.rows {
      XCTAssertLessThanOrEqual(r.rmseRange.min, r.rmse)
      XCTAssertLessThanOrEqual(r.rmse, r.rmseRange.max)
      XCTAssertEqual(r.samples.count, r.incoherentProcessing ? 6 : 2)
      if r.incoherentProcessing { XCTAssertGreaterThan(r.rotationSeedSpread!, 0) } else { XCTAssertNil(r.rotationSeedSpread) }
    }
    let base = t.rows.first { $0.method == PaperRMSETable.comparedWith }!
    XCTAssertEqual(t.pairedRatio(base)?.median, 1)
    XCTAssertEqual([3.0, 1, 2].median, 2)
    XCTAssertEqual([4.0, 1, 2, 3].median, 2.5)
    XCTAssertTrue([Double]().median.isNaN)
  }
}
