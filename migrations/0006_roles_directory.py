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


class ActionStatus(StrEnum):
    # Frozen by makemigrations from `from models.discord_actions import ActionStatus`.
    PENDING = 'pending'
    DONE = 'done'
    FAILED = 'failed'
    CANCELLED = 'cancelled'


async def fold_names(apps, schema_editor) -> None:
    """Fill the directory's search key of every member row from its user's name.

    Folding (NFKC + casefold) is done in Python: neither database folds non-ASCII the same.
    The function is written out here, not imported, so the migration keeps working if the
    project's own fold changes later.
    """
    import unicodedata

    def fold(value: str) -> str:
        return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())

    client = schema_editor.client
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    mark2 = "$2" if client.capabilities.dialect == "postgres" else "?"
    _, rows = await client.execute_query(
        "SELECT m.id, u.username FROM members m JOIN users u ON u.id = m.user_id"
    )
    for row in rows:
        await client.execute_query(
            f"UPDATE members SET search_name = {mark} WHERE id = {mark2}",
            [fold(row["username"])[:64], row["id"]],
        )


class AddFieldWithDefault(ops.AddField):
    """AddField that fills the rows a table already holds with the field's default.

    Tortoise adds a NOT NULL column without a DEFAULT clause, which SQLite ("Cannot add a NOT
    NULL column with default value NULL") and PostgreSQL refuse on a table with rows; here the
    column is added with the default as its database default (the model state is unchanged).
    """

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if not state_editor:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        field = model._meta.fields_map[self.name]
        saved = field.db_default
        field.db_default = field.default
        try:
            await state_editor.add_field(model, self.name)
        finally:
            field.db_default = saved


class Migration(migrations.Migration):
    dependencies = [('drivershub', '0005_membership')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DiscordAction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hub', fields.ForeignKeyField('drivershub.Hub', source_field='hub_id', db_constraint=True, to_field='id', related_name='discord_actions', on_delete=OnDelete.CASCADE)),
                ('guild_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='ADD_ROLE: add_role\nREMOVE_ROLE: remove_role\nNICKNAME: nickname\nPOST: post', enum_type=ActionKind, max_length=16)),
                ('target_key', fields.CharField(default='', max_length=96)),
                ('discord_user_id', fields.BigIntField(null=True)),
                ('role_id', fields.BigIntField(null=True)),
                ('channel_id', fields.BigIntField(null=True)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=ActionStatus.PENDING, description='PENDING: pending\nDONE: done\nFAILED: failed\nCANCELLED: cancelled', enum_type=ActionStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'discord_actions', 'app': 'drivershub', 'indexes': [Index(fields=['status', 'guild_id', 'due_at']), Index(fields=['guild_id', 'target_key', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        AddFieldWithDefault(
            model_name='Ban',
            name='source',
            field=fields.CharField(default='hub', max_length=16),
        ),
        AddFieldWithDefault(
            model_name='Member',
            name='search_name',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['hub_id', 'state', 'search_name']),
        ),
        ops.RunPython(fold_names, ops.RunPython.noop),
    ]
