from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('drivershub', '0002_accounts')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Shout',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='shouts', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('drivershub.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='shouts', on_delete=OnDelete.SET_NULL)),
                ('text', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'shoutbox_shouts', 'app': 'shoutbox', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
