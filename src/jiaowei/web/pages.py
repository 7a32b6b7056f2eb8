"""The home page (the map of modules) and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from jiaowei.auth import service as auth
from jiaowei.errors import Problem, ValidationError
from jiaowei.i18n import LANGUAGES, normalise
from jiaowei.web.deps import LANGUAGE_COOKIE, Conn, MaybeUser, User
from jiaowei.web.forms import N_, Form, is_https, local_path, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

YEAR = 365 * 24 * 3600

# (key, title, what it is for, where it lives; None while it is not built yet)
MODULES = [
    ("registry", N_("Unit registry"), N_("Every unit of the system as a hierarchy, on any date."), "/units"),
    ("data", N_("Data entry"),
     N_("Each unit's forms, cell by cell or as a filled-in XLSX template; DHIS2 files in and out."),
     "/data/entry"),
    ("quality", N_("Data quality"), N_("Validation rules, outliers and min–max bounds over any units."),
     "/quality/validation"),
    ("approval", N_("Approval"), N_("Completeness, timeliness and approval of each level's data."),
     "/data/approval"),
    ("indicators", N_("Indicators"),
     N_("Targets and indicators collected from every unit each period."), "/indicators"),
    ("metadata", N_("Metadata"),
     N_("Data elements, data sets, disaggregations and indicators, exchanged with DHIS2."), "/metadata"),
    ("analytics", N_("Analytics"), N_("Aggregates and comparisons across districts and years."), None),
    ("plans", N_("Key tasks"), N_("Key tasks of the year: deploy, advance, assess."), None),
    ("admissions", N_("Admissions"), N_("Simultaneous public-private enrolment and the lottery."),
     "/admissions"),
    ("reports", N_("Reports"), N_("The annual report, its figures drawn from the data."), None),
]

# The titles of jiaowei.errors, shown on error pages and form summaries.
ERROR_TITLES = (N_("Error"), N_("Invalid input"), N_("Not found"), N_("Conflict"), N_("Login required"),
                N_("Permission denied"), N_("Too many attempts"), N_("Configuration error"),
                N_("Integrity check failed"))


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: User) -> HTMLResponse:
    return page(request, "home.html", {"modules": MODULES})


@router.post("/language")
def switch_language(request: Request, conn: Conn, user: MaybeUser, form: Form) -> RedirectResponse:
    """Remember the chosen language in a cookie, and on the account when logged in."""
    language = normalise(form.get("lang"))
    if language is None:
        raise ValidationError("Unknown language.", [
            Problem("unknown language", field="lang", value=form.get("lang"), expected=", ".join(LANGUAGES))])
    if user is not None:
        auth.set_language(conn, principal=user, language=language)
    response = see_other(local_path(form.get("next")))
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR, httponly=True, samesite="lax",
                        secure=is_https(request))
    return response
