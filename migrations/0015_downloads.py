from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('drivershub', '0014_announcements')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Download',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='downloads', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('description_html', fields.TextField(default='', unique=False)),
                ('url', fields.CharField(default='', max_length=1000)),
                ('file_key', fields.CharField(default='', max_length=64)),
                ('file_name', fields.CharField(default='', max_length=200)),
                ('file_size', fields.BigIntField(default=0)),
                ('file_sha256', fields.CharField(default='', max_length=64)),
                ('content_type', fields.CharField(default='', max_length=100)),
                ('role_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('pinned', fields.BooleanField(default=False)),
                ('pin_rank', fields.IntField(default=0)),
                ('position', fields.IntField(default=0)),
                ('clicks', fields.BigIntField(default=0)),
                ('created_by', fields.ForeignKeyField('drivershub.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='downloads', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'downloads', 'app': 'drivershub', 'indexes': [Index(fields=['hub_id', 'pin_rank', 'position', 'id'])], 'pk_attr': 'id', 'table_description': 'Something members download: an external `url`, or an uploaded file (`file_key` in the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DownloadLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('download', fields.ForeignKeyField('drivershub.Download', source_field='download_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('drivershub.User', source_field='user_id', db_constraint=True, to_field='id', related_name='download_links', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('counted', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'download_links', 'app': 'drivershub', 'pk_attr': 'id', 'table_description': "A member's link to one item, usable by anyone who holds it until it expires (so"},
            bases=['Model'],
        ),
    ]
