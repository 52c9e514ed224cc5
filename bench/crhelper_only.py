"""The floor under both handlers' start-up: crhelper imported and a CfnResource made (it creates three clients)."""

from __future__ import annotations

from crhelper import CfnResource

helper = CfnResource(polling_interval=2)
