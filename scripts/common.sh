# shellcheck shell=bash
# Shell helpers shared by .ci/run, scripts/*.sh and bench/*.sh. Source it; it defines functions only.

# Runs a command as root (directly when already root, otherwise through sudo).
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The MariaDB client as root: over the unix socket on a fresh Debian install, over TCP on machines set up that way.
admin_sql() {
  if as_root mariadb -e 'SELECT 1' >/dev/null 2>&1; then as_root mariadb "$@"; else mariadb --protocol=tcp -h 127.0.0.1 -u root "$@"; fi
}

# Prints a TCP port that is free on 127.0.0.1 right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# create_database_with_user DATABASE USER PASSWORD: creates the database and a user (any host) with every right on
# it; an existing user keeps its password.
create_database_with_user() {
  admin_sql -e "CREATE DATABASE \`$1\`; CREATE USER IF NOT EXISTS '$2'@'%' IDENTIFIED BY '$3';
    GRANT ALL ON \`$1\`.* TO '$2'@'%';"
}

# cleanup_run DATABASE USERS PIDS...: what a script's EXIT trap does: stops each process of PIDS that still runs,
# then drops DATABASE and each user of USERS (space-separated, any host). Never fails.
cleanup_run() {
  local database=$1 users=$2 pid user statements; shift 2
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  statements="DROP DATABASE IF EXISTS \`$database\`;"
  for user in $users; do statements+=" DROP USER IF EXISTS '$user'@'%';"; done
  admin_sql -e "$statements" || true
}
