import Foundation
import LoaCore

/// Loads the reference CSVs shipped as this module's resources.
public enum ReferenceData {
    public static func administrativeUnits() throws -> AdministrativeUnits {
        func read(_ name: String) throws -> String {
            guard let url = Bundle.module.url(forResource: name, withExtension: "csv", subdirectory: "Resources") else {
                throw ReferenceDataError("reference file \(name).csv is missing from the loa installation")
            }
            return try String(contentsOf: url, encoding: .utf8)
        }
        return try AdministrativeUnits.parse(provincesCSV: read("provinces-2025"), communesCSV: read("communes-2025"),
                                             preReformCSV: read("provinces-pre2025"))
    }
}

public struct ReferenceDataError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
