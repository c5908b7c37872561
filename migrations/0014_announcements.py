from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum


class Visibility(StrEnum):
    # Frozen by makemigrations from `from models.announcements.tables import Visibility`.
    PUBLIC = 'public'
    MEMBERS = 'members'


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0013_events')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnnouncementType',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='announcement_types', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('publisher_role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'announcement_types', 'app': 'drivershub', 'unique_together': (('hub', 'key'),), 'pk_attr': 'id', 'table_description': 'A kind of announcement (news, event, maintenance...): holders of its publisher roles'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Announcement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.CASCADE)),
                ('type', fields.ForeignKeyField('drivershub.AnnouncementType', source_field='type_id', db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('body_html', fields.TextField(default='', unique=False)),
                ('visibility', fields.CharEnumField(default=Visibility.PUBLIC, description='PUBLIC: public\nMEMBERS: members', enum_type=Visibility, max_length=16)),
                ('pinned', fields.BooleanField(default=False)),
                ('pin_rank', fields.IntField(default=0)),
                ('image_url', fields.CharField(default='', max_length=500)),
                ('ping_role', fields.ForeignKeyField('drivershub.Role', source_field='ping_role_id', null=True, db_constraint=True, to_field='id', related_name='announcement_pings', on_delete=OnDelete.SET_NULL)),
                ('publish_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('published', fields.BooleanField(default=False)),
                ('author', fields.ForeignKeyField('drivershub.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'announcements', 'app': 'drivershub', 'indexes': [Index(fields=['hub_id', 'pin_rank', 'publish_at', 'id']), Index(fields=['published', 'publish_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
