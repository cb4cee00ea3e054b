"""The local Ray cluster of the distributed tests: 2 CPUs, no GPU, workers at nice 0."""

from __future__ import annotations

import os
import sys


def start_cpu_cluster(ray, module_name: str) -> None:
    """``ray.init`` as the CI machine has it. The calling test module's pipelines travel to the
    workers by value (the workers cannot import tests/); CPU actors only, even where Ray would
    find a GPU; workers at nice 0, as in a cluster ``run_jobs`` starts itself (Ray's default,
    15, starves them on a busy CI machine)."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[module_name])
    before = os.environ.get("RAY_worker_niceness")
    os.environ["RAY_worker_niceness"] = "0"
    try:
        ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, configure_logging=False, log_to_driver=False)
    finally:
        if before is None:
            os.environ.pop("RAY_worker_niceness")
        else:
            os.environ["RAY_worker_niceness"] = before
