#!/usr/bin/env python3
"""Verify an ONNX model against its xueliang manifest, with onnxruntime.

Usage:
    verify.py [--manifest PATH] MODEL.onnx

If --manifest is omitted, manifest.toml next to MODEL.onnx is used (fetch.sh copies it there).

Checks:
  * exactly one input, with the manifest's name, dtype and shape (-1 = symbolic dimension);
  * the outputs, in manifest order, with the manifest's names, dtypes and shapes;
  * dynamic batch: one batch-4 run equals four batch-1 runs (max abs diff <= --tol, 1e-5);
  * class-score outputs (cls_*) are within [0, 1] (already sigmoid-activated).

Exit status 0 when everything passes; 1 with an "[models] verify: FAIL ..." line per problem.
All output goes to stderr.
"""

import argparse
import os
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore

import numpy as np

ORT_TYPES = {"float32": "tensor(float)", "float16": "tensor(float16)",
             "int64": "tensor(int64)", "uint8": "tensor(uint8)", "int32": "tensor(int32)"}


def log(msg):
    print(f"[models] verify: {msg}", file=sys.stderr, flush=True)


def shape_ok(actual, expected):
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected):
        if e == -1:
            if isinstance(a, int):  # must be symbolic (str) or unknown (None)
                return False
        elif a != e:
            return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--manifest")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()

    manifest = args.manifest or os.path.join(os.path.dirname(os.path.abspath(args.model)),
                                             "manifest.toml")
    with open(manifest, "rb") as f:
        man = tomllib.load(f)

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(args.model, sess_options=so,
                                providers=["CPUExecutionProvider"])
    errors = []

    ins = sess.get_inputs()
    spec_in = man["input"]
    if len(ins) != 1:
        errors.append(f"expected 1 input, got {[i.name for i in ins]}")
    else:
        i = ins[0]
        if i.name != spec_in["name"]:
            errors.append(f"input name {i.name!r} != {spec_in['name']!r}")
        if i.type != ORT_TYPES[spec_in["dtype"]]:
            errors.append(f"input {i.name} type {i.type} != {spec_in['dtype']}")
        if not shape_ok(i.shape, spec_in["shape"]):
            errors.append(f"input {i.name} shape {i.shape} != {spec_in['shape']}")

    outs = sess.get_outputs()
    spec_out = man["outputs"]
    if [o.name for o in outs] != [s["name"] for s in spec_out]:
        errors.append(f"output names {[o.name for o in outs]} != "
                      f"{[s['name'] for s in spec_out]}")
    for o, s in zip(outs, spec_out):
        if o.type != ORT_TYPES[s["dtype"]]:
            errors.append(f"output {o.name} type {o.type} != {s['dtype']}")
        if not shape_ok(o.shape, s["shape"]):
            errors.append(f"output {o.name} shape {o.shape} != {s['shape']}")

    if errors:
        for e in errors:
            log(f"FAIL {e}")
        return 1
    log(f"I/O spec OK: {ins[0].name} {ins[0].shape} -> "
        + ", ".join(f"{o.name} {o.shape}" for o in outs))

    # Dynamic batch: batch-N run == N batch-1 runs.
    rng = np.random.default_rng(20240416)
    per_image = [d for d in spec_in["shape"][1:]]
    x = rng.standard_normal((args.batch, *per_image)).astype(np.float32)
    names = [o.name for o in outs]
    batched = sess.run(names, {ins[0].name: x})
    singles = [sess.run(names, {ins[0].name: x[b:b + 1]}) for b in range(args.batch)]
    worst = 0.0
    for k, (name, s) in enumerate(zip(names, spec_out)):
        got = batched[k]
        want_shape = [args.batch] + list(s["shape"][1:])
        if list(got.shape) != want_shape:
            errors.append(f"batch-{args.batch} output {name} shape {list(got.shape)} "
                          f"!= {want_shape}")
            continue
        ref = np.concatenate([singles[b][k] for b in range(args.batch)], axis=0)
        diff = float(np.max(np.abs(got - ref)))
        worst = max(worst, diff)
        if not np.all(np.isfinite(got)):
            errors.append(f"output {name} has non-finite values")
        if diff > args.tol:
            errors.append(f"output {name}: batch-{args.batch} vs batch-1 max abs diff "
                          f"{diff:.3g} > {args.tol:g}")
        if name.startswith("cls") and (got.min() < 0.0 or got.max() > 1.0):
            errors.append(f"output {name} outside [0, 1]: [{got.min()}, {got.max()}]")
        # distinct images must give distinct outputs (guards against a batch broadcast bug)
        if args.batch > 1 and np.array_equal(got[0], got[1]):
            errors.append(f"output {name}: images 0 and 1 gave identical outputs")
    if errors:
        for e in errors:
            log(f"FAIL {e}")
        return 1
    log(f"batch-{args.batch} == {args.batch} x batch-1 (max abs diff {worst:.2e} "
        f"<= {args.tol:g}); OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
