#!/usr/bin/env bash
# The greencert image's entrypoint. With AIRFLOW_ADMIN_PASSWORD set (the api-server's, from .env),
# writes the SimpleAuthManager's passwords file from it, so the login survives a new container and
# changes with .env; then runs the command.
set -euo pipefail
if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]; then
    file=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}
    umask 077
    python3 -c 'import json, os, sys; json.dump({os.environ.get("AIRFLOW_ADMIN_USER", "admin"): os.environ["AIRFLOW_ADMIN_PASSWORD"]}, open(sys.argv[1], "w"))' "$file"
fi
exec "$@"
