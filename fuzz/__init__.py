"""The resdsl fuzz harness: generated and mutated specs against the checker and both backends.

    python -m fuzz.run --cases 100000          # `make fuzz`

Properties checked on every case (see properties.py): no Python exception escapes, every
diagnostic is located inside its file, each case finishes within a time bound and memory stays
bounded, the CLI exits 0 or 1; and soundness: every spec that `check` accepts compiles to torch
and ONNX, builds, and runs a forward pass whose output shape is the one `summary` predicted.
"""
