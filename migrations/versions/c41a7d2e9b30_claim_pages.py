"""claim pages: projects.slug (unique, the page's address) and projects.redirect_url

Every existing project gets a slug made from its name, as a new project does, so its page works
and its emails can link to it at once.

Revision ID: c41a7d2e9b30
Revises: b7c41e2d9a10
Create Date: 2026-12-04 20:40:00.000000

"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c41a7d2e9b30'
down_revision = 'b7c41e2d9a10'
branch_labels = None
depends_on = None


def _slug_from_name(name):
    # As shared.projects.slug_from_name at the time of this migration.
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56].strip("-")
    return slug or "project"


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slug', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('redirect_url', sa.String(length=2000), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_projects_slug'), ['slug'])

    projects = sa.table('projects', sa.column('id', sa.Integer), sa.column('name', sa.String),
                        sa.column('slug', sa.String))
    connection = op.get_bind()
    taken = set()
    for project_id, name in connection.execute(sa.select(projects.c.id, projects.c.name).order_by(projects.c.id)):
        base = _slug_from_name(name)
        slug, number = base, 1
        while slug in taken:
            number += 1
            slug = f"{base}-{number}"
        taken.add(slug)
        connection.execute(projects.update().where(projects.c.id == project_id).values(slug=slug))


def downgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_projects_slug'), type_='unique')
        batch_op.drop_column('redirect_url')
        batch_op.drop_column('slug')
