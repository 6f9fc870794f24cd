"""Twisted, with what its IOCP reactor and its tests need, for a Windows CPython under Wine.

``ensure_twisted(env, version)`` returns a folder holding, unpacked from pinned
win_amd64 wheels: Twisted (the newest on PyPI; it needs Python 3.10+), its
dependencies, what its TLS tests need (pyOpenSSL, service_identity,
cryptography), what its test extra names (hypothesis, PyHamcrest, httpx,
cython-test-exception-raiser), pywin32 (the IOCP reactor module imports
``twisted.internet._dumbwin32proc``, which imports ``pywintypes``: without it the
reactor does not import at all) and the compiled ``twisted-iocpsupport``.

pywin32 ships ``.pth`` files that set up its DLL folder: a process must add the
folder with ``site.addsitedir(folder)``, not just put it on ``sys.path``.  The
wheels are kept apart from the interpreter's own ``site-packages``, so the other
tiers never see Twisted.

Every distribution is pinned (``pins.TWISTED_WHEELS``) and downloaded with
``--no-deps``: every machine gets exactly these.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from .env import Env, StepError, check, recreate, stamped, step, write_stamp
from .pins import COMPILED_IOCPSUPPORT, TWISTED_PYTHONS, TWISTED_VERSION, TWISTED_WHEELS
from .provision import ensure_debian_packages


def twisted_folder(env: Env, version: str) -> Path:
    return env.cache / "twisted" / ("cp" + version.replace(".", ""))


def ensure_twisted(env: Env, version: str) -> Path:
    """The folder of Twisted and its pinned companions for Windows CPython ``version``
    (downloaded and unpacked once; a stamp tells a later run it is there)."""
    if version not in TWISTED_PYTHONS:
        raise StepError(f"Twisted {TWISTED_VERSION} is provisioned for Windows CPython "
                        f"{', '.join(TWISTED_PYTHONS)}, not {version}")
    folder = twisted_folder(env, version)
    inputs = json.dumps([TWISTED_WHEELS, PROCESS_PRNG_C])
    if stamped(folder, inputs):
        return folder
    downloads = env.downloads / ("twisted-cp" + version.replace(".", ""))
    with step(env, f"download Twisted {TWISTED_VERSION}, pywin32 and {COMPILED_IOCPSUPPORT} "
                   f"for Windows CPython {version}"):
        recreate(downloads)
        check(env, "pip download Twisted's wheels", [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary", ":all:", "--platform", "win_amd64", "--python-version", version,
            "--implementation", "cp", "-d", str(downloads), *TWISTED_WHEELS,
        ])
    with step(env, f"unpack Twisted's wheels into {folder}"):
        recreate(folder)
        wheels = sorted(downloads.glob("*.whl"))
        if len(wheels) != len(TWISTED_WHEELS):
            raise StepError(f"pip download left {len(wheels)} wheels in {downloads}, "
                            f"not {len(TWISTED_WHEELS)}")
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(folder)
    build_process_prng(env, folder / "cryptography" / "hazmat" / "bindings")
    write_stamp(folder, inputs)
    return folder


# ProcessPrng as bcryptprimitives.dll exports it on Windows 10 and later:
# BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData), always TRUE there.
PROCESS_PRNG_C = r"""
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
"""


def build_process_prng(env: Env, folder: Path) -> Path:
    """bcryptprimitives.dll exporting ProcessPrng, built into ``folder`` (see above)."""
    ensure_debian_packages(env)
    dll = folder / "bcryptprimitives.dll"
    with step(env, f"build {dll.name} (ProcessPrng, which Wine 8 lacks) into {folder}"):
        source, exports = folder / "process_prng.c", folder / "process_prng.def"
        source.write_text(PROCESS_PRNG_C)
        exports.write_text("LIBRARY bcryptprimitives\nEXPORTS\n    ProcessPrng\n")
        check(env, "x86_64-w64-mingw32-gcc", [
            "x86_64-w64-mingw32-gcc", "-O2", "-Wall", "-Werror", "-shared", "-o", str(dll),
            str(source), str(exports), "-ladvapi32"])
        source.unlink()
        exports.unlink()
    return dll
