from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('drivershub', '0001_initial'), ('drivershub', '0002_accounts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditLog',
            name='ip',
            field=fields.CharField(default='', max_length=64),
        ),
    ]
