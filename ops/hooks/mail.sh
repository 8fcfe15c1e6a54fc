#!/bin/sh
# mail.sh: an ALERT_HOOK for uvm-alert that mails the alert JSON (stdin) to
# $ALERT_MAIL_TO with sendmail, else mail(1). The subject carries the level,
# state and rule name taken from the JSON with jq when installed.
# Exit status: 0 handed to the mailer; 69 no recipient or no mailer;
# 75 the mailer failed.
set -eu
to=${ALERT_MAIL_TO:-}
[ -n "$to" ] || { echo "mail.sh: ALERT_MAIL_TO is not set" >&2; exit 69; }
body=$(cat)
subject="uvmake alert"
if command -v jq >/dev/null 2>&1; then
	subject=$(printf '%s\n' "$body" | jq -r '"uvmake \(.level) \(.state): \(.name) on \(.host)"' 2>/dev/null) ||
		subject="uvmake alert"
fi
# The subject goes into a header: keep printable characters only.
subject=$(printf '%s' "$subject" | tr -cd '[:print:]' | cut -c1-200)
if [ -x /usr/sbin/sendmail ]; then
	printf 'To: %s\nSubject: %s\nContent-Type: text/plain; charset=utf-8\n\n%s\n' \
		"$to" "$subject" "$body" | /usr/sbin/sendmail -t -oi || exit 75
elif command -v mail >/dev/null 2>&1; then
	printf '%s\n' "$body" | mail -s "$subject" -- "$to" || exit 75
else
	echo "mail.sh: neither sendmail nor mail found" >&2
	exit 69
fi
