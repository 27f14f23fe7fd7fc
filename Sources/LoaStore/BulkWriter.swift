/// Rows written as multi-row `INSERT`s: one statement (one round trip to a PostgreSQL server) per
/// `rowsPerStatement` rows instead of one per row. Rows with the same key replace each other in
/// the buffer (the last wins, as one upsert per row would), because PostgreSQL refuses an
/// `ON CONFLICT DO UPDATE` that touches one row twice in a statement.
final class BulkWriter {
    let db: any SQLDatabase
    let head: String
    let tail: String
    let columns: Int
    let rowsPerStatement: Int
    let key: ([SQLValue]) -> [SQLValue]
    private var rows: [[SQLValue]] = []
    private var positions: [[SQLValue]: Int] = [:]

    /// `head`: `INSERT INTO t (a, b)`; `tail`: `ON CONFLICT …` or empty; `key`: the conflict key of a row.
    init(_ db: any SQLDatabase, _ head: String, columns: Int, tail: String = "", rowsPerStatement: Int = 256,
         key: @escaping ([SQLValue]) -> [SQLValue]) {
        self.db = db
        self.head = head
        self.tail = tail
        self.columns = columns
        self.rowsPerStatement = rowsPerStatement
        self.key = key
    }

    func add(_ values: [SQLValue]) throws {
        precondition(values.count == columns)
        let k = key(values)
        if let at = positions[k] { rows[at] = values; return }
        positions[k] = rows.count
        rows.append(values)
        if rows.count == rowsPerStatement { try flush() }
    }

    func flush() throws {
        guard !rows.isEmpty else { return }
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        try db.run(head + " VALUES " + Array(repeating: row, count: rows.count).joined(separator: ", ") + " " + tail, rows.flatMap { $0 })
        rows.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
    }
}
