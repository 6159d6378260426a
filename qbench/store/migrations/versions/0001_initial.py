"""Revision 1: the results store's schema (qbench/store/schema.py as first released).

JSON columns are TEXT here: schema.JSONText stores Python's json text (see its docstring), and a
migration must not import application code that later revisions may change.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('machines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('arch', sa.String(length=64), nullable=False),
    sa.Column('cpu_model', sa.String(length=256), nullable=False),
    sa.Column('emulated', sa.String(length=64), nullable=False),
    sa.Column('emulated_cpu', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machines')),
    sa.UniqueConstraint('arch', 'cpu_model', 'emulated', 'emulated_cpu', 'node', name='uq_machines_identity')
    )
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_hash', sa.String(length=64), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('committed_at', sa.DateTime(), nullable=True),
    sa.Column('datetime', sa.Text(), nullable=True),
    sa.Column('benchmark_version', sa.Text(), nullable=True),
    sa.Column('machine_info', sa.Text(), nullable=True),
    sa.Column('doc_rest', sa.Text(), nullable=False),
    sa.Column('commit_id', sa.String(length=64), nullable=True),
    sa.Column('commit_time', sa.Text(), nullable=True),
    sa.Column('commit_author_time', sa.Text(), nullable=True),
    sa.Column('commit_dirty', sa.Boolean(), nullable=True),
    sa.Column('commit_branch', sa.Text(), nullable=True),
    sa.Column('commit_project', sa.Text(), nullable=True),
    sa.Column('commit_rest', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_runs_machine_id_machines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs')),
    sa.UniqueConstraint('run_hash', name=op.f('uq_runs_run_hash'))
    )
    op.create_index('ix_runs_commit_id', 'runs', ['commit_id'], unique=False)
    op.create_index('ix_runs_committed_at', 'runs', ['committed_at'], unique=False)
    op.create_index('ix_runs_machine_id', 'runs', ['machine_id'], unique=False)
    op.create_index('ix_runs_started_at', 'runs', ['started_at'], unique=False)
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('fullname', sa.Text(), nullable=True),
    sa.Column('group', sa.Text(), nullable=True),
    sa.Column('param', sa.Text(), nullable=True),
    sa.Column('entry_rest', sa.Text(), nullable=False),
    sa.Column('qbench_schema', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('task', sa.String(length=64), nullable=True),
    sa.Column('mode', sa.String(length=64), nullable=True),
    sa.Column('device', sa.String(length=64), nullable=True),
    sa.Column('model_bytes', sa.BigInteger(), nullable=True),
    sa.Column('model_sha256', sa.String(length=64), nullable=True),
    sa.Column('size_ratio', sa.Float(), nullable=True),
    sa.Column('eval_samples', sa.BigInteger(), nullable=True),
    sa.Column('eval_device', sa.String(length=64), nullable=True),
    sa.Column('outputs_xxh3_128', sa.String(length=64), nullable=True),
    sa.Column('predictions_sha256', sa.String(length=64), nullable=True),
    sa.Column('latency_median_s', sa.Float(), nullable=True),
    sa.Column('latency_p90_s', sa.Float(), nullable=True),
    sa.Column('latency_p99_s', sa.Float(), nullable=True),
    sa.Column('fps', sa.Float(), nullable=True),
    sa.Column('init_s', sa.Float(), nullable=True),
    sa.Column('first_invoke_s', sa.Float(), nullable=True),
    sa.Column('peak_rss_bytes', sa.BigInteger(), nullable=True),
    sa.Column('extra_rest', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_cases_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('run_id', 'position', name='uq_cases_run_position')
    )
    op.create_index('ix_cases_model', 'cases', ['model'], unique=False)
    op.create_table('versions',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('package', sa.String(length=128), nullable=False),
    sa.Column('version', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_versions_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'package', name=op.f('pk_versions'))
    )
    op.create_table('class_iou',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('class_name', sa.Text(), nullable=False),
    sa.Column('iou', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_class_iou_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'position', name=op.f('pk_class_iou'))
    )
    op.create_table('quality',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_quality_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'metric', name=op.f('pk_quality'))
    )
    op.create_table('samples',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_samples_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'round', name=op.f('pk_samples'))
    )
    op.create_table('stats',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('min', sa.Float(), nullable=True),
    sa.Column('max', sa.Float(), nullable=True),
    sa.Column('mean', sa.Float(), nullable=True),
    sa.Column('stddev', sa.Float(), nullable=True),
    sa.Column('median', sa.Float(), nullable=True),
    sa.Column('iqr', sa.Float(), nullable=True),
    sa.Column('q1', sa.Float(), nullable=True),
    sa.Column('q3', sa.Float(), nullable=True),
    sa.Column('ld15iqr', sa.Float(), nullable=True),
    sa.Column('hd15iqr', sa.Float(), nullable=True),
    sa.Column('ops', sa.Float(), nullable=True),
    sa.Column('total', sa.Float(), nullable=True),
    sa.Column('rounds', sa.BigInteger(), nullable=True),
    sa.Column('iterations', sa.BigInteger(), nullable=True),
    sa.Column('iqr_outliers', sa.BigInteger(), nullable=True),
    sa.Column('stddev_outliers', sa.BigInteger(), nullable=True),
    sa.Column('outliers', sa.Text(), nullable=True),
    sa.Column('stats_rest', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_stats_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_stats'))
    )


def downgrade() -> None:
    op.drop_table('stats')
    op.drop_table('samples')
    op.drop_table('quality')
    op.drop_table('class_iou')
    op.drop_table('versions')
    op.drop_index('ix_cases_model', table_name='cases')
    op.drop_table('cases')
    op.drop_index('ix_runs_started_at', table_name='runs')
    op.drop_index('ix_runs_machine_id', table_name='runs')
    op.drop_index('ix_runs_committed_at', table_name='runs')
    op.drop_index('ix_runs_commit_id', table_name='runs')
    op.drop_table('runs')
    op.drop_table('machines')
