#!/usr/bin/env python3
"""Gives every norm weight of an F32 checkpoint random values in [0.5, 1.5] (in place), so a
reference test can tell the norms apart (`moeprobe synth` writes them as ones).

  perturb_norms.py MODEL_DIR SEED
"""
import json
import os
import random
import struct
import sys


def main():
    path = os.path.join(sys.argv[1], "model.safetensors")
    rng = random.Random(int(sys.argv[2]))
    data = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    for name in sorted(header):
        e = header[name]
        if name == "__metadata__" or "norm" not in name:
            continue
        assert e["dtype"] == "F32", name
        lo, hi = e["data_offsets"]
        count = (hi - lo) // 4
        data[8 + n + lo:8 + n + hi] = struct.pack("<%df" % count, *[rng.uniform(0.5, 1.5) for _ in range(count)])
    open(path, "wb").write(bytes(data))


if __name__ == "__main__":
    main()
