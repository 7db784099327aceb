#!/usr/bin/env python3
"""Detection smoke test for a NanoDet (GFL head) ONNX model, with onnxruntime + ffmpeg.

Usage (with the conversion venv's python, which has numpy and onnxruntime):
    smoke.py [--model MODEL.onnx] [--video vtest.avi] [--frame 300]
             [--write-reference FILE] [--check FILE]

Reads one frame of the video with ffmpeg (bgr24), pre-processes it as the manifest says
(stretch-resize to the input size with bilinear interpolation, half-pixel centres, no
anti-aliasing, i.e. OpenCV INTER_LINEAR; BGR; (x - mean) / std; NCHW), runs the model,
decodes the GFL head (cell centre ((i mod n) + 0.5) * s, ((i div n) + 0.5) * s; each side =
sum(softmax(bins) * k, k = 0..reg_max) * s), keeps class scores >= score_threshold, runs
class-wise NMS (IoU nms_iou), clips to the network input, scales the boxes back to the frame
size and prints one JSON object per detection (highest score first) on stdout:
    {"class": "person", "class_id": 0, "score": 0.812, "box": [x1, y1, x2, y2]}

--write-reference FILE  also writes these detections, with the settings that produced them,
                        as one JSON document (golden values for the Rust detector test).
--check FILE            compares against such a document: same classes, |score diff| <= 0.01,
                        box corners within 2 px (exit status 1 otherwise).
"""

import argparse
import json
import os
import re
import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore

import numpy as np

DEFAULT_VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def log(msg):
    print(f"[models] smoke: {msg}", file=sys.stderr, flush=True)


def default_model():
    cache = os.environ.get("XUELIANG_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "xueliang")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "nanodet-m-416", "manifest.toml"), "rb") as f:
        man = tomllib.load(f)
    return os.path.join(cache, "models", f"{man['name']}-{man['version']}", man["file"])


def read_frame(video, index):
    """Frame `index` (0-based, decode order) of `video` as an HxWx3 uint8 BGR array."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0",
         "-show_entries", "stream=width,height", "-of", "csv=p=0", video],
        check=True, capture_output=True, text=True).stdout.strip()
    width, height = (int(v) for v in probe.split(",")[:2])
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", video,
         "-vf", f"select=eq(n\\,{index})", "-vframes", "1",
         "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
        check=True, capture_output=True).stdout
    if len(raw) != width * height * 3:
        raise SystemExit(f"ffmpeg returned {len(raw)} bytes for frame {index}, "
                         f"expected {width * height * 3} ({width}x{height})")
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def resize_bilinear(img, out_w, out_h):
    """OpenCV INTER_LINEAR semantics: half-pixel centres, edge clamp, no anti-aliasing."""
    h, w = img.shape[:2]

    def coords(n_out, n_in):
        src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        src = np.clip(src, 0.0, n_in - 1)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0)

    y0, y1, fy = coords(out_h, h)
    x0, x1, fx = coords(out_w, w)
    im = img.astype(np.float64)
    top = im[y0][:, x0] * (1 - fx)[None, :, None] + im[y0][:, x1] * fx[None, :, None]
    bot = im[y1][:, x0] * (1 - fx)[None, :, None] + im[y1][:, x1] * fx[None, :, None]
    out = top * (1 - fy)[:, None, None] + bot * fy[:, None, None]
    return out.astype(np.float32)


def preprocess(frame_bgr, spec):
    _, c, h, w = spec["shape"]
    if spec.get("color", "BGR") != "BGR" or spec.get("layout", "NCHW") != "NCHW" or c != 3:
        raise SystemExit("smoke.py only handles 3-channel BGR NCHW inputs")
    img = resize_bilinear(frame_bgr, w, h)
    img = (img - np.array(spec["mean"], np.float32)) / np.array(spec["std"], np.float32)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def iou(box, boxes):
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes, scores, thr):
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou(boxes[i], boxes[rest]) <= thr]
    return keep


def decode(outputs, man):
    """outputs: {name: array [cells, C]} for one image -> (boxes xyxy in input px, scores, cls)."""
    head = man["head"]
    reg_max = int(head["reg_max"])
    _, _, in_h, in_w = man["input"]["shape"]
    thr = float(head["score_threshold"])
    by_stride = {}
    for spec in man["outputs"]:
        kind = "cls" if spec["shape"][-1] == head["num_classes"] else "box"
        by_stride.setdefault(int(spec["stride"]), {})[kind] = outputs[spec["name"]]
    all_boxes, all_scores, all_cls = [], [], []
    for s in head["strides"]:
        cls, reg = by_stride[s]["cls"], by_stride[s]["box"]
        nx, ny = in_w // s, in_h // s
        assert cls.shape[0] == nx * ny, (cls.shape, nx, ny)
        idx = np.arange(nx * ny)
        cx = (idx % nx + 0.5) * s
        cy = (idx // nx + 0.5) * s
        bins = softmax(reg.reshape(-1, 4, reg_max + 1).astype(np.float64))
        dist = (bins * np.arange(reg_max + 1)).sum(-1) * s  # [cells, 4] = l, t, r, b
        boxes = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, in_w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, in_h)
        cell, c = np.nonzero(cls >= thr)
        all_boxes.append(boxes[cell])
        all_scores.append(cls[cell, c].astype(np.float64))
        all_cls.append(c)
    boxes = np.concatenate(all_boxes)
    scores = np.concatenate(all_scores)
    classes = np.concatenate(all_cls)
    keep = []
    for c in np.unique(classes):
        ids = np.nonzero(classes == c)[0]
        keep.extend(ids[k] for k in nms(boxes[ids], scores[ids], float(head["nms_iou"])))
    keep = sorted(keep, key=lambda i: (-scores[i], classes[i]))
    return boxes[keep], scores[keep], classes[keep]


def compare(dets, ref_path, score_tol=0.01, box_tol=2.0):
    with open(ref_path) as f:
        ref = json.load(f)["detections"]
    problems = []
    unmatched = list(range(len(dets)))
    for r in ref:
        best = None
        for j in unmatched:
            d = dets[j]
            if d["class"] != r["class"]:
                continue
            err = max(abs(a - b) for a, b in zip(d["box"], r["box"]))
            if best is None or err < best[1]:
                best = (j, err)
        if best is None or best[1] > box_tol or abs(dets[best[0]]["score"] - r["score"]) > score_tol:
            problems.append(f"reference {r} not reproduced"
                            + (f" (closest: {dets[best[0]]})" if best else ""))
        else:
            unmatched.remove(best[0])
    for j in unmatched:
        problems.append(f"extra detection {dets[j]}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model")
    ap.add_argument("--manifest")
    ap.add_argument("--video", default=DEFAULT_VIDEO)
    ap.add_argument("--frame", type=int, default=None,
                    help="frame index (default: the reference's frame with --check, else 300)")
    ap.add_argument("--write-reference", metavar="FILE")
    ap.add_argument("--check", metavar="FILE")
    ap.add_argument("--note", action="append", default=[],
                    help="free text stored in the reference document (repeatable)")
    args = ap.parse_args()

    if args.frame is None:
        args.frame = 300
        if args.check:
            with open(args.check) as f:
                args.frame = int(json.load(f)["frame"])
    model = args.model or default_model()
    manifest = args.manifest or os.path.join(os.path.dirname(os.path.abspath(model)),
                                             "manifest.toml")
    with open(manifest, "rb") as f:
        man = tomllib.load(f)
    labels = man["labels"]["names"]

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])

    if not os.path.exists(args.video):
        raise SystemExit(f"video not found: {args.video} (Debian package opencv-doc)")
    frame = read_frame(args.video, args.frame)
    fh, fw = frame.shape[:2]
    x = preprocess(frame, man["input"])
    names = [o["name"] for o in man["outputs"]]
    outs = dict(zip(names, (o[0] for o in sess.run(names, {man["input"]["name"]: x}))))
    boxes, scores, classes = decode(outs, man)

    _, _, in_h, in_w = man["input"]["shape"]
    sx, sy = fw / in_w, fh / in_h
    dets = []
    for b, s, c in zip(boxes, scores, classes):
        box = [round(float(b[0] * sx), 1), round(float(b[1] * sy), 1),
               round(float(b[2] * sx), 1), round(float(b[3] * sy), 1)]
        dets.append({"class": labels[int(c)], "class_id": int(c),
                     "score": round(float(s), 3), "box": box})
    for d in dets:
        print(json.dumps(d))
    log(f"{len(dets)} detections on frame {args.frame} of {args.video} ({fw}x{fh})")

    if args.write_reference:
        doc = {
            "model": f"{man['name']} {man['version']}",
            "source": f"{man['source']['package']}@{man['source']['version']}",
            "video": os.path.basename(args.video),
            "video_package": "Debian opencv-doc (examples/data/vtest.avi)",
            "frame": args.frame,
            "frame_size": [fw, fh],
            "frame_decode": "ffmpeg, select=eq(n,FRAME), pix_fmt bgr24",
            "preprocess": "stretch resize to 416x416, bilinear with half-pixel centres and "
                          "no anti-aliasing (OpenCV INTER_LINEAR), BGR, (x - mean) / std, NCHW",
            "mean": man["input"]["mean"],
            "std": man["input"]["std"],
            "decode": "GFL: centre ((i mod n) + 0.5) * s, ((i div n) + 0.5) * s; side = "
                      "sum(softmax(bins) * k, k = 0..10) * s; box clipped to 416x416, then "
                      "scaled to the frame size",
            "score_threshold": man["head"]["score_threshold"],
            "nms": f"class-wise, IoU > {man['head']['nms_iou']} suppressed",
            "runtime": f"onnxruntime {ort.__version__} CPU",
            "tolerance": {"score": 0.01, "box_px": 2.0},
            "notes": args.note,
            "detections": dets,
        }
        # indented, but one line per detection (and per short list) so that diffs stay readable
        dets_json = ",\n".join("    " + json.dumps(d) for d in dets)
        text = json.dumps({**doc, "detections": "@DETS@"}, indent=2)
        text = re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]",
                      lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
        text = text.replace('"@DETS@"', "[\n" + dets_json + "\n  ]")
        json.loads(text)  # still valid JSON
        with open(args.write_reference, "w") as f:
            f.write(text + "\n")
        log(f"wrote {args.write_reference}")

    if args.check:
        problems = compare(dets, args.check)
        for p in problems:
            log(f"FAIL {p}")
        if problems:
            return 1
        log(f"matches {args.check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
