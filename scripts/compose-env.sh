#!/usr/bin/env bash
# Print a .env for docker-compose.yml: a random password for each NATS user
# (hex, so they can stand in the leaf node URLs as they are).
#
#   scripts/compose-env.sh > .env     # keep it out of git (.gitignore has it)
#
# docker compose reads .env from the project directory; it refuses to start
# without these variables rather than run with known passwords.
set -euo pipefail
rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
echo "# NATS passwords for docker-compose.yml, made by scripts/compose-env.sh on $(date -u +%FT%TZ)"
for user in COMMAND REPLICA FOLLOWER CLIENT REGION; do
	echo "GRANTLOG_NATS_${user}_PASSWORD=$(rand)"
done
