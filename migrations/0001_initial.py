from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from enum import StrEnum


def all_plugins():
    # Frozen by makemigrations from `from models.hubs import all_plugins`: its value at the time.
    return ['announcements',
            'applications',
            'banners',
            'challenges',
            'divisions',
            'downloads',
            'events',
            'tracker',
            'polls',
            'tasks']


class MemberStatus(StrEnum):
    # Frozen by makemigrations from `from models.members import MemberStatus`.
    ACTIVE = 'active'
    LEFT = 'left'
    BANNED = 'banned'


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Hub',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guild_id', fields.BigIntField(null=True, unique=True)),
                ('slug', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=100)),
                ('active', fields.BooleanField(default=True, db_index=True)),
                ('public', fields.BooleanField(default=True)),
                ('language', fields.CharField(default='en', max_length=8)),
                ('distance_unit', fields.CharField(default='km', max_length=2)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('plugins', fields.JSONField(default=all_plugins, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('settings', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('owner_discord_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'hubs', 'app': 'drivershub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KeyValue',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('value', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'key_values', 'app': 'drivershub', 'pk_attr': 'key'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Role',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('position', fields.IntField(default=1)),
                ('color', fields.IntField(default=0)),
                ('permissions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('discord_role_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'roles', 'app': 'drivershub', 'unique_together': (('hub', 'name'), ('hub', 'discord_role_id')), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(max_length=64)),
                ('email', fields.CharField(null=True, unique=True, max_length=254)),
                ('first_name', fields.CharField(default='', max_length=64)),
                ('last_name', fields.CharField(default='', max_length=64)),
                ('password_hash', fields.CharField(null=True, max_length=255)),
                ('is_superuser', fields.BooleanField(default=False)),
                ('is_active', fields.BooleanField(default=True)),
                ('is_verified', fields.BooleanField(default=False)),
                ('discord_id', fields.BigIntField(null=True, unique=True)),
                ('steam_id', fields.BigIntField(null=True, unique=True)),
                ('truckersmp_id', fields.BigIntField(null=True, unique=True)),
                ('avatar', fields.CharField(default='', max_length=512)),
                ('locale', fields.CharField(null=True, max_length=16)),
                ('timezone', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'users', 'app': 'drivershub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', null=True, db_constraint=True, to_field='id', related_name='audit_log', on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('drivershub.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='audit_log', on_delete=OnDelete.CASCADE)),
                ('action', fields.CharField(max_length=64)),
                ('target', fields.CharField(default='', max_length=128)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log', 'app': 'drivershub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('status', fields.CharEnumField(default=MemberStatus.ACTIVE, description='ACTIVE: active\nLEFT: left\nBANNED: banned', enum_type=MemberStatus, max_length=16)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('points', fields.BigIntField(default=0)),
                ('discord_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('discord_admin', fields.BooleanField(default=False)),
            ],
            options={'table': 'members', 'app': 'drivershub', 'unique_together': (('hub', 'user'), ('hub', 'number')), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberRole',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='role_grants', on_delete=OnDelete.CASCADE)),
                ('role', fields.ForeignKeyField('drivershub.Role', source_field='role_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.CASCADE)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'member_roles', 'app': 'drivershub', 'unique_together': (('member', 'role'),), 'pk_attr': 'id', 'table_description': 'A role given to a member in the hub itself (not through a linked Discord role).'},
            bases=['Model'],
        ),
    ]
