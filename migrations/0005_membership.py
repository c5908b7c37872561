from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from enum import StrEnum


class MemberState(StrEnum):
    # Frozen by makemigrations from `from models.members.tables import MemberState`.
    VISITOR = 'visitor'
    MEMBER = 'member'
    LEFT = 'left'
    DISMISSED = 'dismissed'
    RESIGNED = 'resigned'
    BANNED = 'banned'


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0004_totp_secret_sealed')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Ban',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='bans', on_delete=OnDelete.CASCADE)),
                ('discord_id', fields.BigIntField(null=True, db_index=True)),
                ('steam_id', fields.BigIntField(null=True, db_index=True)),
                ('email', fields.CharField(null=True, db_index=True, max_length=254)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.ForeignKeyField('drivershub.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='bans_made', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('lifted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lifted_by', fields.ForeignKeyField('drivershub.User', source_field='lifted_by_id', null=True, db_constraint=True, to_field='id', related_name='bans_lifted', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'bans', 'app': 'drivershub', 'pk_attr': 'id', 'table_description': 'A ban by identity: whoever has this Discord id, Steam id or e-mail address.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MembershipChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='membership_changes', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='changes', on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('drivershub.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='membership_changes', on_delete=OnDelete.SET_NULL)),
                ('action', fields.CharField(max_length=32)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'membership_changes', 'app': 'drivershub', 'pk_attr': 'id', 'table_description': 'One row per change of a membership: who did what, when and why (never edited).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StaffNote',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='staff_notes', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('drivershub.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('drivershub.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='staff_notes', on_delete=OnDelete.SET_NULL)),
                ('text', fields.CharField(max_length=2000)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'staff_notes', 'app': 'drivershub', 'pk_attr': 'id', 'table_description': 'A note staff keep on a member (members never see it).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Hub',
            name='member_numbers',
            field=fields.IntField(default=0),
        ),
        ops.AlterModelOptions(
            name='Member',
            options={'table': 'members', 'app': 'drivershub', 'unique_together': (('hub', 'user'), ('hub', 'number')), 'pk_attr': 'id', 'table_description': 'A user known to a hub: a visitor, a member, or a former member (history is kept).'},
        ),
        ops.AlterField(
            model_name='Member',
            name='joined_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Member',
            name='number',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='ended_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='first_seen_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=True),
        ),
        ops.AddField(
            model_name='Member',
            name='in_guild',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='Member',
            name='last_seen_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='state',
            field=fields.CharEnumField(default=MemberState.VISITOR, description='VISITOR: visitor\nMEMBER: member\nLEFT: left\nDISMISSED: dismissed\nRESIGNED: resigned\nBANNED: banned', enum_type=MemberState, max_length=16),
        ),
        # Guild presence is no longer membership (issue 11). Rows with role grants, points or
        # a ban stay members (or banned); every other row becomes a visitor, and its number
        # is retired: the hub's counter starts above every number given so far.
        ops.RunSQL(
            [
                "UPDATE hubs SET member_numbers = COALESCE("
                "(SELECT MAX(m.number) FROM members m WHERE m.hub_id = hubs.id), 0)",
                "UPDATE members SET first_seen_at = joined_at",
                "UPDATE members SET state = 'member' WHERE points <> 0 "
                "OR id IN (SELECT member_id FROM member_roles)",
                "UPDATE members SET state = 'banned' WHERE status = 'banned'",
                "UPDATE members SET in_guild = FALSE WHERE status <> 'active'",
                "UPDATE members SET number = NULL, joined_at = NULL WHERE state = 'visitor'",
            ]
        ),
        ops.RemoveField(model_name='Member', name='status'),
    ]
