"""Users and roles: accounts with Argon2id password hashes, lockout, and who may do what.

`plantqc.users.roles.may` is the one place the console, the REST API and the CLI ask whether a
role may take an action; `plantqc.users.accounts` keeps the accounts and authenticates them;
`plantqc.users.esign` signs records electronically with an account's credentials.
"""

from plantqc.users.accounts import (
    AuthenticationError,
    LoginPolicy,
    UserInfo,
    add_user,
    authenticate,
    current_role,
    disable_user,
    list_users,
    reset_password,
)
from plantqc.users.esign import MEANINGS, Credentials, Signature, sign
from plantqc.users.roles import PERMISSIONS, Action, Role, may

__all__ = [
    "MEANINGS",
    "PERMISSIONS",
    "Action",
    "AuthenticationError",
    "Credentials",
    "LoginPolicy",
    "Role",
    "Signature",
    "UserInfo",
    "add_user",
    "authenticate",
    "current_role",
    "disable_user",
    "list_users",
    "may",
    "reset_password",
    "sign",
]
