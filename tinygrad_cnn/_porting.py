"""One clear line for a PyTorch name this library does not have.

`tinygrad_cnn`, `tinygrad_cnn.nn`, `nn.functional` and `optim` end with a module `__getattr__`
that raises `missing_name(...)`: an AttributeError naming the missing name and what to use
instead (a known substitute, else the closest name the module has), not a bare AttributeError
deep inside the user's script.
"""
import difflib

# Known PyTorch names without a counterpart here, by module: what to do instead.
_CONV_ONLY = "not provided: tinygrad_cnn covers convolutional networks"
SUBSTITUTES = {
    "tinygrad_cnn": {
        "compile": "no compiler: ops run eagerly on NumPy/CuPy; call the model directly",
        "jit": "no TorchScript: call the model directly",
        "Generator": "use tc.manual_seed(n), or the generator= argument of tinygrad_cnn.utils.data.DataLoader "
                     "(an int seed or a NumPy Generator)",
        "set_default_dtype": "float32 is the default; pass dtype= or call .double() on a model",
        "set_num_threads": "set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before starting Python",
        "amp": "mixed precision is not provided; train in float32",
        "backends": "no backend flags: NumPy (BLAS) on the CPU, CuPy on a GPU",
        "distributions": _CONV_ONLY,
        "fft": _CONV_ONLY,
        "sparse": _CONV_ONLY,
        "bfloat16": "no bfloat16: use float32 (or float16 arrays through .to(tc.float16))",
    },
    "tinygrad_cnn.nn": {
        "DistributedDataParallel": "it lives in nn.parallel, as in PyTorch: nn.parallel.DistributedDataParallel",
        "Embedding": _CONV_ONLY, "EmbeddingBag": _CONV_ONLY, "RNN": _CONV_ONLY, "LSTM": _CONV_ONLY,
        "GRU": _CONV_ONLY, "Transformer": _CONV_ONLY, "MultiheadAttention": _CONV_ONLY,
        "Conv3d": "3-D convolutions are not provided: Conv1d, Conv2d, ConvTranspose2d are",
        "BatchNorm3d": "use BatchNorm1d / BatchNorm2d",
    },
    "tinygrad_cnn.nn.functional": {
        "conv3d": "3-D convolutions are not provided: conv1d, conv2d, conv_transpose2d are",
        "embedding": _CONV_ONLY,
        "scaled_dot_product_attention": _CONV_ONLY,
    },
    "tinygrad_cnn.optim": {
        "LBFGS": "not provided: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta are",
        "SparseAdam": "not provided: Adam is",
        "NAdam": "not provided: Adam (or SGD with nesterov=True) is",
        "RAdam": "not provided: Adam is",
        "Adamax": "not provided: Adam is",
        "ASGD": "not provided: SGD is",
        "Rprop": "not provided: SGD is",
    },
}


def missing_name(module_name, name, namespace):
    """The AttributeError for `module_name.name`, saying what to use instead."""
    if name.startswith("__"):
        return AttributeError(f"module {module_name!r} has no attribute {name!r}")
    hint = SUBSTITUTES.get(module_name, {}).get(name)
    if hint is None:
        short = module_name.replace("tinygrad_cnn", "tc").replace("tc.nn.functional", "F")
        by_lower = {n.lower(): n for n in namespace if not n.startswith("_")}
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
        hint = f"did you mean {short}.{by_lower[close[0]]}?" if close else "see README.md, 'Porting PyTorch code'"
    return AttributeError(f"{module_name} has no {name!r}; {hint}")
