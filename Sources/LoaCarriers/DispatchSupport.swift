import Foundation
import LoaCore
import ServiceLifecycle
import Synchronization

/// The machine's clocks: `DispatchTime` (monotonic) and the system's wall clock.
public struct SystemClock: DispatchClock {
    public init() {}
    public func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    public func now() -> Timestamp { Timestamp(seconds: Int64(Date().timeIntervalSince1970)) }
}

/// Why a dispatcher run ended in error. `code` is stable (scripts and the console match on it).
public enum DispatchError: Error, Equatable, CustomStringConvertible {
    /// Lanes that failed with an error (not a carrier's fault, which a lane reports in its progress): one line each.
    case lanesFailed([String])
    /// The connection holding this node's carrier leases is gone: the node stopped sending.
    case leasesLost

    public var code: String {
        switch self {
        case .lanesFailed: "dispatch.lanes-failed"
        case .leasesLost: "dispatch.leases-lost"
        }
    }

    public var description: String {
        switch self {
        case .lanesFailed(let lines): lines.joined(separator: "\n")
        case .leasesLost: "the connection holding this node's carrier leases is gone"
        }
    }
}

/// The dispatcher as a ServiceLifecycle service, so that one process can run it beside the receipt
/// server (and the console): a graceful shutdown of the group finishes the uploads in flight and
/// stops; the lanes' outcome is in `lanes` once `run` returns. The upload workers stay threads
/// (libcurl blocks): `run` awaits them from a thread of its own, never blocking the cooperative pool.
public final class DispatcherService: Service, Sendable {
    public let dispatcher: Dispatcher
    let untilDrained: Bool
    private let outcome = Mutex<[Dispatcher.Progress]?>(nil)

    public init(_ dispatcher: Dispatcher, untilDrained: Bool) {
        self.dispatcher = dispatcher
        self.untilDrained = untilDrained
    }

    /// What each carrier's lane did, once `run` has returned.
    public var lanes: [Dispatcher.Progress]? { outcome.withLock { $0 } }

    public func run() async throws {
        let dispatcher = self.dispatcher, untilDrained = self.untilDrained
        let lanes = try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Dispatcher.Progress], any Error>) in
                let t = Thread { c.resume(with: Result { try dispatcher.run(untilDrained: untilDrained) }) }
                t.name = "loa.dispatcher"
                t.start()
            }
        } onGracefulShutdown: {
            dispatcher.stop()
        }
        outcome.withLock { $0 = lanes }
    }
}
