import NPY
import XCTest

/// `swappingAxes12` moves element (b, x, y, ·) to (b, y, x, ·), byte for byte, and undoes itself.
final class NPYAxesTests: XCTestCase {
  func testSwapMovesEveryElementAndUndoesItself() {
    let shape = [2, 3, 5, 4]
    let count = shape.reduce(1, *)
    let values = (0..<count).map { UInt16($0 &* 2_654_435_761 >> 7 & 0xFFFF) }
    let a = NPYArray(shape: shape, uint16: values)
    let s = a.swappingAxes12()
    XCTAssertEqual(s.shape, [2, 5, 3, 4])
    let out = s.uint16!
    for b in 0..<2 { for x in 0..<3 { for y in 0..<5 { for d in 0..<4 {
      XCTAssertEqual(out[((b * 5 + y) * 3 + x) * 4 + d], values[((b * 3 + x) * 5 + y) * 4 + d])
    } } } }
    XCTAssertEqual(s.swappingAxes12(), a)
    let empty = NPYArray(shape: [1, 0, 3, 2], uint8: [])
    XCTAssertEqual(empty.swappingAxes12().shape, [1, 3, 0, 2])
  }
}
