from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

async def restore_member_uniques(apps, schema_editor) -> None:
    """SQLite only: 0005 rebuilt the members table (to drop a column) without its two unique
    constraints, one membership per user and hub and one number per hub. Put them back under
    the names PostgreSQL (which kept them) uses. Fails if duplicates crept in meanwhile: remove
    them first (`SELECT hub_id, user_id, COUNT(*) FROM members GROUP BY 1, 2 HAVING COUNT(*) > 1`).
    """
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    for name, columns in (
        ("uid_members_hub_id_6cab00", '"hub_id", "user_id"'),
        ("uid_members_hub_id_371fb7", '"hub_id", "number"'),
    ):
        await client.execute_script(
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}" ON "members" ({columns})'
        )


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0007_points')]

    initial = False

    operations = [
        ops.RunPython(restore_member_uniques, ops.RunPython.noop),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['hub_id', 'state', 'joined_at']),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['hub_id', 'state', 'last_seen_at']),
        ),
        ops.AddIndex(
            model_name='MembershipChange',
            index=Index(fields=['member_id', 'id']),
        ),
        ops.AddIndex(
            model_name='StaffNote',
            index=Index(fields=['member_id', 'id']),
        ),
    ]
