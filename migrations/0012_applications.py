from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class ApplicationState(StrEnum):
    # Frozen by makemigrations from `from models.applications.tables import ApplicationState`.
    PENDING = 'pending'
    ACCEPTED = 'accepted'
    DECLINED = 'declined'
    WITHDRAWN = 'withdrawn'


class MemberRule(StrEnum):
    # Frozen by makemigrations from `from models.applications.tables import MemberRule`.
    ANY = 'any'
    MEMBER = 'member'
    NOT_MEMBER = 'not_member'


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0011_session_user_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApplicationType',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='application_types', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('description', fields.TextField(default='', unique=False)),
                ('active', fields.BooleanField(default=True)),
                ('position', fields.IntField(default=0)),
                ('allow_several_pending', fields.BooleanField(default=False)),
                ('cooldown_days', fields.IntField(default=0)),
                ('reviewer_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('review_channel_id', fields.BigIntField(null=True)),
                ('make_member', fields.BooleanField(default=False)),
                ('give_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('remove_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('submit_give_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('submit_remove_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('require_steam', fields.BooleanField(default=False)),
                ('require_verified_email', fields.BooleanField(default=False)),
                ('member_state', fields.CharEnumField(default=MemberRule.ANY, description='ANY: any\nMEMBER: member\nNOT_MEMBER: not_member', enum_type=MemberRule, max_length=16)),
                ('any_of_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('forbidden_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('require_in_guild', fields.BooleanField(default=False)),
                ('form', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'application_types', 'app': 'drivershub', 'indexes': [Index(fields=['hub_id', 'position'])], 'pk_attr': 'id', 'table_description': 'Something people apply for in a hub (driver, staff, event team...), with its form,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Application',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.CASCADE)),
                ('type', fields.ForeignKeyField('drivershub.ApplicationType', source_field='type_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.CASCADE)),
                ('applicant', fields.ForeignKeyField('drivershub.User', source_field='applicant_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.CASCADE)),
                ('answers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('state', fields.CharEnumField(default=ApplicationState.PENDING, description='PENDING: pending\nACCEPTED: accepted\nDECLINED: declined\nWITHDRAWN: withdrawn', enum_type=ApplicationState, max_length=16)),
                ('claimed_by', fields.ForeignKeyField('drivershub.User', source_field='claimed_by_id', null=True, db_constraint=True, to_field='id', related_name='applications_claimed', on_delete=OnDelete.SET_NULL)),
                ('decided_by', fields.ForeignKeyField('drivershub.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='applications_decided', on_delete=OnDelete.SET_NULL)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decision_reason', fields.CharField(default='', max_length=1000)),
                ('effects', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('review_channel_id', fields.BigIntField(null=True)),
                ('review_message_id', fields.BigIntField(null=True)),
                ('review_thread_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'applications', 'app': 'drivershub', 'indexes': [Index(fields=['hub_id', 'id']), Index(fields=['hub_id', 'state', 'id']), Index(fields=['hub_id', 'type_id', 'id']), Index(fields=['hub_id', 'applicant_id', 'id']), Index(fields=['hub_id', 'claimed_by_id', 'id']), Index(fields=['hub_id', 'decided_by_id', 'id']), Index(fields=['hub_id', 'created_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApplicationDraft',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='application_drafts', on_delete=OnDelete.CASCADE)),
                ('type', fields.ForeignKeyField('drivershub.ApplicationType', source_field='type_id', db_constraint=True, to_field='id', related_name='drafts', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', db_constraint=True, to_field='id', related_name='application_drafts', on_delete=OnDelete.CASCADE)),
                ('answers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('step', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'application_drafts', 'app': 'drivershub', 'indexes': [Index(fields=['user_id', 'type_id'])], 'pk_attr': 'id', 'table_description': 'Answers of a Discord form kept between its modals, until submitted or expired.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApplicationMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('drivershub.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('drivershub.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='application_messages', on_delete=OnDelete.SET_NULL)),
                ('from_staff', fields.BooleanField()),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'application_messages', 'app': 'drivershub', 'indexes': [Index(fields=['application_id', 'id'])], 'pk_attr': 'id', 'table_description': "One message of an application's conversation between the applicant and staff."},
            bases=['Model'],
        ),
    ]
