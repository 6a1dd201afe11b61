"""The web container's health check: ``python -m ops.probe`` exits 0 when /healthz is 200.

Standard library only, so it starts in a few milliseconds without loading Django. It asks
with a host name from ``ALLOWED_HOSTS`` (else Django would refuse the request as
``127.0.0.1``), over plain HTTP: /healthz is exempt from the HTTPS redirect.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def host_header(allowed_hosts: str) -> str:
    """A name that ``ALLOWED_HOSTS`` accepts: ``.example.org`` → ``example.org``."""
    for pattern in allowed_hosts.split(","):
        name = pattern.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def main() -> int:
    port = os.environ.get("PROBE_PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Host": host_header(os.environ.get("ALLOWED_HOSTS", ""))},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"healthz: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
