"""Portal forms (Flask-WTF: CSRF on every form; inputs.SafeFieldsMixin: no NUL or control
character, no integer or date out of range, with a French message on the field)."""

from wtforms import BooleanField, PasswordField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, InputRequired

from backoffice.inputs import SafeFlaskForm as FlaskForm
from backoffice.models import CIVILITIES
from backoffice.services.auth import authenticate_partner


class LoginForm(FlaskForm):
    login = StringField("Identifiant", validators=[DataRequired("Veuillez saisir votre identifiant.")])
    password = PasswordField("Mot de passe", validators=[DataRequired("Veuillez saisir votre mot de passe.")])

    def authenticate(self):
        return authenticate_partner(self.login.data, self.password.data)


class ForgotPasswordForm(FlaskForm):
    login = StringField("Identifiant", validators=[DataRequired("Veuillez saisir votre identifiant.")])


class SetPasswordForm(FlaskForm):
    password = PasswordField("Nouveau mot de passe", validators=[DataRequired("Veuillez saisir un mot de passe.")])
    confirmation = PasswordField(
        "Confirmation du mot de passe",
        validators=[DataRequired("Veuillez confirmer le mot de passe.")],
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(
        "Mot de passe actuel", validators=[DataRequired("Veuillez saisir votre mot de passe actuel.")]
    )


class CguForm(FlaskForm):
    accept = BooleanField(
        "J'ai lu et j'accepte les conditions générales d'utilisation d'Espace Partenaires.",
        validators=[DataRequired("Vous devez accepter les conditions générales d'utilisation pour continuer.")],
    )
    newsletter = BooleanField("Je souhaite recevoir la newsletter par e-mail")


class CaisseForm(FlaskForm):
    caisse_id = SelectField(
        "Sélectionner l'organisme sur lequel vous souhaitez vous connecter.",
        coerce=int,
        validators=[InputRequired("Veuillez sélectionner un organisme.")],
    )


class ConfirmForm(FlaskForm):
    """A bare POST form (CSRF only) for confirmations."""


class NewsletterForm(FlaskForm):
    subscribed = BooleanField("Je souhaite recevoir la newsletter par e-mail")


class TechnicianForm(FlaskForm):
    """'Ajouter un compte technicien' (manual 000); the service applies R-ACC-1."""

    civility = SelectField(
        "Civilité",
        choices=[("", "Sélectionner la civilité")] + [(c, c) for c in CIVILITIES],
        validators=[DataRequired("Veuillez choisir la civilité.")],
    )
    birth_name = StringField("Nom patronymique")
    usage_name = StringField("Nom usuel")
    first_name = StringField("Prénom")
    function = StringField("Fonction")
    phone = TelField("Téléphone")
    email = StringField("Adresse mail")


class ReactivateForm(FlaskForm):
    reason = TextAreaField("Préciser le motif de réactivation")
