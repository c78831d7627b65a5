import Dispatch

/// How the attention engines spread query rows over threads: (batch, head, block of
/// `rowsPerTask` rows) tasks dealt round-robin to `threads` workers, each with its own scratch,
/// made once. Every output depends only on its own row's operations, so results are bitwise the
/// same for any thread count.
public enum RowTasks {
  /// Calls `row(b, h, i, &scratch)` once for every batch `b`, head `h` and query row `i`.
  public static func run<Scratch>(
    batch: Int, heads: Int, seqLen: Int, rowsPerTask: Int, threads: Int,
    scratch: @escaping @Sendable () -> Scratch,
    row: @escaping @Sendable (_ b: Int, _ h: Int, _ i: Int, _ scratch: inout Scratch) -> Void
  ) {
    run(batch: batch, heads: heads, seqLen: seqLen, rowsPerTask: rowsPerTask, threads: threads, scratch: scratch) { b, h, rows, s in
      for i in rows { row(b, h, i, &s) }
    }
  }

  /// Calls `rows(b, h, range, &scratch)` once per task: a range of at most `rowsPerTask` query
  /// rows of batch `b` and head `h` (so that a kernel can reuse K and V tiles across them).
  public static func run<Scratch>(
    batch: Int, heads: Int, seqLen: Int, rowsPerTask: Int, threads: Int,
    scratch: @escaping @Sendable () -> Scratch,
    rows: @escaping @Sendable (_ b: Int, _ h: Int, _ rows: Range<Int>, _ scratch: inout Scratch) -> Void
  ) {
    let blocksPerHead = (seqLen + rowsPerTask - 1) / rowsPerTask
    let taskCount = batch * heads * blocksPerHead
    let workers = min(max(threads, 1), max(taskCount, 1))
    let work: @Sendable (Int) -> Void = { w in
      var s = scratch()
      var t = w
      while t < taskCount {
        let (bh, block) = t.quotientAndRemainder(dividingBy: blocksPerHead)
        let (b, h) = bh.quotientAndRemainder(dividingBy: heads)
        rows(b, h, (block * rowsPerTask)..<min(seqLen, (block + 1) * rowsPerTask), &s)
        t += workers
      }
    }
    if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
  }
}
