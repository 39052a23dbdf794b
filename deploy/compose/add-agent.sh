#!/bin/sh
# Adds (or updates) a router's agent credentials in the compose broker's
# password file and makes Mosquitto reload it. Run from deploy/compose with
# the router id and secret that SitePulse printed when the router was
# created or its secret rotated:
#
#   ./add-agent.sh r1a2b3c4d5e6f sps_...
#
# Revoking: ./add-agent.sh --remove r1a2b3c4d5e6f
set -eu
if [ "${1:-}" = "--remove" ] && [ $# -eq 2 ]; then
	docker compose exec -T mqtt mosquitto_passwd -D /mosquitto/auth/passwords "$2"
elif [ $# -eq 2 ]; then
	# -b takes the secret as an argument: it is visible in the container's
	# process list for the moment the command runs.
	docker compose exec -T mqtt mosquitto_passwd -b /mosquitto/auth/passwords "$1" "$2"
else
	echo "usage: $0 ROUTER_ID SECRET | --remove ROUTER_ID" >&2
	exit 2
fi
docker compose kill -s HUP mqtt
