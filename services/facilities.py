"""The registry of health facilities: editing, importing a list, staff, and routing referrals.

A facility list is a CSV file with one facility per row (columns in `FACILITY_COLUMNS`,
documented in the admin page and the user guide). An import checks every row first and
writes all of them or none: each problem names its row, column, value and the fix.
"""

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime

import colander
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from spets.forms.health import FACILITY_COLUMNS, FACILITY_REQUIRED_COLUMNS, FacilitySchema
from spets.i18n import TranslationString, _, normalize_digits
from spets.models import (
    AuditAction,
    FacilityKind,
    FacilityStaff,
    HealthFacility,
    OrgKind,
    OrgUnit,
    Role,
    RoleAssignment,
    User,
)
from spets.services import audit
from spets.services.audit import Actor
from spets.services.errors import InvalidInput, ServiceError
from spets.services.org import check_version

log = logging.getLogger(__name__)

FACILITY_FIELDS = (
    "code",
    "name_en",
    "name_ur",
    "kind",
    "district_id",
    "tehsil_id",
    "services",
    "phone",
    "address",
    "is_active",
)

# Among suitable facilities of the same area, referrals go to the first level of care
# that offers the service: a BHU before an RHC, before the tehsil and district hospitals.
CARE_LEVEL = {
    FacilityKind.BHU: 1,
    FacilityKind.DISPENSARY: 1,
    FacilityKind.MCH: 2,
    FacilityKind.RHC: 2,
    FacilityKind.THQ: 3,
    FacilityKind.DHQ: 4,
    FacilityKind.OTHER: 5,
}


class FacilityFileError(ServiceError):
    """The facility list as a whole cannot be read: encoding, header or no rows."""


# Areas.


def districts_of(session: Session, tenant: OrgUnit) -> list[OrgUnit]:
    return list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.tenant_id == tenant.id, OrgUnit.kind == OrgKind.DISTRICT)
            .order_by(OrgUnit.name_en)
        )
    )


def tehsils_of(session: Session, tenant: OrgUnit) -> list[OrgUnit]:
    return list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.tenant_id == tenant.id, OrgUnit.kind == OrgKind.TEHSIL)
            .order_by(OrgUnit.name_en)
        )
    )


def area_of(session: Session, school: OrgUnit, kind: OrgKind) -> OrgUnit | None:
    """Return the district or tehsil above a school, or None if the school has none."""
    return session.scalar(
        select(OrgUnit).where(OrgUnit.id.in_(school.ancestor_ids), OrgUnit.kind == kind)
    )


def _find_area(units: list[OrgUnit], text: str) -> OrgUnit | None:
    """Match a unit by its code or its English name, ignoring case."""
    wanted = text.strip().lower()
    for unit in units:
        if unit.code.lower() == wanted or unit.name_en.lower() == wanted:
            return unit
    return None


# Editing.


def _resolve_areas(
    session: Session, tenant: OrgUnit, values: dict
) -> tuple[OrgUnit, OrgUnit | None]:
    """Return the district and tehsil named by code or English name; raise InvalidInput otherwise."""
    district = _find_area(districts_of(session, tenant), values["district"])
    if district is None:
        message = _(
            "facility_district_unknown",
            default='"${value}" is not a district of ${tenant}: give its code or English name, '
            "for example DST-MLT or Multan.",
            mapping={"value": values["district"], "tenant": tenant.name_en},
        )
        raise InvalidInput(message, {"district": message})
    tehsil = None
    if values.get("tehsil"):
        candidates = [t for t in tehsils_of(session, tenant) if t.parent_id == district.id]
        tehsil = _find_area(candidates, values["tehsil"])
        if tehsil is None:
            message = _(
                "facility_tehsil_unknown",
                default='"${value}" is not a tehsil of district ${district}: give its code or '
                "English name, or leave it empty for a facility that serves the whole district.",
                mapping={"value": values["tehsil"], "district": district.name_en},
            )
            raise InvalidInput(message, {"tehsil": message})
    return district, tehsil


def _record_values(district: OrgUnit, tehsil: OrgUnit | None, values: dict) -> dict:
    return {
        "code": values["code"],
        "name_en": values["name_en"],
        "name_ur": values.get("name_ur") or "",
        "kind": values["kind"],
        "district_id": district.id,
        "tehsil_id": tehsil.id if tehsil else None,
        "services": list(values["services"]),
        "phone": values.get("phone"),
        "address": values.get("address") or "",
        "is_active": values.get("is_active", True) is not False,
    }


def save_facility(
    session: Session,
    tenant: OrgUnit,
    facility: HealthFacility | None,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> HealthFacility:
    """Create a facility, or update one after checking that nobody saved it meanwhile."""
    district, tehsil = _resolve_areas(session, tenant, values)
    record = _record_values(district, tehsil, values)
    clash = session.scalar(
        select(HealthFacility.id).where(
            HealthFacility.tenant_id == tenant.id, HealthFacility.code == record["code"]
        )
    )
    if clash is not None and (facility is None or clash != facility.id):
        message = _(
            "facility_code_taken",
            default='Code "${code}" belongs to another facility: choose another code.',
            mapping={"code": record["code"]},
        )
        raise InvalidInput(message, {"code": message})

    if facility is None:
        facility = HealthFacility(tenant_id=tenant.id, **record)
        session.add(facility)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(facility, version, record, FACILITY_FIELDS)
        before = audit.snapshot(facility, FACILITY_FIELDS)
        for name, value in record.items():
            setattr(facility, name, value)
        action = AuditAction.UPDATE
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="health_facility",
        entity_id=facility.id,
        org_unit_id=district.id,
        now=now,
        changes=audit.diff(before, audit.snapshot(facility, FACILITY_FIELDS)),
    )
    return facility


def list_facilities(session: Session, tenant_id: int) -> list[HealthFacility]:
    return list(
        session.scalars(
            select(HealthFacility)
            .where(HealthFacility.tenant_id == tenant_id)
            .order_by(HealthFacility.district_id, HealthFacility.name_en)
        )
    )


def appstruct_of(session: Session, facility: HealthFacility) -> dict:
    """Return the facility's values as the form shows them, with areas by code."""
    district = session.get(OrgUnit, facility.district_id)
    tehsil = session.get(OrgUnit, facility.tehsil_id) if facility.tehsil_id else None
    return {
        "code": facility.code,
        "name_en": facility.name_en,
        "name_ur": facility.name_ur,
        "kind": facility.kind,
        "district": district.code,
        "tehsil": tehsil.code if tehsil else "",
        "services": list(facility.services),
        "phone": facility.phone,
        "address": facility.address,
        "is_active": facility.is_active,
        "version": facility.version,
    }


# Staff.


def staff_of(session: Session, facility_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(FacilityStaff, FacilityStaff.user_id == User.id)
            .where(FacilityStaff.facility_id == facility_id)
            .order_by(User.display_name)
        )
    )


def health_staff_users(session: Session, tenant_id: int, today) -> list[User]:
    """Active users of the tenant who hold the health staff role today."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                User.tenant_id == tenant_id,
                User.is_active.is_(True),
                RoleAssignment.role == Role.HEALTH_STAFF,
                RoleAssignment.valid_from <= today,
                or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            )
            .distinct()
            .order_by(User.display_name)
        )
    )


def add_staff(
    session: Session, facility: HealthFacility, user: User, *, actor: Actor, now: datetime
) -> None:
    """Let a health staff account work on a facility's referrals; adding twice changes nothing."""
    exists = session.scalar(
        select(FacilityStaff.id).where(
            FacilityStaff.facility_id == facility.id, FacilityStaff.user_id == user.id
        )
    )
    if exists is not None:
        return
    session.add(FacilityStaff(facility_id=facility.id, user_id=user.id))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="facility_staff",
        entity_id=facility.id,
        org_unit_id=facility.district_id,
        now=now,
        changes={"user_id": {"before": None, "after": user.id}},
    )


def remove_staff(
    session: Session, facility: HealthFacility, user_id: int, *, actor: Actor, now: datetime
) -> None:
    row = session.scalar(
        select(FacilityStaff).where(
            FacilityStaff.facility_id == facility.id, FacilityStaff.user_id == user_id
        )
    )
    if row is None:
        return
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.DELETE,
        entity_type="facility_staff",
        entity_id=facility.id,
        org_unit_id=facility.district_id,
        now=now,
        changes={"user_id": {"before": user_id, "after": None}},
    )


def facility_ids_of_user(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(select(FacilityStaff.facility_id).where(FacilityStaff.user_id == user_id))
    )


# Routing.


def find_facility(session: Session, *, school: OrgUnit, service: str) -> HealthFacility | None:
    """Return the nearest active facility that offers `service`: in the school's tehsil, else its district.

    SPeTS stores no home address of a student, so the school's tehsil stands for the
    student's. Within the area the lowest level of care that offers the service wins,
    then the name, so the choice is the same on every run.
    """
    tehsil = area_of(session, school, OrgKind.TEHSIL)
    district = area_of(session, school, OrgKind.DISTRICT)
    if district is None:
        return None
    candidates = session.scalars(
        select(HealthFacility).where(
            HealthFacility.tenant_id == (school.tenant_id or school.id),
            HealthFacility.district_id == district.id,
            HealthFacility.is_active.is_(True),
        )
    ).all()
    suitable = [facility for facility in candidates if service in (facility.services or [])]

    def rank(facility: HealthFacility):
        same_tehsil = tehsil is not None and facility.tehsil_id == tehsil.id
        return (0 if same_tehsil else 1, CARE_LEVEL[facility.kind], facility.name_en)

    return min(suitable, key=rank, default=None)


# Importing a facility list.


@dataclass
class Problem:
    row: int
    column: str
    value: str
    message: TranslationString | str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Return (line number, {column: text}) of each non-empty row of a facility list."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FacilityFileError(
            _(
                "import_not_utf8",
                default="The file is not UTF-8 text (byte ${position} cannot be read). In Excel, "
                'save it as "CSV UTF-8 (Comma delimited)".',
                mapping={"position": error.start},
            )
        ) from error
    first_line = text.splitlines()[0] if text else ""
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise FacilityFileError(_("import_empty", default="The file is empty."))
    names = [normalize_digits(name).strip().lower().replace(" ", "_") for name in header]
    _check_header(names)
    rows = []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        rows.append((reader.line_num, dict(zip(names, (v.strip() for v in values), strict=False))))
    return rows


def _check_header(names: list[str]) -> None:
    unknown = [name or "(empty)" for name in names if name not in FACILITY_COLUMNS]
    if unknown:
        raise FacilityFileError(
            _(
                "facility_unknown_columns",
                default="Unknown column(s): ${columns}. The columns are ${allowed}.",
                mapping={"columns": ", ".join(unknown), "allowed": ", ".join(FACILITY_COLUMNS)},
            )
        )
    missing = [name for name in FACILITY_REQUIRED_COLUMNS if name not in names]
    if missing:
        raise FacilityFileError(
            _(
                "import_missing_columns",
                default="Required column(s) missing: ${columns}. Add them as in the template.",
                mapping={"columns": ", ".join(missing)},
            )
        )


def import_facilities(
    session: Session, tenant: OrgUnit, data: bytes, *, actor: Actor, now: datetime
) -> ImportResult:
    """Check every row of a facility list, then create or update all of them, or none.

    A row whose code exists in the registry updates that facility; a new code adds one.
    """
    rows = read_rows(data)
    result = ImportResult(rows=len(rows))
    schema = FacilitySchema().bind()
    districts = districts_of(session, tenant)
    tehsils = tehsils_of(session, tenant)
    seen_codes: dict[str, int] = {}
    valid: list[dict] = []
    for line, row in rows:
        values = _validate_row(schema, line, row, result.problems)
        if values is None:
            continue
        code = values["code"].lower()
        if code in seen_codes:
            result.problems.append(
                Problem(
                    line,
                    "code",
                    values["code"],
                    _(
                        "facility_code_repeated",
                        default="Code ${code} appears again (first on row ${row}): give each "
                        "facility one row.",
                        mapping={"code": values["code"], "row": seen_codes[code]},
                    ),
                )
            )
            continue
        seen_codes[code] = line
        areas = _row_areas(line, values, districts, tehsils, result.problems)
        if areas is not None:
            valid.append(_record_values(*areas, values))
    if result.problems:
        return result

    existing = {
        facility.code.lower(): facility
        for facility in session.scalars(
            select(HealthFacility).where(HealthFacility.tenant_id == tenant.id)
        )
    }
    for record in valid:
        facility = existing.get(record["code"].lower())
        if facility is None:
            session.add(HealthFacility(tenant_id=tenant.id, **record))
            result.created += 1
        else:
            for name, value in record.items():
                setattr(facility, name, value)
            result.updated += 1
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.IMPORT,
        entity_type="health_facility_list",
        entity_id=None,
        org_unit_id=tenant.id,
        now=now,
        reason=f"{result.created} facilities added, {result.updated} updated",
    )
    log.info(
        "facilities_imported",
        extra={
            "tenant_id": tenant.id,
            "facilities_created": result.created,
            "facilities_updated": result.updated,
        },
    )
    return result


def _validate_row(schema, line: int, row: dict[str, str], problems: list[Problem]) -> dict | None:
    cstruct = {FACILITY_COLUMNS[column]: value or colander.null for column, value in row.items()}
    try:
        return schema.deserialize(cstruct)
    except colander.Invalid as invalid:
        columns = {field_name: column for column, field_name in FACILITY_COLUMNS.items()}
        for child in invalid.children:
            column = columns.get(child.node.name, child.node.name)
            messages = child.msg if isinstance(child.msg, list) else [child.msg]
            for message in messages:
                problems.append(Problem(line, column, row.get(column, ""), _required(message)))
        return None


def _required(message):
    """Replace colander's bare "Required" with a message that says what to do."""
    if str(message) == "Required":
        return _(
            "facility_value_required",
            default="This column is required: fill it in for every facility.",
        )
    return message


def _row_areas(line, values, districts, tehsils, problems):
    district = _find_area(districts, values["district"])
    if district is None:
        problems.append(
            Problem(
                line,
                "district",
                values["district"],
                _(
                    "facility_row_district",
                    default="Not a district of this tenant: use a district code or English "
                    "name from the org tree, for example DST-MLT or Multan.",
                ),
            )
        )
        return None
    tehsil = None
    if values.get("tehsil"):
        tehsil = _find_area([t for t in tehsils if t.parent_id == district.id], values["tehsil"])
        if tehsil is None:
            problems.append(
                Problem(
                    line,
                    "tehsil",
                    values["tehsil"],
                    _(
                        "facility_row_tehsil",
                        default="Not a tehsil of district ${district}: use a tehsil code or "
                        "English name from the org tree, or leave it empty.",
                        mapping={"district": district.name_en},
                    ),
                )
            )
            return None
    return district, tehsil


def template_csv() -> bytes:
    """Return a facility list with the header and one example row, for admins to fill in."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(list(FACILITY_COLUMNS))
    writer.writerow(
        [
            "BHU-0001",
            "Basic Health Unit Example",
            "بنیادی مرکز صحت مثال",
            "bhu",
            "DST-MLT",
            "TEH-MLT-SDR",
            "general; nutrition; immunisation",
            "061-9200123",
            "Village Example, Multan",
            "yes",
        ]
    )
    return output.getvalue().encode("utf-8-sig")
