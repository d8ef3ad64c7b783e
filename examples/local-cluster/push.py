#!/usr/bin/env python3
"""Pushes a few samples with Prometheus remote write 1.0, using only the standard library.

A remote-write body is a protobuf `prometheus.WriteRequest` compressed with snappy's
block format. Both are written by hand here: the protobuf with the few field types the
message needs, the snappy block as literals only (valid, just not smaller).

    push.py [--url URL] [--tenant T] [--series N] [--samples K] [--step SECONDS]
            [--metric NAME] [--value-offset V]

Series `NAME{series="0".."N-1"}` get K samples each, `step` seconds apart and ending
now; the sample of series i at step k has the value i + k + value-offset. One request
per 1000 series. Exits 1 on the first answer that is not a 2xx, after printing it.
"""

import argparse
import struct
import sys
import time
import urllib.error
import urllib.request


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def label(name, value):
    return field_bytes(1, name.encode()) + field_bytes(2, value.encode())


def sample(value, ts_ms):
    # value: field 1, fixed64 double; timestamp: field 2, varint int64.
    return varint(1 << 3 | 1) + struct.pack("<d", value) + varint(2 << 3 | 0) + varint(ts_ms)


def time_series(labels, samples):
    body = b"".join(field_bytes(1, label(n, v)) for n, v in sorted(labels.items()))
    body += b"".join(field_bytes(2, sample(v, t)) for t, v in samples)
    return body


def write_request(series):
    return b"".join(field_bytes(1, s) for s in series)


def snappy_block(data):
    """Snappy's block format with literal elements only."""
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i : i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def push(url, tenant, body):
    req = urllib.request.Request(
        url,
        data=snappy_block(body),
        method="POST",
        headers={
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "X-Scope-OrgID": tenant,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except urllib.error.URLError as e:
        sys.exit(f"push to {url}: {e.reason} (is the cluster running? run.sh status)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:19000/api/v1/push")
    p.add_argument("--tenant", default="demo")
    p.add_argument("--series", type=int, default=100)
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--step", type=float, default=15.0)
    p.add_argument("--metric", default="demo_metric")
    p.add_argument("--value-offset", type=float, default=0.0)
    a = p.parse_args()

    now = int(time.time() * 1000)
    step = int(a.step * 1000)
    times = [now - (a.samples - 1 - k) * step for k in range(a.samples)]
    batch = 1000
    for start in range(0, a.series, batch):
        series = [
            time_series(
                {"__name__": a.metric, "series": str(i), "job": "push.py"},
                [(t, i + k + a.value_offset) for k, t in enumerate(times)],
            )
            for i in range(start, min(start + batch, a.series))
        ]
        status, text = push(a.url, a.tenant, write_request(series))
        if not 200 <= status < 300:
            print(f"push of series {start}..{start + len(series) - 1}: {status} {text.strip()}")
            sys.exit(1)
    print(
        f"pushed {a.series} series x {a.samples} samples "
        f"({a.series * a.samples} samples) as tenant {a.tenant} to {a.url}"
    )


if __name__ == "__main__":
    main()
