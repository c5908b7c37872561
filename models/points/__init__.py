"""The points package (core, always on): one ledger, totals and period sums kept from it,
the rank ladder, and the daily bonus.

- `tables`: the rows. `ledger`: `book` (what other packages call), staff grants and
  corrections. `ranks`: the ladder and `settle_rank`. `bonus`: daily claims. `reads`: totals,
  the ledger listing, leaderboards, and the rebuild.

Only the tables are imported here: the registry imports this package's settings, and the
operations import the registry.
"""

from models.points.tables import (
    ALL,
    MAX_AMOUNT,
    BonusClaim,
    Period,
    PointEntry,
    PointKind,
    PointPeriod,
    PointTotal,
    Rank,
)

__all__ = [
    "ALL",
    "MAX_AMOUNT",
    "BonusClaim",
    "Period",
    "PointEntry",
    "PointKind",
    "PointPeriod",
    "PointTotal",
    "Rank",
]
