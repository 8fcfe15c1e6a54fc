#!/bin/sh
# webhook.sh: an ALERT_HOOK for uvm-alert that POSTs the alert JSON (read
# from stdin) to $ALERT_WEBHOOK_URL with curl. Set the URL in the
# environment of the cron job or systemd unit running uvm-alert.
# Exit status: 0 delivered; 69 curl or the URL missing; 75 delivery failed.
set -eu
if [ -z "${ALERT_WEBHOOK_URL:-}" ]; then
	echo "webhook.sh: ALERT_WEBHOOK_URL is not set" >&2
	exit 69
fi
command -v curl >/dev/null 2>&1 || { echo "webhook.sh: curl not found" >&2; exit 69; }
curl -fsS --max-time 20 --retry 2 -H 'Content-Type: application/json' \
	--data-binary @- -- "$ALERT_WEBHOOK_URL" >/dev/null || exit 75
