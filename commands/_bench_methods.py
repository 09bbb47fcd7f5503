"""The methods `riskclass bench` measures by default.

Apart from the benchmark itself so that the command line's help can name them
without importing numpy and the matchers.
"""

DEFAULT_METHODS = (
    "face_recognition",
    "exact",
    "exact-gemm",
    "exact-f16",
    "faiss-flat",
    "faiss-ivf:nprobe=8",
    "faiss-ivf:nprobe=32",
    "faiss-hnsw:ef=32",
    "faiss-hnsw:ef=128",
)
