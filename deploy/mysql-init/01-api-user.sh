#!/bin/bash
# Creates the api's read-only database user: SELECT on the application database, nothing else.
# The read-write user (migrate, worker) is created by the image itself from MARIADB_USER/MARIADB_PASSWORD.
#
# Runs once, from /docker-entrypoint-initdb.d/, when the mysql service starts on an empty data volume; changing
# DB_API_USER/DB_API_PASSWORD later needs ALTER USER by hand (or `docker compose down -v`, which drops the data).
# A .sql init file cannot read environment variables, hence a shell script. The entrypoint executes it when it
# is executable and sources it otherwise; both work, because it changes no shell options and never calls exit.

f1_api_user="${F1_API_DB_USER:?F1_API_DB_USER must be set (DB_API_USER in .env)}"
f1_api_password="${F1_API_DB_PASSWORD:?F1_API_DB_PASSWORD must be set (DB_API_PASSWORD in .env)}"
f1_database="${MARIADB_DATABASE:?MARIADB_DATABASE must be set (DB_NAME in .env)}"

# Quote a value as an SQL string literal body: backslash and single quote escaped.
f1_sql_string() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"; }
# Quote a database name for a database-level GRANT: backticks doubled, and `_`/`%` escaped because GRANT treats
# them as wildcards there (`f1_prod` would otherwise also match `f1xprod`).
# shellcheck disable=SC2016 # the backticks are literal SQL quotes, not a command substitution
f1_grant_database() { printf '%s' "$1" | sed -e 's/`/``/g' -e 's/_/\\_/g' -e 's/%/\\%/g'; }

f1_api_user_sql="
CREATE USER IF NOT EXISTS '$(f1_sql_string "$f1_api_user")'@'%'
  IDENTIFIED BY '$(f1_sql_string "$f1_api_password")';
GRANT SELECT ON \`$(f1_grant_database "$f1_database")\`.* TO '$(f1_sql_string "$f1_api_user")'@'%';
"

echo "01-api-user.sh: creating read-only user '${f1_api_user}' (SELECT on ${f1_database})"
if declare -F docker_process_sql >/dev/null; then
  # Sourced by the entrypoint: use its client wrapper (knows every way the root password can be given).
  docker_process_sql --database=mysql <<<"$f1_api_user_sql"
else
  MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-}" mariadb --protocol=socket --user=root --database=mysql <<<"$f1_api_user_sql"
fi
