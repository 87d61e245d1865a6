#!/usr/bin/python3
"""Train a small Fashion-MNIST CNN and export it for dory as integer-deployable ONNX, QDQ ONNX and goldens.

Run with Debian's interpreter (python3-torch, python3-onnx, python3-numpy, dataset-fashion-mnist; see
`scripts/install-deps.sh --python`):

    /usr/bin/python3 models/fmnist/train_export.py [--checkpoint PATH] [--out DIR]

Outputs (next to this script unless --out is given):
  fmnist_int.onnx   integer-deployable graph (float32 tensors holding integers), written with onnx.helper
  fmnist_qdq.onnx   the same float model quantized by PyTorch eager-mode PTQ, exported by torch.onnx.export
  golden/           exact int64 evaluation of fmnist_int.onnx on test images 0..3 (+ manifest.json)

Network (BN follows every conv during training and is folded away before quantization)
  conv1 3x3 1->16 | conv2 3x3/2 16->32 | dw1 3x3 | pw1 1x1 32->64 | dw2 3x3/2 | pw2 1x1 64->128
  | dw3 3x3/2 | pw3 1x1 128->256 | global average pool | fc 256->10, ReLU after every conv.

Integer semantics of fmnist_int.onnx (this is what the goldens compute, exactly, in int64)
  * input: the raw uint8 pixel 0..255, scale s_in = 1/255, zero point 0 (the float model was trained on pixel/255).
  * conv weights: int8 symmetric per output channel, w = round(W / s_w[c]), s_w[c] = max|W[c]| / 127,
    so w is in [-127, 127]; zero point 0. W, b are the BN-folded float weights.
  * conv bias: int32, bias[c] = round(b[c] / (s_x * s_w[c])).
  * activations after ReLU: uint8, zero point 0, scale s_y = (99.99th percentile of the float activation on
    CALIB_IMAGES training images) / 255. Padding is the zero point, i.e. 0.
  * requantization of every conv (one shift d per layer, one multiplier m[c] per channel):
        acc = bias[c] + sum(x * w)                      exact integer (proved to fit int32)
        y   = clamp(floor((acc * m[c] + 2^(d-1)) / 2^d), 0, 255)
    i.e. round-half-up of acc * m[c] / 2^d.  m[c] = round(s_x * s_w[c] / s_y * 2^d) with d the largest shift
    keeping every m[c] < 2^24 (so m is exact in float32 and has up to 24 significant bits); the script checks
    |acc| * m + 2^(d-1) < 2^53 (so a float64 evaluation of the graph is exact too, far inside int64).
    ONNX: Conv(W, B) -> Mul(m [C,1,1]) -> Add(2^(d-1)) -> Div(2^d) -> Floor -> Clip(0, 255).
  * global average pool: y = floor(window_sum / count), same scale as its input (uint8).
    ONNX: GlobalAveragePool -> Floor. The floor's mean error (-(count-1)/(2*count) LSB) is compensated in the
    float FC bias before it is quantized.
  * fc: int32 logits = bias + sum(x * w), no requantization; ONNX: Flatten -> Gemm(transB=1).
    The FC weights are int8 symmetric PER TENSOR (not per channel) so that all ten logits share one scale and
    the integer argmax is the prediction.

Everything is deterministic (fixed seed, one thread, deterministic algorithms): re-running reproduces the output
files byte for byte on the same machine kind.
"""

import argparse
import collections
import copy
import gzip
import hashlib
import json
import os
import struct
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.ao.quantization as tq
from onnx import helper, numpy_helper, TensorProto

SEED = 0
EPOCHS = 2
BATCH = 64
LR = 2e-3
CALIB_IMAGES = 4000          # first N training images, for both our PTQ and torch's
ACT_PERCENTILE = 99.99       # activation range for our PTQ
M_BITS = 24                  # requant multipliers m < 2^M_BITS (exactly representable in float32)
GOLDEN_IMAGES = 4
OPSET = 13
DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# name, in channels, out channels, kernel, stride, groups (pad = kernel // 2)
ARCH = [
    ("conv1", 1, 16, 3, 1, 1),
    ("conv2", 16, 32, 3, 2, 1),
    ("dw1", 32, 32, 3, 1, 32),
    ("pw1", 32, 64, 1, 1, 1),
    ("dw2", 64, 64, 3, 2, 64),
    ("pw2", 64, 128, 1, 1, 1),
    ("dw3", 128, 128, 3, 2, 128),
    ("pw3", 128, 256, 1, 1, 1),
]
NUM_CLASSES = 10


def log(msg):
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------------

def load_idx(path):
    """Reads a gzipped IDX file (big-endian header, then raw uint8 data) into a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return arr.reshape(dims)


def load_fashion_mnist():
    """Returns (train_x, train_y, test_x, test_y); images are uint8 [N,1,28,28], labels int64 [N]."""
    def images(name):
        return load_idx(os.path.join(DATA_DIR, name))[:, None, :, :]

    def labels(name):
        return load_idx(os.path.join(DATA_DIR, name)).astype(np.int64)

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def to_float(x_uint8):
    """The float model's input convention: pixel / 255."""
    return torch.from_numpy(x_uint8.astype(np.float32)) / 255.0


# ----------------------------------------------------------------------------------------------------------------
# Float model and training
# ----------------------------------------------------------------------------------------------------------------

class Net(nn.Module):
    """Conv+BN+ReLU blocks (see ARCH), global average pool, FC. Quant stubs are identities in float mode."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        blocks = collections.OrderedDict()
        for name, cin, cout, k, stride, groups in ARCH:
            blocks[name] = nn.Sequential(collections.OrderedDict([
                ("conv", nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False)),
                ("bn", nn.BatchNorm2d(cout)),
                ("relu", nn.ReLU()),
            ]))
        self.features = nn.Sequential(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ARCH[-1][2], NUM_CLASSES)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.features(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return self.dequant(x)


def train(model, train_x, train_y):
    """EPOCHS epochs of Adam with a cosine learning-rate decay, fixed shuffling order."""
    gen = torch.Generator().manual_seed(SEED)
    x_all, y_all = to_float(train_x), torch.from_numpy(train_y)
    steps_per_epoch = (len(x_all) + BATCH - 1) // BATCH
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(x_all), generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            opt.zero_grad()
            loss = loss_fn(model(x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        log(f"  epoch {epoch + 1}: mean loss {total / steps_per_epoch:.4f}, {time.time() - t0:.1f} s")
    model.eval()


@torch.no_grad()
def predict_torch(model, x_uint8, batch=500):
    model.eval()
    return np.concatenate([model(to_float(x_uint8[i:i + batch])).argmax(1).numpy()
                           for i in range(0, len(x_uint8), batch)])


# ----------------------------------------------------------------------------------------------------------------
# Post-training quantization to the integer-deployable form
# ----------------------------------------------------------------------------------------------------------------

class QConv:
    """One integer conv layer: acc = bias + conv(x, w); y = clamp((acc * m + 2^(d-1)) >> d, 0, 255)."""

    def __init__(self, name, w, bias, m, d, stride, pad, groups, s_y, acc_bound):
        self.name, self.w, self.bias, self.m, self.d = name, w, bias, m, d
        self.stride, self.pad, self.groups, self.s_y = stride, pad, groups, s_y
        self.acc_bound = acc_bound  # per channel, worst case |acc| over all uint8 inputs


class QModel:
    def __init__(self, convs, fc_w, fc_b, s_logits):
        self.convs, self.fc_w, self.fc_b, self.s_logits = convs, fc_w, fc_b, s_logits


def fold_bn(block):
    """Returns BN-folded (W, b) of a Conv+BN block as float64 numpy arrays."""
    conv, bn = block.conv, block.bn
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    w = conv.weight.detach().double() * scale[:, None, None, None]
    b = bn.bias.detach().double() - bn.running_mean.double() * scale
    return w.numpy(), b.numpy()


@torch.no_grad()
def activation_scales(model, calib_x):
    """Per conv block: ACT_PERCENTILE percentile of its (ReLU) float output over calib_x, divided by 255."""
    outputs = collections.defaultdict(list)
    hooks = [getattr(model.features, name).register_forward_hook(
        lambda mod, inp, out, name=name: outputs[name].append(out.numpy().ravel()))
        for name, *_ in ARCH]
    model.eval()
    for i in range(0, len(calib_x), 500):
        model(to_float(calib_x[i:i + 500]))
    for h in hooks:
        h.remove()
    return {name: float(np.percentile(np.concatenate(outputs[name]), ACT_PERCENTILE)) / 255.0
            for name, *_ in ARCH}


def requant_params(real_multiplier):
    """(m, d): m[c] = round(M[c] * 2^d) with the largest d such that every m[c] < 2^M_BITS."""
    d = int(np.floor(np.log2((2 ** M_BITS) / real_multiplier.max())))
    while np.round(real_multiplier.max() * 2.0 ** d) >= 2 ** M_BITS:
        d -= 1
    m = np.round(real_multiplier * 2.0 ** d).astype(np.int64)
    assert d >= 1 and m.min() >= 1, (d, m.min())
    return m, d


def quantize(model, calib_x):
    """Folds BN and quantizes the float model into a QModel (see the module docstring for the scheme)."""
    s_act = activation_scales(model, calib_x)
    convs, s_x, x_max = [], 1.0 / 255.0, 255
    for name, cin, cout, k, stride, groups in ARCH:
        w_f, b_f = fold_bn(getattr(model.features, name))
        s_w = np.abs(w_f).reshape(cout, -1).max(axis=1) / 127.0
        assert s_w.min() > 0, f"{name}: a channel has all-zero weights"
        w = np.round(w_f / s_w[:, None, None, None]).astype(np.int64)
        bias = np.round(b_f / (s_x * s_w)).astype(np.int64)
        s_y = s_act[name]
        m, d = requant_params(s_x * s_w / s_y)
        # Worst-case accumulator over all inputs in [0, x_max]: must fit int32, and acc*m + 2^(d-1) must be
        # exact in float64 (hence comfortably inside int64).
        acc_bound = np.abs(bias) + x_max * np.abs(w).reshape(cout, -1).sum(axis=1)
        assert acc_bound.max() < 2 ** 31, f"{name}: accumulator may overflow int32"
        assert (acc_bound * m).max() + 2 ** (d - 1) < 2 ** 53, f"{name}: requant product too large"
        convs.append(QConv(name, w, bias, m, d, stride, k // 2, groups, s_y, acc_bound))
        s_x = s_y
    # FC: per-tensor weight scale (all logits share one scale). The pool's floor loses on average
    # (count-1)/(2*count) LSB per input; add that back in the float bias before quantizing it.
    w_f = model.fc.weight.detach().double().numpy()
    b_f = model.fc.bias.detach().double().numpy()
    final_hw = final_spatial()
    count = final_hw[0] * final_hw[1]
    b_f = b_f + w_f.sum(axis=1) * s_x * (count - 1) / (2 * count)
    s_w = np.abs(w_f).max() / 127.0
    fc_w = np.round(w_f / s_w).astype(np.int64)
    fc_b = np.round(b_f / (s_x * s_w)).astype(np.int64)
    assert (np.abs(fc_b) + 255 * np.abs(fc_w).sum(axis=1)).max() < 2 ** 31
    return QModel(convs, fc_w, fc_b, s_x * s_w)


def conv_out(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def final_spatial():
    h = w = 28
    for _, _, _, k, stride, _ in ARCH:
        h, w = conv_out(h, k, stride, k // 2), conv_out(w, k, stride, k // 2)
    return h, w


# ----------------------------------------------------------------------------------------------------------------
# Exact integer evaluation (numpy int64)
# ----------------------------------------------------------------------------------------------------------------

def conv2d_int(x, w, bias, stride, pad, groups):
    """Exact int64 convolution, NCHW; x [N,C,H,W], w [O,C/groups,KH,KW]; zero padding. Dense or depthwise."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh, ow = conv_out(h, kh, stride, pad), conv_out(wd, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    acc = np.broadcast_to(bias[None, :, None, None], (n, o, oh, ow)).astype(np.int64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            if groups == 1:
                acc += np.tensordot(patch, w[:, :, i, j], axes=([1], [1])).transpose(0, 3, 1, 2)
            elif groups == c == o and cg == 1:
                acc += patch * w[None, :, 0, i, j, None, None]
            else:
                raise NotImplementedError("only dense and depthwise convolutions")
    return acc


def requantize(acc, m, d):
    """clamp(floor((acc * m + 2^(d-1)) / 2^d), 0, 255), exact in int64 (>> is an arithmetic, flooring shift)."""
    return np.clip((acc * m[None, :, None, None] + (1 << (d - 1))) >> d, 0, 255)


def run_int(qm, x_uint8):
    """Exact integer forward pass; returns an ordered dict {onnx tensor name: int64 array} of every layer."""
    outs = collections.OrderedDict()
    x = x_uint8.astype(np.int64)
    for L in qm.convs:
        acc = conv2d_int(x, L.w, L.bias, L.stride, L.pad, L.groups)
        x = requantize(acc, L.m, L.d)
        outs[L.name] = x
    count = x.shape[2] * x.shape[3]
    x = x.sum(axis=(2, 3), keepdims=True) // count
    outs["pool"] = x
    logits = x.reshape(len(x), -1) @ qm.fc_w.T + qm.fc_b[None, :]
    assert np.abs(logits).max() < 2 ** 31
    outs["logits"] = logits
    return outs


def predict_int(qm, x_uint8, batch=1000):
    return np.concatenate([run_int(qm, x_uint8[i:i + batch])["logits"].argmax(1)
                           for i in range(0, len(x_uint8), batch)])


# ----------------------------------------------------------------------------------------------------------------
# Integer-deployable ONNX export
# ----------------------------------------------------------------------------------------------------------------

def f32_initializer(name, values):
    """A float32 initializer holding integers; asserts that float32 represents every value exactly."""
    values = np.asarray(values)
    as_f32 = values.astype(np.float32)
    assert np.array_equal(as_f32.astype(np.float64), values.astype(np.float64)), f"{name}: not exact in float32"
    return numpy_helper.from_array(as_f32, name)


def export_int_onnx(qm, path):
    nodes, inits = [], [f32_initializer("clip_min", 0.0), f32_initializer("clip_max", 255.0)]
    prev = "input"
    for L in qm.convs:
        n = L.name
        kh, kw = L.w.shape[2:]
        inits += [f32_initializer(f"{n}.weight", L.w), f32_initializer(f"{n}.bias", L.bias),
                  f32_initializer(f"{n}.m", L.m.reshape(-1, 1, 1)),
                  f32_initializer(f"{n}.round", float(2 ** (L.d - 1))),
                  f32_initializer(f"{n}.divisor", float(2 ** L.d))]
        nodes += [
            helper.make_node("Conv", [prev, f"{n}.weight", f"{n}.bias"], [f"{n}.acc"], name=f"{n}_conv",
                             kernel_shape=[kh, kw], strides=[L.stride] * 2, pads=[L.pad] * 4,
                             dilations=[1, 1], group=L.groups),
            helper.make_node("Mul", [f"{n}.acc", f"{n}.m"], [f"{n}.scaled"], name=f"{n}_mul"),
            helper.make_node("Add", [f"{n}.scaled", f"{n}.round"], [f"{n}.rounded"], name=f"{n}_add"),
            helper.make_node("Div", [f"{n}.rounded", f"{n}.divisor"], [f"{n}.shifted"], name=f"{n}_div"),
            helper.make_node("Floor", [f"{n}.shifted"], [f"{n}.floor"], name=f"{n}_floor"),
            helper.make_node("Clip", [f"{n}.floor", "clip_min", "clip_max"], [n], name=f"{n}_clip"),
        ]
        prev = n
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["pool.mean"], name="pool_gap"),
        helper.make_node("Floor", ["pool.mean"], ["pool"], name="pool_floor"),
        helper.make_node("Flatten", ["pool"], ["flatten"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flatten", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    inits += [f32_initializer("fc.weight", qm.fc_w), f32_initializer("fc.bias", qm.fc_b)]
    graph = helper.make_graph(
        nodes, "fmnist_int", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, NUM_CLASSES])], inits)
    graph.doc_string = ("Integer-deployable Fashion-MNIST CNN: float32 tensors hold integers. Input: the raw "
                        "uint8 pixel (scale 1/255, zero point 0). Output: int32 logits (common scale "
                        f"{qm.s_logits!r}). Built by dory models/fmnist/train_export.py.")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="dory-models-fmnist")
    model.ir_version = 7
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return model


# ----------------------------------------------------------------------------------------------------------------
# Independent float64 interpreter of the exported graph (cross-check of export and int64 evaluation)
# ----------------------------------------------------------------------------------------------------------------

def _conv_f64(x, w, b, strides, pads, group):
    """float64 Conv via sliding windows + einsum (deliberately a different code path from conv2d_int)."""
    n, c = x.shape[:2]
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::strides[0], ::strides[1]]
    oh, ow = win.shape[2:4]
    win = win.reshape(n, group, cg, oh, ow, kh, kw)
    wg = w.reshape(group, o // group, cg, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", win, wg).reshape(n, o, oh, ow)
    return y + b[None, :, None, None]


def run_onnx_f64(model, x):
    """Evaluates the ops used by fmnist_int.onnx in float64; returns {tensor name: value} for every tensor."""
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    env[model.graph.input[0].name] = np.asarray(x, np.float64)
    for node in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        i = [env[name] for name in node.input]
        op = node.op_type
        if op == "Conv":
            assert list(a.get("dilations", [1, 1])) == [1, 1]
            y = _conv_f64(i[0], i[1], i[2], a["strides"], a["pads"], a.get("group", 1))
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Div":
            y = i[0] / i[1]
        elif op == "Floor":
            y = np.floor(i[0])
        elif op == "Clip":
            y = np.clip(i[0], i[1], i[2])
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "Gemm":
            assert a.get("transB", 0) == 1 and a.get("transA", 0) == 0
            assert a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
            y = i[0] @ i[1].T + i[2]
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y
    return env


# ----------------------------------------------------------------------------------------------------------------
# Goldens
# ----------------------------------------------------------------------------------------------------------------

def write_goldens(qm, model_proto, test_x, test_y, golden_dir):
    """Writes golden/img{i}/*.npy and manifest.json; asserts int64 == float64 graph evaluation on each image."""
    manifest = {"model": "fmnist_int.onnx",
                "input": {"name": "input", "dtype": "uint8", "shape": [1, 1, 28, 28],
                          "meaning": "raw pixel 0..255 (scale 1/255, zero point 0); feed it as float to the graph"},
                "images": []}
    max_abs_product = 0
    for idx in range(GOLDEN_IMAGES):
        x = test_x[idx:idx + 1]
        outs = run_int(qm, x)
        ref = run_onnx_f64(model_proto, x.astype(np.float64))
        for name, val in outs.items():
            assert np.array_equal(ref[name], val.astype(np.float64)), f"img{idx}: {name} int64 != float64"
        for L in qm.convs:
            max_abs_product = max(max_abs_product, int(np.abs(ref[f"{L.name}.scaled"]).max()))
        d = os.path.join(golden_dir, f"img{idx}")
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input.npy"), x.astype(np.uint8))
        layers = []
        for name, val in outs.items():
            dtype = np.int32 if name == "logits" else np.uint8
            assert val.min() >= np.iinfo(dtype).min and val.max() <= np.iinfo(dtype).max
            np.save(os.path.join(d, f"{name}.npy"), val.astype(dtype))
            layers.append({"name": name, "dtype": np.dtype(dtype).name, "shape": list(val.shape)})
        pred = int(outs["logits"].argmax())
        manifest["images"].append({"dir": f"img{idx}", "test_index": idx, "label": int(test_y[idx]),
                                   "label_name": CLASSES[int(test_y[idx])], "predicted": pred,
                                   "predicted_name": CLASSES[pred],
                                   "logits": [int(v) for v in outs["logits"].ravel()], "layers": layers})
    with open(os.path.join(golden_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return max_abs_product


# ----------------------------------------------------------------------------------------------------------------
# PyTorch eager-mode PTQ and QDQ export
# ----------------------------------------------------------------------------------------------------------------

def quantize_torch(model, calib_x):
    """Eager-mode static PTQ (fused conv+bn+relu). onednn with per-channel weights, else qnnpack per-tensor.
    The QuantStub gets a fixed scale 1/255, zero point 0, so the quantized input is exactly the uint8 pixel."""
    engines = torch.backends.quantized.supported_engines
    engine = "onednn" if "onednn" in engines else "qnnpack"
    torch.backends.quantized.engine = engine
    qmodel = copy.deepcopy(model).eval()
    tq.fuse_modules(qmodel, [[f"features.{n}.conv", f"features.{n}.bn", f"features.{n}.relu"]
                             for n, *_ in ARCH], inplace=True)
    qmodel.qconfig = tq.get_default_qconfig(engine)
    qmodel.quant.qconfig = tq.QConfig(
        activation=tq.FixedQParamsObserver.with_args(scale=1.0 / 255.0, zero_point=0, dtype=torch.quint8,
                                                     quant_min=0, quant_max=255),
        weight=tq.default_weight_observer)
    tq.prepare(qmodel, inplace=True)
    with torch.no_grad():
        for i in range(0, len(calib_x), 500):
            qmodel(to_float(calib_x[i:i + 500]))
    tq.convert(qmodel, inplace=True)
    return qmodel, engine


def export_qdq(qmodel, path):
    torch.onnx.export(qmodel, to_float(np.zeros((1, 1, 28, 28), np.uint8)), path, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"])
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return model


def qdq_input_convention(model):
    """Finds the graph's first QuantizeLinear and checks that q(pixel/255) == pixel for every uint8 pixel."""
    consts = {}
    for node in model.graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    consts.update({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
    scale, zp = consts[q.input[1]], consts[q.input[2]]
    pixels = np.arange(256)
    x = (pixels.astype(np.float32) / np.float32(255.0))
    quant = np.clip(np.round(x / scale.astype(np.float32)) + zp.astype(np.int64), 0, 255)  # round half to even
    assert np.array_equal(quant, pixels), "QuantizeLinear(pixel/255) != pixel"
    return scale, zp


# ----------------------------------------------------------------------------------------------------------------

def layer_table(qm):
    rows, h, w, cin = [], 28, 28, 1
    for L in qm.convs:
        o, cg, kh, kw = L.w.shape
        oh, ow = conv_out(h, kh, L.stride, L.pad), conv_out(w, kw, L.stride, L.pad)
        rows.append((L.name, f"[1,{cin},{h},{w}]", f"[1,{o},{oh},{ow}]", oh * ow * o * cg * kh * kw, L.w.size,
                     4 * o, f"{L.d:3d}  {int(L.m.min()).bit_length()}-{int(L.m.max()).bit_length()}  "
                            f"2^{np.log2(L.acc_bound.max()):.1f}  2^{np.log2((L.acc_bound * L.m).max()):.1f}"))
        h, w, cin = oh, ow, o
    rows.append(("pool", f"[1,{cin},{h},{w}]", f"[1,{cin},1,1]", 0, 0, 0, ""))
    rows.append(("logits", f"[1,{cin}]", f"[1,{NUM_CLASSES}]", qm.fc_w.size, qm.fc_w.size, 4 * NUM_CLASSES, ""))
    return rows


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output directory")
    ap.add_argument("--checkpoint", help="load the trained float weights from this file if it exists, "
                                         "else train and save them there (development shortcut)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    t_start = time.time()

    train_x, train_y, test_x, test_y = load_fashion_mnist()
    model = Net()
    if args.checkpoint and os.path.exists(args.checkpoint):
        model.load_state_dict(torch.load(args.checkpoint))
        model.eval()
        log(f"loaded float weights from {args.checkpoint}")
    else:
        log(f"training {EPOCHS} epochs on {len(train_x)} images")
        train(model, train_x, train_y)
        if args.checkpoint:
            torch.save(model.state_dict(), args.checkpoint)
    t_trained = time.time()
    float_acc = float((predict_torch(model, test_x) == test_y).mean())
    log(f"float test accuracy: {float_acc:.4f}")

    calib_x = train_x[:CALIB_IMAGES]
    qm = quantize(model, calib_x)
    int_path = os.path.join(args.out, "fmnist_int.onnx")
    model_proto = export_int_onnx(qm, int_path)
    t0 = time.time()
    int_pred = predict_int(qm, test_x)
    int_acc = float((int_pred == test_y).mean())
    float_pred = predict_torch(model, test_x)
    log(f"integer-deployable (int64 eval) test accuracy: {int_acc:.4f} ({time.time() - t0:.1f} s); "
        f"agrees with float on {(int_pred == float_pred).mean():.4f}")

    golden_dir = os.path.join(args.out, "golden")
    max_prod = write_goldens(qm, model_proto, test_x, test_y, golden_dir)
    log(f"goldens: int64 == float64 graph evaluation on {GOLDEN_IMAGES} images; "
        f"max |acc*m| = {max_prod} (2^{np.log2(max_prod):.1f})")

    qmodel, engine = quantize_torch(model, calib_x)
    torch_q_acc = float((predict_torch(qmodel, test_x) == test_y).mean())
    log(f"torch-quantized ({engine}) test accuracy: {torch_q_acc:.4f}")
    qdq_path = os.path.join(args.out, "fmnist_qdq.onnx")
    qdq = export_qdq(qmodel, qdq_path)
    scale, zp = qdq_input_convention(qdq)
    log(f"QDQ input QuantizeLinear: scale {scale.dtype} {float(scale)!r}, zero point {zp.dtype} {int(zp)}")
    log("QDQ op sequence: " + " ".join(n.op_type for n in qdq.graph.node))
    log("QDQ op counts: " + json.dumps(collections.Counter(n.op_type for n in qdq.graph.node)))

    log("\nlayer       input          output         MACs      w bytes  b bytes  "
        "  d  m bits  max|acc|  max|acc|*m  (worst case over all uint8 inputs)")
    tot_mac = tot_w = tot_b = 0
    for name, i, o, mac, wb, bb, extra in layer_table(qm):
        tot_mac, tot_w, tot_b = tot_mac + mac, tot_w + wb, tot_b + bb
        log(f"{name:10s}  {i:13s}  {o:13s}  {mac:9,d}  {wb:7,d}  {bb:7,d}  {extra}")
    log(f"{'total':10s}  {'':13s}  {'':13s}  {tot_mac:9,d}  {tot_w:7,d}  {tot_b:7,d}")
    log(f"activation scales: " + ", ".join(f"{L.name} {L.s_y:.6g}" for L in qm.convs))
    log(f"logit scale: {qm.s_logits:.6g}")
    log(f"\ntimes: training {t_trained - t_start:.0f} s, total {time.time() - t_start:.0f} s")
    for root, _, files in sorted(os.walk(args.out)):
        for f in sorted(files):
            if f.endswith((".onnx", ".npy", ".json")):
                p = os.path.join(root, f)
                log(f"sha256 {sha256(p)}  {os.path.relpath(p, args.out)}")


if __name__ == "__main__":
    sys.exit(main())
