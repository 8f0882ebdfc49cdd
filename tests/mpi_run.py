"""Running a script on several MPI ranks from a test: `mpiexec -n K` with this interpreter,
loopback only, a timeout, and each rank's result read back from a file it writes."""
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def mpi_available():
    try:
        import mpi4py  # noqa: F401, PLC0415 (only to see whether the extra is installed)
    except ImportError:
        return False
    return MPIEXEC is not None


needs_mpi = pytest.mark.skipif(not mpi_available(), reason="needs mpi4py and mpiexec (pip install -e '.[mpi]')")


def mpi_env(extra=None):
    """The environment of a test run: the checkout on the path, Open MPI allowed as root, its
    TCP transport on loopback, one BLAS thread per rank (the machine has 2 cores)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.update(extra or {})
    return env


def run_ranks(ranks, argv, cwd, timeout=60, env=None):
    """Run `python argv...` on `ranks` ranks; returns the CompletedProcess (stdout+stderr text)."""
    command = [MPIEXEC, "-n", str(ranks), "--oversubscribe", sys.executable, *argv]
    return subprocess.run(command, cwd=cwd, env=mpi_env(env), capture_output=True, text=True, timeout=timeout)


def run_script(ranks, source, tmp_path, timeout=60, args=()):
    """Write `source` to a file and run it on `ranks` ranks; each rank writes rank<r>.json
    (a dict) through `report(...)`, defined for the script. Returns the list of those dicts."""
    script = tmp_path / "rank_script.py"
    script.write_text(_PRELUDE + source)
    proc = run_ranks(ranks, [str(script), *map(str, args)], cwd=tmp_path, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(ranks)]


_PRELUDE = '''import json
import numpy as np
import tinygrad_cnn as tc
from tinygrad_cnn import distributed as dist

WORLD = dist.init()


def report(**values):
    plain = {k: (np.asarray(v).tolist() if hasattr(v, "shape") or isinstance(v, list) else v) for k, v in values.items()}
    with open(f"rank{WORLD.rank}.json", "w") as f:
        json.dump(plain, f)


'''
