from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from blog.models import Category


class PostForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired()])
    category = SelectField(
        "Category",
        coerce=int,
        choices=[(c.id, c.name) for c in Category.query.order_by(Category.name)],
    )
