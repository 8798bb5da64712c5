"""codes: batches, the hand-out of one code per person, custom (imported) codes; hand-out panels

Revision ID: c3e8f1a2b4d6
Revises: c5d8e1f7a2b3
Create Date: 2026-12-08 10:00:00.000000

The type CHECK constraint gains 'custom'. SQLite cannot alter a constraint: batch mode copies
the table with the new one (its other constraints are reflected from the table's SQL, as
SQLAlchemy reads SQLite's named CHECK constraints). Downgrading refuses while custom codes exist
(they would break the old constraint): delete or keep them, it is for the operator to choose.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e8f1a2b4d6'
down_revision = 'c5d8e1f7a2b3'
branch_labels = None
depends_on = None

TYPES_BEFORE = "type IN ('creative', 'alphanumeric', 'numeric')"
TYPES_AFTER = "type IN ('creative', 'alphanumeric', 'numeric', 'custom')"
ASSIGNMENT_IN_BATCH = (
    "assigned_at IS NULL OR (batch IS NOT NULL"
    " AND (assigned_email IS NOT NULL OR assigned_discord_user_id IS NOT NULL))"
)


def _partial(where):
    return {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}


def upgrade():
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('assigned_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('assigned_discord_user_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(), nullable=True))
        batch_op.drop_constraint(op.f('ck_codes_type_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_codes_type_known'), TYPES_AFTER)
        batch_op.create_check_constraint(op.f('ck_codes_assignment_in_batch'), ASSIGNMENT_IN_BATCH)
        batch_op.create_index(
            'ix_codes_project_id_batch_id', ['project_id', 'batch', 'id'], **_partial("batch IS NOT NULL")
        )
        batch_op.create_index(
            'ix_codes_unassigned',
            ['project_id', 'batch', 'created_at', 'id'],
            **_partial("batch IS NOT NULL AND assigned_at IS NULL"),
        )
        batch_op.create_index(
            'uq_codes_project_id_batch_assigned_email',
            ['project_id', 'batch', 'assigned_email'],
            unique=True,
            **_partial("assigned_email IS NOT NULL"),
        )
        batch_op.create_index(
            'uq_codes_project_id_batch_assigned_discord_user_id',
            ['project_id', 'batch', 'assigned_discord_user_id'],
            unique=True,
            **_partial("assigned_discord_user_id IS NOT NULL"),
        )

    with op.batch_alter_table('discord_panels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.String(length=100), nullable=True))


def downgrade():
    custom = op.get_bind().execute(sa.text("SELECT count(*) FROM codes WHERE type = 'custom'")).scalar()
    if custom:
        raise RuntimeError(
            f"{custom} custom (imported) codes exist; the schema before this revision cannot hold them. "
            "Delete them first (DELETE FROM codes WHERE type = 'custom'), or stay on this revision."
        )
    with op.batch_alter_table('discord_panels', schema=None) as batch_op:
        batch_op.drop_column('batch')

    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.drop_index('uq_codes_project_id_batch_assigned_discord_user_id')
        batch_op.drop_index('uq_codes_project_id_batch_assigned_email')
        batch_op.drop_index('ix_codes_unassigned')
        batch_op.drop_index('ix_codes_project_id_batch_id')
        batch_op.drop_constraint(op.f('ck_codes_assignment_in_batch'), type_='check')
        batch_op.drop_constraint(op.f('ck_codes_type_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_codes_type_known'), TYPES_BEFORE)
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('assigned_discord_user_id')
        batch_op.drop_column('assigned_email')
        batch_op.drop_column('batch')
