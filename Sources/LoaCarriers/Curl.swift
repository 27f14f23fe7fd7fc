import CCurl
import Foundation

/// An HTTP answer.
public struct HTTPAnswer: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
}

/// A libcurl failure; the only place that interprets a CURLcode.
public struct CurlError: Error, CustomStringConvertible, Sendable {
    public var code: Int
    public var function: String
    public var message: String
    public var description: String { "\(function): \(message) (curl error \(code))" }
    /// Whether the carrier may have received the request (then only the same idempotency key is safe).
    public var mayHaveReachedServer: Bool { ![6, 7].contains(code) }   // could not resolve / connect
}

@inline(__always)
func curl(_ code: CURLcode, function: String = #function) throws(CurlError) {
    guard code == CURLE_OK else {
        throw CurlError(code: Int(code.rawValue), function: function, message: String(cString: curl_easy_strerror(code)))
    }
}

/// Blocking HTTP over libcurl, one reusable easy handle per instance (keep-alive). Use it from
/// one thread at a time; dispatch runs one per carrier on its own thread, off Swift's pool.
public final class CurlClient: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var timeout: Double = 30
        public var connectTimeout: Double = 5
        public var caFile: String?
        public var clientCertificate: String?
        public var clientKey: String?
        public init(timeout: Double = 30, connectTimeout: Double = 5, caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.caFile = caFile
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
        }
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()
    private let handle: UnsafeMutableRawPointer
    private let configuration: Configuration

    public init(_ configuration: Configuration = Configuration()) {
        _ = Self.globalInit
        handle = curl_easy_init()
        self.configuration = configuration
    }

    deinit { curl_easy_cleanup(handle) }

    final class Exchange {
        var body: [UInt8]
        var sent = 0
        var received: [UInt8] = []
        var headers: [String: String] = [:]
        init(body: [UInt8]) { self.body = body }
    }

    /// A GET (Kannel's sendsms; the console's pages in tests), with the answer's headers.
    public func get(_ url: String, headers: [(String, String)] = []) throws(CurlError) -> HTTPAnswer {
        let h = handle
        curl_easy_reset(h)
        let exchange = Exchange(body: [])
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        defer { curl_slist_free_all(list) }
        if list != nil { try curl(ccurl_setopt_ptr(h, CURLOPT_HTTPHEADER, list)) }
        try curl(ccurl_setopt_datacb(h, CURLOPT_HEADERFUNCTION, Self.headerLine))
        try curl(ccurl_setopt_ptr(h, CURLOPT_HEADERDATA, context))
        try curl(ccurl_setopt_ptr(h, CURLOPT_URL, url))
        try curl(ccurl_setopt_long(h, CURLOPT_HTTPGET, 1))
        try curl(ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1))
        try curl(ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(configuration.timeout * 1000)))
        try curl(ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1000)))
        let write: ccurl_data_cb = { buffer, size, count, userdata in
            let x = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
            x.received.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: size * count))
            return size * count
        }
        try curl(ccurl_setopt_datacb(h, CURLOPT_WRITEFUNCTION, write))
        try curl(ccurl_setopt_ptr(h, CURLOPT_WRITEDATA, context))
        try curl(curl_easy_perform(h), function: "curl_easy_perform")
        var status = 0
        try curl(ccurl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status))
        return HTTPAnswer(status: status, headers: exchange.headers, body: exchange.received)
    }

    /// Collects the answer's headers (names lowercased); a new response (after 100 Continue) has its own.
    static let headerLine: ccurl_data_cb = { buffer, size, count, userdata in
        let x = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
        if line.hasPrefix("HTTP/") { x.headers.removeAll() }
        if let colon = line.firstIndex(of: ":") {
            x.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return size * count
    }

    /// A POST, or another method with a body (`PUT` for voice clips).
    public func post(_ url: String, headers: [(String, String)], body: [UInt8], method: String = "POST") throws(CurlError) -> HTTPAnswer {
        let h = handle
        curl_easy_reset(h)
        let exchange = Exchange(body: body)
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        // Headers; an empty Expect: stops curl from waiting 1 s for "100 Continue" on large bodies.
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers + [("Expect", ""), ("Content-Length", String(body.count))] {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        defer { curl_slist_free_all(list) }
        try curl(ccurl_setopt_ptr(h, CURLOPT_URL, url))
        try curl(ccurl_setopt_long(h, CURLOPT_POST, 1))
        if method != "POST" { try curl(ccurl_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, method)) }
        try curl(ccurl_setopt_ptr(h, CURLOPT_HTTPHEADER, list))
        try curl(ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1))
        try curl(ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(configuration.timeout * 1000)))
        try curl(ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1000)))
        if let ca = configuration.caFile { try curl(ccurl_setopt_ptr(h, CURLOPT_CAINFO, ca)) }
        if let cert = configuration.clientCertificate { try curl(ccurl_setopt_ptr(h, CURLOPT_SSLCERT, cert)) }
        if let key = configuration.clientKey { try curl(ccurl_setopt_ptr(h, CURLOPT_SSLKEY, key)) }
        // The body is handed over as a buffer, not through a read callback: curl can then rewind it
        // and send it again on a new connection after a reset (a read callback without a seek
        // callback fails with curl error 65).
        try curl(ccurl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
        let write: ccurl_data_cb = { buffer, size, count, userdata in
            let x = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
            x.received.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: size * count))
            return size * count
        }
        try curl(ccurl_setopt_datacb(h, CURLOPT_WRITEFUNCTION, write))
        try curl(ccurl_setopt_ptr(h, CURLOPT_WRITEDATA, context))
        try curl(ccurl_setopt_datacb(h, CURLOPT_HEADERFUNCTION, Self.headerLine))
        try curl(ccurl_setopt_ptr(h, CURLOPT_HEADERDATA, context))
        let performed: CURLcode = exchange.body.withUnsafeBytes { bytes in
            // An empty body still needs a valid pointer: curl would otherwise read from stdin.
            let pointer = bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
            guard ccurl_setopt_ptr(h, CURLOPT_POSTFIELDS, pointer) == CURLE_OK else { return CURLE_FAILED_INIT }
            return curl_easy_perform(h)
        }
        try curl(performed, function: "curl_easy_perform")
        var status = 0
        try curl(ccurl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status))
        return HTTPAnswer(status: status, headers: exchange.headers, body: exchange.received)
    }
}
