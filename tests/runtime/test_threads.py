"""The OpenMP wait policy set by the entry points before torch is loaded."""

from __future__ import annotations

import os
import subprocess
import sys

from diamond_wm.runtime.threads import use_passive_openmp_wait


def test_passive_unless_the_user_chose():
    env: dict[str, str] = {}
    assert use_passive_openmp_wait(env) and env == {"OMP_WAIT_POLICY": "PASSIVE"}
    for user in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"}):
        env = dict(user)
        assert not use_passive_openmp_wait(env) and env == user


def test_the_entry_points_set_it_before_torch_loads_openmp():
    code = (
        "import os, sys; sys.argv = ['diamond', '--version']\n"
        "from diamond_wm.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import torch\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "PASSIVE"
    demo = "import os, diamond_wm.demo; print(os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run([sys.executable, "-c", demo], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
