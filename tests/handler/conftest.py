from __future__ import annotations

import pytest

from root_volume_replacement import ec2
from sandbox.session import Sandbox


@pytest.fixture
def sb():
    with Sandbox() as sandbox:
        ec2.reset_clients()
        yield sandbox
