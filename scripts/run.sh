#!/usr/bin/env bash
# Serve the app for development; with MAIL_SERVER set, also run the outbox sender beside it.
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

sender_pid=""
if [ -n "${MAIL_SERVER:-}" ]; then
  echo "  MAIL_SERVER=${MAIL_SERVER}: the outbox sender runs in the background (flask send-mail)."
  "$BIN/flask" send-mail &
  sender_pid=$!
  trap '[ -n "$sender_pid" ] && kill "$sender_pid" 2>/dev/null || true' EXIT INT TERM
else
  echo "  No MAIL_SERVER: e-mails stay in the outbox (back-office › Suivi › E-mails envoyés)."
fi
"$BIN/flask" run --host 127.0.0.1 --port "$PORT"
