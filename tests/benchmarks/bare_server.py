"""The baseline: a bare aiohttp app serving fixed JSON bytes (a helper of run.py).

Usage: python tests/benchmarks/bare_server.py PORT BODY_FILE
Serves the file's bytes as application/json at every GET path, on 127.0.0.1 only, with no
middleware and no access log: the most a single aiohttp process can do for this response.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web


def make_app(body: bytes) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


def main() -> int:
    port, body_file = int(sys.argv[1]), Path(sys.argv[2])
    web.run_app(
        make_app(body_file.read_bytes()),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        handle_signals=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
