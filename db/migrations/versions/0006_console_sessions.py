"""console sessions and pending installs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 01:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_console_sessions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_console_sessions_token_id_api_tokens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_console_sessions_key_hash'))
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_sessions_token_id'), ['token_id'], unique=False)

    op.create_table('pending_installs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('credentials', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_pending_installs_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_installs')),
    sa.UniqueConstraint('nonce_hash', name=op.f('uq_pending_installs_nonce_hash'))
    )
    with op.batch_alter_table('pending_installs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_installs_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_installs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_installs_account_id'))
    op.drop_table('pending_installs')
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_token_id'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_account_id'))
    op.drop_table('console_sessions')
