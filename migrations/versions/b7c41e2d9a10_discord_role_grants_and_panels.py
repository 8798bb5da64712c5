"""discord: pending role grants, redeem panels, full codes in the log channel only on request

Revision ID: b7c41e2d9a10
Revises: 7c1d2e3f4a5b
Create Date: 2026-11-27 09:00:00.000000

Claims made before this revision have no grant row: the bot treats them as settled (it granted
their role when they were claimed, or told the member it could not).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c41e2d9a10'
down_revision = '7c1d2e3f4a5b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('discord_role_grants',
    sa.Column('claim_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_discord_role_grants_claim_id_claims'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('claim_id', name=op.f('pk_discord_role_grants'))
    )
    op.create_table('discord_panels',
    sa.Column('channel_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('channel_id', name=op.f('pk_discord_panels'))
    )
    with op.batch_alter_table('discord_panels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discord_panels_guild_id'), ['guild_id'], unique=False)

    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_code_values', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('guilds', schema=None) as batch_op:
        batch_op.drop_column('log_code_values')

    with op.batch_alter_table('discord_panels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discord_panels_guild_id'))

    op.drop_table('discord_panels')
    op.drop_table('discord_role_grants')
