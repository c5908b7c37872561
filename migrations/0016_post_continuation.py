from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('drivershub', '0015_downloads')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PostDestination',
            name='crosspost',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='PostedMessage',
            name='extra_message_ids',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
