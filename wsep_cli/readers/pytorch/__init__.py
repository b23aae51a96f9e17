"""PyTorch checkpoints (zip, legacy, TorchScript) read without torch: a restricted unpickler that
rebuilds tensors and refuses every other global. ``reader.TorchReader`` is the entry point."""
