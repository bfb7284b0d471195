"""A Lambda-style worker process for the Python function: imports the handler module (init), says
"ready", then invokes handler(event, context) once per line of JSON on stdin and answers each with
one line of JSON (the handler's return value and the process's peak RSS so far)."""

import json
import sys
import time

started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import lambda_function  # noqa: E402  (the module-scope init: boto3 client, onnxruntime session)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


print(json.dumps({"ready": True, "initMs": (time.perf_counter() - started) * 1000, "peakMb": peak_rss_mb()}), flush=True)
for line in sys.stdin:
    event = json.loads(line)
    out = lambda_function.handler(event, None)
    print(json.dumps({**out, "peakMb": peak_rss_mb()}), flush=True)
