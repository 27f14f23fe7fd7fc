import Foundation
import LoaCore

/// Connections to one store, shared by threads that each need one for a few statements at a time
/// (a dispatcher's upload workers: many uploads in flight, few store connections). A connection
/// serves one thread at a time; a thread must not borrow a second one while it holds one.
/// The dispatcher's `DispatchStorage`; a receipts endpoint's `ReceiptSink` (`Store.receiptStores`).
public final class StorePool: DispatchStorage, @unchecked Sendable {
    public let location: String
    public let capacity: Int
    public let identity: StoreIdentity
    // Guards `idle` and `opened`; the stores in `idle` are touched by one borrower at a time.
    private let condition = NSCondition()
    private var idle: [Store] = []
    private var opened = 0
    /// How a connection is opened.
    private let open: (String) throws -> Store

    /// Opens the first connection (the store must exist).
    public init(location: String, capacity: Int, open: @escaping (String) throws -> Store = { try Store(location: $0, create: false) }) throws {
        self.location = location
        self.capacity = max(1, capacity)
        self.open = open
        let first = try open(location)
        identity = first.identity
        idle = [first]
        opened = 1
    }

    /// Runs `body` with a connection of its own, waiting while all of them are in use.
    public func with<T>(_ body: (Store) throws -> T) throws -> T {
        let store = try take()
        defer { giveBack(store) }
        return try body(store)
    }

    public func withQueue<T>(_ body: (any BatchQueue) throws -> T) throws -> T { try with(body) }

    public func carrierLeases() throws -> any CarrierLeases { try Store.carrierLeases(location: location) }

    private func take() throws -> Store {
        condition.lock()
        while idle.isEmpty && opened >= capacity { condition.wait() }
        if let store = idle.popLast() {
            condition.unlock()
            return store
        }
        opened += 1
        condition.unlock()
        do {
            return try open(location)
        } catch {
            condition.lock()
            opened -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func giveBack(_ store: Store) {
        condition.lock()
        idle.append(store)
        condition.signal()
        condition.unlock()
    }
}

extension StorePool: ReceiptSink {
    public var concurrentCalls: Int { capacity }

    public func recordReceipts(carrier: Carrier, parts: ReceiptParts, _ receipts: [ReceiptRecord]) throws -> [ReceiptOutcome] {
        try with { try $0.recordReceipts(carrier: carrier, parts: parts, receipts) }
    }

    public func quarantine(carrier: Carrier, _ lines: [(line: String, reason: String)]) throws {
        try with { try $0.quarantine(carrier: carrier, lines) }
    }

    public func admitSignature(_ signature: String, at: Int64, forgetBefore: Int64) throws -> Bool {
        try with { try $0.admitSignature(signature, at: at, forgetBefore: forgetBefore) }
    }
}
