"""``python -m streamer.users add NAME [--role admin|viewer] [--password-stdin]``, ``remove NAME``
and ``list``: the owner's command for the camera's accounts (:mod:`streamer.auth.accounts` keeps them).
"""
from __future__ import annotations

import argparse
import getpass
import sys

from common.config import load_or_exit
from streamer.auth import ROLES, UserError, Users, check_name


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamer.users", description="Manage the camera's accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user, or set an existing user's password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    remove = sub.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    sub.add_parser("list", help="list users and roles")
    args = parser.parse_args(argv)
    users = Users(load_or_exit().run_dir)
    try:
        if args.command == "add":
            check_name(args.name)
            new = users.add(args.name, _read_password(args.password_stdin), args.role)
            print(f"{'added' if new else 'updated'} {args.name} ({args.role}) in {users.path}")
        elif args.command == "remove":
            if not users.remove(args.name):
                print(f"no user {args.name!r} in {users.path}", file=sys.stderr)
                return 1
            print(f"removed {args.name}")
        else:
            for user in sorted(users.all().values(), key=lambda u: u.name):
                print(f"{user.name}\t{user.role}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
