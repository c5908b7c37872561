from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class ActionKind(StrEnum):
    # Frozen by makemigrations from `from models.discord_actions import ActionKind`.
    ADD_ROLE = 'add_role'
    REMOVE_ROLE = 'remove_role'
    NICKNAME = 'nickname'
    POST = 'post'
    DELETE_POST = 'delete_post'


class Audience(StrEnum):
    # Frozen by makemigrations from `from models.posts.tables import Audience`.
    PUBLIC = 'public'
    MEMBERS = 'members'


class PostState(StrEnum):
    # Frozen by makemigrations from `from models.posts.tables import PostState`.
    PENDING = 'pending'
    POSTED = 'posted'
    DELETED = 'deleted'
    FAILED = 'failed'


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0009_notifications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PostDestination',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='post_destinations', on_delete=OnDelete.CASCADE)),
                ('trigger', fields.CharField(max_length=64)),
                ('channel_id', fields.BigIntField(null=True)),
                ('webhook_url', fields.TextField(null=True, unique=False)),
                ('webhook_id', fields.BigIntField(null=True)),
                ('content', fields.TextField(default='', unique=False)),
                ('embed', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('audience', fields.CharEnumField(default=Audience.PUBLIC, description='PUBLIC: public\nMEMBERS: members', enum_type=Audience, max_length=8)),
                ('enabled', fields.BooleanField(default=True)),
                ('last_error', fields.CharField(default='', max_length=500)),
                ('created_by', fields.ForeignKeyField('drivershub.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='post_destinations', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'post_destinations', 'app': 'drivershub', 'indexes': [Index(fields=['hub_id', 'trigger', 'enabled'])], 'pk_attr': 'id', 'table_description': 'One place a trigger is posted to: a channel (the bot posts) or a webhook URL.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostedMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='posted_messages', on_delete=OnDelete.CASCADE)),
                ('destination', fields.ForeignKeyField('drivershub.PostDestination', source_field='destination_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharField(max_length=64)),
                ('channel_id', fields.BigIntField(null=True)),
                ('message_id', fields.BigIntField(null=True)),
                ('state', fields.CharEnumField(default=PostState.PENDING, description='PENDING: pending\nPOSTED: posted\nDELETED: deleted\nFAILED: failed', enum_type=PostState, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'posted_messages', 'app': 'drivershub', 'indexes': [Index(fields=['hub_id', 'source'])], 'pk_attr': 'id', 'table_description': 'A message posted (or to be posted) for a source object at one destination, so edits'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='DiscordAction',
            name='kind',
            field=fields.CharEnumField(description='ADD_ROLE: add_role\nREMOVE_ROLE: remove_role\nNICKNAME: nickname\nPOST: post\nDELETE_POST: delete_post', enum_type=ActionKind, max_length=16),
        ),
    ]
