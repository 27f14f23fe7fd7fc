import Foundation
import Synchronization

/// Copies a SQLite store's write-ahead log back into the database on a thread and a connection
/// of its own, so that the writer it serves never waits for it. Each copy ends with an fsync of
/// the database file, which writes out every page changed since the last one: with writes to
/// rows at random (receipts), that wait was close to half of what a commit cost when the writer
/// ran the checkpoint itself. A passive checkpoint blocks neither the writer nor readers; the
/// writer keeps its own automatic checkpoint as a backstop (it then finds the log mostly copied),
/// so the log stays bounded even if this thread falls behind.
final class WALCheckpointer: Sendable {
    private let state = State()
    private let done = DispatchSemaphore(value: 0)

    private final class State: Sendable {
        let stopped = Atomic<Bool>(false)
        let copied = Atomic<Int>(0)
    }

    /// Pages copied back so far.
    var pagesCopied: Int { state.copied.load(ordering: .relaxed) }

    /// Starts checkpointing the store at `path` every `interval` seconds.
    init(path: String, interval: Double = 0.05) throws {
        let db = UncheckedBox(try SQLiteDatabase(path: path, create: false))
        let state = state, done = done
        let thread = Thread {
            defer { done.signal() }
            // The log's size and the pages of it in the database after the previous pass: the
            // writer starts the log over once all of it is copied.
            var previous = (log: 0, copied: 0)
            while !state.stopped.load(ordering: .relaxed) {
                // A failed pass (busy: another checkpoint is running) is tried again at the next tick.
                if let pass = try? db.value.query("PRAGMA wal_checkpoint(PASSIVE)", [], row: { (log: $0.int(1), copied: $0.int(2)) }).first, pass.log >= 0 {
                    let before = pass.log >= previous.log ? previous.copied : 0
                    if pass.copied > before { state.copied.add(pass.copied - before, ordering: .relaxed) }
                    previous = pass
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "loa-wal-checkpoint"
        thread.start()
    }

    /// Stops the thread and waits for its pass in progress.
    func stop() {
        guard !state.stopped.exchange(true, ordering: .relaxed) else { return }
        done.wait()
    }

    deinit { stop() }
}

/// A value handed to one thread that alone uses it from then on.
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
