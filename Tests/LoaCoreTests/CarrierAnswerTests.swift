import Testing
import LoaCore

@Suite("Carrier answers, Retry-After, the circuit breaker, wire ids")
struct CarrierAnswerTests {
    let store = StoreIdentity("0123456789abcdef")!
    var refs: [MessageRef] { [MessageRef(id: 11, store: store), MessageRef(id: 12, store: store)] }
    let key = "loa-0123456789abcdef-viettel-7"
    let now = Timestamp.parseISO8601("2026-12-02T10:00:00Z")!

    func answer(_ status: Int, _ body: String, headers: [String: String] = [:]) -> UploadVerdict {
        CarrierAnswer.judge(.answer(status: status, headers: headers, body: Array(body.utf8)), key: key, refs: refs, now: now)
    }

    @Test("a complete answer: accepted and rejected messages, status words in any case")
    func completeAnswer() {
        let body = #"{"batch_id":"loa-0123456789abcdef-viettel-7","results":[{"message_id":"m11-0123456789abcdef","status":"ACCEPTED"},{"message_id":"m12-0123456789abcdef","status":"Rejected","reason":"unknown subscriber","code":"E17"}]}"#
        #expect(answer(202, body) == .taken(rejected: [12: "unknown subscriber [code \"E17\"]"]))
        #expect(answer(200, #"{"results":[{"message_id":"m12-0123456789abcdef","status":"accepted"},{"message_id":"m11-0123456789abcdef","status":"accepted"}]}"#) == .taken(rejected: [:]))
    }

    @Test("answers loa does not understand never become acceptance", arguments: [
        (#"{"results":[{"message_id":"m11-0123456789abcdef","status":"failed"},{"message_id":"m12-0123456789abcdef","status":"accepted"}]}"#, "status \"failed\""),
        ("OK", "not JSON"),
        ("", "not JSON"),
        (#"{"batch_id":"loa-0123456789abcdef-viettel-7"}"#, "no \"results\" list"),
        (#"{"results":[{"message_id":"m11-0123456789abcdef","status":"accepted"}]}"#, "1 of 2 messages have no result (first: m12-0123456789abcdef)"),
        (#"{"results":[{"message_id":"m11-0123456789abcdef","status":"accepted"},{"message_id":"m12-0123456789abcdef","status":"accepted"},{"message_id":"m13-0123456789abcdef","status":"accepted"}]}"#, "not in this batch"),
        (#"{"results":[{"message_id":"m11","status":"accepted"},{"message_id":"m12","status":"accepted"}]}"#, "not in this batch"),
        (#"{"results":[{"message_id":"m11-0123456789abcdef","status":"accepted"},{"message_id":"m11-0123456789abcdef","status":"accepted"}]}"#, "two results"),
        (#"{"batch_id":"loa-fedcba9876543210-viettel-7","results":[]}"#, "answers batch"),
        (#"{"results":[{"message_id":"m11-0123456789abcdef","status":"accepted",},{"message_id":"m12-0123456789abcdef","status":"accepted"}]}"#, "not JSON"),
        (#"{"results":[{"message_id":"m11-0123456789abcdef","status":"accepted"},{"message_id":"m12-0123456789abcdef"}]}"#, "no status"),
    ])
    func notUnderstood(body: String, problem: String) {
        guard case .notUnderstood(let reason) = answer(202, body) else {
            Issue.record("taken as understood: \(body)")
            return
        }
        #expect(reason.contains(problem), "\(reason)")
    }

    @Test("HTTP statuses: transient, throttled, configuration faults, refusals, 413 with the carrier's maximum")
    func statuses() {
        #expect(answer(503, "", headers: ["retry-after": "7"]) == .transient(reason: "HTTP 503", retryAfter: 7, mayHaveReachedCarrier: false))
        #expect(answer(500, "boom") == .transient(reason: "HTTP 500", retryAfter: nil, mayHaveReachedCarrier: true))
        #expect(answer(429, "", headers: ["retry-after": "Wed, 02 Dec 2026 10:00:30 GMT"]) == .throttled(retryAfter: 30))
        #expect(answer(401, "bad signature") == .configurationFault(reason: "HTTP 401: bad signature"))
        #expect(answer(403, "") == .configurationFault(reason: "HTTP 403"))
        #expect(answer(404, "not found") == .configurationFault(reason: "HTTP 404: not found"))
        #expect(answer(400, "line 3: sender not registered") == .refused(status: 400, reason: "HTTP 400: line 3: sender not registered"))
        #expect(answer(413, "", headers: ["x-max-batch": " 250 "]) == .tooLarge(carrierMaximum: 250))
        #expect(answer(413, "") == .tooLarge(carrierMaximum: nil))
        #expect(CarrierAnswer.judge(.noAnswer(reason: "timeout", mayHaveReachedCarrier: true), key: key, refs: refs, now: now)
                == .transient(reason: "timeout", retryAfter: nil, mayHaveReachedCarrier: true))
        // Control characters from a hostile body are escaped in reasons.
        #expect(answer(400, "a\u{1B}[31mb\nc") == .refused(status: 400, reason: "HTTP 400: a\\u{1b}[31mb⏎c"))
    }

    @Test("Retry-After in seconds and in all three HTTP-date forms")
    func retryAfter() {
        let t = Timestamp.parseISO8601("1994-11-06T08:49:00Z")!
        #expect(RetryAfter.seconds("120", now: t) == 120)
        #expect(RetryAfter.seconds(" 0 ", now: t) == 0)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: t) == 37)
        #expect(RetryAfter.seconds("Sunday, 06-Nov-94 08:49:37 GMT", now: t) == 37)
        #expect(RetryAfter.seconds("Sun Nov  6 08:49:37 1994", now: t) == 37)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:48:00 GMT", now: t) == 0)   // in the past: at once
        #expect(RetryAfter.seconds("soon", now: t) == nil)
        #expect(RetryAfter.seconds("-5", now: t) == nil)
        #expect(RetryAfter.seconds("Sun, 31 Feb 1994 08:49:37 GMT", now: t) == nil)
        #expect(RetryAfter.seconds(String(repeating: "9", count: 40), now: t) == 1e12)
    }

    @Test("the circuit opens after failures in a row, lets one probe through after the backoff, closes when it succeeds")
    func circuit() {
        var rng = SplitMix64(seed: 3)
        var c = CarrierCircuit(threshold: 3, backoff: RetryPolicy(initialDelay: 2, multiplier: 2, maxDelay: 60))
        #expect(c.permission(at: 0) == .send)
        #expect(c.failed(at: 0, retryAfter: nil, random: &rng) == 0)
        #expect(c.failed(at: 0.1, retryAfter: nil, random: &rng) == 0.1)
        #expect(c.permission(at: 0.2) == .send)                      // two failures: still closed
        let reopens = c.failed(at: 0.2, retryAfter: 5, random: &rng)  // the third opens it, Retry-After honoured
        #expect(reopens == 5.2)
        #expect(c.permission(at: 1) == .wait(until: 5.2))
        #expect(c.permission(at: 5.2) == .probe)                     // one probe…
        #expect(c.permission(at: 5.3) == .wait(until: 5.35))         // …and the others wait for it
        let again = c.failed(at: 6, retryAfter: nil, random: &rng)    // the probe failed: open for longer
        #expect(again >= 6 + 2 && again <= 6 + 4)
        #expect(c.permission(at: again) == .probe)
        c.succeeded()
        #expect(c.permission(at: again + 0.1) == .send)
        #expect(c.failuresInARow == 0)
        // 429: the carrier is there; everything waits for its Retry-After, nothing opens.
        c.throttled(at: 100, retryAfter: 2)
        #expect(c.permission(at: 101) == .wait(until: 102))
        #expect(c.permission(at: 102) == .send)
        #expect(!c.isOpen)
        // A probe that never went lets another worker probe.
        for t in [200.0, 200.1, 200.2] { c.failed(at: t, retryAfter: nil, random: &rng) }
        let opensAt: Double = if case .open(let until) = c.state { until } else { -1 }
        #expect(c.permission(at: opensAt) == .probe)
        c.probeAbandoned(at: opensAt + 0.5)
        #expect(c.permission(at: opensAt + 0.5) == .probe)
    }

    @Test("a lane's decisions after each kind of answer, in simulated time")
    func laneDecisions() {
        var rng = SplitMix64(seed: 5)
        var lane = CarrierLane(maxBatch: 100, retry: RetryPolicy(initialDelay: 2, multiplier: 2, maxDelay: 60), circuitThreshold: 3)
        let end = Timestamp(seconds: 10_000)
        func settle(_ v: UploadVerdict, size: Int = 40, attempt: Int = 1, isRetry: Bool = false, wall: Double = 1_000, clock: Double = 50) -> CarrierLane.Decision {
            lane.settle(v, size: size, attempt: attempt, isRetry: isRetry, campaignEnd: end, wall: wall, clock: clock, random: &rng)
        }
        #expect(settle(.taken(rejected: [7: "unknown subscriber"])) == .init(record: .accepted(rejected: [7: "unknown subscriber"]), giveBackRate: false))
        // 413: the carrier's maximum when it gives one, else half; never the same size again.
        #expect(settle(.tooLarge(carrierMaximum: 25)).record == .replanSmaller)
        #expect(lane.maxBatch == 25)
        _ = settle(.tooLarge(carrierMaximum: nil), size: 25)
        #expect(lane.maxBatch == 12)
        _ = settle(.tooLarge(carrierMaximum: 500), size: 12)
        #expect(lane.maxBatch == 11)
        // 429: retry under the key no sooner than Retry-After; the rate is given back; the lane waits.
        let throttled = settle(.throttled(retryAfter: 30))
        #expect(throttled.giveBackRate)
        guard case .retry(let at, _) = throttled.record else { Issue.record("\(throttled)"); return }
        #expect(at >= 1_030 && at <= 1_032)
        #expect(lane.circuit.permission(at: 60) == .wait(until: 80))
        // Transient failures: retried, never final; the third in a row opens the circuit.
        let first = settle(.transient(reason: "HTTP 503", retryAfter: nil, mayHaveReachedCarrier: false), clock: 100)
        #expect(first.giveBackRate && first.fault == nil && first.note == nil)
        _ = settle(.transient(reason: "timeout", retryAfter: nil, mayHaveReachedCarrier: true), attempt: 2, clock: 100)
        let third = settle(.transient(reason: "HTTP 500", retryAfter: nil, mayHaveReachedCarrier: true), attempt: 3, clock: 100)
        #expect(!third.giveBackRate)   // it may have reached the carrier's count
        #expect(third.note?.hasPrefix("carrier failing (HTTP 500): no new work until a probe gets through") == true)
        // Near the campaign's end: the last attempt one second before it, then expired.
        guard case .retry(let last, _) = settle(.transient(reason: "HTTP 503", retryAfter: 600, mayHaveReachedCarrier: false), wall: 9_800).record else { Issue.record("retry"); return }
        #expect(last == 9_999)
        #expect(settle(.transient(reason: "HTTP 503", retryAfter: nil, mayHaveReachedCarrier: false), wall: 9_999).record
                == .expired(reason: "campaign ended at \(end.iso8601()) before the carrier accepted it (last answer: HTTP 503)"))
        // Faults stop the lane and keep the messages.
        let wrongSecret = settle(.configurationFault(reason: "HTTP 401: bad signature"))
        #expect(wrongSecret.record == .release && wrongSecret.fault?.hasPrefix("the carrier answered HTTP 401: bad signature") == true)
        #expect(settle(.configurationFault(reason: "HTTP 403"), isRetry: true).record == .keepForNextRun)
        let garbled = settle(.notUnderstood(reason: "HTTP 202 but the body is not JSON"))
        #expect(garbled.record == .keepOpen(reason: "HTTP 202 but the body is not JSON") && !garbled.giveBackRate && garbled.fault != nil)
    }

    @Test("backoff is capped and never attempts-limited")
    func backoffCapped() {
        var rng = SplitMix64(seed: 9)
        let policy = RetryPolicy()
        #expect(policy.maxDelay == 60)
        let late = (1...200).map { policy.delay(afterAttempt: $0, retryAfter: nil, random: &rng) }
        #expect(late.allSatisfy { $0 <= 60 })
        #expect(late.suffix(100).allSatisfy { $0 >= 30 })
    }

    @Test("wire ids carry the store's identity; the old form still parses")
    func wireIDs() {
        #expect(MessageRef(id: 42, store: store).description == "m42-0123456789abcdef")
        #expect(MessageRef("m42-0123456789abcdef") == MessageRef(id: 42, store: store))
        #expect(MessageRef("m42") == MessageRef(id: 42, store: nil))
        for bad in ["", "m", "m-1", "42", "m42-", "m42-0123456789ABCDEF", "m42-0123", "m99999999999999999999", "m0", "m4 2"] {
            #expect(MessageRef(bad) == nil, "\(bad)")
        }
        #expect(store.idempotencyKey(carrier: .viettel, batch: 7) == key)
        var a = SplitMix64(seed: 1), b = SplitMix64(seed: 2)
        #expect(StoreIdentity.random(using: &a) != StoreIdentity.random(using: &b))
        #expect(StoreIdentity.random(using: &a).hex.count == 16)
    }

    @Test("the JSON reader is strict")
    func json() throws {
        #expect(try JSONValue.parse(#" {"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"]} "#)
                == .object([("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .null, .string("xé😀\n")]))]))
        for bad in ["", "{", "[1,]", "{'a':1}", "{\"a\":1,}", "01", "1.", "\"\\ud800\"", "\"a\nb\"", "nul", "{\"a\":1 \"b\":2}",
                    "{\"a\":1,\"a\":2}", "[1] x", "\"\\x\""] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(deep) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
    }
}
