"""Optimizers and learning-rate schedulers, with PyTorch's names, options and update rules.

    from tinygrad_cnn import optim
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)

Optimizers update the parameter arrays in place (`p.array`), on numpy or cupy alike.
"""
from . import lr_scheduler  # noqa: F401
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]


def __getattr__(name):  # a PyTorch name this module lacks: one line saying what to use instead
    from .._porting import missing_name  # noqa: PLC0415 (only on a failed lookup)
    raise missing_name(__name__, name, globals())
