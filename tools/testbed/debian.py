"""Packages of other Debian releases, downloaded and unpacked into the cache, never
installed: CPython's own test suites and the Python docs' Sphinx inventory.

apt runs with a configuration private to the cache (its own sources, lists,
package cache and an empty status); only Debian's archive keyring and the
archive this machine's apt already uses are shared with the machine.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from .env import Env, StepError, check, recreate, stamped, step, write_stamp
from .pins import ASYNCIO_SUITES, PYTHON_DOC_INVENTORY

DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_SOURCES = Path("/etc/apt")


def debian_archive_uri(apt_dir: Path = APT_SOURCES) -> str:
    """The Debian archive this machine's own apt uses (its main suite, not security)."""
    entries: list[tuple[str, str]] = []  # (URI, suites)
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines()
                          if ":" in line and not line.startswith(("#", " ")))
            if "deb" in fields.get("Types", "").split() and "URIs" in fields:
                entries.append((fields["URIs"].split()[0], fields.get("Suites", "")))
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], words[2]))
    for uri, suites in entries:
        if "/debian" in uri and "security" not in uri and "-" not in suites.split()[0]:
            return uri
    raise StepError(f"no Debian archive found in {apt_dir}'s sources: the asyncio suites "
                    "are fetched from the archive this machine's apt uses")


def private_apt(env: Env, release: str) -> list[str]:
    """apt-get options for ``release`` in a configuration of the cache's own, updated."""
    folder = env.cache / "apt" / release
    sources = folder / "debian.sources"
    (folder / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (folder / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources.write_text(f"Types: deb\nURIs: {debian_archive_uri()}\nSuites: {release}\n"
                       f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n")
    options = [
        "-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={folder / 'lists'}", "-o", f"Dir::Cache={folder / 'cache'}",
        "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root",
        "-qq",
    ]
    check(env, f"apt-get update ({release})", ["apt-get", *options, "update"])
    return options


@contextlib.contextmanager
def debian_packages_unpacked(env: Env, release: str, packages: Sequence[str],
                             folder: Path) -> Iterator[Path]:
    """``packages`` (``name=version``) of Debian ``release``, downloaded with the
    cache's private apt configuration into ``folder`` and unpacked there, never
    installed; the download and the unpacked tree are removed afterwards."""
    options = private_apt(env, release)
    debs, unpacked = folder / "debs", folder / "unpacked"
    debs.mkdir()
    try:
        check(env, "apt-get download", ["apt-get", *options, "download", *packages], cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            check(env, f"dpkg-deb -x {deb.name}", ["dpkg-deb", "-x", str(deb), str(unpacked)])
        yield unpacked
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
        shutil.rmtree(debs, ignore_errors=True)


def asyncio_testsuite(version: str) -> str:
    """The pinned Debian package CPython ``version``'s test suite comes from."""
    release, pin = ASYNCIO_SUITES[version]
    return f"libpython{version}-testsuite={pin} ({release})"


def ensure_asyncio_tests(env: Env, version: str) -> Path:
    """A folder holding the ``test`` package of CPython ``version``: test_asyncio and
    test.support, from the pinned Debian packages."""
    release, pin = ASYNCIO_SUITES[version]
    folder = env.cache / "asyncio-tests" / version
    packages = [f"libpython{version}-testsuite={pin}", f"libpython{version}-stdlib={pin}"]
    inputs = " ".join([release, *packages])
    if stamped(folder, inputs):
        return folder / "lib"
    with step(env, f"download and unpack Debian {release}'s {', '.join(packages)}"):
        recreate(folder)
        with debian_packages_unpacked(env, release, packages, folder) as unpacked:
            source = unpacked / "usr" / "lib" / f"python{version}" / "test"
            if not (source / "test_asyncio").is_dir() or not (source / "support").is_dir():
                raise StepError(f"{', '.join(packages)} hold no test_asyncio and test.support")
            (folder / "lib").mkdir()
            shutil.copytree(source, folder / "lib" / "test")
        write_stamp(folder, inputs)
    return folder / "lib"


def ensure_python_inventory(env: Env) -> Path:
    """The Python documentation's ``objects.inv``, from the pinned Debian package
    (PYTHON_DOC_INVENTORY; downloaded and unpacked, not installed)."""
    release, package, pin = PYTHON_DOC_INVENTORY
    folder = env.cache / "python-inventory"
    inputs = f"{release} {package}={pin}"
    if stamped(folder, inputs):
        return folder / "objects.inv"
    with step(env, f"download Debian {release}'s {package}={pin} for its objects.inv"):
        recreate(folder)
        with debian_packages_unpacked(env, release, [f"{package}={pin}"], folder) as unpacked:
            found = sorted(unpacked.glob("usr/share/doc/*/html/objects.inv"))
            if not found:
                raise StepError(f"{package}={pin} holds no html/objects.inv")
            shutil.copyfile(found[0], folder / "objects.inv")
        write_stamp(folder, inputs)
    return folder / "objects.inv"
