"""Flask commands: demo, create-admin, send-mail, housekeeping, digest."""

import getpass
import time

import click
from flask import Flask, current_app

from .extensions import db


def register(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(send_mail)
    app.cli.add_command(housekeeping)
    app.cli.add_command(digest)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Ne rien faire si la base contient déjà des données.")
def demo(if_empty: bool) -> None:
    """Load the demo data into an empty database."""
    from .demo import loader

    if not loader.is_empty():
        if if_empty:
            click.echo("La base contient déjà des données : démonstration non chargée.")
            return
        raise click.ClickException("La base n'est pas vide : la démonstration se charge dans une base vide.")
    logins = loader.load()
    click.echo("Données de démonstration chargées.")
    click.echo(f"  Back-office (/admin/) : {', '.join(logins['back-office'])}")
    click.echo(f"  Portail partenaires (/) : {', '.join(logins['portal'])}")
    click.echo(f"  Mot de passe de tous les comptes : {logins['password']}")


@click.command("create-admin")
@click.option("--username", prompt="Identifiant")
@click.option("--email", prompt="Adresse e-mail")
@click.option("--first-name", prompt="Prénom")
@click.option("--last-name", prompt="Nom")
@click.option("--password", default=None, help="Lu sur l'entrée standard s'il n'est pas donné.")
def create_admin(username, email, first_name, last_name, password) -> None:
    """Create a national admin (the first back-office account)."""
    from .services.caisses import create_national_admin
    from .services.errors import DomainError

    if password is None:
        password = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Confirmation : ") != password:
            raise click.ClickException("Les deux mots de passe saisis ne sont pas identiques.")
    try:
        agent = create_national_admin(username, email, password, first_name, last_name)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Administrateur national « {agent.username} » créé.")


@click.command("send-mail")
@click.option("--once", is_flag=True, help="Envoyer ce qui est dû puis s'arrêter (pour cron).")
@click.option("--interval", default=5.0, show_default=True, help="Secondes entre deux passages.")
@click.option("--batch", default=50, show_default=True)
def send_mail(once: bool, interval: float, batch: int) -> None:
    """Deliver the outbox through MAIL_BACKEND (SMTP, or .eml files in development), with retries."""
    from .services.mail_backends import backend_name, file_dir
    from .services.outbox import send_pending

    try:
        backend = backend_name()
    except ValueError as exc:
        raise click.ClickException(
            f"MAIL_BACKEND={current_app.config.get('MAIL_BACKEND')!r} n'est pas reconnu : "
            "choisissez smtp, file ou console."
        ) from exc
    if backend == "smtp" and not current_app.config.get("MAIL_SERVER"):
        raise click.ClickException(
            "MAIL_SERVER n'est pas défini alors que MAIL_BACKEND=smtp : rien ne peut être envoyé. "
            "En développement, MAIL_BACKEND=file écrit les e-mails dans des fichiers .eml."
        )
    if not once:
        where = {
            "smtp": f"serveur SMTP {current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']}",
            "file": f"fichiers .eml dans {file_dir()}",
            "console": "la console",
        }[backend]
        click.echo(f"Envoi des e-mails de la file : {where}.")
    while True:
        while True:
            stats = send_pending(limit=batch)
            if any(stats.values()):
                click.echo(
                    f"envoyés={stats['sent']} reportés={stats['retried']} en échec={stats['failed']} "
                    f"annulés={stats['cancelled']}"
                )
            if sum(stats.values()) < batch:
                break
        if once:
            return
        time.sleep(interval)


@click.command("housekeeping")
def housekeeping() -> None:
    """Run the time-based rules (R-LIFE-1/2, expired links); idempotent, for cron every few minutes."""
    from .services import housekeeping as housekeeping_service

    counts = housekeeping_service.run()
    if counts is None:
        click.echo("Un autre passage de housekeeping est en cours : rien n'a été fait.")
        return
    click.echo(f"Comptes inactivés (fin de la dernière convention) : {counts['inactivated']}")
    click.echo(f"Comptes supprimés (inactifs depuis 6 mois) : {counts['deleted_accounts']}")
    click.echo(f"Liens de mot de passe expirés supprimés : {counts['deleted_tokens']}")
    click.echo(f"Sessions terminées supprimées : {counts['purged_sessions']}")
    click.echo(f"Compteurs de connexion périmés supprimés : {counts['purged_throttles']}")
    click.echo(f"Récapitulatifs quotidiens mis en file : {counts['digests']}")


@click.command("digest")
def digest() -> None:
    """Queue today's digest e-mail of each agent (from DIGEST_HOUR on, once a day); for cron."""
    from .services.digest import digest_hour, send_digests

    try:
        hour = digest_hour()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    queued = send_digests()
    click.echo(f"Récapitulatifs quotidiens mis en file : {queued} (envoyés à partir de {hour}h, heure de Paris).")
