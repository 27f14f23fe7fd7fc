#!/usr/bin/env python3
"""The operator console in a real browser (Debian's chromium, headless, driven through
chromedriver's WebDriver HTTP API with the standard library only).

A drafter signs in and creates a campaign from the form, sees the check's error beside the field,
fixes it and submits; an approver approves it; an operator's `loa dispatch` sends it through the
bundled carrier simulators while the campaign page's live table updates without a reload; the
report page's numbers must equal `loa report --format json`; the browser's console must hold no
error. Screenshots at 1366x768 and 390x844 go to $LOA_TEST_OUTPUT/browser (default
.build/test-output/browser). Exits non-zero on the first failed check, saying which.

Usage: ops/browser-test.py [path/to/loa]   (default: .build/debug/loa)
"""
import base64, datetime, hashlib, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOA = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/loa")
OUT = os.path.join(os.environ.get("LOA_TEST_OUTPUT", os.path.join(ROOT, ".build/test-output")), "browser")
CARRIERS = ["viettel", "vinaphone", "mobifone", "vietnamobile", "gmobile"]
processes = []


def fail(message):
    print(f"browser test FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print(f"  ok: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    fail(f"{url} did not answer within {seconds} s")


def loa(*args, env, check_rc=True):
    r = subprocess.run([LOA, *args], env=env, capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        fail(f"loa {' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": shutil.which("chromium") or "/usr/bin/chromium",
                                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                            "--no-first-run", "--lang=vi-VN", "--window-size=1366,768"]},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            fail(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        found = self.s("POST", "/elements", {"using": "css selector", "value": css})
        if not found:
            fail(f"no element {css} on {self.url()}")
        return list(found[0].values())[0]

    def exists(self, css):
        return bool(self.s("POST", "/elements", {"using": "css selector", "value": css}))

    def type(self, css, text):
        element = self.find(css)
        self.s("POST", f"/element/{element}/clear")
        self.s("POST", f"/element/{element}/value", {"text": text})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click")

    def text(self, css):
        return self.s("GET", f"/element/{self.find(css)}/text")

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def url(self):
        return self.s("GET", "/url")

    def size(self, width, height):
        self.s("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, name):
        os.makedirs(OUT, exist_ok=True)
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))
        print(f"  screenshot {path}")

    def console_errors(self, expected=()):
        """SEVERE entries, less the answers the test provoked on purpose (a form refused with 422
        is logged by the browser as a failed load)."""
        entries = self.s("POST", "/se/log", {"type": "browser"}) or []
        return [e for e in entries if e.get("level") == "SEVERE" and not any(x in e.get("message", "") for x in expected)]

    def quit(self):
        self.s("DELETE", "")


def main():
    if not os.access(LOA, os.X_OK):
        fail(f"{LOA} is not built (swift build)")
    for tool in ["chromium", "chromedriver"]:
        if not shutil.which(tool):
            fail(f"{tool} is not installed (apt-get install chromium chromium-driver)")
    work = tempfile.mkdtemp(prefix="loa-browser-")
    env = dict(os.environ)
    env.update({"LOA_DATABASE": os.path.join(work, "loa.sqlite"), "LOA_CARRIERS": os.path.join(ROOT, "carriers"),
                "LOA_CONTACT_KEY": hashlib.sha256(b"browser-contact-key").hexdigest()})
    for c in CARRIERS:
        u = c.upper()
        env[f"LOA_KEY_{u}"] = hashlib.sha256(f"browser-{u}".encode()).hexdigest()
        env[f"LOA_SIGNING_{u}"] = f"browser-signing-{c}-secret"
        env[f"LOA_RECEIPT_{u}"] = f"browser-receipt-{c}-secret"
    env.pop("LOA_TOKEN", None)

    print("== a small province, users, the console, carrier simulators")
    loa("demo-data", "--subscribers", "3000", "--out", os.path.join(work, "data"), env=env)
    loa("import", "cells", os.path.join(work, "data/cells.csv"), env=env)
    for c in CARRIERS:
        loa("import", "presence", os.path.join(work, f"data/presence-{c}.csv"), "--carrier", c, env=env)
    tokens = {}
    for name, role in [("quan.tri", "admin"), ("lan", "drafter"), ("minh", "approver"), ("hung", "operator")]:
        e = dict(env)
        if tokens:
            e.update({"LOA_TOKEN": tokens["quan.tri"]})
        r = loa("user", "add", name, "--role", role, *(["--as", "quan.tri"] if tokens else []), env=e)
        tokens[name] = r.stdout.strip().splitlines()[-1]
    port = free_port()
    serve = subprocess.Popen([LOA, "serve", "--console", "--listen", f"127.0.0.1:{port}", "--campaigns-dir", os.path.join(work, "campaigns")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    processes.append(serve)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/login")
    for i, c in enumerate(CARRIERS):
        sim = subprocess.Popen([LOA, "carrier-sim", "--carrier", os.path.join(ROOT, f"carriers/{c}.yaml"),
                                "--receipts-to", f"{base}/receipts/{c}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(sim)
        wait_http(f"http://127.0.0.1:{18401 + i}/stats")
    driver_port = free_port()
    processes.append(subprocess.Popen(["chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_http(f"http://127.0.0.1:{driver_port}/status")
    browser = WebDriver(driver_port)
    try:
        run(browser, base, env, tokens, work)
        errors = browser.console_errors(expected=[f"{base}/campaigns/new - Failed to load resource: the server responded with a status of 422"])
        check(not errors, f"no errors in the browser's console ({errors[:3]})")
    finally:
        browser.quit()
    print(f"browser test passed; screenshots in {OUT}")


def wait_for(what, condition, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    fail(f"waited {seconds} s for {what}")


def sign_in(browser, base, name, token):
    browser.go(base + "/login")
    browser.type("#name", name)
    browser.type("#token", token)
    browser.click("form[action='/login'] button[type=submit]")
    wait_for(f"{name} to be signed in", lambda: browser.exists(".who span") and browser.text(".who span").startswith(name))


def run(browser, base, env, tokens, work):
    print("== the drafter creates a campaign from the form")
    sign_in(browser, base, "lan", tokens["lan"])
    check(browser.text(".who span").startswith("lan"), "lan is signed in")
    browser.screenshot("campaigns-1366x768.png")
    browser.go(base + "/campaigns/new")
    campaign = "lu-quet-browser"
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7)))
    browser.type("#f-id", campaign)
    browser.type("#f-title", "Cảnh báo lũ quét (thử nghiệm)")
    browser.type("#f-office", "Sở Văn hóa, Thể thao và Du lịch tỉnh Quảng Ngãi")
    browser.type("#f-legal_basis", "Kế hoạch 220/KH-UBND")
    browser.type("#f-sender", "UBND TINH QUANG NGAI")     # 20 characters: the check refuses it
    browser.js("document.getElementById('f-priority').value = 'emergency'")
    browser.type("#f-communes", "23377, 23392, 23383, 23344, 23530, 23536")
    browser.js("document.getElementById('f-start').value = arguments[0]; document.getElementById('f-end').value = arguments[1]",
               (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    browser.type("#f-windows", "00:00-24:00")
    browser.type("#f-text_vi", "UBND {commune}: lũ quét có thể xảy ra trong đêm nay. Di chuyển lên vùng cao, không qua suối.")
    browser.click(".campaign-form button[type=submit]")
    wait_for("the check's answer", lambda: browser.exists("#problems"))
    check(browser.exists(".field.invalid #f-sender"), "the sender's error is shown beside the sender field")
    check("sender" in browser.text("#err-sender") or "11" in browser.text("#err-sender"), f"the error says what is wrong: {browser.text('#err-sender')!r}")
    check(not browser.exists(".field.invalid #f-title"), "no error beside the fields that are right")
    browser.screenshot("check-error-1366x768.png")
    browser.type("#f-sender", "QUANGNGAI")
    browser.click(".campaign-form button[type=submit]")
    wait_for("the campaign's page", lambda: browser.url().endswith(f"/campaigns/{campaign}"))
    check(browser.url().endswith(f"/campaigns/{campaign}"), "submitted: the campaign's page opens")
    check(browser.text("#state") == "chờ duyệt", "it awaits approval")
    check(browser.exists("tr[data-language='vi'] td[data-k='segments']"), "the variant's parts and cost are previewed")
    check(not browser.exists("#approve"), "a drafter is offered no approval")
    browser.click("form[action='/logout'] button")
    wait_for("the sign-in page", lambda: browser.url().startswith(base + "/login"))

    print("== a second person approves it")
    sign_in(browser, base, "minh", tokens["minh"])
    browser.go(f"{base}/campaigns/{campaign}")
    browser.click("#approve")
    wait_for("the approval", lambda: not browser.exists("#approve"))
    check(browser.text("#state") == "đã duyệt", "approved by minh")
    browser.go(f"{base}/campaigns/{campaign}/audience")
    recipients = int(browser.text("#recipients").replace(".", ""))
    check(recipients > 0, f"the audience preview counts {recipients} recipients")
    check(browser.exists("svg.map circle.targeted"), "the map draws the targeted cells")
    browser.screenshot("audience-1366x768.png")

    print("== the operator's dispatcher sends it; the page follows without a reload")
    browser.go(f"{base}/campaigns/{campaign}")
    browser.js("window.__sameDocument = true")
    file = os.path.join(work, "campaigns", f"{campaign}.yaml")
    e = dict(env, LOA_TOKEN=tokens["hung"])
    loa("dispatch", file, "--as", "hung", "--wait-receipts", "3s", env=e)
    deadline, delivered = time.time() + 30, 0
    while time.time() < deadline:
        delivered = browser.js("return Array.from(document.querySelectorAll('table[data-live] td[data-k=delivered]'))"
                               ".reduce(function (s, td) { return s + Number(td.textContent.replace(/[.,\\s]/g, '')); }, 0)")
        if delivered > 0:
            break
        time.sleep(0.5)
    check(delivered > 0, f"the live table shows {delivered} delivered, updated in place")
    check(browser.js("return window.__sameDocument === true"), "without reloading the page")
    browser.screenshot("dispatch-1366x768.png")

    print("== the report equals loa report --format json")
    def cli_total():
        return json.loads(loa("report", campaign, "--format", "json", env=env).stdout)["total"]
    keys = ["recipients", "sent", "delivered", "failed", "pending", "rejected", "expired", "planned", "no_receipt"]
    page, total = None, None
    for _ in range(20):
        before = cli_total()
        browser.go(f"{base}/campaigns/{campaign}/report?by=carrier")
        page = browser.js("var o = {}; document.querySelectorAll('#report tfoot td[data-v]').forEach(function (td) { o[td.dataset.k] = Number(td.dataset.v); }); return o;")
        total = cli_total()
        if before == total and all(page.get(k) == total.get(k) for k in keys):
            break
        time.sleep(1)
    check(all(page.get(k) == total.get(k) for k in keys), f"page {page} equals loa report {dict((k, total.get(k)) for k in keys)}")
    check(total["recipients"] == recipients, "every recipient of the preview was planned")
    browser.screenshot("report-1366x768.png")
    browser.size(390, 844)
    browser.screenshot("report-390x844.png")
    browser.go(f"{base}/campaigns/{campaign}")
    browser.screenshot("campaign-390x844.png")
    overflow = browser.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(overflow <= 0, f"the campaign page fits a phone's width (overflow {overflow} px)")
    browser.size(1366, 768)
    browser.go(f"{base}/lang?to=en&back=/campaigns/{campaign}")
    wait_for("the English page", lambda: browser.js("return document.documentElement.lang") == "en")
    check(browser.text("#state") in ("sending", "completed"), f"English on request: {browser.text('#state')!r}")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
