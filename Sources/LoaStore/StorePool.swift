import Foundation

/// Connections to one store, shared by threads that each need one for a few statements at a time
/// (a dispatcher's upload workers: many uploads in flight, few store connections). A connection
/// serves one thread at a time; a thread must not borrow a second one while it holds one.
public final class StorePool: @unchecked Sendable {
    public let location: String
    public let capacity: Int
    private let condition = NSCondition()
    private var idle: [Store] = []
    private var opened = 0

    public init(location: String, capacity: Int) {
        self.location = location
        self.capacity = max(1, capacity)
    }

    /// Runs `body` with a connection of its own, waiting while all of them are in use.
    public func with<T>(_ body: (Store) throws -> T) throws -> T {
        let store = try take()
        defer { giveBack(store) }
        return try body(store)
    }

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
            return try Store(location: location, create: false)
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
