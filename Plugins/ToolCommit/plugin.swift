import Foundation
import PackagePlugin

/// Records, before every build, the commit of the FlashNumerics checkout being built and whether
/// its tracked files differ from that commit, as the Swift constants `buildCommit` and
/// `buildDirty` of the target it is applied to (``ToolIdentity``), the package's folder as
/// `buildSourceRoot`, and the release version from the package's `VERSION` file (the one place
/// it is written; the Python package reads it too) as `buildVersion`.
///
/// The commit is read from the package's own directory, and only when that directory is the top
/// of a git work tree: a copy of the sources inside some other repository, or without `.git`,
/// records `unknown`, never another repository's commit. The file is rewritten only when its
/// text changes, so an unchanged checkout rebuilds nothing.
@main
struct ToolCommit: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let out = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
    let script = #"""
      root=$(cd "$1" && pwd -P); out="$2"; mkdir -p "$out"
      commit=unknown; dirty=unknown
      top=$(git -C "$root" rev-parse --show-toplevel 2>/dev/null) && top=$(cd "$top" && pwd -P)
      if [ "$top" = "$root" ] && head=$(git -C "$root" rev-parse --verify -q HEAD 2>/dev/null); then
        commit=$head
        if changes=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null); then
          if [ -z "$changes" ]; then dirty=false; else dirty=true; fi
        fi
      fi
      escaped=$(printf '%s' "$root" | sed 's/\\/\\\\/g; s/"/\\"/g')
      version=$(tr -cd '0-9A-Za-z.+-' < "$root/VERSION" 2>/dev/null); [ -n "$version" ] || version=unknown
      printf '// Written by the ToolCommit build plugin before each build.\nlet buildCommit = "%s"\nlet buildDirty = "%s"\nlet buildSourceRoot = "%s"\nlet buildVersion = "%s"\n' \
        "$commit" "$dirty" "$escaped" "$version" > "$out/BuildCommit.swift.new"
      if cmp -s "$out/BuildCommit.swift.new" "$out/BuildCommit.swift"; then rm "$out/BuildCommit.swift.new"
      else mv "$out/BuildCommit.swift.new" "$out/BuildCommit.swift"; fi
      """#
    return [
      .prebuildCommand(
        displayName: "Recording the commit of \(context.package.displayName)",
        executable: URL(fileURLWithPath: "/bin/sh"),
        arguments: ["-c", script, "sh", context.package.directoryURL.path, out.path],
        outputFilesDirectory: out)
    ]
  }
}
