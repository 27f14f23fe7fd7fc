import Foundation
import Synchronization

/// SIGTERM and SIGINT as a request to stop gracefully, delivered whatever thread the kernel picks.
///
/// libdispatch's signal sources are not used: on Linux they read a signalfd, which only sees a
/// signal that every thread blocks, and threads started before the source (Swift's cooperative
/// pool, HTTP server threads) do not. A signal delivered to one of them went to the no-op
/// handler libdispatch installs and was lost: `loa dispatch` kept sending after SIGTERM. Here a
/// plain `sigaction` handler runs on whichever thread receives the signal; it only records the
/// signal and writes one byte to a pipe (both async-signal-safe). A watcher thread reads the pipe
/// and calls `onStop` once. A second signal exits at once, as a second Ctrl-C does elsewhere:
/// every state is committed before the network call that depends on it, so that is as safe as a
/// crash, which loa survives.
enum ShutdownSignals {
    /// The signal that asked to stop (0: none yet).
    static let received = Atomic<Int32>(0)
    /// The pipe's write end (an atomic: the handler may read nothing that needs a lock).
    static let wakeFD = Atomic<Int32>(-1)

    /// Installs the handler; `onStop` runs once, on the watcher thread, after the first signal.
    static func install(onStop: @escaping @Sendable (Int32) -> Void) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        wakeFD.store(fds[1], ordering: .sequentiallyConsistent)
        let handler: @convention(c) (Int32) -> Void = { signo in
            let previous = ShutdownSignals.received.exchange(signo, ordering: .sequentiallyConsistent)
            if previous != 0 { _exit(128 + signo) }
            var byte = UInt8(truncatingIfNeeded: signo)
            _ = write(ShutdownSignals.wakeFD.load(ordering: .sequentiallyConsistent), &byte, 1)
        }
        var action = sigaction()
        #if os(Linux)
        action.__sigaction_handler.sa_handler = handler
        #else
        action.__sigaction_u.__sa_handler = handler
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        for sig in [SIGTERM, SIGINT] {
            sigaction(sig, &action, nil)
            // A thread that blocks it would never run the handler; none should, but make sure for this one.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, sig)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
        }
        let readFD = fds[0]
        let watcher = Thread {
            var byte: UInt8 = 0
            while read(readFD, &byte, 1) < 0 && errno == EINTR {}
            onStop(ShutdownSignals.received.load(ordering: .sequentiallyConsistent))
        }
        watcher.name = "loa.signals"
        watcher.start()
    }

    static var signal: Int32 { received.load(ordering: .sequentiallyConsistent) }

    static var requested: Bool { received.load(ordering: .sequentiallyConsistent) != 0 }

    /// The conventional exit status after a signal: 128 + its number (143 for SIGTERM, 130 for SIGINT).
    static var exitStatus: Int32 { 128 + received.load(ordering: .sequentiallyConsistent) }

    static func name(_ signo: Int32) -> String { signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "signal \(signo)" }
}
