import Foundation
import Synchronization

/// Copies a SQLite store's write-ahead log back into the database on a thread and a connection
/// of its own, so that the writer it serves seldom waits for it. Each copy ends with an fsync of
/// the database file, which writes out every page changed since the last one: with writes to
/// rows at random (receipts), that wait was close to half of what a commit cost when the writer
/// ran the checkpoint itself.
///
/// Passes are passive: they never wait for the writer or for readers, nor make them wait. But a
/// pass copies the log as it was when it began, and SQLite starts the log over only when all of
/// it was copied before the writer's next transaction: against a writer that commits all the
/// time that never happened, the log grew to the writer's own checkpoint (30,000 pages), which
/// copied the rest and synced, about 0.25 s each time (1.5 s of a 5.1 s run of 272,000 receipts
/// with 1M messages). So once the log passes `restartAfter` pages, passes run back to back (up to
/// 8) while each has less to copy than the one before and more than `catchUp` pages; the last
/// pass then runs with the writer's `gate` held (this process's write transactions take
/// it), so that it copies everything and the writer's next transaction starts the log over. The
/// writer waits for that short pass only. A reader of another connection still reading an old
/// part of the log only delays the start over (the pass copies what it may and waits for no one).
final class WALCheckpointer: Sendable {
    private let state = State()
    private let done = DispatchSemaphore(value: 0)

    private final class State: Sendable {
        let stopped = Atomic<Bool>(false)
        let copied = Atomic<Int>(0)
        let restarts = Atomic<Int>(0)
    }

    /// Pages copied back so far.
    var pagesCopied: Int { state.copied.load(ordering: .relaxed) }
    /// Passes under the gate that copied the whole log (the writer's next transaction starts it over).
    var logRestarts: Int { state.restarts.load(ordering: .relaxed) }

    /// Starts checkpointing the store at `path` every `interval` seconds.
    init(path: String, gate: NSLock, interval: Double = 0.05, restartAfter: Int = 10_000, catchUp: Int = 500) throws {
        let db = UncheckedBox(try SQLiteDatabase(path: path, create: false))
        let state = state, done = done
        let thread = Thread {
            defer { done.signal() }
            // The log's size and the pages of it in the database after the latest pass.
            var latest = (log: 0, copied: 0)
            // One passive pass; what it had to copy (nil: it could not run, e.g. another checkpoint was running).
            func pass() -> Int? {
                guard let p = try? db.value.query("PRAGMA wal_checkpoint(PASSIVE)", [], row: { (log: $0.int(1), copied: $0.int(2)) }).first,
                      p.log >= 0 else { return nil }
                // A log shorter than before was started over: all of it is new.
                let before = p.log >= latest.log ? latest.copied : 0
                if p.copied > before { state.copied.add(p.copied - before, ordering: .relaxed) }
                latest = p
                return p.log - before
            }
            while !state.stopped.load(ordering: .relaxed) {
                if pass() != nil, latest.log >= restartAfter {
                    var left = Int.max
                    for _ in 0..<8 {
                        guard let copied = pass(), copied < left, copied > catchUp else { break }
                        left = copied
                    }
                    gate.lock()
                    let whole = pass() != nil && latest.copied == latest.log
                    gate.unlock()
                    if whole { state.restarts.add(1, ordering: .relaxed) }
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
