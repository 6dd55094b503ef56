"""The admin's desk: users with their role and pharmacy; create one, set a password,
revoke (never the last admin). Plain forms posted to this page (CSRF-checked by the access
policy); each change is written with its audit event, as an API write is."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from api.access import access
from api.audit_trail import event_committed, stage_event
from api.auth import ROLES, create_user, revoke, set_password
from api.session import db_session
from care.tables import PeerEducator
from ledger.errors import Conflict, InvalidRequest, RdfError
from ledger.tables import User
from stock.tables import Pharmacy
from web.desk import paginate
from web.views import _page

bp = Blueprint("admin_desk", __name__, url_prefix="/app")
PAGE = "/app/admin/users"


class LastAdmin(Conflict):
    slug = "last-admin"
    title = "The last admin cannot be revoked"


def _active_admins() -> int:
    return int(
        db_session().scalar(
            select(func.count(User.id)).where(User.role == "admin", User.revoked_at.is_(None))
        )
        or 0
    )


def _users_page(
    done: str | None = None, problem: str | None = None, status: int = 200
) -> tuple[str, int]:
    s = db_session()
    users = list(s.scalars(select(User).order_by(User.name)))
    return (
        _page(
            "admin/users.html",
            users=paginate(users),
            roles=ROLES,
            pharmacies=list(s.scalars(select(Pharmacy.code).order_by(Pharmacy.code))),
            educators=list(s.scalars(select(PeerEducator.code).order_by(PeerEducator.code))),
            done=done,
            problem=problem,
            form=request.form,
        ),
        status,
    )


@bp.route("/admin/users")
@access(page=True)
def users() -> tuple[str, int]:
    done = {
        "created": _("User created."),
        "password": _("Password set."),
        "revoked": _("User revoked."),
    }.get(request.args.get("done", ""))
    return _users_page(done)


@bp.route("/admin/users", methods=["POST"])
@access(page=True)
def change_user() -> BaseResponse | tuple[str, int]:
    s = db_session()
    action = request.form.get("action", "")
    name = request.form.get("username", "").strip()[:100]
    try:
        if action == "create":
            if not name:
                raise InvalidRequest(_("Give the user a name."))
            pharmacy = request.form.get("pharmacy") or None
            role = request.form.get("role", "")
            educator = request.form.get("educator") or None
            create_user(
                s,
                name,
                role,
                pharmacy if role == "pharmacist" else None,
                educator=educator if role == "educator" else None,
            )
            password = request.form.get("password", "")
            if password:
                set_password(s, name, password)
            done = "created"
        elif action == "password":
            set_password(s, _existing(name).name, request.form.get("password", ""))
            done = "password"
        elif action == "revoke":
            user = _existing(name)
            if user.role == "admin" and user.revoked_at is None and _active_admins() <= 1:
                raise LastAdmin(_("%(name)s is the last admin and cannot be revoked.", name=name))
            revoke(s, user.name)
            done = "revoked"
        else:
            raise InvalidRequest(_("Unknown action."))
    except RdfError as exc:
        s.rollback()
        return _users_page(problem=exc.detail, status=exc.status)
    response: Response = redirect(f"{PAGE}?done={done}")  # type: ignore[assignment]
    staged = stage_event(s, request, response)
    s.commit()
    if staged:
        event_committed()
    return response


def _existing(name: str) -> User:
    user = db_session().scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise InvalidRequest(_("There is no user %(name)s.", name=name))
    return user
