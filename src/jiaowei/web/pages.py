"""The home page (a dashboard of the user's part of the system, then the map of modules) and the
language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from jiaowei import domains
from jiaowei.analytics import tiles
from jiaowei.analytics.dashboard_pages import LABELS
from jiaowei.auth import service as auth
from jiaowei.auth.model import Action
from jiaowei.errors import Problem, ValidationError
from jiaowei.i18n import LANGUAGES, normalise
from jiaowei.plans import clock
from jiaowei.plans.tasks import queries as plan_tasks
from jiaowei.registry.queries import today
from jiaowei.web.deps import LANGUAGE_COOKIE, Conn, MaybeUser, User, language
from jiaowei.web.forms import N_, Form, is_https, local_path, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

YEAR = 365 * 24 * 3600
CARDS = [card for card in domains.home_cards() if card.href]  # the map of the modules that are built

# The titles of jiaowei.errors, shown on error pages and form summaries.
ERROR_TITLES = (N_("Error"), N_("Invalid input"), N_("Not found"), N_("Conflict"), N_("Login required"),
                N_("Permission denied"), N_("Too many attempts"), N_("Configuration error"),
                N_("Integrity check failed"))


@router.get("/", response_class=HTMLResponse)
def home(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """The user's part of the system as a dashboard (see jiaowei.analytics.tiles), their saved items,
    and the modules."""
    view = tiles.home(conn, principal=user, today=today(), language=language(request))
    due = plan_tasks.reminders(conn, principal=user, today=clock.today())
    cards = [card for card in CARDS if not card.permission or user.may(Action(card.permission))]
    return page(request, "home.html", {"cards": cards, "home": view, "overdue": [r for r in due if r.overdue],
                                       "due_soon": [r for r in due if not r.overdue], **LABELS})


@router.post("/language")
def switch_language(request: Request, conn: Conn, user: MaybeUser, form: Form) -> RedirectResponse:
    """Remember the chosen language in a cookie, and on the account when logged in."""
    language = normalise(form.get("lang"))
    if language is None:
        raise ValidationError(N_("Unknown language."), [
            Problem("unknown language", field="lang", value=form.get("lang"), expected=", ".join(LANGUAGES))])
    if user is not None:
        auth.set_language(conn, principal=user, language=language)
    response = see_other(local_path(form.get("next")))
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR, httponly=True, samesite="lax",
                        secure=is_https(request))
    return response
