"""`drivershub web` with every SQL statement written to a file (a helper of run.py).

Usage: python tests/benchmarks/querylog_web.py QUERY_LOG_FILE

Tortoise logs each statement on the `tortoise.db_client` logger at DEBUG; this attaches a
handler there that writes one line per statement to QUERY_LOG_FILE (line-buffered, so a
statement is in the file before its request is answered) and starts the same server as
`drivershub web`. run.py notes the file's size around each request to tell which statements
a request ran (part 9: no points read may touch the ledger).
"""

from __future__ import annotations

import logging
import sys


class QueryLog(logging.Handler):
    def __init__(self, path: str) -> None:
        super().__init__(logging.DEBUG)
        self.file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the process

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        self.file.write(message.replace("\n", " ") + "\n")


def main() -> int:
    logger = logging.getLogger("tortoise.db_client")
    logger.setLevel(logging.DEBUG)  # its own level: setup_logging sets only "tortoise"
    logger.propagate = False  # not to the server's stderr log
    logger.addHandler(QueryLog(sys.argv[1]))
    from bot.cli import main as drivershub

    return drivershub(["web"])


if __name__ == "__main__":
    sys.exit(main())
