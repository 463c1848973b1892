#!/usr/bin/env python3
"""Gives every norm weight of an F32 checkpoint random values in [0.5, 1.5] (in place), so a
reference test can tell the norms apart (`moeprobe synth` writes them as ones). With --biases,
every bias and attention-sink tensor (synth writes them as zeros or small noise) also gets
N(0, 0.3^2) values, so biases reach the logits the test compares.

  perturb_norms.py MODEL_DIR SEED [--biases]

Tensors are visited in name order with one generator, so two checkpoints with the same names
(a quantised model and its dequantised twin) get the same values.
"""
import json
import os
import random
import struct
import sys


def main():
    path = os.path.join(sys.argv[1], "model.safetensors")
    rng = random.Random(int(sys.argv[2]))
    biases = "--biases" in sys.argv[3:]
    data = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    for name in sorted(header):
        e = header[name]
        if name == "__metadata__":
            continue
        is_norm = "norm" in name
        is_bias = biases and (name.endswith("bias") or name.endswith("sinks"))
        if not is_norm and not is_bias:
            continue
        assert e["dtype"] == "F32", name
        lo, hi = e["data_offsets"]
        count = (hi - lo) // 4
        vals = [rng.uniform(0.5, 1.5) if is_norm else rng.gauss(0.0, 0.3) for _ in range(count)]
        data[8 + n + lo:8 + n + hi] = struct.pack("<%df" % count, *vals)
    open(path, "wb").write(bytes(data))


if __name__ == "__main__":
    main()
