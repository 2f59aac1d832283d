#!/usr/bin/python3
"""Load test of `arioso serve` from a second process, bounded in time and count: many
concurrent compose requests on loopback. Every request must be served (its piece made and its
MIDI fetched) or rejected with 503 and a Retry-After hint (a client retries up to 3 times,
waiting as told, at most 2 s); nothing may fail. answered_503 counts every 503 answer. Prints a JSON
report with the server's peak memory (VmHWM).
usage: load_test.py ARIOSO RUN_DIR [REQUESTS] [CONCURRENCY] [SECONDS]"""
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

arioso, run_dir = sys.argv[1], sys.argv[2]
total = int(sys.argv[3]) if len(sys.argv) > 3 else 120
concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 24
budget = float(sys.argv[5]) if len(sys.argv) > 5 else 120

server = subprocess.Popen([arioso, "serve", run_dir, "--port", "0", "--quiet", "--queue", "4"], stdout=subprocess.PIPE, text=True)
line = server.stdout.readline()
m = re.search(r"http://([^\s]+)/", line)
if not m:
    print("FAIL: the server did not say where it listens:", line)
    sys.exit(1)
base = "http://" + m.group(1)

lock = threading.Lock()
counts = {"served": 0, "rejected_503": 0, "failed": 0, "answered_503": 0}
retries = 3
failures = []
next_request = [0]
deadline = time.time() + budget


def count(kind, why=None):
    with lock:
        counts[kind] += 1
        if why:
            failures.append(why)


def one(i):
    body = json.dumps({"bars": 1 + i % 2, "seed": i, "temperature": 0.9}).encode()
    req = urllib.request.Request(base + "/api/compose", data=body, headers={"Content-Type": "application/json"})
    piece = None
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                piece = json.load(r)
            break
        except urllib.error.HTTPError as e:
            hint = e.headers.get("Retry-After")
            if e.code == 503 and hint:
                count("answered_503")
                if attempt < retries:  # a patient client waits as told (capped), then tries again
                    time.sleep(min(float(hint), 2.0))
                    continue
                return count("rejected_503")
            return count("failed", f"request {i}: HTTP {e.code} {e.read()[:200]!r}")
        except Exception as e:  # connection refused or reset, timeout
            return count("failed", f"request {i}: {e!r}")
    try:
        while True:
            with urllib.request.urlopen(base + piece["urls"]["status"], timeout=60) as r:
                st = json.load(r)
            if st["status"] == "done":
                break
            if st["status"] == "failed" or time.time() > deadline + 60:
                return count("failed", f"request {i}: {st.get('error', 'not done in time')}")
            time.sleep(0.2)  # as often as the page asks
        with urllib.request.urlopen(base + st["urls"]["midi"], timeout=60) as r:
            if r.read(4) != b"MThd":
                return count("failed", f"request {i}: the MIDI is not MIDI")
        count("served")
    except Exception as e:
        count("failed", f"request {i}: {e!r}")


def worker():
    while time.time() < deadline:
        with lock:
            i = next_request[0]
            if i >= total:
                return
            next_request[0] += 1
        one(i)


t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - t0
peak_kb = 0
with open(f"/proc/{server.pid}/status") as f:
    for l in f:
        if l.startswith("VmHWM:"):
            peak_kb = int(l.split()[1])
server.terminate()
server.wait(timeout=30)
report = dict(counts, requests=counts["served"] + counts["rejected_503"] + counts["failed"], retries_per_request=retries, concurrency=concurrency, seconds=round(elapsed, 1),
              server_peak_rss_mb=round(peak_kb / 1024, 1), failures=failures[:5])
print(json.dumps(report))
ok = counts["failed"] == 0 and counts["served"] > 0 and report["requests"] == total
sys.exit(0 if ok else 1)
