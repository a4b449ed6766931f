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
