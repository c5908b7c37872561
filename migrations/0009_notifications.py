from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class BroadcastStatus(StrEnum):
    # Frozen by makemigrations from `from models.notifications.tables import BroadcastStatus`.
    PENDING = 'pending'
    DONE = 'done'


class DmState(StrEnum):
    # Frozen by makemigrations from `from models.notifications.tables import DmState`.
    NONE = 'none'
    WAITING = 'waiting'
    TAKEN = 'taken'


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0008_member_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Broadcast',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='broadcasts', on_delete=OnDelete.CASCADE)),
                ('role_id', fields.BigIntField(null=True)),
                ('kind', fields.CharField(max_length=64)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=BroadcastStatus.PENDING, description='PENDING: pending\nDONE: done', enum_type=BroadcastStatus, max_length=8)),
                ('cursor', fields.BigIntField(default=0)),
                ('delivered', fields.IntField(default=0)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification_broadcasts', 'app': 'drivershub', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'A notification for every member of a hub (or of one of its roles), fanned out in'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=64)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('in_app', fields.BooleanField(default=True)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('dm_state', fields.CharEnumField(default=DmState.NONE, description='NONE: none\nWAITING: waiting\nTAKEN: taken', enum_type=DmState, max_length=8)),
                ('dm_item_id', fields.BigIntField(null=True)),
                ('broadcast_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'notifications', 'app': 'drivershub', 'unique_together': (('broadcast_id', 'user_id'),), 'indexes': [Index(fields=['user_id', 'in_app', 'read_at']), Index(fields=['user_id', 'dm_state']), Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': "One thing one person is told. Rendered in the reader's language when read or sent."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationPreference',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notification_preferences', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=64)),
                ('channel', fields.CharField(max_length=16)),
                ('enabled', fields.BooleanField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'notification_preferences', 'app': 'drivershub', 'unique_together': (('user_id', 'kind', 'channel'),), 'pk_attr': 'id', 'table_description': 'A reader\'s choice for one kind (or "*": every kind) on one channel.'},
            bases=['Model'],
        ),
    ]
