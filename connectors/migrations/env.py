from connectors.destination import metadata
from core.db import run_migrations_online

run_migrations_online(metadata)
