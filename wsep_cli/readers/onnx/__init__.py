"""ONNX models read with an own bounded protobuf parser (no ``onnx`` import); the head is found by
walking the graph back from its output. ``reader.OnnxReader`` is the entry point."""
