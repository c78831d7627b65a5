import Foundation

/// The one way tests find the repository: the folder holding `Package.swift` above this file.
public enum Repository {
  /// The repository's root folder.
  public static let root: URL = {
    var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) && folder.path != "/" {
      folder.deleteLastPathComponent()
    }
    return folder
  }()

  /// `relative` (e.g. `Tests/HopperTests/Fixtures`) under the root.
  public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

  /// The path of `relative` under the root.
  public static func path(_ relative: String) -> String { url(relative).path }
}
