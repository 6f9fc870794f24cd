#!/usr/bin/env python3
"""Provision and drive winsock_ov's Windows test environment on Linux.

Winsock is exercised for real by running the official embeddable Windows CPython
under Wine; this script, run with the Linux ``python3``, does every step itself
(Wine and mingw-w64 from Debian when missing, the interpreters, their pinned
wheels, CPython's test suites), so a fresh machine or CI needs nothing
installed by hand.  Subcommands: ``test`` (every tier, on parallel workers;
options select tiers), ``demo``, ``run VERSION ARGS...``, ``abi [--update]``
and ``bench``.  The work is done by the ``testbed`` package beside this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testbed.cli import main

if __name__ == "__main__":
    sys.exit(main())
