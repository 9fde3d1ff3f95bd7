#!/bin/sh
# The MariaDB container's entry point: one node, started read-only.
#   first start (empty data directory): mariadb-install-db as the native launcher
#     runs it (initDataDir), then root may connect over TCP with
#     MARIADB_ROOT_PASSWORD (the db-init job needs it; the services never get it)
#   any later start (`docker start` after a crash or a kill): --init-rpl-role=SLAVE,
#     so a former primary discards the transactions it logged that no replica
#     acknowledged before anything can rejoin it (docs/docker.md, "Fencing")
# Extra arguments (the compose file's --server-id, --report-host) go to mariadbd.
set -eu
DATADIR=/var/lib/mysql
if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "${MARIADB_ROOT_PASSWORD:-}" ]; then
    echo "stayline-mariadb: MARIADB_ROOT_PASSWORD is required to initialise $DATADIR" >&2
    exit 1
  fi
  mariadb-install-db --no-defaults --user=mysql --datadir="$DATADIR" --tmpdir=/tmp \
    --auth-root-authentication-method=normal --skip-test-db --innodb-log-file-size=8M >/dev/null
  # SQL string literal of the password: quotes and backslashes doubled
  pw=$(printf '%s' "$MARIADB_ROOT_PASSWORD" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")
  umask 077
  cat >/run/mysqld/init.sql <<SQL
SET SESSION sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
  set -- "$@" --init-file=/run/mysqld/init.sql
  echo "stayline-mariadb: initialised an empty node" >&2
else
  rm -f /run/mysqld/init.sql
  set -- "$@" --init-rpl-role=SLAVE
  echo "stayline-mariadb: restarted with --init-rpl-role=SLAVE (unacknowledged transactions are rolled back)" >&2
fi
exec mariadbd --defaults-file=/etc/mysql/stayline.cnf --datadir="$DATADIR" --tmpdir=/tmp \
  --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid "$@"
