"""Migration tests: bring the test database to a past state and back."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate the database to ``targets`` [(app, migration)] and return that state's historical apps."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    """Migrate the database forward to every app's latest migration."""
    return migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
