"""Portal forms (Flask-WTF: CSRF on every form)."""
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "Nouveau mot de passe", validators=[DataRequired("Veuillez saisir un mot de passe.")]
    )
    confirmation = PasswordField(
        "Confirmation du mot de passe",
        validators=[DataRequired("Veuillez confirmer le mot de passe.")],
    )
