"""Llama-3-8B's configuration for transformers, with `layers` layers: the shape the CUDA checks use.

transformers 5 takes the RoPE settings as rope_parameters (rope_theta inside); 4.x as rope_scaling
with a top-level rope_theta. Our loader reads either form from the saved config.json.
"""
import inspect

from transformers import LlamaConfig

ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192}


def llama3_config(layers: int) -> LlamaConfig:
    if "rope_parameters" in inspect.signature(LlamaConfig.__init__).parameters:
        rope_args = {"rope_parameters": {**ROPE, "rope_theta": 500000.0}}
    else:
        rope_args = {"rope_scaling": ROPE, "rope_theta": 500000.0}
    return LlamaConfig(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                       num_hidden_layers=layers, vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5,
                       tie_word_embeddings=False, **rope_args)
