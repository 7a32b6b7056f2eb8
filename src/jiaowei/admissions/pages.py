"""Admissions pages: campaigns for staff; published results and the family lookup for everyone.

The public pages (``/admissions/public``, ``…/results``, ``…/lookup``) need no login.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.admissions import model, queries, service
from jiaowei.admissions.model import Mechanism
from jiaowei.admissions.placement import report as placement_report
from jiaowei.auth.model import Principal
from jiaowei.errors import M_, Conflict, JiaoweiError, Problem, ValidationError
from jiaowei.jobs.model import Outcome
from jiaowei.jobs.pages import start_job
from jiaowei.jobs.runner import JobContext, Work
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, MaybeUser, User, lookup_limit
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
APPLICANT_PAGE_SIZE = 50
SCHOOL_PAGE_SIZE = 25
STATUSES = {
    "registration": N_("Registration"), "application": N_("Application"), "frozen": N_("Frozen"),
    "drawn": N_("Drawn"), "published": N_("Published"), "placement_frozen": N_("Placement pool frozen"),
    "placement": N_("Placement"),
    "appeals": N_("Appeals"), "closed": N_("Campaign closed"),
}
STAGES = {"primary_1": N_("Primary grade 1"), "junior_6": N_("Junior high grade 6"),
          "childcare": N_("Childcare (托育)"), "after_school": N_("After-school service (课后服务)")}
APPLICANT_STATUSES = {
    "registered": N_("Registered"), "applied": N_("Applied"), "admitted": N_("Admitted"),
    "not_admitted": N_("Not admitted"), "placed": N_("Placed"), "unplaced": N_("Not placed"),
}
MECHANISMS = {Mechanism.CHOICE_ROUNDS.value: N_("Choice rounds (志愿 rounds)"),
              Mechanism.DEFERRED_ACCEPTANCE.value: N_("Deferred acceptance")}
# The step each stage offers next: (step, button label, needs seed sources)
NEXT_STEP = {
    "registration": ("open", N_("Open applications"), False),
    "application": ("freeze", N_("Freeze the pool and publish its digest"), False),
    "frozen": ("draw", N_("Draw on the published seed sources"), True),
    "drawn": ("publish", N_("Publish the results to families"), False),
    "published": ("freeze_placement", N_("Freeze the placement pool (统筹) and publish its digest"), False),
    "placement_frozen": ("place", N_("Place those not admitted on the published seed sources"), True),
    "placement": ("appeals", N_("Open appeals"), False),
    "appeals": ("close", N_("Close the campaign"), False),
}


KINDS = {"private": N_("Private (drawn by choice)"), "public": N_("Public (placement)")}


def _labels() -> dict[str, Any]:
    return {"statuses": STATUSES, "stages": STAGES, "applicant_statuses": APPLICANT_STATUSES,
            "mechanisms": MECHANISMS, "order": model.STATUSES}


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    error = context.get("error")
    return page(request, template, {**_labels(), "errors": problems_by_field(error), "active": "admissions",
                                    **context}, status)


@dataclass(frozen=True)
class Lists:
    """Where the campaign page's long lists stand: the applicants' and the schools' filters and pages."""

    offset: int = 0
    status: str = ""
    district: str = ""
    q: str = ""
    school_kind: str = ""
    school_q: str = ""
    oversubscribed: bool = False
    school_offset: int = 0

    def kept(self, mine: tuple[str, ...] = (), **changes: Any) -> list[tuple[str, str]]:
        """The query's (name, value) pairs with ``changes``, without empty values and the names ``mine``."""
        values = {**asdict(self), **changes}
        return [(k, "1" if v is True else str(v)) for k, v in values.items()
                if k not in mine and v not in ("", 0, False, None)]

    def query(self, **changes: Any) -> str:
        """This page's query string with ``changes`` (empty values left out)."""
        return urlencode(self.kept(**changes))


def lists(offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
          status: Annotated[str, Query(max_length=20)] = "",
          district: Annotated[str, Query(max_length=64)] = "",
          q: Annotated[str, Query(max_length=64)] = "",
          school_kind: Annotated[str, Query(max_length=20)] = "",
          school_q: Annotated[str, Query(max_length=64)] = "",
          oversubscribed: bool = False,
          school_offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Lists:
    """The campaign page's list filters and pages, from its query string."""
    return Lists(offset=offset, status=status if status in APPLICANT_STATUSES else "",
                 district=district.strip(), q=q.strip(),
                 school_kind=school_kind if school_kind in KINDS else "", school_q=school_q.strip(),
                 oversubscribed=oversubscribed, school_offset=school_offset)


# ---------------------------------------------------------------- public


@router.get("/admissions/public", response_class=HTMLResponse)
def public_index(request: Request, conn: Conn, user: MaybeUser) -> HTMLResponse:
    """Every campaign, with links to its published results and to the family lookup."""
    return _render(request, "admissions_public.html", {"campaigns": queries.list_campaigns(conn)})


@router.get("/admissions/{code}/results", response_class=HTMLResponse)
def public_results(request: Request, conn: Conn, user: MaybeUser, code: str,
                   shown: Annotated[Lists, Depends(lists)]) -> HTMLResponse:
    """Digests, seed, cutoffs per school (filtered, by pages) and the masked list (pseudonymous ids only)."""
    campaign = queries.campaign(conn, code=code)
    listed = queries.masked_results(conn, code=code, offset=shown.offset, limit=PAGE_SIZE)
    schools = queries.school_list(campaign, kind=shown.school_kind, search=shown.school_q,
                                  oversubscribed=shown.oversubscribed, offset=shown.school_offset,
                                  limit=SCHOOL_PAGE_SIZE * 2)
    return _render(request, "admissions_results.html", {"c": campaign, "listed": listed, "schools": schools,
                                                        "shown": shown, "kinds": KINDS})


@router.get("/admissions/{code}/lookup", response_class=HTMLResponse)
def lookup_form(request: Request, conn: Conn, user: MaybeUser, code: str) -> HTMLResponse:
    campaign = queries.campaign(conn, code=code)
    return _render(request, "admissions_lookup.html", {"c": campaign, "values": {}})


@router.post("/admissions/{code}/lookup", response_class=HTMLResponse)
def lookup(request: Request, conn: Conn, user: MaybeUser, code: str, form: Form) -> HTMLResponse:
    """A family's own application: lottery number, cutoffs of the schools chosen, result, proof."""
    campaign = queries.campaign(conn, code=code)
    values = {"number": form.get("number", "").strip()[:20], "birth_date": form.get("birth_date", "").strip()}
    settings = request.app.state.settings
    found = service.family_lookup(conn, code=code, number=values["number"],
                                  birth_date=values["birth_date"][:10], secret_key=settings.secret_key,
                                  max_failures=settings.login_max_failures,
                                  window_minutes=settings.login_window_minutes,
                                  per_address=lookup_limit(request))
    if isinstance(found, JiaoweiError):
        return _render(request, "admissions_lookup.html", {"c": campaign, "values": values, "failed": found},
                       status=found.status)
    return _render(request, "admissions_lookup.html", {"c": campaign, "values": values, "found": found})


# ---------------------------------------------------------------- staff


@router.get("/admissions", response_class=HTMLResponse)
def campaigns(request: Request, conn: Conn, user: User) -> HTMLResponse:
    return _render(request, "admissions.html", {"campaigns": queries.list_campaigns(conn), "values": {},
                                                "may_write": service.may_manage(user)})


@router.post("/admissions")
def create(request: Request, conn: Conn, user: User, form: Form) -> Response:
    try:
        with conn.begin_nested():
            spec = service.CampaignSpec(
                code=form.get("code", "").strip(), year=_int(form.get("year"), "year"),
                stage=form.get("stage", ""), title_zh=form.get("title_zh", ""),
                title_en=form.get("title_en", ""), organiser=form.get("organiser", "").strip(),
                max_choices=_int(form.get("max_choices"), "max_choices"),
                mechanism=form.get("mechanism", Mechanism.CHOICE_ROUNDS.value))
            service.create_campaign(conn, principal=user, spec=spec)
    except ValidationError as error:
        return _render(request, "admissions.html", {"campaigns": queries.list_campaigns(conn), "values": form,
                                                    "may_write": True, "error": error}, status=error.status)
    return see_other(f"/admissions/{spec.code}")


def _int(value: str | None, field: str, example: str = "e.g. 2020") -> int:
    try:
        return int(value or "")
    except ValueError:
        raise ValidationError("Not a whole number.", [
            Problem("not a whole number", field=field, value=value, expected=example)]) from None


@router.get("/admissions/{code}", response_class=HTMLResponse)
def campaign_page(request: Request, conn: Conn, user: User, code: str,
                  shown: Annotated[Lists, Depends(lists)]) -> HTMLResponse:
    """The stages, next step, placement alert, schools, and the applicants in the viewer's scope."""
    return _campaign(request, conn, user, code, shown, {})


def _campaign(request: Request, conn: Connection, user: Principal, code: str, shown: Lists,
              extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    campaign = queries.campaign(conn, code=code)
    people = queries.staff_results(conn, principal=user, code=code, offset=shown.offset,
                                   limit=APPLICANT_PAGE_SIZE,
                                   secret_key=request.app.state.settings.secret_key,
                                   only=queries.ApplicantFilter(status=shown.status, district=shown.district,
                                                                search=shown.q))
    schools = queries.school_list(campaign, kind=shown.school_kind, search=shown.school_q,
                                  oversubscribed=shown.oversubscribed, offset=shown.school_offset,
                                  limit=SCHOOL_PAGE_SIZE)
    forms = {f"{name}_errors": problems_by_field(extra.get(f"{name}_error"))
             for name in ("school", "fallback")}
    return _render(request, "admissions_campaign.html", {
        "c": campaign, "people": people, "next_step": NEXT_STEP.get(campaign.status),
        "counts": queries.staff_counts(conn, principal=user, code=code), "schools": schools, "shown": shown,
        "placement": placement_report.campaign_report(conn, principal=user, code=code),
        "may_write": service.may_manage(user), "values": {}, "school_values": {"kind": "private"},
        "fallback_values": {}, "open_for_applicants": campaign.status in model.OPEN_FOR_APPLICANTS,
        "fallback_open": campaign.status in model.FALLBACK_OPEN, "import_columns": service.APPLICANT_COLUMNS,
        "kinds": KINDS, "dry_run": False, **forms, **extra}, status)


@router.post("/admissions/{code}/steps/{step}")
def step(request: Request, conn: Conn, user: User, code: str, step: str, form: Form) -> Response:
    """Take the campaign's next step from its page; sources one per line."""
    sources = form.get("sources", "").splitlines()
    try:
        with conn.begin_nested():
            service.take_step(conn, principal=user, campaign=code, step=step,
                              home=request.app.state.settings.home, sources=sources,
                              mechanism=form.get("mechanism", "choice-rounds"))
    except (ValidationError, Conflict) as error:  # an empty pool, a stage already taken: shown on the page
        return _campaign(request, conn, user, code, Lists(), {"error": error, "values": form}, error.status)
    return see_other(f"/admissions/{code}")


@router.post("/admissions/{code}/schools")
def add_school(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Add one school (or one program of a school) with its places and eligible districts."""
    try:
        with conn.begin_nested():
            districts = tuple(d for d in form.get("districts", "").replace(",", " ").replace(";", " ").split()
                              if d)
            school = service.SchoolSpec(unit=form.get("unit", "").strip(),
                                        capacity=_int(form.get("capacity"), "capacity", "e.g. 45"),
                                        kind=form.get("kind", "private"),
                                        program=form.get("program", "").strip(), districts=districts)
            service.add_schools(conn, principal=user, campaign=code, schools=[school])
    except (ValidationError, Conflict) as error:
        return _campaign(request, conn, user, code, Lists(), {"school_error": error, "school_values": form},
                         error.status)
    return see_other(f"/admissions/{code}#schools-title")


@router.post("/admissions/{code}/fallback")
def set_fallback(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """A district's fallback order of public schools for placement (统筹), one school id per line."""
    try:
        with conn.begin_nested():
            order = [s.strip() for s in form.get("schools", "").replace(";", "\n").splitlines() if s.strip()]
            service.set_fallback(conn, principal=user, campaign=code, district=form.get("district",
                                                                                        "").strip(),
                                 schools=order)
    except (ValidationError, Conflict) as error:
        return _campaign(request, conn, user, code, Lists(),
                         {"fallback_error": error, "fallback_values": form}, error.status)
    return see_other(f"/admissions/{code}#fallback-title")


@dataclass(frozen=True)
class ApplicantsFile:
    """A posted applicants CSV (empty when none was chosen) and its rows, read before the transaction."""

    data: bytes
    filename: str
    parsed: service.ApplicantsRead | None


def applicants_file(file: Annotated[UploadFile | None, File()] = None) -> ApplicantsFile:
    """The form's ``file``, read and checked in FastAPI's threadpool while no lock is held."""
    data = file.file.read() if file is not None else b""
    filename = (file.filename or "") if file is not None else ""
    return ApplicantsFile(data, filename, service.read_applicants(data) if data else None)


PostedApplicants = Annotated[ApplicantsFile, Depends(applicants_file)]  # name it after User, before Conn


@router.post("/admissions/{code}/applicants/import", response_class=HTMLResponse, dependencies=[TAKES_FILES])
def import_applicants(request: Request, user: User, upload: PostedApplicants, conn: Conn, code: str,
                      form: Form, background: BackgroundTasks) -> Response:
    """Register the applicants of a CSV file as a job (jobs/: its page shows the progress, then the
    result), all rows or none; a dry run saves nothing."""
    dry_run = form.get("dry_run") == "on"
    if not upload.data:
        error = ValidationError("Choose a file to import.", [
            Problem("no file chosen", field="file", expected="a .csv file")])
        context = {"dry_run": dry_run, "filename": upload.filename, "import_error": error}
        return _campaign(request, conn, user, code, Lists(), context, error.status)
    work = applicants_job(user, code, upload, dry_run, request.app.state.settings.secret_key)
    return start_job(request, conn, background, principal=user, kind="admissions.applicants.import",
                     title=N_("Import applicants"), back=f"/admissions/{quote(code)}#import-title",
                     filename=upload.filename, dry_run=dry_run, work=work)


def applicants_job(user: Principal, code: str, upload: ApplicantsFile, dry_run: bool,
                   secret_key: str) -> Work:
    """The applicants import as a job: every row registered in the job's one transaction, or none."""

    def work(job: JobContext) -> Outcome:
        job.report("registering applicants")
        with job.transaction() as conn:
            summary = service.import_applicants(conn, principal=user, campaign=code, data=upload.data,
                                                dry_run=dry_run, parsed=upload.parsed, secret_key=secret_key)
        note = M_("The file is valid: {n} applicants would be registered. Import it again without “Dry run” "
                  "to register them.", n=summary.registered) if dry_run else None
        return Outcome(((N_("Applicants"), summary.registered), (N_("With choices"), summary.with_choices),
                        (N_("With priority tiers"), summary.with_priorities)), note=note)

    return work
