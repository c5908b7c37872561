from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum
from datetime import datetime, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Period(StrEnum):
    # Frozen by makemigrations from `from models.points.tables import Period`.
    DAY = 'day'
    WEEK = 'week'
    MONTH = 'month'
    YEAR = 'year'


class PointKind(StrEnum):
    # Frozen by makemigrations from `from models.points.tables import PointKind`.
    DISTANCE = 'distance'
    EVENT = 'event'
    CHALLENGE = 'challenge'
    DIVISION = 'division'
    BONUS = 'bonus'
    MANUAL = 'manual'
    CORRECTION = 'correction'


async def opening_balances(apps, schema_editor) -> None:
    """Points held before the ledger existed become one "opening balance" correction row per
    member (counting on 1970-01-01, so no current period or leaderboard changes), its per-kind
    total and its period sums (the hub's calendar, as bookings keep them): the ledger then sums
    to every member's total, and a rebuild from it finds the same figures."""
    import zoneinfo
    from datetime import timedelta

    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"

    def epoch_periods(timezone_name: str | None) -> list[tuple[str, object]]:
        try:
            zone = zoneinfo.ZoneInfo(timezone_name or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        day = EPOCH.astimezone(zone).date()
        return [
            ("day", day),
            ("week", day - timedelta(days=day.weekday())),
            ("month", day.replace(day=1)),
            ("year", day.replace(month=1, day=1)),
        ]

    def marks(count: int) -> str:
        return ", ".join(f"${i}" for i in range(1, count + 1)) if postgres else ", ".join("?" * count)

    _, rows = await client.execute_query(
        "SELECT m.id, m.hub_id, m.points, h.timezone FROM members m"
        " JOIN hubs h ON h.id = m.hub_id WHERE m.points <> 0"
    )
    for row in rows:
        await client.execute_query(
            "INSERT INTO point_entries (hub_id, member_id, kind, amount, reason, source,"
            f" counts_at, created_at) VALUES ({marks(8)})",
            [
                row["hub_id"],
                row["id"],
                "correction",
                row["points"],
                "opening balance",
                "migration:0007",
                EPOCH,
                EPOCH,
            ],
        )
        await client.execute_query(
            f"INSERT INTO point_totals (member_id, kind, total) VALUES ({marks(3)})",
            [row["id"], "correction", row["points"]],
        )
        for period, start in epoch_periods(row["timezone"]):
            for kind in ("correction", "all"):
                await client.execute_query(
                    "INSERT INTO point_periods (hub_id, member_id, period, start, kind, amount)"
                    f" VALUES ({marks(6)})",
                    [row["hub_id"], row["id"], period, start, kind, row["points"]],
                )


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0006_roles_directory')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PointEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='point_entries', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='point_entries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='DISTANCE: distance\nEVENT: event\nCHALLENGE: challenge\nDIVISION: division\nBONUS: bonus\nMANUAL: manual\nCORRECTION: correction', enum_type=PointKind, max_length=16)),
                ('amount', fields.BigIntField()),
                ('reason', fields.CharField(default='', max_length=500)),
                ('source', fields.CharField(default='', max_length=64)),
                ('dedupe_key', fields.CharField(null=True, max_length=96)),
                ('actor', fields.ForeignKeyField('drivershub.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='point_entries', on_delete=OnDelete.SET_NULL)),
                ('counts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'point_entries', 'app': 'drivershub', 'unique_together': (('hub', 'dedupe_key'),), 'indexes': [Index(fields=['member_id', 'id']), Index(fields=['hub_id', 'counts_at'])], 'pk_attr': 'id', 'table_description': 'One row of the ledger: never edited, never deleted (a correction is another row).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BonusClaim',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='bonus_claims', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('amount', fields.BigIntField()),
                ('streak', fields.IntField(default=1)),
                ('entry', fields.ForeignKeyField('drivershub.PointEntry', source_field='entry_id', null=True, db_constraint=True, to_field='id', related_name='bonus_claim', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'bonus_claims', 'app': 'drivershub', 'unique_together': (('member', 'day'),), 'pk_attr': 'id', 'table_description': "A member's daily bonus on one day of their calendar: one per day (the unique index)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointPeriod',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='point_periods', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='point_periods', on_delete=OnDelete.CASCADE)),
                ('period', fields.CharEnumField(description='DAY: day\nWEEK: week\nMONTH: month\nYEAR: year', enum_type=Period, max_length=8)),
                ('start', fields.DateField()),
                ('kind', fields.CharField(max_length=16)),
                ('amount', fields.BigIntField(default=0)),
            ],
            options={'table': 'point_periods', 'app': 'drivershub', 'unique_together': (('member', 'period', 'start', 'kind'),), 'indexes': [Index(fields=['hub_id', 'period', 'start', 'kind', 'amount'])], 'pk_attr': 'id', 'table_description': "A member's sum of one kind (or `all`) in one day, week, month or year (hub time)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointTotal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='point_totals', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='DISTANCE: distance\nEVENT: event\nCHALLENGE: challenge\nDIVISION: division\nBONUS: bonus\nMANUAL: manual\nCORRECTION: correction', enum_type=PointKind, max_length=16)),
                ('total', fields.BigIntField(default=0)),
            ],
            options={'table': 'point_totals', 'app': 'drivershub', 'unique_together': (('member', 'kind'),), 'pk_attr': 'id', 'table_description': "A member's all-time total of one kind (their overall total is `Member.points`)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Rank',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='ranks', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('color', fields.IntField(default=0)),
                ('threshold', fields.BigIntField()),
                ('kinds', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('discord_role_id', fields.BigIntField(null=True)),
                ('daily_bonus', fields.IntField(default=0)),
                ('distance_bonus', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ranks', 'app': 'drivershub', 'unique_together': (('hub', 'name'), ('hub', 'threshold')), 'pk_attr': 'id', 'table_description': "A step of the hub's rank ladder: reached at `threshold` points (of `kinds`, or all)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Member',
            name='rank',
            field=fields.ForeignKeyField('drivershub.Rank', source_field='rank_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.SET_NULL),
        ),
        ops.RunPython(opening_balances, ops.RunPython.noop),
    ]
