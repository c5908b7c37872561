from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class IntakeState(StrEnum):
    # Frozen by makemigrations from `from models.tracker.tables import IntakeState`.
    PENDING = 'pending'
    DONE = 'done'
    IGNORED = 'ignored'
    FAILED = 'failed'


class JobStatus(StrEnum):
    # Frozen by makemigrations from `from models.tracker.tables import JobStatus`.
    DELIVERED = 'delivered'
    CANCELLED = 'cancelled'


class TrackerKind(StrEnum):
    # Frozen by makemigrations from `from models.tracker.tables import TrackerKind`.
    TRACKSIM = 'tracksim'
    TRUCKY = 'trucky'
    TRUCKLINEMP = 'trucklinemp'
    CUSTOM = 'custom'


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0016_post_continuation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TrackerChoice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='tracker_choices', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tracker_choices', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='TRACKSIM: tracksim\nTRUCKY: trucky\nTRUCKLINEMP: trucklinemp\nCUSTOM: custom', enum_type=TrackerKind, max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'tracker_choices', 'app': 'drivershub', 'unique_together': (('hub', 'user'),), 'pk_attr': 'id', 'table_description': 'The tracker a member drives with in a hub: jobs from another one do not count (a hub'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TrackerConnection',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='tracker_connections', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='TRACKSIM: tracksim\nTRUCKY: trucky\nTRUCKLINEMP: trucklinemp\nCUSTOM: custom', enum_type=TrackerKind, max_length=16)),
                ('secret', fields.TextField(unique=False)),
                ('previous_secret', fields.TextField(default='', unique=False)),
                ('previous_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('allowed_ips', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'tracker_connections', 'app': 'drivershub', 'unique_together': (('hub', 'kind'),), 'pk_attr': 'id', 'table_description': "A hub's webhook from one tracker: the secret it signs with (sealed), the previous"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TrackerIntake',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='tracker_intake', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='TRACKSIM: tracksim\nTRUCKY: trucky\nTRUCKLINEMP: trucklinemp\nCUSTOM: custom', enum_type=TrackerKind, max_length=16)),
                ('event', fields.CharField(default='', max_length=64)),
                ('dedupe_key', fields.CharField(null=True, max_length=128)),
                ('payload', fields.TextField(default='', unique=False)),
                ('state', fields.CharEnumField(default=IntakeState.PENDING, description='PENDING: pending\nDONE: done\nIGNORED: ignored\nFAILED: failed', enum_type=IntakeState, max_length=8)),
                ('error', fields.CharField(default='', max_length=1000)),
                ('attempts', fields.IntField(default=0)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_token', fields.CharField(default='', max_length=32)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tracker_intake', 'app': 'drivershub', 'unique_together': (('hub', 'dedupe_key'),), 'indexes': [Index(fields=['state', 'id']), Index(fields=['hub_id', 'state', 'id'])], 'pk_attr': 'id', 'table_description': 'One webhook delivery, stored before it is acknowledged and processed from here. The'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.CASCADE)),
                ('tracker', fields.CharEnumField(description='TRACKSIM: tracksim\nTRUCKY: trucky\nTRUCKLINEMP: trucklinemp\nCUSTOM: custom', enum_type=TrackerKind, max_length=16)),
                ('tracker_job_id', fields.CharField(max_length=64)),
                ('intake', fields.ForeignKeyField('drivershub.TrackerIntake', source_field='intake_id', null=True, db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharEnumField(description='DELIVERED: delivered\nCANCELLED: cancelled', enum_type=JobStatus, max_length=12)),
                ('steam_id', fields.BigIntField(null=True)),
                ('driver_name', fields.CharField(default='', max_length=200)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.SET_NULL)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.SET_NULL)),
                ('unmatched', fields.CharField(default='', max_length=32)),
                ('game', fields.CharField(max_length=8)),
                ('currency', fields.CharField(max_length=3)),
                ('market', fields.CharField(default='', max_length=32)),
                ('multiplayer', fields.CharField(default='', max_length=32)),
                ('server', fields.CharField(default='', max_length=200)),
                ('truck', fields.CharField(default='', max_length=200)),
                ('trailer', fields.CharField(default='', max_length=200)),
                ('cargo', fields.CharField(default='', max_length=200)),
                ('cargo_mass_kg', fields.FloatField(default=0)),
                ('source_city', fields.CharField(default='', max_length=200)),
                ('source_company', fields.CharField(default='', max_length=200)),
                ('destination_city', fields.CharField(default='', max_length=200)),
                ('destination_company', fields.CharField(default='', max_length=200)),
                ('planned_km', fields.FloatField(default=0)),
                ('driven_km', fields.FloatField(default=0)),
                ('revenue', fields.FloatField(default=0)),
                ('penalty', fields.FloatField(default=0)),
                ('fuel_l', fields.FloatField(default=0)),
                ('damage', fields.FloatField(default=0)),
                ('top_speed_kmh', fields.FloatField(default=0)),
                ('fines', fields.FloatField(default=0)),
                ('tolls', fields.FloatField(default=0)),
                ('ferries', fields.FloatField(default=0)),
                ('realistic', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'jobs', 'app': 'drivershub', 'unique_together': (('hub', 'tracker', 'tracker_job_id'),), 'indexes': [Index(fields=['hub_id', 'member_id', 'id']), Index(fields=['hub_id', 'unmatched', 'id'])], 'pk_attr': 'id', 'table_description': 'A job as one model, whatever tracker reported it: distances in km, speeds in km/h,'},
            bases=['Model'],
        ),
    ]
