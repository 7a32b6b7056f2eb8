"""Metadata pages: what is collected (data elements, data sets, disaggregations) and a form for a
new category combo that shows how many combinations it will have before it is saved.

The form works without JavaScript: its "preview" button re-renders the page with the count and a
save button; a small script on the page updates the count as categories are ticked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from jiaowei.auth.model import Action, Principal
from jiaowei.errors import Conflict, JiaoweiError, ValidationError
from jiaowei.indicators.metadata import queries
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import MAX_COMBINATIONS
from jiaowei.indicators.model import NAMES as VALUE_TYPE_NAMES
from jiaowei.web.deps import Conn, User
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

WARN_AT = 1_000
"""A combo with more combinations than this is shown with a warning: forms get very long."""
KINDS = {
    "dataElements": (
        N_("Data elements"),
        N_("What each unit reports: a number, percentage, yes/no or text."),
        "/metadata/dataElements",
    ),
    "dataSets": (
        N_("Data sets"),
        N_("The forms units fill in each period, with their due dates."),
        "/metadata/dataSets",
    ),
    "categoryCombos": (
        N_("Category combos"),
        N_("Disaggregations: the cells each data element is split into."),
        "/metadata/categoryCombos",
    ),
    "categories": (N_("Categories"), N_("Dimensions such as sex or school stage, with their options."), None),
    "indicators": (
        N_("Indicators"),
        N_("Formulas over data elements, such as the pupil-teacher ratio."),
        None,
    ),
    "validationRules": (
        N_("Validation rules"),
        N_("Checks run on reported data, such as pupils ≥ teachers."),
        None,
    ),
}


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return page(request, f"indicators/{template}", {"active": "metadata", **context}, status)


@router.get("/metadata", response_class=HTMLResponse)
def index(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """How many objects of each kind there are, with links to their lists and to the JSON API."""
    counts = queries.object_counts(conn, principal=user)
    return _render(
        request,
        "metadata_index.html",
        {"kinds": KINDS, "counts": counts, "may_write": user.may(Action.METADATA_WRITE)},
    )


@router.get("/metadata/dataElements", response_class=HTMLResponse)
def data_elements(request: Request, conn: Conn, user: User) -> HTMLResponse:
    catalog = queries.read_catalog(conn, principal=user)
    elements = sorted(catalog.elements.values(), key=lambda e: e.code)
    return _render(request, "metadata_elements.html", {"elements": elements, "combos": catalog.combos,
                                                       "value_type_names": VALUE_TYPE_NAMES})


@router.get("/metadata/dataSets", response_class=HTMLResponse)
def data_sets(request: Request, conn: Conn, user: User) -> HTMLResponse:
    catalog = queries.read_catalog(conn, principal=user)
    return _render(request, "metadata_data_sets.html", {"data_sets": list(catalog.data_sets.values())})


@router.get("/metadata/categoryCombos", response_class=HTMLResponse)
def category_combos(request: Request, conn: Conn, user: User) -> HTMLResponse:
    combos = queries.category_combos(conn, principal=user)
    return _render(
        request,
        "metadata_combos.html",
        {"combos": combos, "may_write": user.may(Action.METADATA_WRITE)},
    )


async def chosen_categories(request: Request) -> list[str]:
    """The ticked categories of the combo form, in the order the form lists them."""
    form = await request.form()
    return [str(c)[:50] for c in form.getlist("categories") if isinstance(c, str)][:50]


Chosen = Annotated[list[str], Depends(chosen_categories)]


@router.get("/metadata/categoryCombos/new", response_class=HTMLResponse)
def new_combo_form(request: Request, conn: Conn, user: User) -> HTMLResponse:
    return _combo_form(request, conn, user, {}, [])


@router.post("/metadata/categoryCombos/new", response_model=None)
def new_combo(request: Request, conn: Conn, user: User, form: Form, chosen: Chosen) -> Response:
    """``action=preview`` shows the number of combinations; ``action=save`` saves the combo."""
    values = {k: form.get(k, "").strip()[:230] for k in ("code", "name_zh", "name_en")}
    try:
        count = queries.count_new_combo(conn, principal=user, categories=chosen)
    except ValidationError as error:
        return _combo_form(request, conn, user, values, chosen, error=error)
    if form.get("action") != "save" or count > MAX_COMBINATIONS:
        return _combo_form(request, conn, user, values, chosen, count=count)
    try:
        with conn.begin_nested():
            metadata.save_category_combo(conn, principal=user, categories=chosen, **values)
    except (ValidationError, Conflict) as error:
        return _combo_form(request, conn, user, values, chosen, count=count, error=error)
    return see_other("/metadata/categoryCombos")


def _combo_form(
    request: Request,
    conn: Conn,
    user: Principal,
    values: dict[str, str],
    chosen: list[str],
    *,
    count: int | None = None,
    error: JiaoweiError | None = None,
) -> HTMLResponse:
    context = {
        "categories": queries.categories_for_new_combo(conn, principal=user),
        "values": values,
        "chosen": chosen,
        "count": count,
        "warn_at": WARN_AT,
        "limit": MAX_COMBINATIONS,
        "error": error,
        "errors": problems_by_field(error),
    }
    return _render(request, "metadata_combo_new.html", context, status=error.status if error else 200)
