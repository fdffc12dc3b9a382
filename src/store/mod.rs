//! Storage: one Store trait over SQLite and PostgreSQL, migrations.
