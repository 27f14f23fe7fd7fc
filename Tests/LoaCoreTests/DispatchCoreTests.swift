import Testing
import LoaCore

@Suite("Dispatch core: rate limits, windows, retries, states")
struct DispatchCoreTests {
    @Test("a batch of 1,000 at 200 TPS is paced, never more than 200 in any 1-second window")
    func pacing() {
        var limiter = SlidingWindowLimiter(perSecond: 200, margin: 0)
        let chunk = pacedChunk(tps: 200, maxBatch: 1000)
        #expect(chunk == 20)
        var sends: [(Double, Int)] = []
        var remaining = 1000
        var tick = 0
        while remaining > 0 {
            let now = Double(tick) / 10   // a pacing tick every 100 ms
            let n = limiter.admit(min(chunk, remaining), at: now)
            if n > 0 { sends.append((now, n)); remaining -= n }
            tick += 1
        }
        // Check every half-open 1-second window starting at a send.
        for (start, _) in sends {
            let inWindow = sends.filter { $0.0 >= start && $0.0 < start + 1 }.reduce(0) { $0 + $1.1 }
            #expect(inWindow <= 200)
        }
        #expect(sends.count == 50)
        #expect(abs(sends.last!.0 - 4.9) < 1e-9)   // 1,000 messages take 5 seconds, not one burst
    }

    @Test("pacing inside the second: TPS/10 per 100 ms, a bigger re-upload alone in an empty window")
    func pacingPer100ms() {
        var burst = SlidingWindowLimiter(limit: 20, window: 0.1, oversizeWhenEmpty: true)
        #expect(burst.admitAll(20, at: 0) == true)
        #expect(burst.admitAll(1, at: 0.05) == false)
        #expect(burst.nextAvailable(for: 20, at: 0.05) == 0.1)
        #expect(burst.admitAll(15, at: 0.1) == true)
        #expect(burst.admitAll(100, at: 0.15) == false)              // too big to share a window
        #expect(burst.nextAvailable(for: 100, at: 0.15) == 0.2)
        #expect(burst.admitAll(100, at: 0.2) == true)                // alone, in an empty one
        let fitsNow = burst.fits(1, at: 0.25)
        #expect(!fitsNow)
        // Over a second of steady uploads of 20, never more than 20 in any 100 ms.
        var pacer = SlidingWindowLimiter(limit: 20, window: 0.1, oversizeWhenEmpty: true)
        var t = 0.0, sent: [Double] = []
        while t < 0.999 {
            if pacer.admitAll(20, at: t) { sent.append(t) }
            t = pacer.nextAvailable(for: 20, at: t)
        }
        #expect(sent.count == 10)
        for start in sent { #expect(sent.filter { $0 >= start && $0 < start + 0.1 - 1e-9 }.count == 1) }
    }

    @Test func admitAndNextAvailable() {
        var limiter = SlidingWindowLimiter(perSecond: 10, margin: 0)
        #expect(limiter.admit(7, at: 0) == 7)
        #expect(limiter.admit(7, at: 0.5) == 3)
        #expect(limiter.admit(1, at: 0.9) == 0)
        #expect(limiter.nextAvailable(at: 0.9) == 1.0)
        #expect(limiter.admit(10, at: 1.0) == 7)       // the 7 from t=0 left the window
        #expect(limiter.nextAvailable(at: 1.2) == 1.5)
        limiter.giveBack(2, admittedAt: 1.0)
        #expect(limiter.used(at: 1.2) == 8)
        #expect(SlidingWindowLimiter(perSecond: 100).window == 1.05)
    }

    @Test func dailyQuota() {
        var quota = DailyQuota(limit: 1000)
        let t = Timestamp.parseISO8601("2026-12-01T23:59:00+07:00")!
        #expect(quota.remaining(at: t) == 1000)
        quota.consume(990, at: t)
        #expect(quota.remaining(at: t) == 10)
        #expect(quota.remaining(at: t + 60) == 1000)   // midnight in Asia/Ho_Chi_Minh
        #expect(DailyQuota.nextReset(after: t).iso8601() == "2026-12-02T00:00:00+07:00")
        // Workers reserve before claiming and give back what they did not use.
        var shared = DailyQuota(limit: 120)
        #expect(shared.reserve(100, at: t) == 100)
        #expect(shared.reserve(100, at: t) == 20)
        shared.release(15, at: t)
        #expect(shared.remaining(at: t) == 15)
    }

    @Test func quietHoursAndWindows() {
        let start = Timestamp.parseISO8601("2026-12-01T00:00:00+07:00")!
        let routine = SendingPolicy(campaignWindows: [DailyWindow("07:30-11:00")!, DailyWindow("20:00-23:00")!], carrierWindow: DailyWindow("08:00-20:30")!,
                                    priority: .routine, start: start, end: start + 3 * 86400)
        #expect(!routine.allows(Timestamp.parseISO8601("2026-12-01T07:45:00+07:00")!))   // carrier opens at 08:00
        #expect(routine.allows(Timestamp.parseISO8601("2026-12-01T08:00:00+07:00")!))
        #expect(routine.allows(Timestamp.parseISO8601("2026-12-01T20:15:00+07:00")!))
        #expect(!routine.allows(Timestamp.parseISO8601("2026-12-01T20:45:00+07:00")!))   // carrier closed
        #expect(!routine.allows(Timestamp.parseISO8601("2026-12-01T22:00:00+07:00")!))   // quiet hours
        #expect(routine.nextOpening(from: Timestamp.parseISO8601("2026-12-01T11:30:00+07:00")!)?.iso8601() == "2026-12-01T20:00:00+07:00")
        #expect(routine.nextOpening(from: Timestamp.parseISO8601("2026-12-01T20:40:00+07:00")!)?.iso8601() == "2026-12-02T08:00:00+07:00")
        #expect(routine.nextOpening(from: start + 3 * 86400) == nil)
        let emergency = SendingPolicy(campaignWindows: [DailyWindow(startMinute: 0, endMinute: 1440)], carrierWindow: DailyWindow("08:00-20:30")!,
                                      priority: .emergency, start: start, end: start + 86400)
        #expect(emergency.allows(Timestamp.parseISO8601("2026-12-01T02:00:00+07:00")!))
    }

    @Test func backoff() {
        let policy = RetryPolicy(initialDelay: 1, multiplier: 2, maxDelay: 10)
        var rng = SplitMix64(seed: 1)
        let delays = (1...6).map { policy.delay(afterAttempt: $0, retryAfter: nil, random: &rng) }
        for (attempt, d) in delays.enumerated() {
            let full = min(10.0, Double(1 << attempt))
            #expect(d >= full / 2 && d <= full, "attempt \(attempt + 1): \(d)")
        }
        #expect(policy.delay(afterAttempt: 1, retryAfter: 30, random: &rng) == 30)
    }

    @Test func messageStates() {
        #expect(MessageState.planned.canMove(to: .submitted))
        #expect(MessageState.submitted.canMove(to: .planned))     // released: the batch never went
        #expect(MessageState.submitted.canMove(to: .expired))     // the campaign ended first
        #expect(!MessageState.expired.canMove(to: .planned))
        #expect(MessageState.sql(from: [.planned, .submitted], to: .expired) == "('planned', 'submitted')")
        #expect(MessageState.submitted.canMove(to: .delivered))   // receipt before the upload's answer
        #expect(MessageState.unknown.canMove(to: .delivered))
        #expect(!MessageState.delivered.canMove(to: .failed))     // finals are final
        #expect(!MessageState.rejected.canMove(to: .submitted))   // a permanent rejection is not retried
        #expect(MessageState.delivered.isFinal && !MessageState.unknown.isFinal)
    }

    @Test func approval() {
        #expect(CampaignState.approve(state: .draft, drafter: "lan", approver: "Lan", unreviewed: []) == .failure(.selfApproval("Lan")))
        #expect(CampaignState.approve(state: .draft, drafter: "lan", approver: "minh", unreviewed: ["sed"]) == .failure(.unreviewedTranslations(["sed"])))
        #expect(CampaignState.approve(state: .draft, drafter: "lan", approver: "minh", unreviewed: []) == .success(.approved))
        #expect(CampaignState.approve(state: .sending, drafter: "lan", approver: "minh", unreviewed: []) == .failure(.notAllowed(from: .sending, action: "approve")))
        #expect(CampaignState.sending.after("pause") == .success(.paused))
        #expect(CampaignState.paused.after("resume") == .success(.sending))
        #expect(CampaignState.completed.after("cancel") == .failure(.notAllowed(from: .completed, action: "cancel")))
        #expect(CampaignState.draft.after("start") == .failure(.notAllowed(from: .draft, action: "start")))
    }
}

@Suite("Receipt decisions")
struct ReceiptDecisionTests {
    let nine = Timestamp.parseISO8601("2026-12-01T09:00:00+07:00")!
    let ten = Timestamp.parseISO8601("2026-12-01T10:00:00+07:00")!

    @Test("the transition table first; then between two finals the later time wins; intermediate statuses never move a message")
    func decisions() {
        #expect(ReceiptDecision.decide(current: .accepted, currentAt: nil, status: .delivered, at: nil) == .move(.delivered))
        #expect(ReceiptDecision.decide(current: .noReceipt, currentAt: nil, status: .failed, at: nil) == .move(.failed))
        #expect(ReceiptDecision.decide(current: .accepted, currentAt: nil, status: .enroute, at: nil) == .keep)
        #expect(ReceiptDecision.decide(current: .delivered, currentAt: nine, status: .delivered, at: ten) == .keep)
        #expect(ReceiptDecision.decide(current: .planned, currentAt: nil, status: .delivered, at: ten) == .keep)
        guard case .conflict(let winner, _) = ReceiptDecision.decide(current: .delivered, currentAt: nine, status: .failed, at: ten) else { Issue.record("no conflict"); return }
        #expect(winner == .failed)
        guard case .conflict(let stays, _) = ReceiptDecision.decide(current: .failed, currentAt: ten, status: .delivered, at: nine) else { Issue.record("no conflict"); return }
        #expect(stays == .failed)
        // An upload's own rejection (no receipt time) is never overridden by a receipt.
        guard case .conflict(let kept, _) = ReceiptDecision.decide(current: .rejected, currentAt: nil, status: .delivered, at: ten) else { Issue.record("no conflict"); return }
        #expect(kept == .rejected)
    }
}

@Suite("Receipts folded onto a message")
struct ReceiptFoldTests {
    let nine = Timestamp.parseISO8601("2026-12-01T09:00:00+07:00")!
    let ten = Timestamp.parseISO8601("2026-12-01T10:00:00+07:00")!
    let eleven = Timestamp.parseISO8601("2026-12-01T11:00:00+07:00")!

    func r(_ status: ReceiptStatus, _ at: Timestamp?, part: Int? = nil, reason: String? = nil) -> ReceiptRecord {
        ReceiptRecord(messageRef: "m1", status: status, at: at, reason: reason, part: part)
    }

    @Test("a receipt repeating the state with a later time moves the state's time on, so an older correction loses to it")
    func repeatedFinalMovesItsTime() {
        var fold = ReceiptFold(state: .accepted)
        #expect(fold.apply(r(.failed, nine, reason: "absent"), segments: 1, mode: .all) == .init(moved: true, conflict: nil))
        #expect(fold.stateAt == nine && fold.reason == "absent")
        // The same final again, later: kept, but failed now stands as of eleven.
        #expect(fold.apply(r(.failed, eleven), segments: 1, mode: .all) == .init(moved: false, conflict: nil))
        #expect(fold.stateAt == eleven)
        // delivered at ten is later than the first failure but not than the second: failed stays.
        let step = fold.apply(r(.delivered, ten), segments: 1, mode: .all)
        #expect(!step.moved && step.conflict?.hasPrefix("delivered at 2026-12-01T10:00:00+07:00 conflicts with failed at 2026-12-01T11:00:00+07:00") == true)
        // An earlier repetition leaves the time alone; one without a time too.
        _ = fold.apply(r(.failed, nine), segments: 1, mode: .all)
        _ = fold.apply(r(.failed, nil), segments: 1, mode: .all)
        #expect(fold == ReceiptFold(state: .failed, reason: "absent", stateAt: eleven))
    }

    @Test("a later final wins with its reason (or the conflict as the reason); a move without a reason keeps the one there")
    func conflictsAndReasons() {
        var fold = ReceiptFold(state: .accepted, reason: "carrier note")
        #expect(fold.apply(r(.delivered, nine), segments: 1, mode: .all).moved)
        #expect(fold.reason == "carrier note")
        let step = fold.apply(r(.failed, ten), segments: 1, mode: .all)
        #expect(step.moved && step.conflict == "failed at 2026-12-01T10:00:00+07:00 replaces delivered at 2026-12-01T09:00:00+07:00: the later receipt wins")
        #expect(fold.state == .failed && fold.reason == step.conflict && fold.stateAt == ten)
    }

    @Test("parts: kept per part (a final never replaced by an intermediate of the same part), deciding the message per the carrier's mode; written and read back")
    func parts() {
        var fold = ReceiptFold(state: .accepted)
        #expect(!fold.apply(r(.delivered, nine, part: 2), segments: 3, mode: .all).moved)
        #expect(!fold.apply(r(.enroute, nil, part: 2), segments: 3, mode: .all).moved)
        #expect(fold.parts == [2: .delivered])
        #expect(!fold.apply(r(.delivered, nine, part: 1), segments: 3, mode: .all).moved)
        #expect(fold.state == .accepted)
        #expect(fold.apply(r(.delivered, ten, part: 3), segments: 3, mode: .all).moved)
        #expect(fold.state == .delivered && fold.stateAt == ten)
        #expect(fold.partsText == "1:delivered 2:delivered 3:delivered")
        #expect(ReceiptFold.parts(fold.partsText) == fold.parts)
        #expect(ReceiptFold.parts("2:failed x:delivered 3:nonsense 1:enroute") == [2: .failed, 1: .enroute])
        #expect(ReceiptFold.parts(nil).isEmpty && ReceiptFold(state: .accepted).partsText == nil)
        // One failed part fails the message; a carrier reporting the last part only decides by it.
        var failing = ReceiptFold(state: .accepted)
        #expect(failing.apply(r(.failed, nine, part: 1), segments: 2, mode: .all).moved && failing.state == .failed)
        var last = ReceiptFold(state: .accepted)
        #expect(!last.apply(r(.delivered, nine, part: 1), segments: 2, mode: .last).moved)
        #expect(last.apply(r(.delivered, nine, part: 2), segments: 2, mode: .last).moved && last.state == .delivered)
        // A one-part message ignores a part number.
        var single = ReceiptFold(state: .accepted)
        #expect(single.apply(r(.delivered, nine, part: 1), segments: 1, mode: .all).moved && single.parts.isEmpty)
    }
}

@Suite("SMPP receipt text")
struct SMPPReceiptTests {
    @Test("the SMPP 3.4 receipt text: state, error, dates in Vietnam's time; any case; missing fields; not a receipt at all")
    func parse() throws {
        let r = try #require(SMPPReceipt.parse("id:0123456789 sub:001 dlvrd:001 submit date:2612010900 done date:2612010902 stat:DELIVRD err:000 text:Xa Bo Y: lu"))
        #expect(r.id == "0123456789" && r.submitted == 1 && r.delivered == 1)
        #expect(r.status == .delivered && r.reason == nil)
        #expect(r.doneDate == Timestamp.parseISO8601("2026-12-01T09:02:00+07:00"))
        #expect(r.submitDate == Timestamp.parseISO8601("2026-12-01T09:00:00+07:00"))
        let failed = try #require(SMPPReceipt.parse("ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2612010900 DONE DATE:2612011300 STAT:UNDELIV ERR:00B TEXT:"))
        #expect(failed.status == .failed && failed.reason == "SMSC: UNDELIV, error 00B")
        #expect(SMPPReceipt.parse("stat:EXPIRED err:0")?.status == .expired)
        #expect(SMPPReceipt.parse("stat:REJECTD")?.status == .rejected)
        #expect(SMPPReceipt.parse("id:1 stat:WEIRD")?.status == nil)
        #expect(SMPPReceipt.parse("id:1 done date:2613450000 stat:DELIVRD")?.doneDate == nil)   // month 13: no time rather than a wrong one
        #expect(SMPPReceipt.parse("ACK/") == nil)
        #expect(SMPPReceipt.parse("text: stat:DELIVRD inside the text only")?.stat == nil)
    }
}

@Suite("Receipts for the parts of long messages")
struct ReceiptPartsTests {
    @Test("all parts: delivered when every part is, failed when any part failed; first or last: that part stands for the message")
    func parts() {
        #expect(ReceiptParts.all.messageStatus(segments: 3, part: 1, parts: [1: .delivered]) == nil)
        #expect(ReceiptParts.all.messageStatus(segments: 3, part: 3, parts: [1: .delivered, 3: .delivered]) == nil)
        #expect(ReceiptParts.all.messageStatus(segments: 3, part: 2, parts: [1: .delivered, 2: .delivered, 3: .delivered]) == .delivered)
        #expect(ReceiptParts.all.messageStatus(segments: 3, part: 2, parts: [1: .delivered, 2: .failed]) == .failed)
        #expect(ReceiptParts.all.messageStatus(segments: 3, part: 2, parts: [2: .enroute]) == nil)
        #expect(ReceiptParts.first.messageStatus(segments: 3, part: 1, parts: [1: .delivered]) == .delivered)
        #expect(ReceiptParts.first.messageStatus(segments: 3, part: 2, parts: [2: .failed]) == nil)
        #expect(ReceiptParts.last.messageStatus(segments: 3, part: 3, parts: [3: .expired]) == .expired)
        #expect(ReceiptParts.last.messageStatus(segments: 3, part: 1, parts: [1: .delivered]) == nil)
    }
}
