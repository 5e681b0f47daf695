"""The client of scripts/bench-serve: posts CloudEvents to a `weft serve` on loopback and reads
/instances. Standard library only.

  invocations PORT INSTANCES ROUNDS   start INSTANCES loop instances (batches of 100), wait for all to
                                      complete; print invocations per second
  latency PORT RATE SECONDS           start three-step instances at RATE per second (a batch every 10 ms,
                                      from two connections) for SECONDS; print p50 and p99
                                      start-to-completed latency
  memory PORT WAITING PID             start WAITING support tickets, wait until all wait; print the
                                      server's resident memory
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse


def connection(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def post_batch(conn, process, events):
    body = json.dumps(events)
    while True:
        conn.request("POST", f"/processes/{process}/events", body,
                     {"content-type": "application/cloudevents-batch+json"})
        response = conn.getresponse()
        answer = response.read()
        if response.status == 202:
            return
        if response.status in (429, 503):
            time.sleep(float(response.getheader("retry-after", "0.05")))
            continue
        raise SystemExit(f"POST answered {response.status}: {answer[:300]!r}")


def instances(conn, process, status):
    """Every instance of `process` with `status`, paging through GET /instances."""
    found, after = [], None
    while True:
        query = {"process": process, "status": status, "limit": 1000}
        if after:
            query["after"] = after
        conn.request("GET", "/instances?" + urllib.parse.urlencode(query))
        response = conn.getresponse()
        page = json.loads(response.read())
        found.extend(page["instances"])
        after = page["next"]
        if not after:
            return found


def still_running(conn, process):
    """Whether an instance of `process` is running (one listed at most)."""
    query = urllib.parse.urlencode({"process": process, "status": "running", "limit": 1})
    conn.request("GET", "/instances?" + query)
    return bool(json.loads(conn.getresponse().read())["instances"])


def wait_for(conn, process, status, n, poll=0.05):
    while len(instances(conn, process, status)) < n:
        time.sleep(poll)


def event(process, i, event_type, data):
    return {"specversion": "1.0", "id": f"{process}-{i}", "source": "/bench", "type": event_type, "data": data}


def invocations(port, count, rounds):
    conn = connection(port)
    started = time.monotonic()
    for first in range(0, count, 100):
        post_batch(conn, "loop", [event("loop", i, "Start", None) for i in range(first, min(first + 100, count))])
    posted = time.monotonic() - started
    # Every instance was started before this: none running means all ended. One instance is asked for
    # per look (a look that listed them all would load the server it measures).
    while still_running(conn, "loop"):
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    done = len(instances(conn, "loop", "completed"))
    if done != count:
        raise SystemExit(f"{done} of {count} instances completed")
    total = count * rounds
    print(f"invocations: {count} instances x {rounds} rounds = {total} invocations in {elapsed:.2f} s "
          f"(posted in {posted:.2f} s): {total / elapsed:,.0f} invocations/s")


def latency(port, rate, seconds):
    """Two client threads, each on its own connection, post alternate batches of a steady schedule."""
    per_batch = max(1, rate // 100)
    batches = 100 * seconds
    total = per_batch * batches
    started = time.monotonic()

    def post_every_other(first):
        conn = connection(port)
        for b in range(first, batches, 2):
            delay = started + b / 100 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            post_batch(conn, "three", [event("three", b * per_batch + k, "Start", "hi") for k in range(per_batch)])

    clients = [threading.Thread(target=post_every_other, args=(first,)) for first in (0, 1)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    late = time.monotonic() - (started + seconds)
    conn = connection(port)
    wait_for(conn, "three", "completed", total, poll=0.2)
    times = sorted(i["updated_ms"] - i["created_ms"] for i in instances(conn, "three", "completed"))
    p50, p99 = times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)]
    print(f"latency: {total} three-step instances at {rate}/s for {seconds} s (the client ended {late:.2f} s "
          f"late): start-to-completed p50 {p50} ms, p99 {p99} ms, max {times[-1]} ms")


def memory(port, count, pid):
    conn = connection(port)
    for first in range(0, count, 100):
        post_batch(conn, "support-ticket", [
            event("support-ticket", i, "NewTicket",
                  {"id": f"T-{i}", "customer": f"c-{i}", "plan": "team", "subject": "Export is broken",
                   "body": "Please help."})
            for i in range(first, min(first + 100, count))])
    wait_for(conn, "support-ticket", "waiting", count, poll=0.5)
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    print(f"memory: {count} instances waiting: resident {fields['VmRSS'].strip()} "
          f"(peak {fields['VmHWM'].strip()})")


if __name__ == "__main__":
    command, port = sys.argv[1], int(sys.argv[2])
    args = [int(a) for a in sys.argv[3:]]
    {"invocations": invocations, "latency": latency, "memory": memory}[command](port, *args)
