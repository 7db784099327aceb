#!/usr/bin/env python3
"""Convert a TF.js graph model to ONNX as described by a xueliang model manifest.

Usage (normally called by models/fetch.sh, inside the conversion venv):
    convert.py --manifest models/nanodet-m-416/manifest.toml \
               --tfjs WORK/package/models/nanodet.json --output OUT/model.onnx.tmp

Steps:
  1. run tf2onnx (``--tfjs ... --opset <convert.opset>``) into a scratch file;
  2. make the batch dimension dynamic: the Reshape shape constants listed in
     ``convert.batch_reshapes`` (e.g. [1, 80, -1]) get their leading 1 replaced by 0
     ("copy this dimension from the input"), and dim 0 of the graph input and of every output
     becomes the symbolic dimension ``convert.batch_dim_param``;
  3. rename the input to ``input.name`` and the outputs to the ``outputs[*].name`` of the
     manifest (matched by their per-image shape, not by tf2onnx's generated names), and put
     the outputs in manifest order;
  4. check the model with onnx.checker and save it to ``--output``.

Progress goes to stderr with a ``[models]`` prefix; nothing is printed to stdout.
"""

import argparse
import os
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore

import numpy as np

# tf2onnx 1.17 still calls NumPy aliases that NumPy 2.x removed.
for _old, _new in (("product", "prod"), ("cumproduct", "cumprod"),
                   ("sometrue", "any"), ("alltrue", "all")):
    if not hasattr(np, _old):
        setattr(np, _old, getattr(np, _new))


def log(msg):
    print(f"[models] convert: {msg}", file=sys.stderr, flush=True)


def die(msg):
    print(f"[models] convert: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def run_tf2onnx(tfjs_path, opset, out_path):
    from tf2onnx import convert as tfconvert

    argv = ["tf2onnx.convert", "--tfjs", tfjs_path, "--opset", str(opset),
            "--output", out_path]
    saved = sys.argv
    sys.argv = argv
    try:
        tfconvert.main()
    except SystemExit as e:  # argparse / tf2onnx may call sys.exit
        if e.code not in (None, 0):
            die(f"tf2onnx exited with status {e.code}")
    finally:
        sys.argv = saved
    if not os.path.exists(out_path):
        die("tf2onnx produced no output file")


def const_tensors(graph):
    """name -> (TensorProto, setter) for initializers and Constant node values."""
    from onnx import numpy_helper  # noqa: F401

    found = {}
    for init in graph.initializer:
        found[init.name] = init
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    found[node.output[0]] = attr.t
    return found


def patch_batch(model, batch_reshapes):
    """Rewrite the leading 1 of the listed Reshape shape constants to 0.

    tf2onnx does not always feed the constant straight into the Reshape: for this model the
    shape is ``Cast(Add([1, 80, -1], ScatterND(zeros...)))``. So walk back from each Reshape's
    shape input through the nodes that depend only on constants and patch the matching
    initializers found there (only when every consumer of that initializer is in such a chain).
    """
    from onnx import numpy_helper

    graph = model.graph
    consts = const_tensors(graph)
    producer = {o: n for n in graph.node for o in n.output}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def const_chain(tensor, nodes, leaves):
        """True when `tensor` depends only on constants; collects nodes and leaf constants."""
        if tensor in consts and (tensor not in producer or producer[tensor].op_type == "Constant"):
            leaves.add(tensor)
            if tensor in producer:
                nodes.add(id(producer[tensor]))
            return True
        node = producer.get(tensor)
        if node is None:  # graph input
            return False
        nodes.add(id(node))
        return all(const_chain(i, nodes, leaves) for i in node.input if i)

    chain_nodes, leaves = set(), set()
    for node in graph.node:
        if node.op_type == "Reshape" and len(node.input) > 1:
            n, l = set(), set()
            if const_chain(node.input[1], n, l):
                chain_nodes |= n
                leaves |= l
                chain_nodes.add(id(node))

    wanted = [list(map(int, s)) for s in batch_reshapes]
    hits = {tuple(s): 0 for s in wanted}
    for name in sorted(leaves):
        tensor = consts[name]
        value = numpy_helper.to_array(tensor)
        if value.ndim != 1 or value.dtype.kind not in "iu":
            continue
        shape = value.astype(np.int64).tolist()
        if shape not in wanted:
            if shape and shape[0] == 1:
                log(f"note: Reshape shape constant {name} = {shape} left unchanged")
            continue
        users = consumers.get(name, [])
        if not all(id(u) in chain_nodes for u in users):
            die(f"shape constant {name} = {shape} is also used outside Reshape shape "
                f"computations ({[u.op_type for u in users]}); refusing to patch it")
        new = value.copy()
        new[0] = 0
        tensor.CopyFrom(numpy_helper.from_array(new, tensor.name))
        hits[tuple(shape)] += 1
        log(f"reshape shape constant {name}: {shape} -> {new.tolist()} "
            f"(consumers: {', '.join(u.op_type for u in users)})")
    missing = [list(s) for s, n in hits.items() if n == 0]
    if missing:
        die(f"Reshape shape constant(s) {missing} not found in the converted graph; "
            "the tf2onnx output changed, update convert.batch_reshapes in the manifest")


def set_dim0(value_info, param):
    dims = value_info.type.tensor_type.shape.dim
    if not dims:
        die(f"tensor {value_info.name} has no shape")
    dims[0].Clear()
    dims[0].dim_param = param


def per_image_shape(value_info):
    return tuple(d.dim_value if d.HasField("dim_value") else -1
                 for d in value_info.type.tensor_type.shape.dim[1:])


def set_shape(value_info, shape, param):
    """Declare `shape` on a graph input/output; -1 becomes the symbolic dimension `param`."""
    tshape = value_info.type.tensor_type.shape
    del tshape.dim[:]
    for d in shape:
        dim = tshape.dim.add()
        if d == -1:
            dim.dim_param = param
        else:
            dim.dim_value = int(d)


def tfjs_output_shapes(tfjs_path):
    """{tensor name: [dims]} from the TF.js model.json signature (may be empty)."""
    import json

    with open(tfjs_path) as f:
        sig = json.load(f).get("signature", {}).get("outputs", {})
    shapes = {}
    for key, spec in sig.items():
        dims = spec.get("tensorShape", {}).get("dim", [])
        shapes[spec.get("name", key)] = [int(d.get("size", -1)) for d in dims]
    return shapes


def rename_tensor(graph, old, new):
    if old == new:
        return
    for node in graph.node:
        for i, n in enumerate(node.input):
            if n == old:
                node.input[i] = new
        for i, n in enumerate(node.output):
            if n == old:
                node.output[i] = new
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--tfjs", required=True, help="path to the TF.js model.json")
    ap.add_argument("--output", required=True)
    args = ap.parse_args()

    with open(args.manifest, "rb") as f:
        man = tomllib.load(f)
    conv = man["convert"]
    opset = int(conv["opset"])
    batch_param = conv.get("batch_dim_param", "N")

    import onnx

    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, raw_path = tempfile.mkstemp(prefix=".tf2onnx-", suffix=".onnx", dir=out_dir)
    os.close(fd)
    try:
        log(f"tf2onnx --tfjs {args.tfjs} --opset {opset}")
        run_tf2onnx(args.tfjs, opset, raw_path)
        model = onnx.load(raw_path)
    finally:
        if os.path.exists(raw_path):
            os.unlink(raw_path)

    graph = model.graph
    init_names = {i.name for i in graph.initializer}
    real_inputs = [i for i in graph.input if i.name not in init_names]
    if len(real_inputs) != 1:
        die(f"expected one graph input, found {[i.name for i in real_inputs]}")
    expected_out = man["outputs"]
    if len(graph.output) != len(expected_out):
        die(f"expected {len(expected_out)} outputs, found {[o.name for o in graph.output]}")

    # 1. dynamic batch
    patch_batch(model, conv.get("batch_reshapes", []))
    del graph.value_info[:]  # intermediate shapes were inferred for batch 1
    set_dim0(real_inputs[0], batch_param)
    for out in graph.output:
        set_dim0(out, batch_param)

    # 2. stable names, matched by per-image shape
    in_spec = man["input"]
    if list(per_image_shape(real_inputs[0])) != list(in_spec["shape"][1:]):
        die(f"input shape {per_image_shape(real_inputs[0])} != manifest {in_spec['shape']}")
    log(f"input {real_inputs[0].name} -> {in_spec['name']}")
    rename_tensor(graph, real_inputs[0].name, in_spec["name"])

    # tf2onnx leaves the output shapes unknown (the reshapes are computed), so take the
    # per-image shapes from the TF.js signature, which names the same tensors.
    sig = tfjs_output_shapes(args.tfjs)
    by_shape = {}
    for out in graph.output:
        shp = per_image_shape(out)
        if -1 in shp and out.name in sig:
            shp = tuple(sig[out.name][1:])
        by_shape.setdefault(shp, []).append(out)
    ordered = []
    for spec in expected_out:
        key = tuple(spec["shape"][1:])
        cands = by_shape.get(key, [])
        if len(cands) != 1:
            die(f"output {spec['name']}: {len(cands)} graph outputs with per-image shape "
                f"{list(key)} (graph outputs by shape: "
                f"{ {k: [o.name for o in v] for k, v in by_shape.items()} })")
        out = cands[0]
        log(f"output {out.name} {list(key)} -> {spec['name']}")
        rename_tensor(graph, out.name, spec["name"])
        set_shape(out, spec["shape"], batch_param)
        ordered.append(out)
    copies = [onnx.ValueInfoProto() for _ in ordered]
    for c, o in zip(copies, ordered):
        c.CopyFrom(o)
    del graph.output[:]
    graph.output.extend(copies)

    # 3. metadata + check + save
    src = man["source"]
    meta = {
        "xueliang.model": man["name"],
        "xueliang.version": man["version"],
        "xueliang.source": f"{src['kind']}:{src['package']}@{src['version']}",
        "xueliang.source_sha256": src["tarball_sha256"],
        "xueliang.license": f"package {man['license']['package']}, "
                            f"weights {man['license']['weights']}",
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    graph.name = man["name"]

    onnx.checker.check_model(model)
    onnx.save(model, args.output)
    log(f"saved {args.output} ({os.path.getsize(args.output)} bytes)")


if __name__ == "__main__":
    main()
