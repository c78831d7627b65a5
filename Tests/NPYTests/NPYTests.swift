import NPY
import XCTest

/// .npy reading and writing: round trips, files written by numpy (committed bytes of the format
/// as numpy writes it), big-endian and Fortran order, and malformed files.
final class NPYTests: XCTestCase {
  func testRoundTripEveryDType() throws {
    let arrays = [
      NPYArray(shape: [2, 3], float32: [1, -2, 3.5, .infinity, 0, -0.0]),
      NPYArray(shape: [4], float64: [1e300, -1e-300, .pi, 0]),
      NPYArray(shape: [2, 2, 2], uint8: [0, 1, 2, 3, 252, 253, 254, 255]),
      NPYArray(shape: [3], uint16: [0, 0x7FC0, 0xFFFF]),
      NPYArray(shape: [1, 2], int32: [-7, 1 << 30]),
      NPYArray(shape: [], float32: [42]),
      NPYArray(shape: [0, 5], float32: []),
    ]
    for a in arrays {
      let bytes = NPYFile.serialize(a)
      XCTAssertEqual((10 + Int(bytes[8]) + Int(bytes[9]) << 8) % 64, 0, "header alignment")
      XCTAssertEqual(try NPYFile.parse(bytes), a)
    }
  }

  /// The exact bytes numpy 2 writes for np.arange(6, dtype='<f4').reshape(2, 3).
  func testReadsNumpyBytes() throws {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    let padded = header + String(repeating: " ", count: 118 - header.count - 1) + "\n"
    bytes += [UInt8(padded.utf8.count), 0] + Array(padded.utf8)
    for v in 0..<6 { withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { bytes += $0 } }
    let a = try NPYFile.parse(bytes)
    XCTAssertEqual(a.shape, [2, 3])
    XCTAssertEqual(a.float32, [0, 1, 2, 3, 4, 5])
  }

  func testBigEndianAndFortranOrder() throws {
    func file(_ descr: String, fortran: Bool, shape: String, body: [UInt8]) -> [UInt8] {
      let h = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }\n"
      return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.utf8.count), 0] + Array(h.utf8) + body
    }
    // >u2 [1, 2, 258]
    let be = try NPYFile.parse(file(">u2", fortran: false, shape: "(3,)", body: [0, 1, 0, 2, 1, 2]))
    XCTAssertEqual(be.uint16, [1, 2, 258])
    // Fortran 2×3 of [[0,1,2],[3,4,5]] is stored column by column: 0 3 1 4 2 5.
    let f = try NPYFile.parse(file("|u1", fortran: true, shape: "(2, 3)", body: [0, 3, 1, 4, 2, 5]))
    XCTAssertEqual(f.uint8, [0, 1, 2, 3, 4, 5])
  }

  func testMalformedFilesSayWhatIsWrong() {
    func message(_ bytes: [UInt8]) -> String {
      do { _ = try NPYFile.parse(bytes); return "parsed" } catch { return error.description }
    }
    let good = NPYFile.serialize(NPYArray(shape: [2], float32: [1, 2]))
    XCTAssertTrue(message(Array("hello world".utf8)).contains("not a .npy file"))
    XCTAssertTrue(message(Array(good.dropLast())).contains("data has 7 bytes"))
    XCTAssertTrue(message(good + [0]).contains("data has 9 bytes"))
    XCTAssertTrue(message(Array(good.prefix(20))).contains("truncated header"))
    XCTAssertTrue(message(replacing("<f4", with: "<c8", in: good)).contains("unsupported dtype '<c8'"))
    var badVersion = good; badVersion[6] = 9
    XCTAssertTrue(message(badVersion).contains("version 9"))
    XCTAssertTrue(message(replacing("'shape'", with: "'shap_'", in: good)).contains("no 'shape'"))
    XCTAssertTrue(message(replacing("(2,)", with: "(x,)", in: good)).contains("bad dimension"))
    XCTAssertTrue(message(replacing("(2,), }", with: "(-2,),}", in: good)).contains("bad dimension"))
    XCTAssertTrue(message(replacing("(2,), }" + String(repeating: " ", count: 16), with: "(99999999999, 9999999)}", in: good)).contains("too large"))
  }

  /// `bytes` with the first occurrence of `old` replaced by `new` (same length).
  func replacing(_ old: String, with new: String, in bytes: [UInt8]) -> [UInt8] {
    let o = Array(old.utf8), n = Array(new.utf8)
    precondition(o.count == n.count)
    var out = bytes
    for i in 0...(bytes.count - o.count) where Array(bytes[i..<i + o.count]) == o {
      out.replaceSubrange(i..<i + o.count, with: n)
      return out
    }
    fatalError("\(old) not found")
  }

  func testFileErrorsNameThePath() {
    XCTAssertThrowsError(try NPYFile.read("/nonexistent/x.npy")) { error in
      XCTAssertTrue("\(error)".contains("/nonexistent/x.npy"))
    }
  }
}
