"""Shared by the benchmark scripts: time one command as a fresh process."""

from __future__ import annotations

import subprocess
import time


def timed(argv: list[str]) -> float:
    """Wall-clock seconds of ``argv`` run to completion; exits with its stderr when it fails."""
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed
