"""The GPU forward pass against Hugging Face transformers (issue 7's correctness check).

Builds a LlamaForCausalLM with seeded random weights at Llama-3-8B's widths (a few layers, GQA
32:8, Llama-3 RoPE scaling), saves it as BF16 safetensors, and compares, at every position of a
batch of sequences of different lengths, the logits of `gpu-logits` (cuda/harness/gpu_logits.cu;
prefill of everything, and prefill then decode) with transformers' own in float32 on the same
BF16 weights: ‖ours − ref‖ / ‖ref‖ per position, at most 1e-2. transformers in BF16 is printed
beside it for scale. Run by bench/cuda/run.sh on the GPU machine (PyTorch, transformers there).

    python3 bench/cuda/hf_check.py --gpu-logits OUT/gpu_logits --work OUT/hf [--layers 2]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
from transformers import LlamaForCausalLM

from llama3_shape import llama3_config

LENGTHS = [7, 300, 41]
SPLIT = 5  # the decode run prefills this many tokens of each sequence, then decodes the rest


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpu-logits", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--layers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.manual_seed(20261127)
    config = llama3_config(args.layers)
    with torch.device("cuda"):  # random init on the GPU: seconds, not minutes
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():  # norm gains away from 1, so a wrong norm shows
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p, dtype=torch.float32))
    model.save_pretrained(args.work, safe_serialization=True)
    # Whatever form this transformers writes (rope_scaling or rope_parameters), our loader reads both.

    ids = [torch.randint(0, config.vocab_size, (n,)) for n in LENGTHS]
    np.concatenate([x.numpy().astype(np.int32) for x in ids]).tofile(os.path.join(args.work, "ids.bin"))

    ref, bf16 = [], []
    with torch.no_grad():
        exact = LlamaForCausalLM.from_pretrained(args.work, dtype=torch.float32).cuda().eval()
        for x in ids:
            ref.append(exact(x[None].cuda()).logits[0].double().cpu().numpy())
        del exact
        half = LlamaForCausalLM.from_pretrained(args.work, dtype=torch.bfloat16).cuda().eval()
        for x in ids:
            bf16.append(half(x[None].cuda()).logits[0].double().cpu().numpy())
        del half
    torch.cuda.empty_cache()

    def worst(rows):
        errors = [np.linalg.norm(rows[s][p] - ref[s][p]) / np.linalg.norm(ref[s][p])
                  for s in range(len(LENGTHS)) for p in range(LENGTHS[s])]
        return max(errors) if all(np.isfinite(errors)) else float("nan")

    failed = 0
    print(f"transformers bf16 vs float32: worst position rel err {worst(bf16):.3e} (for scale)")
    for label, split in (("prefill of everything", 0), (f"prefill {SPLIT}, then decode", SPLIT)):
        out = os.path.join(args.work, f"ours_{split}.bin")
        subprocess.run([args.gpu_logits, "--model", args.work, "--ids", os.path.join(args.work, "ids.bin"),
                        "--lengths", ",".join(map(str, LENGTHS)), "--split", str(split), "--out", out],
                       check=True, timeout=120)
        flat = np.fromfile(out, dtype=np.float32).reshape(-1, config.vocab_size).astype(np.float64)
        rows, at = [], 0
        for n in LENGTHS:
            rows.append(flat[at:at + n])
            at += n
        err = worst(rows)
        ok = np.isfinite(err) and err <= 1e-2
        failed += not ok
        print(f"ours ({label}) vs transformers float32: worst position rel err {err:.3e} {'ok' if ok else 'FAIL'}")
    print(f"hf_check: {2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
