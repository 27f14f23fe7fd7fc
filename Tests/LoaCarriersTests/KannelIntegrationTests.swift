import Foundation
import Hummingbird
import Testing
import LoaCore
import LoaCrypto
import LoaStore
@testable import LoaCarriers
import LoaCarrierSimulator
import LoaServer
import LoaTestSupport

let kannelURL = ProcessInfo.processInfo.environment["LOA_KANNEL_SENDSMS"]
let fakeSMSCLog = ProcessInfo.processInfo.environment["LOA_KANNEL_FAKESMSC_LOG"]

@Suite("Kannel path end to end (real bearerbox, smsbox and fake SMSC)",
       .enabled(if: kannelURL != nil && fakeSMSCLog != nil, "Kannel is not running: ./ops/test.sh starts it and sets LOA_KANNEL_SENDSMS and LOA_KANNEL_FAKESMSC_LOG"), .serialized)
struct KannelIntegrationTests {
    @Test("contact-list recipients reach the SMSC once each as UCS-2; area recipients are refused with the reason",
          arguments: StoreEngine.available)
    func kannelEndToEnd(engine: StoreEngine) async throws {
        let path = try engine.scratchLocation()
        let store = try Store(location: path)
        let key = try KeyedPseudonymizer(key: Array("kannel-test-pseudonym-key-01".utf8))
        let vault = try ContactVault(hex: String(repeating: "c3", count: 32))
        try addSendingCampaign(store, id: "k", priority: .urgent)
        // Unique numbers for this run, so the shared fake SMSC log can be read safely.
        let base = Int.random(in: 100_000...899_000)
        var messages: [PlannedMessage] = []
        var numbers: [String] = []
        for i in 0..<15 {
            let number = "0961\(base + i)"
            guard case .success(let p) = VietnamNumberingPlan.parse(String(number)) else { continue }
            numbers.append(number)
            messages.append(.init(carrier: .viettel, subscriber: key.pseudonym(for: p.msisdn).description, language: "vi", commune: 23377,
                                  text: "Xã Bờ Y: họp dân lúc 8 giờ \(i)", encoding: .ucs2, segments: 1))
        }
        for i in 0..<3 {   // area recipients: pseudonyms with no clear number
            messages.append(.init(carrier: .viettel, subscriber: Pseudonym(w0: UInt64(i), w1: 7, w2: 7, w3: 7).description, language: "vi",
                                  commune: 23377, text: "khu vực \(i)", encoding: .ucs2, segments: 1))
        }
        try importContactList(store, list: "uy-tin", numbers: numbers, vault: vault)
        _ = try store.planMessages(campaign: "k", priority: .emergency, day: 1, capPerDay: 1, messages)

        let endpoint = try ReceiptEndpoint(sink: Store(location: path, create: false), secrets: [.viettel: receiptSecret])
        let router = Router()
        endpoint.addRoutes(to: router)
        let receipts = BackgroundServer()
        let receiptPort = try await receipts.start(router)
        var g = CarrierGateway(carrier: .viettel, displayName: "Viettel via Kannel", protocolKind: .kannel, endpoint: kannelURL!, tps: 50, maxBatch: 10,
                               dailyQuota: 1000, window: nil, retry: RetryPolicy(initialDelay: 0.2, maxDelay: 1), timeout: 5, token: nil,
                               signingSecret: nil, receiptSecret: receiptSecret)
        g.kannel = KannelProtocol.Settings(sendsmsURL: kannelURL!, username: "loa", password: "loa-test", dlrBase: "http://127.0.0.1:\(receiptPort)")
        g.pseudonymKey = key
        g.contactVault = vault
        let d = try dispatcher(path, gateways: [g], campaigns: policies(["k"]))
        try await runDispatcher(d)
        try await Task.sleep(for: .seconds(2))   // let the fake SMSC print what it got

        let log = try String(contentsOfFile: fakeSMSCLog!, encoding: .utf8)
        for i in 0..<15 {
            let e164 = "+84961\(base + i)"
            let lines = log.split(separator: "\n").filter { $0.contains("Got message") && $0.contains(" \(e164) ") }
            #expect(lines.count == 1, "\(e164): \(lines.count) times")
            #expect(lines.first?.contains("ucs-2") == true)
        }
        let states = Dictionary(grouping: try store.messages(campaign: "k"), by: { $0.state?.rawValue ?? "?" }).map { "\($0.key)=\($0.value.count)" }
        #expect(states.contains("rejected=3"))
        // Kannel's delivery reports (type 1) came back through the signed dlr-url.
        #expect(states.contains("delivered=15"), "\(states)")
        #expect(endpoint.totals.rejected == 0)
        #expect(!states.contains { $0.hasPrefix("planned") || $0.hasPrefix("submitted") })
        let reason = try store.messages(state: .rejected).first?.reason
        #expect(reason == "Kannel needs a clear number: only contact-list recipients can go through Kannel")
        // The clear numbers were never written to the messages table.
        #expect(try store.messages().allSatisfy { $0.subscriber.hasPrefix("h:") })
        await receipts.stop()
    }

    @Test func dlrTypes() {
        #expect(KannelProtocol.status(dlrType: 1) == .delivered)
        #expect(KannelProtocol.status(dlrType: 2) == .failed)
        #expect(KannelProtocol.status(dlrType: 4) == .enroute)
        #expect(KannelProtocol.status(dlrType: 8) == .accepted)
        #expect(KannelProtocol.status(dlrType: 16) == .rejected)
        #expect(KannelProtocol.status(dlrType: 3) == nil)
        let url = KannelProtocol.url(.init(sendsmsURL: "http://k/cgi-bin/sendsms", username: "u", password: "p", dlrBase: "http://loa:8080"),
                                     carrier: .viettel, ref: MessageRef(id: 7, store: StoreIdentity("00112233445566ff")!), to: "+84912345678", from: "LOA", text: "Việt & Nam", encoding: "ucs2", dlrSigner: nil)
        #expect(url.contains("to=%2B84912345678"))
        #expect(url.contains("text=Vi%E1%BB%87t%20%26%20Nam"))
        #expect(url.contains("coding=2"))
        #expect(url.contains("charset=UTF-8"))
        #expect(url.contains("dlr-mask=27"))
        #expect(url.contains("dlr-url=http%3A%2F%2Floa%3A8080%2Freceipts%2Fviettel%2Fdlr%3Fid%3Dm7-00112233445566ff%26sig%3D%26type%3D%25d"))
    }
}
