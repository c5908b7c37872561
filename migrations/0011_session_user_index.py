from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('drivershub', '0010_posts')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Session',
            index=Index(fields=['user_id', 'created_at']),
        ),
    ]
