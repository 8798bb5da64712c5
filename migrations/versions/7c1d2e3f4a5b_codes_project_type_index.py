"""codes: an index on (project_id, type), so generate's free-space check stays cheap as a project grows

Revision ID: 7c1d2e3f4a5b
Revises: 5e90eb7e9699
Create Date: 2026-12-04 21:30:00.000000

On PostgreSQL, CREATE INDEX blocks writes to codes while it builds (a few seconds per million
codes). A deployment with a large table can build it first, without blocking, and this migration
then finds it and skips it:

    CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_codes_project_id_type ON codes (project_id, type);

(Not built concurrently here: migrations run in a transaction, under the advisory lock that makes
replicas take turns, and CREATE INDEX CONCURRENTLY cannot run inside one.)
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c1d2e3f4a5b'
down_revision = '5e90eb7e9699'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.create_index('ix_codes_project_id_type', ['project_id', 'type'], unique=False, if_not_exists=True)


def downgrade():
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.drop_index('ix_codes_project_id_type')
