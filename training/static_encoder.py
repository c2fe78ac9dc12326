"""The v3 encoder as an ONNX graph (onnx.helper and numpy; no torch), and its numpy twin.

(input_ids, attention_mask) → int8 token table rows × per-row scale → masked sum → L2
normalisation → linear map → z, the prompt's position in the shared space; with a domain
classifier, its softmax over the domains is appended to z. The masked sum has the direction of
the mean, so it normalises to the same vector.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
# The IR version opset 17 came with: onnxruntime-web (transformers.js) refuses newer ones.
IR_VERSION = 8
EPS = 1e-12


def quantize_rows(table):
    """Per-row symmetric int8: (q [V, d] int8, scale [V] float32), value ≈ q · scale."""
    peak = np.abs(table).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def build(q, scale, weight, bias, doc="", domain=None):
    """The ONNX model: q [V, d] int8, scale [V], weight [d, k], bias [k] → output `z` [1, k];
    with `domain` = (weight [d, D], bias [D]), `z` is [1, k + D], the domain probabilities last."""
    init = [
        numpy_helper.from_array(q, "table"),
        numpy_helper.from_array(scale.reshape(-1, 1).astype(np.float32), "scale"),
        numpy_helper.from_array(weight.astype(np.float32), "proj_w"),
        numpy_helper.from_array(bias.astype(np.float32), "proj_b"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array(EPS, dtype=np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["rows_q"], axis=0),
        helper.make_node("Cast", ["rows_q"], ["rows_f"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["scale", "input_ids"], ["row_scale"], axis=0),
        helper.make_node("Mul", ["rows_f", "row_scale"], ["rows"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["rows", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("Mul", ["summed", "summed"], ["squares"]),
        helper.make_node("ReduceSum", ["squares", "axis1"], ["norm2"], keepdims=1),
        helper.make_node("Max", ["norm2", "eps"], ["norm2_safe"]),
        helper.make_node("Sqrt", ["norm2_safe"], ["norm"]),
        helper.make_node("Div", ["summed", "norm"], ["unit"]),
        helper.make_node("MatMul", ["unit", "proj_w"], ["projected"]),
        helper.make_node("Add", ["projected", "proj_b"], ["z" if domain is None else "learned"]),
    ]
    dim = weight.shape[1]
    if domain is not None:
        init += [numpy_helper.from_array(domain[0].astype(np.float32), "domain_w"),
                 numpy_helper.from_array(domain[1].astype(np.float32), "domain_b")]
        nodes += [
            helper.make_node("MatMul", ["unit", "domain_w"], ["domain_raw"]),
            helper.make_node("Add", ["domain_raw", "domain_b"], ["domain_logits"]),
            helper.make_node("Softmax", ["domain_logits"], ["domains"], axis=-1),
            helper.make_node("Concat", ["learned", "domains"], ["z"], axis=-1),
        ]
        dim += domain[0].shape[1]
    graph = helper.make_graph(
        nodes, "routoo-static-encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", dim])],
        init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="routoo training/static_encoder.py",
                              ir_version=IR_VERSION)
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model


def encode(q, scale, weight, bias, ids, domain=None):
    """numpy twin of the graph for one prompt's token ids (float32, the graph's order of
    operations up to summation order)."""
    rows = q[ids].astype(np.float32) * scale[ids][:, None]
    summed = rows.sum(axis=0, dtype=np.float32)
    norm = np.sqrt(max(np.float32((summed * summed).sum()), np.float32(EPS)))
    unit = summed / norm
    z = unit @ weight.astype(np.float32) + bias.astype(np.float32)
    if domain is None:
        return z
    logits = unit @ domain[0].astype(np.float32) + domain[1].astype(np.float32)
    e = np.exp(logits - logits.max())
    return np.concatenate([z, e / e.sum()])
