from core.migrate import run_migrations_online
from ledger.schema import metadata

run_migrations_online(metadata)
