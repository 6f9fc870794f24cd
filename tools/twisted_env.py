"""Twisted, with what its IOCP reactor and its tests need, for a Windows CPython under Wine.

``ensure_twisted(env, version)`` returns a folder holding, unpacked from pinned
win_amd64 wheels: Twisted (the newest on PyPI; it needs Python 3.10+), its
dependencies, what its TLS tests need (pyOpenSSL, service_identity,
cryptography), what its test extra names (hypothesis, PyHamcrest, httpx,
cython-test-exception-raiser), pywin32 (the IOCP reactor module imports
``twisted.internet._dumbwin32proc``, which imports ``pywintypes``: without it the
reactor does not import at all) and the compiled ``twisted-iocpsupport``.

pywin32 ships ``.pth`` files that set up its DLL folder: a process must add the
folder with ``site.addsitedir(folder)`` (``activate``), not just put it on
``sys.path``.  The wheels are kept apart from the interpreter's own
``site-packages``, so the other tiers never see Twisted.

Every distribution is pinned (the list below is pip's resolution of
``twisted[tls,test]==26.10.0`` for win_amd64, the same for 3.11 and 3.13) and
downloaded with ``--no-deps``: every machine gets exactly these.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]

from winenv import (  # noqa: E402  (after the path set-up)
    Env,
    StepError,
    check,
    ensure_debian_packages,
    recreate,
    stamped,
    step,
    write_stamp,
)

TWISTED_VERSION = "26.10.0"
# The compiled module the drop-in is compared with: wheels for cp39 to cp313.
IOCPSUPPORT_PIN = "twisted-iocpsupport==25.10.1"  # as winenv.WINDOWS_WHEELS pins it
TWISTED_WHEELS = (
    f"twisted=={TWISTED_VERSION}", IOCPSUPPORT_PIN, "pywin32==312",
    # Twisted's own requirements
    "attrs==26.1.0", "automat==25.4.16", "constantly==23.10.4", "hyperlink==21.0.0",
    "idna==3.21", "incremental==24.11.0", "packaging==26.4", "typing-extensions==4.16.0",
    "zope-interface==8.7",
    # the tls extra
    "pyopenssl==26.4.0", "service-identity==26.1.0", "cryptography==50.0.2", "cffi==2.1.1",
    "pycparser==3.12",
    # the test extra
    "hypothesis==6.155.2", "sortedcontainers==2.4.0", "pyhamcrest==2.1.0",
    "cython-test-exception-raiser==26.4.1", "httpx==0.29.0", "httpcore==1.0.9",
    "h11==0.16.0", "h2==4.4.1", "hpack==4.2.0", "hyperframe==6.1.0", "anyio==4.16.0",
    "certifi==2026.10.19.post1",
)
# Twisted needs 3.10+; the suite and the bench run on these.
TWISTED_PYTHONS = ("3.11", "3.13")


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
    with step(env, f"download Twisted {TWISTED_VERSION}, pywin32 and {IOCPSUPPORT_PIN} "
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
