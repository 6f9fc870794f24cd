"""Drop-in replacements for CPython modules, built on winsock_ov (see ``overlapped``)."""
