import Foundation
import LoaCore

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
