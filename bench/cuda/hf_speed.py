"""transformers on the shapes cuda/harness/speed.cu times, for the side-by-side column: Llama-3-8B
(32 layers, random BF16 weights) on the GPU, one forward step with a static cache — a decode step
at batch 1, 32 and 256 after 256 tokens of context, and a 2,048-token prefill. Medians of CUDA-
event-timed runs after a warm-up. Prints a table; with --json, also writes the figures there.
Run by bench/cuda/run.sh.

    python3 bench/cuda/hf_speed.py [--json FILE]
"""
import argparse
import json
import statistics

import torch
from transformers import LlamaForCausalLM, StaticCache

from llama3_shape import llama3_config

CONTEXT = 256


def timed_ms(fn, reps=9):
    fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    config = llama3_config(32)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).eval()
    rows = []
    with torch.no_grad():
        for batch in (1, 32, 256):
            cache = StaticCache(config=config, max_batch_size=batch, max_cache_len=CONTEXT + 32)
            ids = torch.randint(0, config.vocab_size, (batch, CONTEXT), device="cuda")
            model(ids, past_key_values=cache, use_cache=True, cache_position=torch.arange(CONTEXT, device="cuda"))
            step = torch.randint(0, config.vocab_size, (batch, 1), device="cuda")
            position = torch.tensor([CONTEXT], device="cuda")
            ms = timed_ms(lambda: model(step, past_key_values=cache, use_cache=True, cache_position=position))
            rows.append((f"decode step, batch {batch}", ms))
            del cache
        prompt = torch.randint(0, config.vocab_size, (1, 2048), device="cuda")
        ms = timed_ms(lambda: model(prompt, use_cache=False), reps=5)
        rows.append(("prefill, 2048-token chunk", ms))
    print(f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, eager, static cache")
    print("| measurement | transformers median ms |\n| --- | ---: |")
    for what, ms in rows:
        print(f"| {what} | {ms:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"transformers": __import__("transformers").__version__, "torch": torch.__version__,
                       "rows": [{"what": what, "median_ms": ms} for what, ms in rows]}, f)


if __name__ == "__main__":
    main()
