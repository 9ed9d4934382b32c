#!/bin/bash
# Runs once, on the first start of the postgres container (docker-entrypoint-initdb.d).
# Every bounded context owns its own database on the shared server.
# Keep this file with LF line endings or the shebang breaks inside the container.

set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "postgres" <<-EOSQL
    CREATE DATABASE orders;
    CREATE DATABASE payments;
    CREATE DATABASE inventory;
    CREATE DATABASE fulfillment;
EOSQL

echo "PawMart: databases orders, payments, inventory, fulfillment created."
