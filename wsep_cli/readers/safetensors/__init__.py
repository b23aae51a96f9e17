"""safetensors files and sharded sets: only the header and the head's bytes are read."""
