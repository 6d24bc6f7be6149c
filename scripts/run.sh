#!/usr/bin/env bash
# Serve the app for development, with the outbox sender (flask send-mail) beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${PORT:-5000}"
export FLASK_APP=wsgi.py
export BASE_URL="${BASE_URL:-http://127.0.0.1:${PORT}}"

cat <<MSG

  Espace Partenaires — http://127.0.0.1:${PORT}
    Back-office : http://127.0.0.1:${PORT}/admin/
      admin (administrateur national), admin.gironde (administrateur CPAM GIRONDE),
      agent.gironde, agent.oise (agents), admin.oise (administrateur CPAM OISE)
    Portail partenaires : http://127.0.0.1:${PORT}/
      m.lapierre (gestionnaire), v.chausson et m.pichon (techniciens)
    Mot de passe de tous les comptes de démonstration : Demo-Espace-2026
    Base : ${DATABASE_URL:-SQLite, instance/espace_partenaires.db}

MSG

# The outbox sender always runs beside the app: with MAIL_SERVER it delivers over SMTP, without it
# (MAIL_BACKEND=file, the default) it writes each e-mail to instance/mail/*.eml and prints a summary
# here, with the set-password link of the e-mails that carry one.
MAIL_DIR="${MAIL_FILE_DIR:-instance/mail}"
case "${MAIL_BACKEND:-}" in
  "") if [ -n "${MAIL_SERVER:-}" ]; then backend=smtp; else backend=file; fi ;;
  *) backend="$MAIL_BACKEND" ;;
esac
case "$backend" in
  smtp) echo "  E-mails : envoyés par SMTP (${MAIL_SERVER:-MAIL_SERVER non défini}:${MAIL_PORT:-25}) par flask send-mail." ;;
  file) echo "  E-mails : écrits dans ${MAIL_DIR}/*.eml et résumés ici, lien personnel compris (flask send-mail)." ;;
  *) echo "  E-mails : MAIL_BACKEND=${backend} (flask send-mail)." ;;
esac
echo "  Le back-office (Suivi › E-mails envoyés) n'en garde qu'une copie, lien personnel masqué."
echo
"$BIN/flask" send-mail &
sender_pid=$!
trap 'kill "$sender_pid" 2>/dev/null || true' EXIT INT TERM
"$BIN/flask" run --host 127.0.0.1 --port "$PORT"
