from connectors.destination import metadata
from core.migrate import run_migrations_online

run_migrations_online(metadata)
