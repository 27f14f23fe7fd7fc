import Foundation
import LoaCore
import LoaCrypto

/// Kannel's smsbox `sendsms` interface: one HTTP request per message. Kannel has no idempotency
/// key, so loa sends each message at most once: a submission cut off by a crash is recorded as
/// `unknown`, never sent again. Kannel needs clear numbers; loa has them only for contact-list
/// recipients (resolved at send time from the contact lists, never stored with the message).
public enum KannelProtocol {
    public struct Settings: Sendable {
        /// http://host:port/cgi-bin/sendsms
        public var sendsmsURL: String
        public var username: String
        public var password: String
        /// loa's base URL for delivery reports, e.g. http://127.0.0.1:8080 (Kannel calls
        /// {base}/receipts/{carrier}/dlr?id=…&type=%d&sig=…).
        public var dlrBase: String?
        public init(sendsmsURL: String, username: String, password: String, dlrBase: String?) {
            self.sendsmsURL = sendsmsURL
            self.username = username
            self.password = password
            self.dlrBase = dlrBase
        }
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }

    /// The sendsms URL for one message. UCS-2 text goes as UTF-8 with coding=2, charset=UTF-8.
    public static func url(_ settings: Settings, carrier: Carrier, ref messageRef: MessageRef, to e164: String, from sender: String,
                           text: String, encoding: String, dlrSigner: HMACSigner?) -> String {
        var q = [("username", settings.username), ("password", settings.password), ("from", sender), ("to", e164), ("text", text), ("charset", "UTF-8")]
        q.append(("coding", encoding == "ucs2" ? "2" : "0"))
        if let base = settings.dlrBase {
            let ref = messageRef.description
            let sig = dlrSigner.map { $0.sign(Array(ref.utf8)) } ?? ""
            // Kannel replaces %d with the report type; the rest is loa's own query.
            q.append(("dlr-mask", "27"))   // 1 delivered + 2 failed + 8 SMSC accepted + 16 SMSC rejected
            // %A: the SMSC's receipt text (SMPP: stat, err, done date), when there is one.
            q.append(("dlr-url", "\(base)/receipts/\(carrier.rawValue)/dlr?id=\(ref)&sig=\(sig)&type=%d&smpp=%A"))
        }
        return settings.sendsmsURL + "?" + q.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
    }

    /// Kannel report types (`%d`) → receipt status: 1 delivered, 2 failed, 4 buffered (on its way),
    /// 8 SMSC accepted, 16 SMSC rejected; nil for anything else.
    public static func status(dlrType: Int) -> ReceiptStatus? {
        switch dlrType {
        case 1: .delivered
        case 2: .failed
        case 4: .enroute
        case 8: .accepted
        case 16: .rejected
        default: nil
        }
    }
}

