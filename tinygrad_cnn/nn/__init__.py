"""Neural-network building blocks. `tinygrad_cnn.nn.functional` holds the functional ops."""
from . import functional  # noqa: F401
