import ArgumentParser
import Foundation

@main
struct Entry {
    static func main() async {
        // Everything loa creates (the store, its WAL and lock files, exports) holds personal data:
        // readable by its owner only.
        umask(0o077)
        await Loa.main()
    }
}

struct Loa: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loa",
        abstract: "Public-information SMS and voicemail broadcasts for Vietnam's border areas.",
        discussion: """
            loa formats campaign messages for the mobile network (GSM-7 or UCS-2, exact parts and \
            cost), checks phone numbers against Vietnam's numbering plan, and converts legacy \
            Vietnamese text (TCVN3, VNI) to Unicode.

            Examples:
              loa inspect text "Thông báo: bão số 3 đổ bộ vào chiều nay"
              loa inspect msisdn --json "0162 345 6789"
              loa text convert old-notice.txt -o notice.txt
            """,
        version: "0.1.0",
        subcommands: [Inspect.self, TextCommand.self, CampaignCommand.self, VoiceCommand.self, ImportCommand.self, Audience.self, Dispatch.self, CarrierSim.self, Serve.self, ReceiptsCommand.self, ReportCommand.self, AuditCommand.self, UserCommand.self, ContactsCommand.self, DemoData.self, Purge.self, StoreCommand.self]
    )
}
