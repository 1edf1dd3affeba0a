"""`followupd auth SERVICE`: put credentials where the backends look for them."""

from __future__ import annotations

import argparse

from followupd.config import Config
from followupd.errors import FollowupdError


def main(config: Config, args: argparse.Namespace) -> int:
    raise FollowupdError(f"`followupd auth {args.service}` is not available in this version yet")
