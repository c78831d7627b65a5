import Measurement
import Attention
import LowPrecision
import XCTest

final class MetricsTests: XCTestCase {
  func testClosedForms() {
    let r = [3.0, 4.0, 0, 0]
    let o = [3.0, 4.0, 0, 1]            // error (0,0,0,1)
    let m = ErrorMetrics(output: o, reference: r)
    XCTAssertEqual(m.rmse, 0.5)          // √(1/4)
    XCTAssertEqual(m.relativeFrobenius, 0.2)   // 1/5
    XCTAssertEqual(m.maxAbs, 1)
    XCTAssertEqual(m.cosine, 25 / (26.0.squareRoot() * 5), accuracy: 1e-15)
    XCTAssertEqual(m.sqnrDB, 10 * log10(25.0), accuracy: 1e-12)
    let same = ErrorMetrics(output: r, reference: r)
    XCTAssertEqual(same.rmse, 0)
    XCTAssertEqual(same.sqnrDB, .infinity)
  }

  func testULPDistanceInTheOutputFormat() {
    let bf16 = NumberFormat.rne(.bf16)
    // 1 and the next three bf16 values; reference exactly 1.
    let o = [1.0, 1 + 0x1p-7, 1 + 3 * 0x1p-7, -0x1p-133]
    let r = [1.0, 1.0, 1.0 + 0x1p-9, 0x1p-133]
    let m = ErrorMetrics(output: o, reference: r, format: bf16)
    XCTAssertEqual(m.maxULP, 3)          // 1+3·2^-7 vs RN(1+2^-9) = 1
    XCTAssertEqual(m.meanULP, (0 + 1 + 3 + 2) / 4)   // ±min subnormal are two steps apart
    XCTAssertEqual(bf16.ulpDistance(-0.0, 0.0), 0)
  }
}
